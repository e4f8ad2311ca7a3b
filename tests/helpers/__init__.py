"""Helpers shared by the tests: repository paths and tiny pipelines built offline."""
from pathlib import Path

from spacy_xlmr_ner import create_pipeline

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
# Files a test keeps for people to look at (screenshots, load-test numbers);
# tests write them under tmp_path unless this variable names a folder.
ARTIFACTS_ENV = "XLMR_NER_TEST_ARTIFACTS"


def write_spacy_corpus(root: Path, rows, splits=("train", "dev", "test")) -> Path:
    """Write `root/{lang}/{split}.spacy` for each language of `rows`
    ({lang: [(words, IOB tags)]}), the same docs in every split."""
    import spacy
    from spacy.tokens import Doc, DocBin

    vocab = spacy.blank("xx").vocab
    for lang, sentences in rows.items():
        (root / lang).mkdir(parents=True, exist_ok=True)
        docs = [Doc(vocab, words=words, ents=tags) for words, tags in sentences]
        for split in splits:
            DocBin(docs=docs).to_disk(root / lang / f"{split}.spacy")
    return root


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
