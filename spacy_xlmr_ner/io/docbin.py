"""Convert IOB files to spaCy's binary `DocBin` corpus format."""
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import spacy
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab
from tqdm import tqdm
from wasabi import table

from ..tokenization.spacing import infer_spaces
from .iob import Sentence, read_iob
from .label_map import map_tags

SPLITS = ("train", "dev", "test")


def sentences_to_docs(sentences: Iterable[Sentence], vocab: Vocab) -> List[Doc]:
    """Turn sentences into docs with their entities set.

    sentences (Iterable[Sentence]): Sentences with IOB2 tags, e.g. from `read_iob`.
    vocab (Vocab): The vocab of the docs.
    RETURNS (List[Doc]): One doc per sentence, spaces inferred with `infer_spaces`.
    """
    return [Doc(vocab, words=sent.words, spaces=infer_spaces(sent.words), ents=sent.tags) for sent in sentences]


@dataclass
class SplitStats:
    """What was converted for one language and split.

    sentences (int): Number of sentences (docs) written.
    tokens (int): Number of tokens written.
    entities (Counter): Number of entities written, per label.
    n_repaired (int): Number of broken entity starts repaired.
    n_docstart (int): Number of `-DOCSTART-` lines skipped.
    lang_prefix (Optional[str]): Language prefix stripped from the tokens, or None.
    relabeled (Counter): Entities renamed by a label map, per (old, new) label.
    dropped (Counter): Entities removed by a label map (mapped to "O"), per label.
    """

    sentences: int
    tokens: int
    entities: Counter = field(default_factory=Counter)
    n_repaired: int = 0
    n_docstart: int = 0
    lang_prefix: Optional[str] = None
    relabeled: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)

    def notes(self) -> List[str]:
        """RETURNS (List[str]): Remarks worth printing besides the numbers."""
        notes = [f"skipped {self.n_docstart} -DOCSTART- lines"] if self.n_docstart else []
        if self.lang_prefix:
            notes.append(f"stripped language prefix {self.lang_prefix!r} from every token")
        for (old, new), n in sorted(self.relabeled.items()):
            notes.append(f"relabeled {n} {old} entities as {new}")
        for label, n in sorted(self.dropped.items()):
            notes.append(f"dropped {n} {label} entities (label map: {label}=O)")
        return notes


def format_stats(stats: Mapping[Tuple[str, str], SplitStats]) -> str:
    """Format conversion statistics as a table, followed by any notes.

    stats (Mapping[Tuple[str, str], SplitStats]): Statistics by (lang, split).
    RETURNS (str): The table, one row per (lang, split), one column per entity label.
    """
    labels = sorted({label for split_stats in stats.values() for label in split_stats.entities})
    header = ["lang", "split", "sentences", "tokens", *labels, "repaired"]
    rows = [
        [lang, split, s.sentences, s.tokens, *(s.entities[label] for label in labels), s.n_repaired]
        for (lang, split), s in stats.items()
    ]
    notes = [f"{lang}/{split}: {note}" for (lang, split), s in stats.items() for note in s.notes()]
    aligns = ["l", "l"] + ["r"] * (len(header) - 2)
    return "\n".join([table(rows, header=header, divider=True, aligns=aligns), *notes])


def convert_iob_file(
    path: Union[str, Path],
    output_path: Union[str, Path],
    *,
    strict: bool = False,
    limit: int = 0,
    lang: Optional[str] = None,
    progress: Optional[bool] = None,
    label_map: Optional[Mapping[str, str]] = None,
) -> SplitStats:
    """Convert one IOB file to a `.spacy` DocBin file.

    path (Union[str, Path]): The IOB file (see `read_iob`).
    output_path (Union[str, Path]): The DocBin file to write; parent directories are created.
    strict (bool): Raise on broken entity starts instead of repairing them.
    limit (int): If > 0, convert only the first `limit` sentences.
    lang (Optional[str]): Language code of the blank vocab; None uses "xx" (multi-language).
    progress (Optional[bool]): Progress bar setting passed to `read_iob`.
    label_map (Optional[Mapping[str, str]]): Entity label renames (see
        `io.label_map.map_tags`), e.g. to unify the labels of several datasets.
    RETURNS (SplitStats): What was written.
    """
    iob = read_iob(path, strict=strict, limit=limit, progress=progress)
    relabeled: Counter = Counter()
    dropped: Counter = Counter()
    if label_map:
        for sent in iob.sentences:
            sent.tags, sent_renamed, sent_dropped = map_tags(sent.tags, dict(label_map))
            relabeled.update(sent_renamed)
            dropped.update(sent_dropped)
    docs = sentences_to_docs(iob.sentences, spacy.blank(lang or "xx").vocab)
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=False).to_disk(output_path)
    entities = Counter(ent.label_ for doc in docs for ent in doc.ents)
    tokens = sum(len(doc) for doc in docs)
    return SplitStats(
        len(docs), tokens, entities, iob.n_repaired, iob.n_docstart, iob.lang_prefix, relabeled, dropped
    )


def convert_iob_dir(
    input_dir: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    langs: Optional[Sequence[str]] = None,
    splits: Sequence[str] = SPLITS,
    strict: bool = False,
    limit: int = 0,
    lang: Optional[str] = None,
    progress: Optional[bool] = None,
    label_map: Optional[Mapping[str, str]] = None,
) -> Dict[Tuple[str, str], SplitStats]:
    """Convert `input_dir/{lang}/{split}.iob` files to `output_dir/{lang}/{split}.spacy`.

    A split missing for every language is skipped; a split missing for only
    some of the languages is an error, so that no language silently lacks data.

    input_dir (Union[str, Path]): Directory with one subdirectory per language.
    output_dir (Union[str, Path]): Directory to write the DocBin files to.
    langs (Optional[Sequence[str]]): Languages to convert. None converts every
        subdirectory that holds at least one of the split files.
    splits (Sequence[str]): Names of the splits to convert.
    strict (bool): Raise on broken entity starts instead of repairing them.
    limit (int): If > 0, convert only the first `limit` sentences of each file.
    lang (Optional[str]): Language code of the blank vocab; None uses "xx" (multi-language).
    progress (Optional[bool]): Show a progress bar of the files on stderr
        (None: when stderr is a terminal); passed to `read_iob` too.
    label_map (Optional[Mapping[str, str]]): Entity label renames, as in `convert_iob_file`.
    RETURNS (Dict[Tuple[str, str], SplitStats]): Statistics by (lang, split), language-major.
    """
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if langs is None:
        subdirs = sorted(p for p in input_dir.iterdir() if p.is_dir())
        langs = [p.name for p in subdirs if any((p / f"{split}.iob").is_file() for split in splits)]
    paths = {(code, split): input_dir / code / f"{split}.iob" for code in langs for split in splits}
    present = [split for split in splits if any(paths[code, split].is_file() for code in langs)]
    if not present:
        for_langs = f" for {', '.join(langs)}" if langs else ""
        raise FileNotFoundError(f"No {{{','.join(splits)}}}.iob files in {input_dir}{for_langs}")
    missing = [str(path) for (_, split), path in paths.items() if split in present and not path.is_file()]
    if missing:
        raise FileNotFoundError(f"Missing IOB files: {', '.join(missing)}")
    kwargs = dict(strict=strict, limit=limit, lang=lang, progress=progress, label_map=label_map)
    todo = [(key, path) for key, path in paths.items() if key[1] in present]
    disable = None if progress is None else not progress
    stats = {}
    for (code, split), path in tqdm(todo, disable=disable, file=sys.stderr, unit="files", leave=False):
        stats[code, split] = convert_iob_file(path, output_dir / code / f"{split}.spacy", **kwargs)
    return stats
