"""Finding inputs, cutting them into shards and reading shards back: every
row once, in order, bad rows kept with their error."""
import json

import pytest

from helpers.annotate import corpus, write_jsonl, write_parquet, write_text
from spacy_xlmr_ner.annotate.inputs import InputError, find_inputs, plan_shards, read_shard


def read_all(shards):
    return [row for shard in shards for row in read_shard(shard)]


@pytest.mark.parametrize("writer,suffix", [(write_jsonl, "jsonl"), (write_text, "txt"), (write_parquet, "parquet")])
@pytest.mark.parametrize("shard_size", [1, 3, 7, 10, 100])
def test_shards_hold_every_row_once_in_order(tmp_path, writer, suffix, shard_size):
    rows = corpus(23)
    path = writer(tmp_path / f"in.{suffix}", rows)
    shards = plan_shards(find_inputs([str(path)]), shard_size)
    assert sum(s.rows for s in shards) == 23
    # Parquet shards hold whole row groups (7 rows here), so may be larger.
    assert all(s.rows <= max(shard_size, 7 if suffix == "parquet" else 0) for s in shards)
    read = read_all(shards)
    assert [r.row for r in read] == list(range(23))
    assert [r.text for r in read] == [text for _, text in rows]
    expected_ids = list(range(1, 24)) if suffix == "txt" else [i for i, _ in rows]
    assert [r.id for r in read] == expected_ids
    assert len({s.name for s in shards}) == len(shards)


def test_bad_jsonl_rows_are_kept_with_their_error(tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": 1, "text": "Berlin"}),
        "",  # blank lines are not rows
        "{not json",
        json.dumps({"id": 3, "body": "no text field"}),
        json.dumps({"id": 4, "text": None}),
        json.dumps(["not", "an", "object"]),
        "   ",
        json.dumps({"id": 6, "text": "last"}),
    ]
    path.write_text("\n".join(lines), encoding="utf-8")  # and no newline at the end
    rows = read_all(plan_shards([path], 2))
    assert [(r.row, r.id, r.text) for r in rows] == [
        (0, 1, "Berlin"), (1, None, None), (2, 3, None), (3, 4, None), (4, None, None), (5, 6, "last")
    ]
    errors = [r.error for r in rows]
    assert errors[0] is None and errors[-1] is None
    assert errors[1].startswith("line 3: invalid JSON")
    assert errors[2] == "line 4: no 'text' field"
    assert errors[3] == "line 5: the 'text' field is NoneType, not a string"
    assert errors[4] == "line 6: a JSON object was expected, not list"


def test_text_lines_crlf_bom_and_invalid_utf8(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes("\ufeffErste Zeile\r\n\r\nzweite \u2028 Zeile\n".encode("utf-8") + b"kaputt \xc3\x28 hier\nEnde")
    rows = read_all(plan_shards([path], 2))
    assert [r.text for r in rows] == ["Erste Zeile", "", "zweite \u2028 Zeile", None, "Ende"]
    assert [r.id for r in rows] == [1, 2, 3, 4, 5]
    assert rows[3].error == "line 4: invalid UTF-8 at byte 7 of the line"
    assert [r.error for r in rows if r.row != 3] == [None] * 4


def test_fields_are_selectable(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [(1, "a"), (2, "b")], text_field="body")
    rows = read_all(plan_shards([path], 10))
    assert all(r.error == f"line {i + 1}: no 'text' field" for i, r in enumerate(rows))
    rows = [r for s in plan_shards([path], 10) for r in read_shard(s, text_field="body", id_field="extra")]
    assert [(r.id, r.text) for r in rows] == [([1, 2], "a"), ([1, 2], "b")]


def test_parquet_nulls_are_bad_rows_and_a_missing_column_stops(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["Berlin", None]}), path)
    rows = read_all(plan_shards([path], 10))
    assert [(r.id, r.text, r.error) for r in rows] == [
        ("a", "Berlin", None), ("b", None, "row 1: the 'text' value is null, not a string")
    ]
    with pytest.raises(InputError, match=r"in\.parquet: no 'body' column \(columns: id, text\)"):
        read_shard(plan_shards([path], 10)[0], text_field="body")


def test_directories_and_patterns(tmp_path):
    (tmp_path / "sub").mkdir()
    a = write_jsonl(tmp_path / "b.jsonl", corpus(2))
    b = write_text(tmp_path / "sub" / "a.txt", corpus(3))
    (tmp_path / "notes.md").write_text("not an input")
    assert find_inputs([str(tmp_path)]) == [a.resolve(), b.resolve()]
    assert find_inputs([str(tmp_path / "*.jsonl")]) == [a.resolve()]
    assert find_inputs([str(tmp_path / "**" / "*.txt")]) == [b.resolve()]
    shards = plan_shards(find_inputs([str(tmp_path)]), 10)
    assert [(s.name, s.format, s.rows) for s in shards] == [("part-00000-00000", "jsonl", 2), ("part-00001-00000", "text", 3)]


def test_unreadable_inputs_stop_with_their_name(tmp_path):
    with pytest.raises(InputError, match=r"missing\.jsonl: no such file or directory"):
        find_inputs([str(tmp_path / "missing.jsonl")])
    with pytest.raises(InputError, match=r"no file matches the pattern"):
        find_inputs([str(tmp_path / "*.parquet")])
    with pytest.raises(InputError, match=r"the directory has no input files"):
        find_inputs([str(tmp_path)])
    odd = tmp_path / "docs.csv"
    odd.write_text("a,b\n")
    with pytest.raises(InputError, match=r"docs\.csv: cannot tell the format.*--input-format"):
        plan_shards([odd], 10)
    assert [r.text for r in read_all(plan_shards([odd], 10, input_format="text"))] == ["a,b"]
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match=r"broken\.parquet: not a readable Parquet file"):
        plan_shards([broken], 10)


def test_a_file_that_changes_during_the_run_is_an_error(tmp_path):
    path = write_text(tmp_path / "in.txt", corpus(4))
    shard = plan_shards([path], 10)[0]
    path.write_text("only one line\n")
    with pytest.raises(InputError, match=r"in\.txt: the file changed since the run began \(4 rows expected"):
        read_shard(shard)
