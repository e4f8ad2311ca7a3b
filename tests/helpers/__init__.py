"""Helpers shared by the tests: repository paths and tiny pipelines built offline."""
from pathlib import Path

from spacy_xlmr_ner import create_pipeline

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
    return create_pipeline(encoder, ner=None, use_fast=use_fast)


def make_nlp(encoder: Path, *, dropout: float = 0.0, init_scale: float = 0.02, use_fast: bool = False):
    """A blank `xx` pipeline with a transformer on `encoder` and `xlmr_ner`."""
    model = {"dropout": dropout, "init_scale": init_scale}
    return create_pipeline(encoder, ner_config={"model": model}, use_fast=use_fast)
