"""`annotate` with the local engine (and the parts every engine shares):
entities as `nlp.pipe` gives them, one output row per input row, resume,
bad rows and failures kept as rows, and clear stops."""
import json
import os
import subprocess
import sys

import pytest
import spacy

from helpers.annotate import (
    IMPORT, TESTS_DIR, TEXTS, TRIGGER, corpus, failing_run, key, with_component, write_jsonl, write_parquet, write_text,
)
from helpers.serve import served_pipeline  # noqa: F401 (fixture)
from spacy_xlmr_ner.annotate import OutputError, PipelineNotFound, annotate, read_output
from spacy_xlmr_ner.annotate.outputs import MANIFEST, SUMMARY
from spacy_xlmr_ner.io.output import doc_entities


@pytest.fixture(scope="module")
def nlp(served_pipeline):  # noqa: F811
    return spacy.load(served_pipeline)


@pytest.mark.parametrize("output_format", ["parquet", "jsonl"])
@pytest.mark.parametrize("writer,suffix", [(write_jsonl, "jsonl"), (write_text, "txt"), (write_parquet, "parquet")])
def test_rows_are_the_pipelines_entities(tmp_path, served_pipeline, nlp, writer, suffix, output_format):  # noqa: F811
    rows = corpus(25)
    path = writer(tmp_path / f"in.{suffix}", rows)
    summary = annotate(served_pipeline, path, tmp_path / "out", output_format=output_format, shard_size=4,
                       batch_size=3, with_text=True)
    out = read_output(tmp_path / "out")
    assert len(out) == 25 == summary["documents"] == summary["documents_this_run"]
    assert [r["row"] for r in out] == list(range(25))
    assert [r["text"] for r in out] == [text for _, text in rows]
    ids = [str(i) for i, _ in rows] if suffix != "txt" else [str(n) for n in range(1, 26)]
    assert [str(r["id"]) for r in out] == ids
    expected = [doc_entities(doc) for doc in nlp.pipe([text for _, text in rows])]
    assert [[(e["text"], e["label"], e["start"], e["end"]) for e in r["entities"]] for r in out] == [
        [(e["text"], e["label"], e["start"], e["end"]) for e in ents] for ents in expected
    ]
    assert sum(len(e) for e in expected) > 10  # the tiny pipeline does find entities
    assert all(r["error"] is None for r in out) and summary["errors"] == 0
    labels = [e["label"] for ents in expected for e in ents]
    assert summary["entities"] == {label: labels.count(label) for label in sorted(set(labels))}
    assert json.loads((tmp_path / "out" / SUMMARY).read_text()) == summary
    assert summary["shards"] == len(list((tmp_path / "out").glob(f"part-*.{output_format}")))


def test_vectors_and_text_are_optional(tmp_path, served_pipeline):  # noqa: F811
    path = write_jsonl(tmp_path / "in.jsonl", corpus(3))
    annotate(served_pipeline, path, tmp_path / "plain")
    annotate(served_pipeline, path, tmp_path / "full", vectors=True, with_text=True)
    plain, full = read_output(tmp_path / "plain"), read_output(tmp_path / "full")
    assert "text" not in plain[0] and "vector" not in plain[0]["entities"][0]
    vector = full[0]["entities"][0]["vector"]
    assert len(vector) == 32 and any(abs(x) > 0 for x in vector)  # the tiny encoder's width
    assert key(plain) == key(full)


def test_bad_rows_and_poison_texts_become_error_rows(tmp_path, served_pipeline, nlp):  # noqa: F811
    pipeline = with_component(served_pipeline, tmp_path / "poison", "raise", tmp_path / "unused")
    path = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": 1, "text": TEXTS[0]}), "{oops", json.dumps({"id": 3, "text": f"{TRIGGER} in Berlin"}),
             json.dumps({"id": 4, "text": 42}), json.dumps({"id": 5, "text": TEXTS[1]})]
    path.write_text("\n".join(lines) + "\n")
    summary = annotate(pipeline, path, tmp_path / "out", batch_size=8, imports=[IMPORT])
    out = read_output(tmp_path / "out")
    assert [r["error"] is None for r in out] == [True, False, False, False, True]
    assert out[2]["error"] == "the pipeline failed on this text: RuntimeError: this text is poison"
    # The texts batched with the poison one still get their entities.
    assert [e["text"] for e in out[0]["entities"]] == [e["text"] for e in doc_entities(nlp(TEXTS[0]))] != []
    assert [e["text"] for e in out[4]["entities"]] == [e["text"] for e in doc_entities(nlp(TEXTS[1]))] != []
    assert summary["errors"] == 3 and [x["row"] for x in summary["error_examples"]] == [1, 2, 3]


def test_a_batch_that_fails_once_loses_nothing(tmp_path, served_pipeline):  # noqa: F811
    pipeline, marker, path = failing_run(tmp_path, served_pipeline, "raise_once", 9, at=4)
    summary = annotate(pipeline, path, tmp_path / "out", batch_size=4, imports=[IMPORT])
    assert marker.exists()
    assert summary["errors"] == 0 and summary["documents"] == 9
    reference = annotate(served_pipeline, path, tmp_path / "reference")
    assert key(read_output(tmp_path / "out")) == key(read_output(tmp_path / "reference"))
    assert reference["entities"] == summary["entities"]


def test_rerun_skips_finished_shards_and_redoes_the_rest(tmp_path, served_pipeline):  # noqa: F811
    path = write_text(tmp_path / "in.txt", corpus(20))
    out = tmp_path / "out"
    first = annotate(served_pipeline, path, out, shard_size=6)
    complete = read_output(out)
    assert first["shards"] == 4 and first["shards_skipped"] == 0
    (out / "part-00000-00001.parquet").unlink()
    (out / ".part-00000-00002.parquet.x.tmp").write_text("left by a killed run")
    again = annotate(served_pipeline, path, out, shard_size=6)
    assert again["shards_skipped"] == 3 and again["documents_this_run"] == 6
    assert again["documents"] == 20 and key(read_output(out)) == key(complete)
    assert not list(out.glob(".*.tmp"))
    nothing = annotate(served_pipeline, path, out, shard_size=6)
    assert nothing["documents_this_run"] == 0 and nothing["docs_per_second"] is None


def test_an_output_of_another_run_is_not_mixed_in(tmp_path, served_pipeline):  # noqa: F811
    path = write_text(tmp_path / "in.txt", corpus(5))
    out = tmp_path / "out"
    annotate(served_pipeline, path, out, shard_size=2)
    with pytest.raises(OutputError, match=r"holds the output of another run \(it differs in: shard_size\).*--overwrite"):
        annotate(served_pipeline, path, out, shard_size=3)
    write_text(path, corpus(6))
    with pytest.raises(OutputError, match=r"differs in: inputs"):
        annotate(served_pipeline, path, out, shard_size=2)
    summary = annotate(served_pipeline, path, out, shard_size=3, overwrite=True)
    assert summary["shards"] == 2 and len(list(out.glob("part-*"))) == 2 and len(read_output(out)) == 6
    assert json.loads((out / MANIFEST).read_text())["shard_size"] == 3


def test_missing_pipeline_and_bad_settings_stop_at_once(tmp_path, served_pipeline):  # noqa: F811
    path = write_text(tmp_path / "in.txt", corpus(2))
    with pytest.raises(PipelineNotFound, match=r"nowhere: no such pipeline directory or installed pipeline package"):
        annotate(tmp_path / "nowhere", path, tmp_path / "out")
    with pytest.raises(PipelineNotFound, match=r"not a spaCy pipeline directory \(no config.cfg\)"):
        annotate(tmp_path, path, tmp_path / "out")
    with pytest.raises(ValueError, match=r"engine must be one of"):
        annotate(served_pipeline, path, tmp_path / "out", engine="spark")
    with pytest.raises(ValueError, match=r"precision must be one of"):
        annotate(served_pipeline, path, tmp_path / "out", precision="fp8")
    assert not list((tmp_path / "out").glob("part-*"))


def test_int8_precision_runs(tmp_path, served_pipeline):  # noqa: F811
    path = write_jsonl(tmp_path / "in.jsonl", corpus(4))
    summary = annotate(served_pipeline, path, tmp_path / "out", precision="int8")
    assert summary["documents"] == 4 and summary["precision"] == "int8"


def cli(*args, cwd, env_extra=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS_DIR, os.environ.get("PYTHONPATH", "")])}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "spacy_xlmr_ner.annotate.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def said(result) -> str:
    """What a command printed, with wasabi's line wrapping undone."""
    return " ".join((result.stdout + result.stderr).split())


def test_a_killed_run_finishes_on_rerun(tmp_path, served_pipeline):  # noqa: F811
    # The process dies (as on a crash or out-of-memory kill) in the third
    # shard; the rerun keeps the two finished ones and does the rest.
    pipeline, marker, path = failing_run(tmp_path, served_pipeline, "exit_once", 12, at=7)
    out = tmp_path / "out"
    args = [pipeline, path, out, "--shard-size", "3", "--import", IMPORT, "--no-progress"]
    died = cli(*args, cwd=tmp_path)
    assert died.returncode == 17 and marker.exists()
    assert sorted(p.name for p in out.glob("part-*")) == ["part-00000-00000.parquet", "part-00000-00001.parquet"]
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 4 shards are already in" in said(done)
    assert "12 documents in" in said(done)
    annotate(served_pipeline, path, tmp_path / "reference", shard_size=3)
    assert key(read_output(out)) == key(read_output(tmp_path / "reference"))


def test_cli_names_what_is_wrong(tmp_path, served_pipeline):  # noqa: F811
    result = cli(served_pipeline, tmp_path / "nothing.jsonl", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 1 and "nothing.jsonl: no such file or directory" in said(result)
    result = cli(tmp_path / "no-model", tmp_path, tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 1 and "no-model: no such pipeline directory" in said(result)


def test_the_ray_engine_without_ray_names_the_extra(tmp_path, served_pipeline, monkeypatch):  # noqa: F811
    from spacy_xlmr_ner.extras import MissingExtra

    monkeypatch.setitem(sys.modules, "ray", None)
    path = write_text(tmp_path / "in.txt", corpus(2))
    with pytest.raises(MissingExtra, match=r'^The ray engine needs ray, which is not installed: pip install "spacy-xlmr-ner\[ray\]"$'):
        annotate(served_pipeline, path, tmp_path / "out", engine="ray")


def test_spacy_project_run_annotate(tmp_path, served_pipeline):  # noqa: F811
    # On a copy of project.yml, so that nothing is written into the repository.
    import shutil

    from helpers import REPO

    shutil.copy(REPO / "project.yml", tmp_path / "project.yml")
    path = write_text(tmp_path / "in.txt", corpus(5))
    command = [sys.executable, "-m", "spacy", "project", "run", "annotate", str(tmp_path),
               f"--vars.annotate_pipeline={served_pipeline}", f"--vars.annotate_input={path}",
               "--vars.annotate_output=annotated", "--vars.annotate_format=jsonl"]
    for _ in range(2):  # the second run finds every shard done
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "1 of 1 shards are already in annotated" in said(done)
    assert len(read_output(tmp_path / "annotated")) == 5


def test_parquet_output_without_pyarrow_names_the_extra_before_any_work(tmp_path, served_pipeline, monkeypatch):  # noqa: F811
    from spacy_xlmr_ner.extras import MissingExtra

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    path = write_text(tmp_path / "in.txt", corpus(2))
    with pytest.raises(MissingExtra, match=r'^Parquet input and output needs pyarrow, which is not installed: pip install "spacy-xlmr-ner\[annotate\]"$'):
        annotate(served_pipeline, path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # JSONL needs nothing more.
    assert annotate(served_pipeline, path, tmp_path / "out", output_format="jsonl")["documents"] == 2


def test_relative_paths_are_resolved(tmp_path, served_pipeline, monkeypatch):  # noqa: F811
    import shutil

    shutil.copytree(served_pipeline, tmp_path / "model")
    write_text(tmp_path / "in.txt", corpus(3))
    monkeypatch.chdir(tmp_path)
    summary = annotate("model", "in.txt", "out", output_format="jsonl")
    assert summary["documents"] == 3
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["pipeline"] == str((tmp_path / "model").resolve())
    assert [i["path"] for i in manifest["inputs"]] == [str((tmp_path / "in.txt").resolve())]
