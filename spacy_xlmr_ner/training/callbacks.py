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


@registry.callbacks("spacy-xlmr-ner.freeze_layers.v1")
def create_freeze_layers(component: str = "transformer", n_layers: int = 0) -> Callable[[Language], Language]:
    """Keep the encoder's embeddings (word pieces, positions, their layer
    norm) and its first `n_layers` layers fixed during training, for use as
    `[initialize.after_init]`: the lower layers keep their pretrained,
    domain-general features and only the upper layers adapt.

    component (str): Name of the transformer component.
    n_layers (int): Lower encoder layers to freeze; 0 freezes the embeddings only.
    RETURNS (Callable[[Language], Language]): The callback.
    """
    if n_layers < 0:
        raise ValueError(f"n_layers must be 0 or more, not {n_layers}")

    def freeze_layers(nlp: Language) -> Language:
        transformer = nlp.get_pipe(component).model.transformer
        embeddings = getattr(transformer, "embeddings", None)
        layers = getattr(getattr(transformer, "encoder", None), "layer", None)
        if embeddings is None or layers is None:
            raise ValueError(
                f"[{component}] {type(transformer).__name__} has no `embeddings` and `encoder.layer`: "
                "freeze_layers supports BERT-like encoders (XLM-R, BERT, RoBERTa)"
            )
        if n_layers > len(layers):
            raise ValueError(f"[{component}] cannot freeze {n_layers} layers of an encoder with {len(layers)}")
        for module in [embeddings, *layers[:n_layers]]:
            module.requires_grad_(False)
        return nlp

    return freeze_layers

