"""Corpus readers for training on one, several or all languages at once."""
import itertools
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Corpus, Example
from spacy.util import registry
from spacy.vocab import Vocab

from .docbin import sentences_to_docs
from .iob import read_iob
from .label_map import DROP, map_tags
from .langs import ALL, parse_langs


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
    """Read the DocBins of several languages as one corpus, from the layout
    `path/{lang}/{split}.spacy` that `scripts/convert.py` writes.

    path (Path): The corpus directory.
    split (str): The split to read: "train", "dev" or "test".
    langs (Union[str, List[str]]): Languages, as a list or a comma-separated
        string ("de,en"), or "all" for every language directory with the split.
    limit (int): Take at most this many documents per language (the first
        ones); 0 for all.
    max_length (int): As in `spacy.Corpus.v1`: longer docs are split into
        sentences if they have sentence boundaries; 0 for no limit.
    gold_preproc (bool): As in `spacy.Corpus.v1`: predict on the gold tokens
        instead of re-tokenizing the text.
    augmenter (Optional[Callable]): A data augmenter, as in `spacy.Corpus.v1`.
    RETURNS (Callable[[Language], Iterable[Example]]): The corpus.
    """
    return MultilingualCorpus(
        path,
        split,
        langs=langs,
        limit=limit,
        max_length=max_length,
        gold_preproc=gold_preproc,
        augmenter=augmenter,
    )


class MultilingualCorpus:
    """The union of per-language spaCy corpora, language by language."""

    def __init__(
        self,
        path: Union[str, Path],
        split: str,
        *,
        langs: Union[str, List[str]] = "all",
        limit: int = 0,
        max_length: int = 0,
        gold_preproc: bool = False,
        augmenter: Optional[Callable] = None,
    ) -> None:
        self.path = Path(path)
        self.split = split
        self.files = resolve_corpus_files(self.path, split, langs)
        self.corpora = [
            Corpus(
                file,
                limit=limit,
                max_length=max_length,
                gold_preproc=gold_preproc,
                augmenter=augmenter,
            )
            for file in self.files
        ]

    def __call__(self, nlp: Language) -> Iterator[Example]:
        for corpus in self.corpora:
            yield from corpus(nlp)


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
        raise ValueError(f"Corpus directory not found: {path}")
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
