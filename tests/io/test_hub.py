import sys
from types import SimpleNamespace

import pytest

from spacy_xlmr_ner.io.hub import download, records_to_iob, write_iob
from spacy_xlmr_ner.io.iob import read_iob

TAG_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
RECORDS = [
    {"tokens": ["Angela", "Merkel", "besucht", "New York"], "ner_tags": [1, 2, 0, 5], "langs": ["de"] * 4},
    {"tokens": ["北", "京"], "ner_tags": [5, 6], "langs": ["zh"] * 2},
]


def test_records_to_iob():
    assert list(records_to_iob(RECORDS, TAG_NAMES)) == [
        "Angela\tB-PER",
        "Merkel\tI-PER",
        "besucht\tO",
        "New York\tB-LOC",
        "",
        "北\tB-LOC",
        "京\tI-LOC",
        "",
    ]
    assert list(records_to_iob([], TAG_NAMES)) == []


@pytest.mark.parametrize(
    "bad_record,message",
    [
        ({"tokens": ["a", "b"], "ner_tags": [0]}, "Record 1: 2 tokens but 1 tags"),
        ({"tokens": ["a"], "ner_tags": [7]}, "Record 1: tag id 7 out of range for 7 tags"),
        ({"tokens": ["a"], "ner_tags": [-1]}, "Record 1: tag id -1 out of range for 7 tags"),
        ({"tokens": ["a\tb"], "ner_tags": [0]}, "Record 1: token 'a\\tb' cannot be written"),
        ({"tokens": ["a\nb"], "ner_tags": [0]}, "Record 1: token 'a\\nb' cannot be written"),
        ({"tokens": [""], "ner_tags": [0]}, "Record 1: token '' cannot be written"),
        ({"tokens": [" "], "ner_tags": [0]}, "Record 1: token ' ' cannot be written"),
    ],
)
def test_records_to_iob_errors(bad_record, message):
    with pytest.raises(ValueError) as err:
        list(records_to_iob([RECORDS[0], bad_record], TAG_NAMES))
    assert str(err.value).startswith(message)


def test_write_iob_round_trip(tmp_path):
    path = tmp_path / "de" / "train.iob"
    write_iob(records_to_iob(RECORDS, TAG_NAMES), path)
    assert path.read_text(encoding="utf-8").startswith("Angela\tB-PER\nMerkel\tI-PER\n")
    assert [(s.words, s.tags) for s in read_iob(path).sentences] == [
        (["Angela", "Merkel", "besucht", "New York"], ["B-PER", "I-PER", "O", "B-LOC"]),
        (["北", "京"], ["B-LOC", "I-LOC"]),
    ]
    assert sorted(p.name for p in path.parent.iterdir()) == ["train.iob"]


def test_write_iob_error_leaves_no_file(tmp_path):
    path = tmp_path / "train.iob"
    with pytest.raises(ValueError):
        write_iob(records_to_iob([RECORDS[0], {"tokens": ["a"], "ner_tags": [9]}], TAG_NAMES), path)
    assert not path.exists()


class FakeSplit(list):
    features = {"ner_tags": SimpleNamespace(feature=SimpleNamespace(names=TAG_NAMES))}


@pytest.fixture
def fake_datasets(monkeypatch):
    calls = []

    def load_dataset(name, config):
        calls.append((name, config))
        return {"train": FakeSplit(RECORDS), "validation": FakeSplit(RECORDS[1:]), "test": FakeSplit(RECORDS[:1])}

    monkeypatch.setitem(sys.modules, "datasets", SimpleNamespace(load_dataset=load_dataset))
    return calls


@pytest.mark.parametrize(
    "source,hub_args", [("wikiann", ("unimelb-nlp/wikiann", "de")), ("panx", ("google/xtreme", "PAN-X.de"))]
)
def test_download(tmp_path, fake_datasets, source, hub_args):
    paths = download(source, "de", tmp_path)
    assert fake_datasets == [hub_args]
    assert paths == {split: tmp_path / "de" / f"{split}.iob" for split in ("train", "dev", "test")}
    assert [len(read_iob(paths[split]).sentences) for split in ("train", "dev", "test")] == [2, 1, 1]
    assert read_iob(paths["dev"]).sentences[0].words == ["北", "京"]


def test_download_unknown_source(tmp_path, fake_datasets):
    with pytest.raises(ValueError, match="Unknown source 'conll'; choose from wikiann, panx"):
        download("conll", "de", tmp_path)
    assert fake_datasets == []


def test_download_without_datasets(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"spacy-xlmr-ner\[data\]"):
        download("wikiann", "de", tmp_path)
