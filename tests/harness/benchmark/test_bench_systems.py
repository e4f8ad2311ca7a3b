"""Which systems a benchmark run trains and measures (`--systems`), the span
component beside xlmr_ner, xlmr_ner without entity vectors, and SpanMarker as
an optional system."""
import importlib.util
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import Doc

from harness.benchmark.measure import load_system, predict_gold_tokens
from harness.benchmark.run import (
    DEFAULT_SYSTEMS, KEEPS_STEPS, NO_VECTORS, SPANMARKER, Bench, BenchSettings, compare, markdown_report, ratios,
    settings_record,
)
from helpers import REPO
from test_bench_run import RECORD, acc, speed, write_iob

HAS_SPAN_MARKER = importlib.util.find_spec("span_marker") is not None


def test_systems_default_to_all_but_spanmarker_in_a_fixed_order():
    assert BenchSettings(encoder="e", iob_dir="d").systems == list(DEFAULT_SYSTEMS)
    assert SPANMARKER not in DEFAULT_SYSTEMS and "xlmr_span_ner" in DEFAULT_SYSTEMS
    s = BenchSettings(encoder="e", iob_dir="d", systems="spanmarker, xlmr_span_ner,xlmr_ner")
    assert s.systems == ["xlmr_ner", "xlmr_span_ner", "spanmarker"]
    for bad in ("foo", "", "xlmr_ner,crf"):
        with pytest.raises(ValueError, match="systems must be"):
            BenchSettings(encoder="e", iob_dir="d", systems=bad)
    with pytest.raises(ValueError, match="reference_lrs"):
        BenchSettings(encoder="e", iob_dir="d", systems="reference", reference_lrs=[])
    BenchSettings(encoder="e", iob_dir="d", systems="xlmr_ner", reference_lrs=[])


def test_the_span_config_is_in_the_settings_digest(tmp_path):
    config = tmp_path / "spans.cfg"
    config.write_text("[nlp]\n")
    record = settings_record(BenchSettings(encoder="e", iob_dir="d", span_config=str(config)))
    assert record["systems"] == list(DEFAULT_SYSTEMS)
    assert len(record["config_sha256"]["span_config"]) == 64
    # Picking systems and timing without vectors only add or drop measurements.
    assert "systems" in KEEPS_STEPS and "no_vector_speed" in KEEPS_STEPS


class Recorder(Bench):
    """Records the commands of the steps instead of running them."""

    def step(self, key, cmd):
        self.commands[key] = [str(c) for c in cmd]
        return {"seconds": 1.0, "peak_rss_mb": 1.0, "output": {}}


def recorder(tmp_path, **kwargs):
    bench = Recorder(BenchSettings(encoder="enc", iob_dir=str(tmp_path / "data"), **kwargs), tmp_path / "work")
    bench.commands = {}
    return bench


def test_only_the_chosen_systems_train(tmp_path):
    bench = recorder(tmp_path, systems="xlmr_span_ner,spanmarker", reference_lrs=[1e-4], n_train=500, epochs=1)
    trained = bench.train_all()
    assert list(trained) == ["xlmr_span_ner", SPANMARKER]
    assert list(bench.commands) == ["train-xlmr_span_ner", "train-spanmarker"]
    span_cmd = bench.commands["train-xlmr_span_ner"]
    assert span_cmd[span_cmd.index("train") + 1] == "configs/cpu_spans.cfg"
    sm = bench.commands["train-spanmarker"]
    assert sm[1:4] == ["-m", "harness.benchmark.spanmarker", "train"]
    for option, value in (("--n-train", "500"), ("--epochs", "1"), ("--batch-size", "16"), ("--learn-rate", "5e-05"),
                          ("--entity-max-length", "8"), ("--model-max-length", "256"), ("--seed", "0")):
        assert sm[sm.index(option) + 1] == value
    assert trained[SPANMARKER]["system"] == SPANMARKER


def test_speed_commands_per_system_and_without_vectors(tmp_path):
    bench = recorder(tmp_path)
    bench.speed("spanmarker", SPANMARKER, "m", 2)
    bench.speed("xlmr_ner", "spacy", "m", 1, NO_VECTORS)
    bench.speed("xlmr_span_ner", "spacy", "m", 1)
    sm = bench.commands["speed-spanmarker-fp32-t2-p0"]
    assert sm[1:4] == ["-m", "harness.benchmark.spanmarker", "speed"]
    novec = bench.commands["speed-xlmr_ner-novec-t1-p0"]
    assert "--no-entity-vectors" in novec and "--precision" not in novec
    assert bench.commands["speed-xlmr_span_ner-fp32-t1-p0"][-2:] == ["--precision", "fp32"]


SPAN_RECORD = {
    **RECORD,
    "settings": {**RECORD["settings"], "systems": ["xlmr_ner", "xlmr_span_ner", "spanmarker"]},
    "reference": None,
    "baseline": "xlmr_ner",
    "systems": {
        "xlmr_ner": RECORD["systems"]["xlmr_ner"],
        "xlmr_span_ner": {
            "train_seconds": 60.0, "accuracy": {"de": acc(0.82), "en": acc(0.59)},
            "speed": {"1": speed(480, 1000), "2": speed(900, 990)},
        },
        "spanmarker": {
            "train_seconds": 600.0, "accuracy": {"de": acc(0.7), "en": acc(0.5)},
            "speed": {"1": speed(30, 2000), "2": speed(45, 2200)},
        },
    },
}


def test_without_the_reference_the_ratios_are_to_the_baseline():
    r = ratios(SPAN_RECORD)
    assert r["xlmr_ner"]["words_per_second_t2"] == pytest.approx(1.0)
    assert r["xlmr_span_ner"]["f1_points_de"] == pytest.approx(2.0)
    assert compare(SPAN_RECORD, "xlmr_span_ner", "spanmarker")["words_per_second_t2"] == pytest.approx(20.0)
    text = markdown_report(dict(SPAN_RECORD, ratios=r))
    assert "Systems run: xlmr_ner, xlmr_span_ner, spanmarker." in text
    assert "(3) = xlmr_ner, the baseline" in text
    assert "| xlmr_ner (3) | 80.0 | 60.0 |" in text
    assert "| xlmr_span_ner vs xlmr_ner | +2.0 | -1.0 | 1.20 | 0.80 | 0.90 | 1.10 |" in text
    assert "| xlmr_span_ner vs spanmarker | +12.0 | +9.0 | 0.10 | 16.00 | 20.00 | 0.45 |" in text


def test_the_report_of_a_run_with_the_reference_names_it():
    record = dict(RECORD, ratios=ratios(RECORD))
    text = markdown_report(record)
    assert "(3) = the reference recipe at its best learning rate (reference-lr0.0002)" in text
    assert "xlmr_span_ner vs" not in text


def test_entity_vectors_can_be_turned_off_at_load(tiny_encoder, tmp_path):
    from helpers import make_nlp

    nlp = make_nlp(tiny_encoder)
    nlp.get_pipe("xlmr_ner").add_label("PER")
    nlp.initialize()
    nlp.to_disk(tmp_path / "p")
    assert load_system("spacy", tmp_path / "p").get_pipe("xlmr_ner").entity_vectors is True
    assert load_system("spacy", tmp_path / "p", entity_vectors=False).get_pipe("xlmr_ner").entity_vectors is False


class FakeSpanMarker:
    def predict(self, sentences, batch_size=32, show_progress_bar=False):
        return [[{"word_start_index": 0, "word_end_index": 2, "label": "PER"}] if len(s) > 2 else [] for s in sentences]


def test_spanmarker_predictions_become_entities_on_the_gold_tokens():
    vocab = spacy.blank("xx").vocab
    gold = [
        Doc(vocab, words=["Angela", "Merkel", "besuchte", "Berlin"], ents=["B-PER", "I-PER", "O", "B-LOC"]),
        Doc(vocab, words=["kein", "Name"], ents=["O", "O"]),
    ]
    examples = predict_gold_tokens(SPANMARKER, FakeSpanMarker(), gold)
    assert [(e.text, e.label_) for e in examples[0].predicted.ents] == [("Angela Merkel", "PER")]
    assert list(examples[1].predicted.ents) == []


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SPAN_MARKER, reason="span-marker is not installed (pip install span-marker)")
def test_spanmarker_trains_and_is_measured_on_a_tiny_encoder(tiny_encoder, tmp_path):
    data = tmp_path / "data"
    for lang in ("de", "en"):
        write_iob(data, lang, 8)
    out = tmp_path / "result"
    cmd = [
        sys.executable, str(REPO / "bench" / "bench.py"), str(tiny_encoder), str(data), str(out),
        "--work-dir", str(tmp_path / "work"), "--eval-langs", "de,en", "--n-train", "8", "--n-test", "4",
        "--n-speed", "4", "--epochs", "1", "--batch-size", "4", "--threads", "1", "--speed-passes", "1",
        "--precisions", "", "--systems", "xlmr_span_ner,spanmarker",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    import srsly

    record = srsly.read_json(out.with_suffix(".json"))
    assert set(record["systems"]) == {"xlmr_span_ner", SPANMARKER}
    assert record["baseline"] == "xlmr_span_ner" and record["reference"] is None
    row = record["systems"][SPANMARKER]
    assert set(row["accuracy"]) == {"de", "en"}
    assert row["speed"]["1"]["words"] == 4 * 5 and row["speed"]["1"]["words_per_second"] > 0
    assert "xlmr_span_ner vs spanmarker" in out.with_suffix(".md").read_text()
