"""Corpus readers for training on one, several or all languages at once."""
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Union

from spacy.language import Language
from spacy.training import Corpus, Example
from spacy.util import registry


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
    path: Path, split: str, langs: Union[str, List[str]]
) -> List[Path]:
    """Find `path/{lang}/{split}.spacy` for the requested languages.

    path (Path): The corpus directory.
    split (str): The split name.
    langs (Union[str, List[str]]): Languages, a comma-separated string, or "all".
    RETURNS (List[Path]): One existing file per language, in the given order
        ("all": sorted by language).
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"Corpus directory not found: {path}")
    available = sorted(p.parent.name for p in path.glob(f"*/{split}.spacy"))
    if isinstance(langs, str):
        langs = [lang.strip() for lang in langs.split(",") if lang.strip()]
    if langs == ["all"]:
        if not available:
            raise ValueError(f"No {split}.spacy file under {path}/<lang>/")
        langs = available
    missing = [lang for lang in langs if lang not in available]
    if missing or not langs:
        raise ValueError(
            f"No {split}.spacy in {path} for language(s) {missing or langs}; "
            f"languages with that split: {available}"
        )
    return [path / lang / f"{split}.spacy" for lang in langs]
