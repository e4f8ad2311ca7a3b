"""The cross-domain study: splits of datasets without a test split, the
unified-label corpora, the matrices and means, and a tiny run end to end."""
import subprocess
import sys

import pytest
import srsly
from spacy.tokens import DocBin

from harness.experiments.domains import (
    ALL, DomainStudy, SplitRule, domain_key, markdown_report, prepare_domains, split_rules, summarize,
)

from helpers import REPO

PER = [("Ana", "B-PER"), ("Gómez", "I-PER"), ("habla", "O")]
MISC = [("El", "B-MISC"), ("Quijote", "I-MISC"), ("en", "O"), ("Madrid", "B-LOC")]
ORG = [("La", "O"), ("ONU", "B-ORG"), ("vota", "O")]


def write_iob(path, sentences):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in sentences) + "\n", encoding="utf-8")


def numbered(n, rows=(PER, ORG)):
    """n sentences whose first word is their index, so that splits can be told apart."""
    return [[(str(i), "O")] + list(rows[i % len(rows)]) for i in range(n)]


@pytest.mark.parametrize("files,expected", [
    ({"train", "dev", "test"}, {"train": SplitRule("train"), "dev": SplitRule("dev"), "test": SplitRule("test")}),
    ({"train", "dev"}, {"train": SplitRule("train", stop=-10), "dev": SplitRule("train", start=-10),
                        "test": SplitRule("dev")}),
    ({"dev"}, {"train": SplitRule("dev", stop=-40), "dev": SplitRule("dev", start=-40, stop=-30),
               "test": SplitRule("dev", start=-30)}),
])
def test_split_rules_never_select_and_report_on_the_same_sentences(files, expected):
    assert split_rules(files, n_select=10, n_report=30) == expected


def test_a_dataset_without_dev_cannot_be_split():
    with pytest.raises(ValueError, match="needs at least dev.iob"):
        split_rules({"train"})
    assert SplitRule("dev", start=-40, stop=-30).describe() == "dev.iob[-40:-30]"
    assert SplitRule("train").describe() == "train.iob"


@pytest.fixture
def data_dir(tmp_path):
    data = tmp_path / "data"
    for split, n in (("train", 12), ("dev", 6), ("test", 6)):
        write_iob(data / "wikiann" / "es" / f"{split}.iob", numbered(n))
    write_iob(data / "conll" / "es" / "train.iob", numbered(14, (PER, MISC, ORG)))
    write_iob(data / "conll" / "es" / "dev.iob", numbered(5, (MISC, PER)))
    write_iob(data / "neural" / "es" / "dev.iob", numbered(20, (MISC, ORG, PER)))
    return data


def test_prepare_splits_in_order_and_unifies_the_labels(data_dir, tmp_path):
    out = tmp_path / "corpus"
    record = prepare_domains(data_dir, out, ["wikiann", "conll", "neural"], ["es"], n_select=4, n_report=6)

    def first_words(key, split, unified=False):
        docs = DocBin().from_disk((out / "unified" if unified else out) / key / f"{split}.spacy").get_docs(
            __import__("spacy").blank("xx").vocab)
        return [int(doc[0].text) for doc in docs]

    assert first_words("conll-es", "train") == list(range(10))
    assert first_words("conll-es", "dev") == list(range(10, 14))
    assert first_words("conll-es", "test") == list(range(5))
    assert first_words("neural-es", "train") == list(range(10))
    assert first_words("neural-es", "dev") == list(range(10, 14))
    assert first_words("neural-es", "test") == list(range(14, 20))
    assert first_words("wikiann-es", "test") == list(range(6))
    assert record["corpora"]["neural-es"]["test"]["source"].endswith("neural/es/dev.iob[-6:]")
    assert record["corpora"]["conll-es"]["train"]["entities"] == {"PER": 4, "MISC": 3, "LOC": 3, "ORG": 3}
    # This WikiANN has neither MISC nor LOC: the all-domains corpus keeps the types every dataset has, and
    # counts what it dropped.
    assert record["unified"]["es"]["labels"] == ["ORG", "PER"]
    unified = DocBin().from_disk(out / "unified" / "conll-es" / "train.spacy").get_docs(
        __import__("spacy").blank("xx").vocab)
    labels = [ent.label_ for doc in unified for ent in doc.ents]
    assert sorted(set(labels)) == ["ORG", "PER"] and len(labels) == 13 - 3 - 3
    assert record["unified"]["es"]["dropped"]["conll-es/train MISC"] == 3
    assert record["unified"]["es"]["dropped"]["conll-es/train LOC"] == 3
    assert not (out / "unified" / "conll-es" / "test.spacy").exists()


def test_unified_labels_are_those_every_dataset_has(data_dir, tmp_path):
    record = prepare_domains(data_dir, tmp_path / "c", ["conll", "neural"], ["es"], n_select=4, n_report=6)
    assert record["unified"]["es"] == {"labels": ["LOC", "MISC", "ORG", "PER"], "dropped": {}}


def test_prepare_names_the_missing_data(data_dir, tmp_path):
    with pytest.raises(ValueError, match="no IOB files for wikiann in nl"):
        prepare_domains(data_dir, tmp_path / "c", ["wikiann"], ["nl"])
    with pytest.raises(ValueError, match=r"neural/es/dev.iob: no sentences left for train"):
        prepare_domains(data_dir, tmp_path / "c", ["neural"], ["es"], n_select=10, n_report=10)
    assert not (tmp_path / "c").exists()


def _run(system, lang, row, cells):
    results = {
        domain_key(test, lang): {
            "shared": {"ents_f": f, "untyped_f": f + 0.05, "labels": ["PER"]},
            "unified": {"ents_f": f - 0.01, "labels": ["LOC", "ORG", "PER"]},
        }
        for test, f in cells.items()
    }
    return {"name": f"{system}-{row}-{lang}", "system": system, "lang": lang, "row": row, "results": results,
            "train_seconds": 10.0, "eval_seconds": 2.0, "steps": 125, "n_train_sentences": 2000, "model": "m",
            "machine": {"cpu": "Test CPU"}}


def test_summary_means_and_report(tmp_path):
    study = DomainStudy("corpus", "es", "wikiann,conll", "configs/cpu.cfg", "enc")
    runs = {}
    for system, shift in (("xlmr_ner", 0.1), ("reference", 0.0)):
        for row, cells in (("wikiann", {"wikiann": 0.8, "conll": 0.5}), ("conll", {"wikiann": 0.4, "conll": 0.7}),
                           (ALL, {"wikiann": 0.75, "conll": 0.65})):
            run = _run(system, "es", row, {k: v + shift for k, v in cells.items()})
            runs[run["name"]] = run
    record = summarize(study, runs, "python scripts/cross_domain.py run")
    assert record["matrix"]["es"]["xlmr_ner"] == {"wikiann": {"wikiann": pytest.approx(0.9), "conll": 0.6},
                                                   "conll": {"wikiann": 0.5, "conll": pytest.approx(0.8)}}
    assert list(record["all_domains"]["es"]["reference"]) == ["wikiann", "conll", ALL]
    assert record["all_domains"]["es"]["reference"][ALL]["conll"] == pytest.approx(0.64)
    means = record["means"]
    assert means["reference"]["in_domain"] == pytest.approx(0.75)
    assert means["reference"]["out_of_domain"] == pytest.approx(0.45)
    assert means["xlmr_ner"]["out_of_domain"] == pytest.approx(0.55)
    assert means["xlmr_ner"]["wikiann_in_domain"] == pytest.approx(0.9)
    assert means["xlmr_ner"]["n_out"] == 2
    text = markdown_report(record)
    assert "| xlmr_ner | 85.0 | 55.0 | 90.0 |" in text
    assert "**es, reference, all domains**: strict F1 (%) over LOC, ORG, PER" in text
    assert "| all | 74.0 | 64.0 | 69.0 |" in text


def test_study_settings_are_checked():
    with pytest.raises(ValueError, match="Unknown systems"):
        DomainStudy("c", "es", "a,b", "cfg", "enc", systems="xlmr_ner,spanmarker")
    with pytest.raises(ValueError, match="two datasets"):
        DomainStudy("c", "es", "a", "cfg", "enc")
    study = DomainStudy("c", "es,nl", "a,b,c", "cfg", "enc", n_train=100)
    assert study.sources("nl")[ALL] == ("c/unified", ["a-nl", "b-nl", "c-nl"], 34)
    assert study.sources("nl")["b"] == ("c", ["b-nl"], 100)


@pytest.mark.slow
def test_cross_domain_study_end_to_end_on_a_tiny_encoder(data_dir, tiny_encoder, tmp_path):
    corpus, metrics = tmp_path / "corpus", tmp_path / "metrics"
    script = str(REPO / "scripts" / "cross_domain.py")
    prep = [sys.executable, script, "prepare", str(data_dir), str(corpus), "--datasets", "wikiann,conll",
            "--langs", "es", "--n-select", "4"]
    proc = subprocess.run(prep, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert srsly.read_json(corpus / "splits.json")["unified"]["es"]["labels"] == ["ORG", "PER"]
    cmd = [
        sys.executable, script, "run", str(corpus), "--datasets", "wikiann,conll", "--langs", "es",
        "--encoder", str(tiny_encoder), "--n-train", "8", "--n-dev", "4", "--n-test", "4", "--n-evals", "1",
        "--reference-lr", "1e-3", "--training", str(tmp_path / "training"), "--metrics", str(metrics),
        "--variant", "drop", "--set", "components.xlmr_ner.model.dropout=0.2",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = srsly.read_json(metrics / "domains-drop.json")
    assert record["settings"]["overrides"] == {"components.xlmr_ner.model.dropout": 0.2}
    for system in ("xlmr_ner", "reference"):
        assert set(record["matrix"]["es"][system]) == {"wikiann", "conll"}
        assert set(record["all_domains"]["es"][system]) == {"wikiann", "conll", ALL}
        assert (metrics / f"domains-drop-es-{system}.png").stat().st_size > 1000
    run = srsly.read_json(metrics / "domains" / "xlmr_ner-drop-conll-es.json")
    # conll has MISC and LOC, wikiann does not: they are scored on conll only; conll's test set has no ORG.
    assert run["results"]["wikiann-es"]["shared"]["labels"] == ["ORG", "PER"]
    assert run["results"]["conll-es"]["shared"]["labels"] == ["LOC", "MISC", "PER"]
    assert run["results"]["conll-es"]["unified"]["labels"] == ["ORG", "PER"]
    assert "| xlmr_ner |" in (metrics / "domains-drop.md").read_text()
    # A second call reuses every run.
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.count("Reusing") == 6
