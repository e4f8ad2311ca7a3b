"""Callbacks for the training config."""
from typing import Callable

from spacy.language import Language
from spacy.util import registry


@registry.callbacks("spacy-xlmr-ner.freeze_word_embeddings.v1")
def create_freeze_word_embeddings(
    component: str = "transformer",
) -> Callable[[Language], Language]:
    """Keep the encoder's word-piece embedding matrix fixed during training,
    for use as `[initialize.after_init]`.

    In multilingual encoders the embedding matrix holds most of the weights
    (96M of multilingual-e5-small's 118M, 192M of XLM-R base's 278M), but a
    batch touches only a few hundred of its rows. Training it anyway costs a
    dense optimizer update of the whole matrix at every step, which dominates
    the step time on CPU, and it moves the pieces of the training language
    away from those of languages never seen in training.

    component (str): Name of the transformer component.
    RETURNS (Callable[[Language], Language]): The callback.
    """

    def freeze_word_embeddings(nlp: Language) -> Language:
        transformer = nlp.get_pipe(component).model.transformer
        transformer.get_input_embeddings().weight.requires_grad_(False)
        return nlp

    return freeze_word_embeddings
