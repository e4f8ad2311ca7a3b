"""The Ray engine on a local 2-CPU Ray instance: the same rows as the local
engine for every input format, a worker killed mid-run retried with every
row still there once, and resume."""
import os

import pytest

from helpers.annotate import IMPORT, TESTS_DIR, corpus, failing_run, key, write_jsonl, write_parquet, write_text
from helpers.serve import served_pipeline  # noqa: F401 (fixture)
from spacy_xlmr_ner.annotate import annotate, read_output

ray = pytest.importorskip("ray", reason='needs the ray extra: pip install -e ".[ray]"')


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    """One local Ray instance for the module (starting one takes seconds);
    its workers import the failing components from tests/helpers."""
    if ray.is_initialized():
        ray.shutdown()
    path = os.pathsep.join(p for p in (TESTS_DIR, os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield
    ray.shutdown()


@pytest.mark.parametrize("writer,suffix", [(write_jsonl, "jsonl"), (write_text, "txt"), (write_parquet, "parquet")])
def test_ray_gives_the_local_engines_rows(tmp_path, served_pipeline, writer, suffix):  # noqa: F811
    path = writer(tmp_path / f"in.{suffix}", corpus(30))
    local = annotate(served_pipeline, path, tmp_path / "local", shard_size=7, output_format="jsonl")
    distributed = annotate(served_pipeline, path, tmp_path / "ray", shard_size=7, output_format="jsonl", engine="ray", workers=2)
    assert key(read_output(tmp_path / "ray")) == key(read_output(tmp_path / "local"))
    assert len(read_output(tmp_path / "ray")) == 30
    assert distributed["entities"] == local["entities"] and sum(local["entities"].values()) > 0
    assert distributed["engine"] == "ray" and distributed["workers"] == 2


def test_a_worker_that_dies_is_retried_and_nothing_is_lost(tmp_path, served_pipeline):  # noqa: F811
    pipeline, marker, path = failing_run(tmp_path, served_pipeline, "exit_once", 40, at=17)
    summary = annotate(pipeline, path, tmp_path / "out", shard_size=5, engine="ray", workers=2, imports=[IMPORT])
    assert marker.exists()  # a worker process did die
    out = read_output(tmp_path / "out")
    assert [r["row"] for r in out] == list(range(40)) and summary["errors"] == 0
    annotate(served_pipeline, path, tmp_path / "reference", shard_size=5)
    assert key(out) == key(read_output(tmp_path / "reference"))


def test_ray_rerun_skips_finished_shards(tmp_path, served_pipeline):  # noqa: F811
    path = write_parquet(tmp_path / "in.parquet", corpus(21), row_group_size=3)
    out = tmp_path / "out"
    annotate(served_pipeline, path, out, shard_size=6, engine="ray", workers=2)
    complete = read_output(out)
    (out / "part-00000-00002.parquet").unlink()
    again = annotate(served_pipeline, path, out, shard_size=6, engine="ray", workers=2)
    assert again["shards_skipped"] == again["shards"] - 1 and again["documents_this_run"] == 6
    assert key(read_output(out)) == key(complete)


def test_more_workers_than_the_cluster_has_is_an_error(tmp_path, served_pipeline):  # noqa: F811
    path = write_text(tmp_path / "in.txt", corpus(3))
    with pytest.raises(ValueError, match=r"3 workers with 1 CPUs each need 3 CPUs; the Ray cluster has 2"):
        annotate(served_pipeline, path, tmp_path / "out", engine="ray", workers=3)
    with pytest.raises(ValueError, match=r"need 1 GPUs; the Ray cluster has 0"):
        annotate(served_pipeline, path, tmp_path / "out", engine="ray", gpus_per_worker=1)
