"""The shipped configs build a transformer + xlmr_ner (or xlmr_span_ner) pipeline, and
`spacy train` runs on configs/cpu.cfg end to end (tiny encoder, tiny corpus)."""
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from spacy.util import load_config, load_model_from_config
from helpers import REPO

CONFIGS = sorted((REPO / "configs").glob("*.cfg"))


def test_the_configs_exist():
    assert [p.name for p in CONFIGS] == ["cpu.cfg", "cpu_spans.cfg", "xlmr_base.cfg", "xlmr_large.cfg"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_builds_pipeline_without_loading_weights(path):
    # Building the pipeline must not touch the network or the encoder
    # (weights load at initialize).
    config = load_config(path, interpolate=True)
    nlp = load_model_from_config(load_config(path), auto_fill=True, validate=True)
    ner = "xlmr_span_ner" if path.name == "cpu_spans.cfg" else "xlmr_ner"
    assert nlp.pipe_names == ["transformer", ner]
    assert nlp.config["components"][ner]["model"]["init_scale"] > 0
    assert config["training"]["max_steps"] == config["training"]["optimizer"]["learn_rate"]["total_steps"]
    gpu = not path.name.startswith("cpu")
    assert (config["system"]["gpu_allocator"] == "pytorch") == gpu
    assert config["components"]["transformer"]["model"]["mixed_precision"] == gpu
    # spaCy's logger reads the bar's total from the raw config: it must be a number there.
    assert load_config(path)["training"]["logger"]["progress_bar"] == "eval"
    assert isinstance(load_config(path)["training"]["eval_frequency"], int)


def write_corpus(root: Path, lang: str, rows):
    nlp = spacy.blank("xx")
    docs = [Doc(nlp.vocab, words=words, ents=tags) for words, tags in rows]
    for split in ("train", "dev"):
        (root / lang).mkdir(parents=True, exist_ok=True)
        DocBin(docs=docs).to_disk(root / lang / f"{split}.spacy")


@pytest.mark.slow  # 60 steps of spacy train: the fast check is test_spacy_train_on_spacy_files_...
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


def run_on_terminal(cmd, **kwargs):
    """Run `cmd` with stderr on a pseudo-terminal (80 columns), where progress
    bars show. RETURNS (Tuple[CompletedProcess, str]): The run and its stderr."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    chunks = []

    def drain():
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the side closed: the process ended
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=side, text=True, **kwargs)
    finally:
        os.close(side)
        reader.join(timeout=10)
        os.close(main)
    return run, b"".join(chunks).decode("utf-8", "replace")


def test_spacy_train_on_spacy_files_as_spacy_users_type_it(tiny_encoder, tmp_path):
    # `--paths.train X.spacy --paths.dev Y.spacy`, with the config's default
    # `langs`: a file is read whole. On a terminal, with the progress bar.
    nlp = spacy.blank("xx")
    rows = [("Angela Merkel besuchte Berlin .".split(), ["B-PER", "I-PER", "O", "B-LOC", "O"])]
    for name in ("X", "Y"):
        DocBin(docs=[Doc(nlp.vocab, words=w, ents=t) for w, t in rows]).to_disk(tmp_path / f"{name}.spacy")
    output = tmp_path / "training"
    cmd = [
        sys.executable, "-m", "spacy", "train", "configs/cpu.cfg", "--output", str(output),
        "--paths.train", str(tmp_path / "X.spacy"), "--paths.dev", str(tmp_path / "Y.spacy"),
        "--paths.encoder", str(tiny_encoder), "--training.max_steps", "2", "--training.eval_frequency", "2",
    ]
    run, stderr = run_on_terminal(cmd, cwd=REPO)
    assert run.returncode == 0, run.stdout + stderr
    assert "Epoch 1" in stderr and "| 0/2 [" in stderr  # the bar to the first evaluation
    assert spacy.load(output / "model-last").get_pipe("xlmr_ner").labels == ("LOC", "PER")


def test_span_config_is_the_cpu_config_with_the_span_component():
    # Same paths, vars, corpora and training settings: the same `spacy train`
    # command line works with either.
    cpu, spans = (load_config(REPO / "configs" / name) for name in ("cpu.cfg", "cpu_spans.cfg"))
    assert cpu["nlp"].pop("pipeline") == ["transformer", "xlmr_ner"]
    assert spans["nlp"].pop("pipeline") == ["transformer", "xlmr_span_ner"]
    assert cpu["components"].pop("xlmr_ner")["factory"] == "xlmr_ner"
    assert spans["components"].pop("xlmr_span_ner")["factory"] == "xlmr_span_ner"
    assert spans == cpu


def test_spacy_train_cli_with_span_config(tiny_encoder, tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, "de", [
        ("Angela Merkel besuchte Berlin .".split(), ["B-PER", "I-PER", "O", "B-LOC", "O"]),
        ("Siemens baut in München .".split(), ["B-ORG", "O", "O", "B-LOC", "O"]),
    ])
    output = tmp_path / "training"
    cmd = [
        sys.executable, "-m", "spacy", "train", "configs/cpu_spans.cfg", "--output", str(output),
        "--paths.train", str(corpus), "--paths.dev", str(corpus), "--paths.encoder", str(tiny_encoder),
        "--corpora.train.langs", "de", "--corpora.dev.langs", "de",
        "--training.optimizer.learn_rate.total_steps", "40", "--training.optimizer.learn_rate.warmup_steps", "5",
        "--training.optimizer.learn_rate.initial_rate", "0.002", "--training.eval_frequency", "20",
        "--training.batcher.size", "2",
    ]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    nlp = spacy.load(output / "model-last")
    assert nlp.get_pipe("xlmr_span_ner").labels == ("LOC", "ORG", "PER")
    doc = nlp("Angela Merkel besuchte Berlin .")
    assert [(e.text, e.label_) for e in doc.ents] == [("Angela Merkel", "PER"), ("Berlin", "LOC")]
