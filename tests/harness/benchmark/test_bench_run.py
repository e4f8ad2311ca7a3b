"""The benchmark's orchestration: measured child processes, reuse of finished
steps, ratios to the reference and the report; end to end on a tiny encoder (slow)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import srsly

from harness.benchmark.run import Bench, BenchSettings, markdown_report, ratios, run_measured, summarize_passes

from helpers import REPO


def test_run_measured_reports_output_time_and_memory(tmp_path):
    code = "import json; x = bytearray(200 * 2**20); print('log line'); print(json.dumps({'ok': len(x)}))"
    result = run_measured([sys.executable, "-c", code], tmp_path / "logs" / "a.log")
    assert result["output"] == {"ok": 200 * 2**20}
    assert result["peak_rss_mb"] > 200
    assert result["seconds"] > 0
    assert "log line" in (tmp_path / "logs" / "a.log").read_text()


def test_run_measured_fails_loudly_with_the_log_tail(tmp_path):
    with pytest.raises(RuntimeError, match=r"(?s)exit 3.*boom"):
        run_measured([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], tmp_path / "b.log")


def test_finished_steps_are_reused_until_the_settings_change(tmp_path):
    counter = tmp_path / "count.txt"
    code = f"p = open({str(counter)!r}, 'a'); p.write('x'); print('{{}}')"
    settings = BenchSettings(encoder="enc", iob_dir="data")
    bench = Bench(settings, tmp_path / "work")
    bench.step("one", [sys.executable, "-c", code])
    bench.step("one", [sys.executable, "-c", code])
    assert counter.read_text() == "x"
    Bench(BenchSettings(encoder="enc", iob_dir="data"), tmp_path / "work").step("one", [sys.executable, "-c", code])
    assert counter.read_text() == "x"
    Bench(BenchSettings(encoder="enc", iob_dir="data", n_train=5), tmp_path / "work").step(
        "one", [sys.executable, "-c", code]
    )
    assert counter.read_text() == "xx"
    # More speed passes only add measurements: the finished steps stay.
    Bench(BenchSettings(encoder="enc", iob_dir="data", n_train=5, speed_passes=5), tmp_path / "work").step(
        "one", [sys.executable, "-c", code]
    )
    assert counter.read_text() == "xx"
    # So do other reduced precisions: the trained models are the same.
    settings = BenchSettings(encoder="enc", iob_dir="data", n_train=5, speed_passes=5, precisions=["bf16"])
    Bench(settings, tmp_path / "work").step("one", [sys.executable, "-c", code])
    assert counter.read_text() == "xx"


def test_an_edited_config_is_measured_again(tmp_path):
    counter = tmp_path / "count.txt"
    code = f"p = open({str(counter)!r}, 'a'); p.write('x'); print('{{}}')"
    config = tmp_path / "xlmr.cfg"
    config.write_text("[nlp]\nbatch_size = 256\n")

    def run_step():
        settings = BenchSettings(encoder="enc", iob_dir="data", xlmr_config=str(config))
        Bench(settings, tmp_path / "work").step("one", [sys.executable, "-c", code])

    run_step()
    run_step()
    assert counter.read_text() == "x"
    config.write_text("[nlp]\nbatch_size = 512\n")
    run_step()
    assert counter.read_text() == "xx"


def test_speed_passes_count_the_fastest_and_the_median_memory():
    passes = [
        {"words_per_second": 800.0, "peak_rss_mb": 1200.0, "words": 10},
        {"words_per_second": 950.0, "peak_rss_mb": 1300.0, "words": 10},
        {"words_per_second": 900.0, "peak_rss_mb": 1100.0, "words": 10},
    ]
    summary = summarize_passes(passes)
    assert summary["words_per_second"] == 950.0
    assert summary["peak_rss_mb"] == 1200.0
    assert [p["words_per_second"] for p in summary["passes"]] == [800.0, 950.0, 900.0]
    with pytest.raises(ValueError, match="speed_passes"):
        BenchSettings(encoder="e", iob_dir="d", speed_passes=0)


def test_precisions_are_reduced_ones_the_pipeline_knows():
    assert BenchSettings(encoder="e", iob_dir="d", precisions="int8, bf16").precisions == ["int8", "bf16"]
    assert BenchSettings(encoder="e", iob_dir="d", precisions="").precisions == []
    for bad in ("fp8", "fp32"):
        with pytest.raises(ValueError, match=bad):
            BenchSettings(encoder="e", iob_dir="d", precisions=["int8", bad])


def test_settings_put_the_training_language_first_among_test_languages():
    s = BenchSettings(encoder="e", iob_dir="d", lang="es", eval_langs="de,en", threads=[2, 1, 2])
    assert s.eval_langs == ["es", "de", "en"]
    assert s.threads == [1, 2]


def acc(f):
    return {"f": f, "p": f, "r": f, "per_type": {"PER": f}, "n_docs": 10}


def speed(wps, rss):
    return {"words_per_second": wps, "peak_rss_mb": rss}


RECORD = {
    "settings": {
        "encoder": "enc", "lang": "de", "eval_langs": ["de", "en"], "threads": [1, 2], "n_train": 100,
        "epochs": 2.0, "batch_size": 16, "n_test": 10, "n_speed": 10,
    },
    "machine": {"cpu": "cpu", "cpu_count": 2, "torch": "t", "spacy": "s"},
    "reference": "reference-lr0.0002",
    "command": "python bench/bench.py enc data out",
    "systems": {
        "xlmr_ner": {
            "train_seconds": 50.0, "accuracy": {"de": acc(0.8), "en": acc(0.6)},
            "speed": {"1": speed(600, 900), "2": speed(1000, 900)},
        },
        "reference-lr0.0002": {
            "train_seconds": 100.0, "accuracy": {"de": acc(0.75), "en": acc(0.5)},
            "speed": {"1": speed(300, 1000), "2": speed(500, 1200)},
        },
        "reference-lr5e-05": {"train_seconds": 100.0, "accuracy": {"de": acc(0.7), "en": acc(None)}},
    },
}


def test_ratios_are_to_the_best_reference():
    r = ratios(RECORD)
    assert r["xlmr_ner"]["f1_points_de"] == pytest.approx(5.0)
    assert r["xlmr_ner"]["f1_points_en"] == pytest.approx(10.0)
    assert r["xlmr_ner"]["train_time"] == pytest.approx(0.5)
    assert r["xlmr_ner"]["words_per_second_t1"] == pytest.approx(2.0)
    assert r["xlmr_ner"]["words_per_second_t2"] == pytest.approx(2.0)
    assert r["xlmr_ner"]["peak_rss_t2"] == pytest.approx(0.75)
    assert r["reference-lr0.0002"]["words_per_second_t2"] == pytest.approx(1.0)
    assert r["reference-lr5e-05"]["f1_points_en"] is None
    assert "words_per_second_t1" not in r["reference-lr5e-05"]


def test_markdown_report_has_every_system_and_the_command():
    record = dict(RECORD, ratios=ratios(RECORD))
    text = markdown_report(record)
    assert "| xlmr_ner | 80.0 | 60.0 | 50 | 600 | 1000 | 900 |" in text
    assert "| reference-lr0.0002 (3) | 75.0 | 50.0 |" in text
    assert "| xlmr_ner | +5.0 | +10.0 | 0.50 | 2.00 | 2.00 | 0.75 |" in text
    assert "python bench/bench.py enc data out" in text


def write_iob(root: Path, lang: str, n: int):
    rows = [
        [("Angela", "B-PER"), ("Merkel", "I-PER"), ("besuchte", "O"), ("Berlin", "B-LOC"), (".", "O")],
        [("Die", "O"), ("UNO", "B-ORG"), ("tagt", "O"), ("in", "O"), ("Genf", "B-LOC")],
    ]
    for split in ("train", "dev", "test"):
        path = root / lang / f"{split}.iob"
        path.parent.mkdir(parents=True, exist_ok=True)
        sents = [rows[i % 2] for i in range(n)]
        path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in sents) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_bench_end_to_end_on_a_tiny_encoder(tiny_encoder, tmp_path):
    data = tmp_path / "data"
    for lang in ("de", "en"):
        write_iob(data, lang, 16)
    out = tmp_path / "result"
    cmd = [
        sys.executable, str(REPO / "bench" / "bench.py"), str(tiny_encoder), str(data), str(out),
        "--work-dir", str(tmp_path / "work"), "--eval-langs", "de,en", "--n-train", "16", "--n-test", "8",
        "--n-speed", "8", "--epochs", "1", "--batch-size", "8", "--reference-lrs", "1e-3,1e-4", "--threads", "1",
        "--speed-passes", "2",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = srsly.read_json(out.with_suffix(".json"))
    assert set(record["systems"]) == {
        "xlmr_ner", "xlmr_ner-int8", "xlmr_ner-bf16", "xlmr_span_ner", "spacy_ner", "reference-lr0.001",
        "reference-lr0.0001",
    }
    assert record["reference"] in ("reference-lr0.001", "reference-lr0.0001")
    assert record["baseline"] == record["reference"]
    for name in ("xlmr_ner", "xlmr_ner-int8", "xlmr_ner-bf16", "xlmr_span_ner", "spacy_ner", record["reference"]):
        row = record["systems"][name]
        assert set(row["accuracy"]) == {"de", "en"}
        assert row["speed"]["1"]["words"] == 8 * 5
        assert row["speed"]["1"]["words_per_second"] > 0
        assert row["speed"]["1"]["peak_rss_mb"] > 50
        assert len(row["speed"]["1"]["passes"]) == 2
    assert record["ratios"][record["reference"]]["words_per_second_t1"] == pytest.approx(1.0)
    # The reference is timed in a process without spaCy.
    ref_log = (tmp_path / "work" / "logs" / f"speed-{record['reference']}-fp32-t1-p0.log").read_text()
    assert "benchmark/timing.py" in ref_log.splitlines()[0]
    text = out.with_suffix(".md").read_text()
    assert "xlmr_ner-int8" in text and "xlmr_ner-bf16" in text and "Ratios to (3)" in text
    assert "xlmr_span_ner vs xlmr_ner" in text
    bf16_log = (tmp_path / "work" / "logs" / "speed-xlmr_ner-bf16-t1-p0.log").read_text()
    assert "--precision bf16" in bf16_log.splitlines()[0]
    # Spaces and training outputs live in the work directory, not the repo.
    assert (tmp_path / "work" / "xlmr_ner" / "model-last" / "transformer" / "model").is_dir()


def test_missing_data_stops_with_the_file_named(tmp_path):
    (tmp_path / "data" / "de").mkdir(parents=True)
    cmd = [
        sys.executable, str(REPO / "bench" / "bench.py"), "enc", str(tmp_path / "data"), str(tmp_path / "out"),
        "--work-dir", str(tmp_path / "work"),
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "de/train.iob" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
