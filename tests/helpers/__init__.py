"""Helpers shared by the tests: repository paths and tiny pipelines built offline."""
from pathlib import Path

import spacy

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
# Files a test keeps for people to look at (screenshots, load-test numbers);
# tests write them under tmp_path unless this variable names a folder.
ARTIFACTS_ENV = "XLMR_NER_TEST_ARTIFACTS"


def make_transformer_nlp(encoder: Path, *, use_fast: bool = False):
    """A blank `xx` pipeline with the multilingual tokenizer and a
    `transformer` (`xlmr_transformer`) component on `encoder`, whose word
    pieces come from the sentencepiece model (the default) or, with
    `use_fast`, from the `tokenizers` library."""
    nlp = spacy.blank("xx", config={"nlp": {"tokenizer": {"@tokenizers": "spacy-xlmr-ner.MultilingualTokenizer.v1"}}})
    nlp.add_pipe(
        "xlmr_transformer",
        name="transformer",
        config={
            "model": {
                "@architectures": "spacy-transformers.TransformerModel.v3",
                "name": str(encoder),
                "tokenizer_config": {"use_fast": use_fast},
                "get_spans": {
                    "@span_getters": "spacy-xlmr-ner.piece_strided_spans.v1",
                    "window": 128,
                    "stride": 96,
                },
            }
        },
    )
    return nlp


def make_nlp(encoder: Path, *, dropout: float = 0.0, init_scale: float = 0.02, use_fast: bool = False):
    """A blank `xx` pipeline with a transformer on `encoder` and `xlmr_ner`."""
    nlp = make_transformer_nlp(encoder, use_fast=use_fast)
    nlp.add_pipe(
        "xlmr_ner",
        config={
            "model": {
                "@architectures": "spacy-xlmr-ner.TokenClassifier.v1",
                "dropout": dropout,
                "init_scale": init_scale,
                "tok2vec": {
                    "@architectures": "spacy-xlmr-ner.TransformerListener.v1",
                    "grad_factor": 1.0,
                    "pooling": {"@layers": "spacy-xlmr-ner.reduce_first.v1"},
                },
            }
        },
    )
    return nlp
