import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner
from helpers import REPO

SCRIPTS = REPO / "scripts"
runner = CliRunner()


def load_app(name):
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


@pytest.fixture(scope="module")
def convert_app():
    return load_app("convert")


@pytest.fixture
def corpus(tmp_path):
    files = {
        "de/train.iob": "-DOCSTART-\tO\n\nAngela\tB-PER\nMerkel\tI-PER\n\nin\tO\nBerlin\tI-LOC\n\nBonn\tB-LOC\n",
        "de/dev.iob": "Bonn\tB-LOC\n",
        "en/train.iob": "en:Deutsche\tB-ORG\nen:Bank\tI-ORG\n",
        "en/dev.iob": "en:Paris\tB-LOC\n",
    }
    for rel_path, text in files.items():
        (tmp_path / "in" / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / rel_path).write_text(text, encoding="utf-8")
    return tmp_path / "in"


def flat(output):
    # wasabi wraps messages at 80 columns
    return " ".join(output.split())


def rows(output):
    return [line.split() for line in output.splitlines() if line.startswith(("de ", "en "))]


def test_convert_dir(convert_app, corpus, tmp_path):
    result = runner.invoke(convert_app, [str(corpus), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert rows(result.output) == [
        ["de", "train", "3", "5", "2", "0", "1", "1"],
        ["de", "dev", "1", "1", "1", "0", "0", "0"],
        ["en", "train", "1", "2", "0", "1", "0", "0"],
        ["en", "dev", "1", "1", "1", "0", "0", "0"],
    ]
    assert "lang   split   sentences   tokens   LOC   ORG   PER   repaired" in result.output
    assert "de/train: skipped 1 -DOCSTART- lines" in result.output
    assert "en/train: stripped language prefix 'en:' from every token" in result.output
    assert "Limited" not in result.output
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").glob("*/*")) == [
        "de/dev.spacy", "de/train.spacy", "en/dev.spacy", "en/train.spacy",
    ]  # fmt: skip


def test_convert_langs_splits_limit(convert_app, corpus, tmp_path):
    args = [str(corpus), str(tmp_path / "out"), "--langs", "de", "--splits", "train", "--limit", "2"]
    result = runner.invoke(convert_app, args)
    assert result.exit_code == 0, result.output
    assert rows(result.output) == [["de", "train", "2", "4", "1", "1", "1"]]
    assert "Limited to first 2 sentences of each file" in result.output
    assert [p.name for p in (tmp_path / "out").glob("*/*")] == ["train.spacy"]


def test_convert_single_file(convert_app, corpus, tmp_path):
    result = runner.invoke(convert_app, [str(corpus / "de" / "train.iob"), str(tmp_path / "train.spacy")])
    assert result.exit_code == 0, result.output
    assert rows(result.output) == [["de", "train", "3", "5", "2", "1", "1"]]
    assert (tmp_path / "train.spacy").is_file()


def test_convert_strict_fails(convert_app, corpus, tmp_path):
    result = runner.invoke(convert_app, [str(corpus), str(tmp_path / "out"), "--strict"])
    assert result.exit_code == 1
    assert f"{corpus / 'de' / 'train.iob'}:7: broken entity start" in flat(result.output)
    assert "'Berlin\\tI-LOC'" in flat(result.output)


def test_convert_malformed_fails(convert_app, corpus, tmp_path):
    (corpus / "en" / "dev.iob").write_text("en:Paris\tB-LOC\n\nen:London\tLOC\n", encoding="utf-8")
    result = runner.invoke(convert_app, [str(corpus), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert f"{corpus / 'en' / 'dev.iob'}:3: unknown tag shape 'LOC': 'en:London\\tLOC'" in flat(result.output)


def test_convert_missing_split_fails(convert_app, corpus, tmp_path):
    (corpus / "en" / "dev.iob").unlink()
    result = runner.invoke(convert_app, [str(corpus), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert f"Missing IOB files: {corpus / 'en' / 'dev.iob'}" in flat(result.output)
    assert not (tmp_path / "out").exists()


def test_download_cli(tmp_path, monkeypatch):
    names = SimpleNamespace(names=["O", "B-LOC", "I-LOC"])
    split = type("Split", (list,), {"features": {"ner_tags": SimpleNamespace(feature=names)}})
    records = [{"tokens": ["Bonn"], "ner_tags": [1]}]
    splits = {s: split(records) for s in ("train", "validation", "test")}
    fake = SimpleNamespace(load_dataset=lambda name, config: splits)
    monkeypatch.setitem(sys.modules, "datasets", fake)
    download_app = load_app("download")
    result = runner.invoke(download_app, ["panx", "de,nl", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*")) == [
        "de/dev.iob", "de/test.iob", "de/train.iob", "nl/dev.iob", "nl/test.iob", "nl/train.iob",
    ]  # fmt: skip
    assert (tmp_path / "nl" / "dev.iob").read_text(encoding="utf-8") == "Bonn\tB-LOC\n\n"
    result = runner.invoke(download_app, ["conll", "de", str(tmp_path)])
    assert result.exit_code == 1
    assert "Unknown source 'conll'" in result.output


# Failures: exit code 1, one clear message (no traceback), existing outputs unchanged byte for byte.
def snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fails_cleanly(result, *expected):
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # msg.fail, not an uncaught exception
    assert "Traceback" not in result.output
    for text in expected:
        assert text in flat(result.output), result.output


@pytest.fixture
def converted(convert_app, corpus, tmp_path):
    """The corpus converted once (a good earlier output), and its bytes."""
    assert runner.invoke(convert_app, [str(corpus), str(tmp_path / "out")]).exit_code == 0
    return snapshot(tmp_path / "out")


@pytest.mark.parametrize(
    "rel_path,data,expected",
    [
        ("de/dev.iob", b"Bonn\tB-LOC\n\nM\xfcnchen\tB-LOC\n", "dev.iob:3: byte 0xfc at column 2 is not UTF-8"),
        ("en/dev.iob", b"en:Paris\tB-O\n", "dev.iob:1: entity labelled as outside (B-O)"),
        ("en/dev.iob", b"en:Par\x00is\tB-LOC\n", "dev.iob:1: U+0000 (NUL) at column 7"),
        ("en/dev.iob", "en:Par\u2028is\tB-LOC\n".encode(), "dev.iob:1: U+2028 (LINE SEPARATOR) at column 7"),
        ("en/dev.iob", "en:Paris\tB-LOC\n".encode("utf-16-le"), "dev.iob:1: U+0000 (NUL)"),
    ],
)
def test_bad_input_changes_no_output(convert_app, corpus, tmp_path, converted, rel_path, data, expected):
    (corpus / rel_path).write_bytes(data)
    result = runner.invoke(convert_app, [str(corpus), str(tmp_path / "out")])
    fails_cleanly(result, f"{corpus / rel_path}", expected)
    assert snapshot(tmp_path / "out") == converted


def test_utf16_with_bom_is_converted(convert_app, corpus, tmp_path):
    (corpus / "de" / "dev.iob").write_bytes("Bonn\tB-LOC\n".encode("utf-16"))
    result = runner.invoke(convert_app, [str(corpus), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert ["de", "dev", "1", "1", "1", "0", "0", "0"] in rows(result.output)


def test_disk_full_changes_no_output(convert_app, corpus, tmp_path, converted, monkeypatch):
    import errno

    from spacy_xlmr_ner.io import docbin

    def write_all(f, data):
        f.write(data[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(docbin, "_write_all", write_all)
    result = runner.invoke(convert_app, [str(corpus), str(tmp_path / "out")])
    fails_cleanly(result, f"Cannot write {tmp_path / 'out' / 'de' / 'train.spacy'}: no space left on the device")
    assert snapshot(tmp_path / "out") == converted  # no partial file, no temporary file
    single = tmp_path / "out" / "de" / "train.spacy"
    result = runner.invoke(convert_app, [str(corpus / "de" / "train.iob"), str(single), "--limit", "1"])
    fails_cleanly(result, f"Cannot write {single}: no space left on the device")
    assert snapshot(tmp_path / "out") == converted


def test_read_only_output_changes_nothing(convert_app, corpus, tmp_path, converted, monkeypatch):
    import errno
    import tempfile

    def mkstemp(*args, **kwargs):  # chmod does not stop root: simulate the file system's answer
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    result = runner.invoke(convert_app, [str(corpus), str(tmp_path / "out")])
    fails_cleanly(result, "Cannot write", "the file system is read-only")
    assert snapshot(tmp_path / "out") == converted


def test_output_path_problems(convert_app, corpus, tmp_path):
    (tmp_path / "a_file").write_text("keep")
    result = runner.invoke(convert_app, [str(corpus), str(tmp_path / "a_file")])
    fails_cleanly(result, f"Cannot write to {tmp_path / 'a_file'}: it is a file, not a directory")
    result = runner.invoke(convert_app, [str(corpus / "de" / "train.iob"), str(tmp_path / "a_file" / "x.spacy")])
    fails_cleanly(result, f"{tmp_path / 'a_file'} is a file, not a directory")
    (tmp_path / "a_dir").mkdir()
    result = runner.invoke(convert_app, [str(corpus / "de" / "train.iob"), str(tmp_path / "a_dir")])
    fails_cleanly(result, f"Cannot write {tmp_path / 'a_dir'}: it is a directory")
    assert (tmp_path / "a_file").read_text() == "keep" and not any((tmp_path / "a_dir").iterdir())


def test_requested_split_missing(convert_app, corpus, tmp_path):
    result = runner.invoke(convert_app, [str(corpus), str(tmp_path / "out"), "--splits", "train,validation"])
    fails_cleanly(
        result,
        f"Missing IOB files: {corpus / 'de' / 'validation.iob'}, {corpus / 'en' / 'validation.iob'}",
        "(splits found: dev, train)",
    )
    assert not (tmp_path / "out").exists()
