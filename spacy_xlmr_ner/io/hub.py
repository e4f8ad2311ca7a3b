"""Download WikiANN / PAN-X from the Hugging Face Hub as IOB files."""
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Mapping, Sequence, Union

from ..extras import import_extra

# source -> (Hub dataset, config name template)
SOURCES = {"wikiann": ("unimelb-nlp/wikiann", "{lang}"), "panx": ("google/xtreme", "PAN-X.{lang}")}
# Hub split -> file name stem
HUB_SPLITS = {"train": "train", "validation": "dev", "test": "test"}


def records_to_iob(records: Iterable[Mapping[str, Any]], tag_names: Sequence[str]) -> Iterator[str]:
    """Turn Hugging Face NER records into IOB lines.

    records (Iterable[Mapping[str, Any]]): Records with "tokens" (List[str])
        and "ner_tags" (List[int], indices into `tag_names`).
    tag_names (Sequence[str]): The tag name of each tag id.
    YIELDS (str): `token<TAB>tag` lines without line end, and an empty line
        after each sentence.
    """
    for i, record in enumerate(records):
        tokens, tags = record["tokens"], record["ner_tags"]
        if len(tokens) != len(tags):
            raise ValueError(f"Record {i}: {len(tokens)} tokens but {len(tags)} tags")
        for token, tag in zip(tokens, tags):
            if not token.strip() or any(ch in token for ch in "\t\n\r"):
                raise ValueError(f"Record {i}: token {token!r} cannot be written to an IOB file")
            if not 0 <= tag < len(tag_names):
                raise ValueError(f"Record {i}: tag id {tag} out of range for {len(tag_names)} tags")
            yield f"{token}\t{tag_names[tag]}"
        yield ""


def write_iob(lines: Iterable[str], path: Union[str, Path]) -> None:
    """Write IOB lines to a UTF-8 file, creating parent directories.

    The lines go to a temporary file first, so that an error halfway leaves no
    truncated file behind.

    lines (Iterable[str]): Lines without line ends, e.g. from `records_to_iob`.
    path (Union[str, Path]): The file to write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(path.name + ".tmp")
    with tmp_path.open("w", encoding="utf-8", newline="\n") as f:
        f.writelines(line + "\n" for line in lines)
    tmp_path.replace(path)


def download(source: str, lang: str, output_dir: Union[str, Path]) -> Dict[str, Path]:
    """Download one language of WikiANN or PAN-X as IOB files.

    source (str): "wikiann" (unimelb-nlp/wikiann) or "panx" (google/xtreme, PAN-X).
    lang (str): The language code, e.g. "de".
    output_dir (Union[str, Path]): Files are written to `output_dir/{lang}/{train,dev,test}.iob`.
    RETURNS (Dict[str, Path]): The written file by split name.
    """
    if source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}; choose from {', '.join(SOURCES)}")
    datasets = import_extra("datasets", "data", "Downloading from the Hugging Face hub")
    name, config = SOURCES[source]
    dataset = datasets.load_dataset(name, config.format(lang=lang))
    paths = {}
    for hub_split, split in HUB_SPLITS.items():
        tag_names = dataset[hub_split].features["ner_tags"].feature.names
        paths[split] = Path(output_dir) / lang / f"{split}.iob"
        write_iob(records_to_iob(dataset[hub_split], tag_names), paths[split])
    return paths
