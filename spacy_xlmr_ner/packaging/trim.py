"""Small pipelines: trim a trained pipeline's encoder vocabulary to the word
pieces of the texts it serves.

Most of an XLM-R pipeline is its word-piece embedding table (250,000 rows),
of which a pipeline for a few languages uses a small part. `trim_pipeline`
keeps the pieces that occur in some texts (by default the pipeline's
training corpus), the encoder's most frequent pieces written in the same
characters (100,000 by default), every single-character piece and the
special tokens,
rewrites the sentencepiece model and the embedding table consistently,
drops the training corpus's words from spaCy's string store, and saves a
pipeline that loads, packages and serves like any other.
"""
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import spacy
import srsly
import torch
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training.corpus import walk_corpus
from spacy.util import minibatch, registry
from spacy_transformers.pipeline_component import Transformer

from .._compat import hf_objects
from ..models.precision import restore_table
from ..tokenization.vocab_trim import (
    changed_pieces,
    frequent_pieces,
    load_model_proto,
    pieces_to_keep,
    trim_model_proto,
)

PathLike = Union[str, Path]
BATCH = 256
# Frequent pieces a trim keeps by default (`frequent_pieces`), of XLM-R's 250,000.
DEFAULT_FREQUENT = 100_000


@dataclass
class PieceCounts:
    """Word pieces of some texts, as the pipeline's encoder sees them.

    docs (int): Documents read.
    pieces (int): Word pieces in all (special tokens excluded).
    used (Counter): Occurrences of each sentencepiece id.
    """

    docs: int = 0
    pieces: int = 0
    used: Counter = field(default_factory=Counter)


@dataclass
class TrimReport:
    """What trimming kept and what it changed.

    pieces_before (int): Word pieces of the encoder's sentencepiece model.
    pieces_after (int): Word pieces kept.
    pieces_used (int): Distinct pieces the given texts use (all kept).
    pieces_frequent (int): Pieces kept as among the encoder's most frequent
        in the texts' characters (`frequent_pieces`), beyond those used.
    docs (int): Documents of the given texts.
    text_pieces (int): Word pieces of the given texts.
    changed (int): Pieces of the given texts the trimmed model cuts
        differently (0 unless something is wrong).
    check (Dict[str, Dict[str, int]]): Per held-out file: its `pieces` and
        how many the trimmed model cuts differently (`changed`).
    rows_before (int): Rows of the embedding table before.
    rows_after (int): Rows after.
    params_before (int): Encoder parameters before.
    params_after (int): Encoder parameters after.
    bytes_before (int): Size of the pipeline directory before.
    bytes_after (int): Size after.
    half (bool): Whether the encoder's weights are stored in half precision.
    stored_dtype (str): The dtype they are stored in: "float32", "float16"
        or "bfloat16".
    strings_before (int): Strings in spaCy's string store before.
    strings_after (int): Strings kept (the same number unless pruned).
    """

    pieces_before: int
    pieces_after: int
    pieces_used: int
    docs: int
    text_pieces: int
    changed: int
    check: Dict[str, Dict[str, int]]
    rows_before: int
    rows_after: int
    params_before: int
    params_after: int
    bytes_before: int = 0
    bytes_after: int = 0
    half: bool = False
    strings_before: int = 0
    strings_after: int = 0
    stored_dtype: str = "float32"
    pieces_frequent: int = 0

    def to_dict(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): The report as JSON-able data."""
        return asdict(self)

    def summary(self) -> List[Tuple[str, str]]:
        """RETURNS (List[Tuple[str, str]]): The report as rows of a two-column table."""
        rows = [
            ("word pieces kept", f"{self.pieces_after:,} of {self.pieces_before:,}"),
            ("used by the given texts", f"{self.pieces_used:,} ({self.docs:,} docs, {self.text_pieces:,} pieces)"),
            ("kept as frequent", f"{self.pieces_frequent:,}"),
            ("given texts' pieces changed", f"{self.changed:,} ({_share(self.changed, self.text_pieces)})"),
            ("encoder parameters", f"{self.params_before:,} -> {self.params_after:,}"),
            ("pipeline size", f"{self.bytes_before / 2**20:,.1f} MiB -> {self.bytes_after / 2**20:,.1f} MiB"),
            ("weights stored as", self.stored_dtype),
            ("spaCy strings", f"{self.strings_before:,} -> {self.strings_after:,}"),
        ]
        for name, counts in self.check.items():
            rows.append(
                (f"changed in {name}", f"{counts['changed']:,} of {counts['pieces']:,} ({_share(counts['changed'], counts['pieces'])})")
            )
        return rows


def trim_pipeline(
    pipeline: PathLike,
    output: PathLike,
    corpus: Sequence[PathLike] = (),
    *,
    extra_texts: Sequence[PathLike] = (),
    check: Sequence[PathLike] = (),
    half: Union[bool, str] = False,
    frequent: int = DEFAULT_FREQUENT,
    prune_strings: bool = True,
    overwrite: bool = False,
) -> TrimReport:
    """Save a copy of a trained pipeline whose encoder keeps only the word
    pieces of some texts, its most frequent pieces in the same characters,
    every single-character piece and the special tokens: a text whose pieces
    are all kept gets exactly the same entities,
    and any other text still works, its dropped pieces split into smaller
    kept ones.

    pipeline (PathLike): The trained pipeline directory, with an
        `xlmr_transformer` component on a sentencepiece encoder (XLM-R and
        its relatives).
    output (PathLike): The directory for the trimmed pipeline.
    corpus (Sequence[PathLike]): The texts whose pieces to keep: `.spacy`
        files, directories of them, or plain-text files (a document per
        line). Default: the pipeline's training corpus, read as
        `[corpora.train]` of its config reads it.
    extra_texts (Sequence[PathLike]): More texts whose pieces to keep (any
        of the kinds `corpus` takes), e.g. plain text in each language.
    check (Sequence[PathLike]): Held-out texts (the same kinds) on which the
        report counts the pieces the trimmed encoder cuts differently.
    half (Union[bool, str]): Store the encoder's weights in half precision,
        half the size: "float16" (or True), loaded back as float32 but for
        the word-embedding table, which stays float16 and memory-mapped; or
        "bfloat16", which a transformer whose `precision` is "bf16" uses as
        stored, memory-mapped, for the least memory.
    frequent (int): Also keep up to this many of the encoder's most frequent
        pieces (the highest-scoring in its sentencepiece model) that are
        written only in characters of the texts' pieces, so that words the
        texts lack are cut less finely; 0 keeps only the texts' own pieces.
        Each costs a row of the table.
    prune_strings (bool): Also drop the strings spaCy's string store keeps
        from the training corpus (every word it read), which prediction does
        not need and which take most of `spacy.load`'s time once the
        encoder is trimmed; the components' labels and the vectors' keys stay.
    overwrite (bool): Replace `output` if it exists.
    RETURNS (TrimReport): What was kept and changed.
    """
    pipeline, output = Path(pipeline), Path(output)
    half_dtype = _half_dtype(half)
    if frequent < 0:
        raise ValueError(f"frequent must be 0 or more pieces, not {frequent}")
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists: choose another output, or overwrite it")
    if output.resolve() == pipeline.resolve():
        raise ValueError(f"The output {output} is the pipeline itself: choose another directory")
    nlp = spacy.load(pipeline, config=_full_precision(pipeline))
    name, trf = find_transformer(nlp)
    model_dir = pipeline / name / "model"
    hf = hf_objects(trf.model)
    tokenizer = hf.tokenizer
    sp_file = model_dir / getattr(tokenizer, "vocab_files_names", {}).get("vocab_file", "sentencepiece.bpe.model")
    if not model_dir.is_dir() or not sp_file.is_file():
        raise ValueError(
            f"{pipeline}: no sentencepiece model at {sp_file}. Trimming needs a pipeline saved by "
            "`xlmr_transformer` on a sentencepiece encoder (XLM-R and its relatives)"
        )
    proto = load_model_proto(sp_file.read_bytes())
    get_spans = trf.model.attrs["get_spans"]
    full_sp = _processor(proto)

    # None stands for the training corpus.
    sources = (list(corpus) or [None]) + list(extra_texts)
    counts = PieceCounts()
    # The texts are read and cut into windows once; their windows are kept to
    # check that the trimmed model cuts them as before.
    windows = _count(_docs(nlp, sources), get_spans, full_sp, counts)
    if not counts.docs:
        names = ", ".join("the training corpus" if s is None else str(s) for s in sources)
        raise ValueError(f"No text to trim to: {names} gave no documents")

    base = pieces_to_keep(proto, counts.used)
    keep = sorted(set(base).union(frequent_pieces(proto, counts.used, frequent))) if frequent else base
    trimmed = trim_model_proto(proto, keep)
    trimmed_sp = _processor(trimmed)
    changed = _changed(windows, full_sp, trimmed_sp)
    del windows
    checked = {}
    for path in check:
        n_changed, n_pieces = _changed(_window_text_stream(read_docs(nlp, path), get_spans), full_sp, trimmed_sp)
        checked[str(path)] = {"pieces": n_pieces, "changed": n_changed}

    transformer = hf.transformer
    restore_table(transformer)  # a pipeline already stored in half precision
    rows_before = transformer.get_input_embeddings().weight.shape[0]
    params_before = sum(p.numel() for p in transformer.parameters())
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        target = staging / "pipeline"
        shutil.copytree(pipeline, target, ignore=_skip_dir(model_dir))
        new_model_dir = target / name / "model"
        new_model_dir.mkdir(parents=True, exist_ok=True)
        sp_path = staging / sp_file.name
        sp_path.write_bytes(trimmed.SerializeToString())
        new_tokenizer = _rebuild_tokenizer(tokenizer, sp_path)
        rows = _row_map(tokenizer, new_tokenizer)
        _replace_embeddings(transformer, rows)
        if half_dtype is not None:
            transformer.to(half_dtype)
        transformer.save_pretrained(str(new_model_dir), safe_serialization=True)
        new_tokenizer.save_pretrained(str(new_model_dir))
        strings_file = target / "vocab" / "strings.json"
        strings = srsly.read_json(strings_file) if strings_file.is_file() else []
        kept_strings = needed_strings(nlp) if prune_strings and strings else strings
        if kept_strings is not strings:
            srsly.write_json(strings_file, kept_strings)
        report = TrimReport(
            pieces_before=len(proto.pieces),
            pieces_after=len(trimmed.pieces),
            pieces_used=len(counts.used),
            pieces_frequent=len(keep) - len(base),
            docs=counts.docs,
            text_pieces=counts.pieces,
            changed=changed[0],
            check=checked,
            rows_before=rows_before,
            rows_after=len(rows),
            params_before=params_before,
            params_after=sum(p.numel() for p in transformer.parameters()),
            bytes_before=_dir_size(pipeline),
            bytes_after=_dir_size(target),
            half=half_dtype is not None,
            stored_dtype=str(half_dtype or torch.float32).replace("torch.", ""),
            strings_before=len(strings),
            strings_after=len(kept_strings),
        )
        meta_path = target / "meta.json"
        meta = srsly.read_json(meta_path)
        meta["vocab_trim"] = {
            key: value for key, value in report.to_dict().items() if key not in ("check", "bytes_after")
        }
        srsly.write_json(meta_path, meta)
        if output.exists():
            shutil.rmtree(output)
        os.replace(target, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def find_transformer(nlp: Language) -> Tuple[str, Transformer]:
    """The pipeline's transformer component.

    nlp (Language): The pipeline.
    RETURNS (Tuple[str, Transformer]): Its name and the component.
    """
    found = [(name, pipe) for name, pipe in nlp.pipeline if isinstance(pipe, Transformer)]
    if len(found) != 1:
        raise ValueError(
            f"Trimming needs exactly one transformer component; the pipeline has {len(found)} "
            f"({', '.join(nlp.pipe_names) or 'no components'})"
        )
    return found[0]


def needed_strings(nlp: Language) -> List[str]:
    """The strings of a pipeline's string store that prediction needs: the
    labels of its components and the keys of its vectors. The rest are the
    words of the texts it was trained on; spaCy adds the strings of new
    texts as it reads them.

    nlp (Language): The pipeline.
    RETURNS (List[str]): The strings, sorted.
    """
    keep = set()
    for _, pipe in nlp.pipeline:
        keep.update(str(label) for label in getattr(pipe, "labels", ()) or ())
    strings = nlp.vocab.strings
    keep.update(strings[key] for key in nlp.vocab.vectors.keys() if key in strings)
    return sorted(keep)


def training_docs(nlp: Language) -> Iterator[Doc]:
    """The documents of a pipeline's training corpus, tokenized as in training.

    nlp (Language): A pipeline with `[corpora.train]` in its config.
    YIELDS (Doc): Each training document.
    """
    config = nlp.config.interpolate()
    block = config.get("corpora", {}).get("train")
    if not block:
        raise ValueError("The pipeline's config has no [corpora.train]: give the texts to trim to")
    path = block.get("path")
    if path is None or not Path(path).exists():
        raise FileNotFoundError(
            f"The pipeline's training corpus {path} (paths.train in its config) is not here: "
            "give the texts to trim to, or run from the directory it was trained in"
        )
    reader = registry.resolve({"corpus": block})["corpus"]
    for example in reader(nlp):
        yield example.predicted


def read_docs(nlp: Language, path: PathLike) -> Iterator[Doc]:
    """The documents of a `.spacy` file, a directory of them, or a plain-text
    file (one document per non-empty line, tokenized by the pipeline).

    nlp (Language): The pipeline, for its vocab and tokenizer.
    path (PathLike): The file or directory.
    YIELDS (Doc): Each document.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_dir() or path.suffix == ".spacy":
        files = walk_corpus(path, ".spacy")
        if not files:
            raise ValueError(f"{path}: no .spacy files in this directory")
        for file in files:
            yield from DocBin().from_disk(file).get_docs(nlp.vocab)
        return
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ValueError(f"{path}:{number}: not UTF-8 text ({err.reason} at byte {err.start})") from None
            line = line.strip()
            if line:
                yield nlp.make_doc(line)


def _docs(nlp: Language, sources: Sequence[Optional[PathLike]]) -> Iterator[Doc]:
    for source in sources:
        yield from training_docs(nlp) if source is None else read_docs(nlp, source)


def _half_dtype(half: Union[bool, str]) -> Optional[torch.dtype]:
    if half is False or half is None:
        return None
    if half is True or half == "float16":
        return torch.float16
    if half == "bfloat16":
        return torch.bfloat16
    raise ValueError(f"half must be True, False, 'float16' or 'bfloat16', not {half!r}")


def _full_precision(pipeline: Path) -> Dict[str, Any]:
    """Config overrides that load every `xlmr_transformer` in fp32: a pipeline
    saved with `precision = "int8"` or "bf16" would otherwise be quantized at
    load, and the weights written back reduced. The trimmed copy keeps the
    setting in its config."""
    config = spacy.util.load_config(pipeline / "config.cfg", interpolate=False)
    return {
        "components": {
            name: {"precision": "fp32"}
            for name, block in config.get("components", {}).items()
            if block.get("factory") == "xlmr_transformer"
        }
    }


def _processor(proto):
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=proto.SerializeToString())


def _window_texts(docs: Iterable[Doc], get_spans) -> Iterator[Tuple[int, List[str]]]:
    for batch in minibatch(docs, BATCH):
        batch = list(batch)
        yield len(batch), [span.text for spans in get_spans(batch) for span in spans]


def _count(docs: Iterable[Doc], get_spans, sp, counts: PieceCounts) -> List[str]:
    """Count the pieces of the docs' encoder windows into `counts`.
    RETURNS (List[str]): The windows' texts, to cut again with the trimmed model."""
    windows: List[str] = []
    for n_docs, texts in _window_texts(docs, get_spans):
        counts.docs += n_docs
        for ids in sp.encode(texts):
            counts.pieces += len(ids)
            counts.used.update(ids)
        windows.extend(texts)
    return windows


def _changed(texts: Iterable[str], full_sp, trimmed_sp) -> Tuple[int, int]:
    changed = total = 0
    for batch in minibatch(texts, BATCH):
        batch = list(batch)
        for before, after in zip(full_sp.encode(batch, out_type=str), trimmed_sp.encode(batch, out_type=str)):
            n_changed, n = changed_pieces(before, after)
            changed += n_changed
            total += n
    return changed, total


def _window_text_stream(docs: Iterable[Doc], get_spans) -> Iterator[str]:
    for _, texts in _window_texts(docs, get_spans):
        yield from texts


def _rebuild_tokenizer(tokenizer, sp_path: Path):
    """The same kind of tokenizer, with the same settings, on the trimmed
    sentencepiece model; special tokens get their ids afresh (the saved
    `added_tokens_decoder` would pin `<mask>` to its old id)."""
    kwargs = {
        key: value
        for key, value in tokenizer.init_kwargs.items()
        if key not in ("vocab_file", "tokenizer_file", "name_or_path", "added_tokens_decoder")
    }
    return type(tokenizer)(vocab_file=str(sp_path), **kwargs)


def _row_map(old, new) -> List[int]:
    """For each id of the new tokenizer, the id of the same token in the old one."""
    tokens = new.convert_ids_to_tokens(list(range(len(new))))
    rows = old.convert_tokens_to_ids(tokens)
    unk_old, unk_new = old.unk_token_id, new.unk_token_id
    lost = [tok for i, (tok, row) in enumerate(zip(tokens, rows)) if row == unk_old and i != unk_new]
    if lost or len(set(rows)) != len(rows):
        raise ValueError(f"The trimmed tokenizer's tokens do not map one to one onto the old ones: {lost[:5]}")
    for special in ("pad_token_id", "bos_token_id", "eos_token_id", "cls_token_id", "sep_token_id"):
        old_id, new_id = getattr(old, special, None), getattr(new, special, None)
        if old_id is not None and rows[new_id] != old_id:
            raise ValueError(f"{special} moved from {old_id} to {new_id}")
    return rows


def _replace_embeddings(transformer, rows: List[int]) -> None:
    embeddings = transformer.get_input_embeddings()
    weight = embeddings.weight.detach()
    index = torch.as_tensor(rows, dtype=torch.long, device=weight.device)
    new = torch.nn.Embedding(
        len(rows), weight.shape[1], padding_idx=embeddings.padding_idx, device=weight.device, dtype=weight.dtype
    )
    with torch.no_grad():
        new.weight.copy_(weight.index_select(0, index))
    new.weight.requires_grad_(embeddings.weight.requires_grad)
    transformer.set_input_embeddings(new)
    transformer.config.vocab_size = len(rows)


def _skip_dir(skipped: Path):
    """A `copytree` ignore function that leaves out one directory."""
    parent, name = skipped.parent.resolve(), skipped.name

    def ignore(directory: str, names: List[str]) -> List[str]:
        return [name] if Path(directory).resolve() == parent and name in names else []

    return ignore


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"
