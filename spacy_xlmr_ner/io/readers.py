"""Corpus readers for training on one, several or all languages at once."""
import itertools
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Corpus, Example
from spacy.training.corpus import walk_corpus
from spacy.util import registry
from spacy.vocab import Vocab

from .docbin import SPLITS, sentences_to_docs
from .iob import read_iob
from .label_map import DROP, map_tags
from .langs import ALL, parse_langs

EXPECTED = "a .spacy file, a directory of .spacy files, or a directory of {lang}/{split}.spacy files"
# The layouts `corpus_layout` tells apart.
FILE, DIRECTORY, LANGUAGES = "file", "directory", "languages"


@registry.readers("spacy-xlmr-ner.MultilingualCorpus.v1")
def create_multilingual_corpus(
    path: Path,
    split: str,
    langs: Union[str, List[str]] = "all",
    limit: int = 0,
    max_length: int = 0,
    gold_preproc: bool = False,
    augmenter: Optional[Callable] = None,
) -> Callable[[Language], Iterable[Example]]:
    """Read a corpus from one of three layouts, tried in this order:

    - `path/{lang}/{split}.spacy` (as `io.docbin.convert_iob_dir` writes): the
      languages in `langs`, one after the other.
    - a `.spacy` file, or a directory of `.spacy` files (read recursively, in
      sorted order), as `spacy.Corpus.v1` reads them: `split` and `langs` do not
      apply, since the path is the split, in whatever languages it holds.

    In every layout, `limit` takes the first documents of each file, so that
    each language of a `{lang}/{split}.spacy` corpus gets the same budget.

    path (Path): The `.spacy` file or the corpus directory.
    split (str): The split to read from a `{lang}/{split}.spacy` directory:
        "train", "dev" or "test".
    langs (Union[str, List[str]]): Languages to read from a `{lang}/{split}.spacy`
        directory, as a list or a comma-separated string ("de,en"), or "all"
        for every language directory with the split.
    limit (int): Take at most this many documents of each file (the first
        ones); 0 for all.
    max_length (int): As in `spacy.Corpus.v1`: longer docs are split into
        sentences if they have sentence boundaries; 0 for no limit.
    gold_preproc (bool): As in `spacy.Corpus.v1`: predict on the gold tokens
        instead of re-tokenizing the text.
    augmenter (Optional[Callable]): A data augmenter, as in `spacy.Corpus.v1`.
    RETURNS (Callable[[Language], Iterable[Example]]): The corpus.
    """
    path = Path(path)
    options = dict(limit=limit, max_length=max_length, gold_preproc=gold_preproc, augmenter=augmenter)
    if corpus_layout(path, split) == LANGUAGES:
        files = resolve_corpus_files(path, split, langs)
    else:
        files = walk_corpus(path, ".spacy")
    return MultilingualCorpus([Corpus(file, **options) for file in files], files)


class MultilingualCorpus:
    """The union of spaCy corpora (one per file), read one after the other."""

    def __init__(self, corpora: List[Corpus], files: List[Path]) -> None:
        """Initialize the corpus.

        corpora (List[Corpus]): The corpora, in reading order.
        files (List[Path]): The `.spacy` files they read.
        """
        self.corpora = corpora
        self.files = files

    def __call__(self, nlp: Language) -> Iterator[Example]:
        for corpus in self.corpora:
            yield from corpus(nlp)


def corpus_layout(path: Union[str, Path], split: str) -> str:
    """Tell which layout a corpus path has, or say what was expected.

    path (Union[str, Path]): A `.spacy` file or a corpus directory.
    split (str): The split wanted from a `{lang}/{split}.spacy` directory.
    RETURNS (str): "languages" for a directory of `{lang}/{split}.spacy` files,
        "file" for a `.spacy` file, "directory" for a directory of other
        `.spacy` files.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix != ".spacy":
            raise ValueError(f"Expected {EXPECTED}; {path} is not a .spacy file (convert IOB files first)")
        return FILE
    if not path.is_dir():
        raise ValueError(f"Corpus not found: {path} (expected {EXPECTED})")
    if any(path.glob(f"*/{split}.spacy")):
        return LANGUAGES
    other_splits = sorted({p.name for s in SPLITS for p in path.glob(f"*/{s}.spacy")})
    if other_splits:
        # A {lang}/{split}.spacy corpus without this split: reading its other
        # splits as this one would train or score on the wrong data.
        raise ValueError(f"No {split}.spacy file under {path}/<lang>/ (it has {', '.join(other_splits)})")
    if not any(path.rglob("*.spacy")):
        raise ValueError(f"No .spacy file in {path} (expected {EXPECTED})")
    return DIRECTORY


def resolve_corpus_files(
    path: Path, split: str, langs: Union[str, List[str]], suffix: str = ".spacy"
) -> List[Path]:
    """Find `path/{lang}/{split}.spacy` for the requested languages.

    path (Path): The corpus directory.
    split (str): The split name.
    langs (Union[str, List[str]]): Languages, a comma-separated string, or "all".
    suffix (str): The file suffix, ".spacy" or ".iob".
    RETURNS (List[Path]): One existing file per language, in the given order
        ("all": sorted by language).
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"Corpus directory not found: {path} (expected {{lang}}/{split}{suffix} files in it)")
    available = sorted(p.parent.name for p in path.glob(f"*/{split}{suffix}"))
    if parse_langs(langs) == [ALL] and not available:
        raise ValueError(f"No {split}{suffix} file under {path}/<lang>/")
    langs = parse_langs(langs, available)
    missing = [lang for lang in langs if lang not in available]
    if missing or not langs:
        raise ValueError(
            f"No {split}{suffix} in {path} for language(s) {missing or langs}; "
            f"languages with that split: {available}"
        )
    return [path / lang / f"{split}{suffix}" for lang in langs]


def read_gold_docs(
    path: Union[str, Path],
    vocab: Vocab,
    *,
    split: str = "test",
    langs: Union[str, List[str]] = "all",
    limit: int = 0,
    label_map: Optional[Dict[str, str]] = None,
) -> Dict[str, List[Doc]]:
    """Read gold-annotated docs for evaluation from DocBin or IOB files.

    path (Union[str, Path]): A directory of `{lang}/{split}.spacy` or
        `{lang}/{split}.iob` files, or one `.spacy` or IOB file.
    vocab (Vocab): The vocab of the docs (the pipeline's).
    split (str): The split to read from a directory.
    langs (Union[str, List[str]]): Languages to read from a directory,
        comma-separated, or "all".
    limit (int): The first N docs per language; 0 for all.
    label_map (Optional[Dict[str, str]]): Renames of gold labels (see
        `io.label_map`), e.g. to score a dataset against a model trained on
        unified labels.
    RETURNS (Dict[str, List[Doc]]): The docs per language; a single file is
        keyed by its directory's name if the file is named after a split
        (`de/test.iob` -> "de"), else by its stem.
    """
    path = Path(path)
    if path.is_dir():
        if any(path.glob(f"*/{split}.spacy")):
            files = resolve_corpus_files(path, split, langs)
        else:
            files = resolve_corpus_files(path, split, langs, suffix=".iob")
    elif path.is_file():
        files = [path]
    else:
        raise ValueError(f"Test data not found: {path}")
    result = {}
    for file in files:
        key = file.parent.name if file.stem in ("train", "dev", "test") or path.is_dir() else file.stem
        if file.suffix == ".spacy":
            docs = list(itertools.islice(DocBin().from_disk(file).get_docs(vocab), limit or None))
            if label_map:
                docs = [_relabel(doc, label_map) for doc in docs]
        else:
            iob = read_iob(file, limit=limit)
            if label_map:
                for sent in iob.sentences:
                    sent.tags = map_tags(sent.tags, label_map)[0]
            docs = sentences_to_docs(iob.sentences, vocab)
        result[key] = docs
    return result


def _relabel(doc: Doc, label_map: Dict[str, str]) -> Doc:
    doc = doc.copy()
    keep, drop = [], []
    for ent in doc.ents:
        target = label_map.get(ent.label_, ent.label_)
        if target == DROP:
            drop.append(ent)
        else:
            keep.append(Span(doc, ent.start, ent.end, label=target))
    doc.set_ents(keep, outside=drop, default="unmodified")
    return doc
