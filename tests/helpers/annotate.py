"""Inputs and pipelines for the batch annotation tests."""
import json
from pathlib import Path
from typing import List, Tuple

import spacy

from helpers import REPO
from helpers.annotate_components import TRIGGER
from helpers.serve import EXAMPLE_TEXT, NO_ENTITIES_TEXT

TESTS_DIR = str(REPO / "tests")
IMPORT = "helpers.annotate_components"
# Texts with and without entities, in several scripts, an empty one and one
# with astral characters.
TEXTS: List[str] = [
    EXAMPLE_TEXT["de"], EXAMPLE_TEXT["ru"], "", NO_ENTITIES_TEXT, EXAMPLE_TEXT["zh"], EXAMPLE_TEXT["ar"],
    "😀 Angela Merkel 🇩🇪 besuchte Berlin.", EXAMPLE_TEXT["en"], "   ", EXAMPLE_TEXT["hi"],
]


def corpus(n: int) -> List[Tuple[int, str]]:
    """(id, text) pairs: TEXTS over and over, ids 1000, 1001, ..."""
    return [(1000 + i, TEXTS[i % len(TEXTS)]) for i in range(n)]


def write_jsonl(path: Path, rows, text_field: str = "text") -> Path:
    with path.open("w", encoding="utf-8") as out:
        for row_id, text in rows:
            out.write(json.dumps({"id": row_id, text_field: text, "extra": [1, 2]}, ensure_ascii=False) + "\n")
    return path


def write_text(path: Path, rows) -> Path:
    path.write_text("".join(text + "\n" for _, text in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, rows, row_group_size: int = 7) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": [row_id for row_id, _ in rows], "text": [text for _, text in rows]})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def with_component(pipeline: Path, out: Path, mode: str, marker: Path) -> Path:
    """A copy of `pipeline` with `fail_on_trigger` after its last component."""
    import helpers.annotate_components  # noqa: F401 (registers the factory)

    nlp = spacy.load(pipeline)
    nlp.add_pipe("fail_on_trigger", config={"mode": mode, "marker": str(marker)})
    nlp.to_disk(out)
    return out


def failing_run(tmp_path: Path, pipeline: Path, mode: str, documents: int, at: int):
    """A copy of `pipeline` that fails on a text with TRIGGER (`mode` as in
    `FailOn`), and a JSONL corpus of `documents` rows whose row `at` has it.

    RETURNS (Tuple[Path, Path, Path]): The pipeline, the marker file that
        exists once it has failed, and the corpus.
    """
    marker = tmp_path / "failed"
    failing = with_component(pipeline, tmp_path / f"pipeline-{mode}", mode, marker)
    rows = corpus(documents)
    rows[at] = (rows[at][0], f"{TRIGGER}: Angela Merkel in Berlin")
    return failing, marker, write_jsonl(tmp_path / "in.jsonl", rows)


def key(rows) -> List[tuple]:
    """What must agree between runs: every row's place, id and entities."""
    return [
        (r["source"], r["row"], None if r["id"] is None else str(r["id"]), r["error"],
         [(e["start"], e["end"], e["label"], round(e["score"], 4)) for e in r["entities"]])
        for r in rows
    ]


__all__ = ["TEXTS", "TRIGGER", "TESTS_DIR", "IMPORT", "corpus", "write_jsonl", "write_text", "write_parquet", "with_component", "failing_run", "key"]
