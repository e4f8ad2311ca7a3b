"""Assemble a blank pipeline: the multilingual tokenizer, a `transformer` on an
encoder and, on top of it, an NER component."""
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import spacy
from spacy.language import Language

TOKENIZER = "spacy-xlmr-ner.MultilingualTokenizer.v1"
TRANSFORMER_NAME = "transformer"


def create_pipeline(
    encoder: Union[str, Path],
    *,
    lang: str = "xx",
    ner: Optional[str] = "xlmr_ner",
    labels: Optional[Iterable[str]] = None,
    ner_config: Optional[Dict[str, Any]] = None,
    use_fast: bool = False,
    window: int = 128,
    stride: int = 96,
) -> Language:
    """Build an uninitialized pipeline of a `transformer` (`xlmr_transformer`)
    on an encoder and an NER component that listens to it, as the training
    configs do. Nothing is loaded: `nlp.initialize()` loads the encoder.

    encoder (Union[str, Path]): Encoder directory or Hugging Face name.
    lang (str): Language code of the blank pipeline, whose tokenizer rules
        `spacy-xlmr-ner.MultilingualTokenizer.v1` extends.
    ner (Optional[str]): Factory of the NER component, also its name in the
        pipeline ("xlmr_ner"); None for a transformer-only pipeline.
    labels (Optional[Iterable[str]]): Entity labels to add to the NER
        component, in order; None to take them from the training examples
        at `initialize`.
    ner_config (Optional[Dict[str, Any]]): Settings of the NER component,
        merged into its factory's defaults as `nlp.add_pipe(config=...)`
        does, e.g. `{"model": {"dropout": 0.0}, "spans_key": "ents"}`.
    use_fast (bool): Word pieces from the `tokenizers` library instead of the
        encoder's sentencepiece model.
    window (int): Word pieces per encoder window.
    stride (int): Word pieces between the starts of two windows.
    RETURNS (Language): The pipeline.
    """
    if ner is None and (labels is not None or ner_config is not None):
        raise ValueError("[create_pipeline] labels and ner_config need an NER component: ner is None")
    nlp = spacy.blank(lang, config={"nlp": {"tokenizer": {"@tokenizers": TOKENIZER}}})
    nlp.add_pipe(
        "xlmr_transformer",
        name=TRANSFORMER_NAME,
        config={
            "model": {
                "name": str(encoder),
                "tokenizer_config": {"use_fast": use_fast},
                "get_spans": {"window": window, "stride": stride},
            }
        },
    )
    if ner is not None:
        component = nlp.add_pipe(ner, config=ner_config or {})
        for label in labels or ():
            component.add_label(label)
    return nlp
