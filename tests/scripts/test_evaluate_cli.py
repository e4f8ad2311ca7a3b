"""scripts/evaluate.py on IOB test files, with Markdown output and a label map."""
import subprocess
import sys

import pytest
import spacy
import srsly

from helpers import REPO


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    nlp = spacy.blank("xx")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "PER", "pattern": "Merkel"}])
    path = tmp_path_factory.mktemp("ruler") / "model"
    nlp.to_disk(path)
    return path


def evaluate(*args):
    return subprocess.run([sys.executable, "scripts/evaluate.py", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)


def test_iob_file_markdown_and_label_map(pipeline, tmp_path):
    test = tmp_path / "news.iob"
    test.write_text("Merkel\tB-PERSON\nin\tO\nParis\tB-GPE\n\n", encoding="utf-8")
    run = evaluate(pipeline, test, "--label-map", "PERSON=PER,GPE=O", "--output", tmp_path / "s.json",
                   "--markdown", tmp_path / "s.md")
    assert run.returncode == 0, run.stderr
    scores = srsly.read_json(tmp_path / "s.json")
    assert scores["news"]["ents_f"] == 1.0 and scores["news"]["token_acc"] == 1.0
    assert "| news | 1 | 100.0 | 100.0 | 100.0 |" in (tmp_path / "s.md").read_text(encoding="utf-8")


def test_bad_test_file_names_file_and_line(pipeline, tmp_path):
    test = tmp_path / "bad.iob"
    test.write_text("Merkel\tB-PER\nParis\n\n", encoding="utf-8")
    run = evaluate(pipeline, test)
    assert run.returncode == 1
    out = " ".join(run.stdout.split())
    assert "bad.iob:2: missing tag: 'Paris'" in out
