"""The shipped configs build a transformer + xlmr_ner pipeline, and
`spacy train` runs on configs/cpu.cfg end to end (tiny encoder, tiny corpus)."""
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from spacy.util import load_config, load_model_from_config
from helpers import REPO

CONFIGS = sorted((REPO / "configs").glob("*.cfg"))


def test_the_three_configs_exist():
    assert [p.name for p in CONFIGS] == ["cpu.cfg", "xlmr_base.cfg", "xlmr_large.cfg"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_builds_pipeline_without_loading_weights(path):
    # Building the pipeline must not touch the network or the encoder
    # (weights load at initialize).
    config = load_config(path, interpolate=True)
    nlp = load_model_from_config(load_config(path), auto_fill=True, validate=True)
    assert nlp.pipe_names == ["transformer", "xlmr_ner"]
    assert nlp.config["components"]["xlmr_ner"]["model"]["init_scale"] > 0
    assert config["training"]["max_steps"] == config["training"]["optimizer"]["learn_rate"]["total_steps"]
    gpu = path.name != "cpu.cfg"
    assert (config["system"]["gpu_allocator"] == "pytorch") == gpu
    assert config["components"]["transformer"]["model"]["mixed_precision"] == gpu


def write_corpus(root: Path, lang: str, rows):
    nlp = spacy.blank("xx")
    docs = [Doc(nlp.vocab, words=words, ents=tags) for words, tags in rows]
    for split in ("train", "dev"):
        (root / lang).mkdir(parents=True, exist_ok=True)
        DocBin(docs=docs).to_disk(root / lang / f"{split}.spacy")


def test_spacy_train_cli_with_cpu_config(tiny_encoder, tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, "de", [
        ("Angela Merkel besuchte Berlin .".split(), ["B-PER", "I-PER", "O", "B-LOC", "O"]),
        ("Siemens baut in München .".split(), ["B-ORG", "O", "O", "B-LOC", "O"]),
    ])
    write_corpus(corpus, "ru", [
        ("Владимир Путин был в Москве .".split(), ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
    ])
    output = tmp_path / "training"
    cmd = [
        sys.executable, "-m", "spacy", "train", "configs/cpu.cfg", "--output", str(output),
        "--paths.train", str(corpus), "--paths.dev", str(corpus), "--paths.encoder", str(tiny_encoder),
        "--corpora.train.langs", "de,ru", "--corpora.dev.langs", "all",
        "--training.max_epochs", "0", "--training.optimizer.learn_rate.total_steps", "60",
        "--training.optimizer.learn_rate.warmup_steps", "5", "--training.optimizer.learn_rate.initial_rate", "0.002",
        "--training.eval_frequency", "20", "--training.batcher.size", "3",
    ]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    nlp = spacy.load(output / "model-last")
    assert nlp.get_pipe("xlmr_ner").labels == ("LOC", "ORG", "PER")
    doc = nlp("Angela Merkel besuchte Berlin .")
    assert [(e.text, e.label_) for e in doc.ents] == [("Angela Merkel", "PER"), ("Berlin", "LOC")]
    scores = subprocess.run(
        [sys.executable, "-m", "spacy", "evaluate", str(output / "model-last"), str(corpus / "ru" / "dev.spacy")],
        capture_output=True, text=True,
    )
    assert scores.returncode == 0, scores.stderr
    assert "NER F" in scores.stdout
