"""The reference recipe (first-subword token classification) trains, saves,
and predicts through both its word-level path and `transformers.pipeline`."""
import pytest

from harness.benchmark.reference import load_reference, predict_words, tag_set, train_reference
from harness.benchmark.timing import hf_pipeline

SENTENCES = [
    (["Angela", "Merkel", "besuchte", "Berlin", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    (["Die", "UNO", "tagt", "in", "New", "York"], ["O", "B-ORG", "O", "O", "B-LOC", "I-LOC"]),
    (["Владимир", "Путин", "в", "Москве"], ["B-PER", "I-PER", "O", "B-LOC"]),
] * 2


def test_tag_set():
    assert tag_set(SENTENCES) == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert tag_set([(["a"], ["O"])]) == ["O"]


@pytest.fixture(scope="module")
def reference_dir(tiny_encoder, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    result = train_reference(tiny_encoder, SENTENCES, out, epochs=2, batch_size=2, learn_rate=1e-3)
    assert result["steps"] == 6
    assert result["tags"] == tag_set(SENTENCES)
    return out


def test_saved_model_predicts_a_tag_per_word(reference_dir):
    tokenizer, model = load_reference(reference_dir)
    assert model.config.id2label[0] == "O"
    words = [w for w, _ in SENTENCES[:3]] + [["x"] * 300]
    tags = predict_words(tokenizer, model, words, batch_size=2)
    assert [len(t) for t in tags] == [len(w) for w in words]
    labels = set(model.config.id2label.values())
    assert all(tag in labels for sent in tags for tag in sent)
    # Words past the recipe's 128 word pieces get "O".
    assert tags[-1][200:] == ["O"] * 100


def test_hf_pipeline_runs_on_raw_text(reference_dir):
    pipe = hf_pipeline(reference_dir, batch_size=2)
    out = pipe(["Angela Merkel besuchte Berlin .", "Путин в Москве", "x"])
    assert len(out) == 3
    for ents in out:
        for ent in ents:
            assert {"entity_group", "start", "end", "word"} <= set(ent)


def test_timing_script_runs_the_reference_without_spacy(reference_dir, tmp_path):
    import json
    import subprocess
    import sys

    import harness.benchmark.timing as timing

    texts = tmp_path / "texts.txt"
    texts.write_text("Angela Merkel besuchte Berlin .\nDie UNO tagt in New York\n", encoding="utf-8")
    code = (
        "import runpy, sys; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('spacy', 'spacy_xlmr_ner', 'thinc')))"
    )
    cmd = [sys.executable, "-c", code, timing.__file__, str(reference_dir), str(texts), "--batch-size", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    record = json.loads(lines[-2])
    assert record["texts"] == 2 and record["words"] == 11
    assert record["words_per_second"] > 0 and record["peak_rss_mb"] > 50
    assert lines[-1] == "[]"


def test_timing_script_names_a_missing_file(tmp_path):
    import subprocess
    import sys

    import harness.benchmark.timing as timing

    proc = subprocess.run(
        [sys.executable, timing.__file__, str(tmp_path / "nope"), str(tmp_path / "t.txt")], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "not found" in proc.stderr and "nope" in proc.stderr
