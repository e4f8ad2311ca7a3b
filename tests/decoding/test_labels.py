import pytest

from spacy_xlmr_ner.decoding.labels import (
    entity_labels,
    iob_labels,
    is_outside,
    is_tag,
    split_tag,
    to_iob2,
)


@pytest.mark.parametrize(
    "tag,expected",
    [
        ("B-PER", ("B", "PER")),
        ("I-LOC", ("I", "LOC")),
        ("E-ORG", ("E", "ORG")),
        ("S-X", ("S", "X")),
        ("L-MISC", ("L", "MISC")),
        ("U-B-I", ("U", "B-I")),
        ("B-New York", ("B", "New York")),
        ("O", ("O", "")),
        ("PER", ("", "PER")),
        ("B-", ("", "B-")),
        ("b-per", ("", "b-per")),
        ("X-PER", ("", "X-PER")),
    ],
)
def test_split_tag(tag, expected):
    assert split_tag(tag) == expected


@pytest.mark.parametrize("tag", ["O", "B-PER", "I-PER", "E-LOC", "S-LOC", "L-ORG", "U-ORG", "B-DATE-TIME"])
def test_is_tag(tag):
    assert is_tag(tag)


@pytest.mark.parametrize("tag", ["PER", "o", "B_PER", "b-per", "B-", "B-New York", "B-X\r", "", "OO"])
def test_is_not_tag(tag):
    assert not is_tag(tag)


@pytest.mark.parametrize("name", ["O", "o", " O ", "0", "outside", "OUTSIDE"])
def test_is_outside(name):
    assert is_outside(name)


@pytest.mark.parametrize("name", ["B-O", "out", "PER", ""])
def test_is_not_outside(name):
    assert not is_outside(name)


@pytest.mark.parametrize(
    "tags,expected,repaired",
    [
        (["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER", "O", "B-LOC"], []),
        # IOB1: I- starts an entity unless it continues one of the same label.
        (["I-PER", "I-PER", "I-LOC", "O"], ["B-PER", "I-PER", "B-LOC", "O"], [0, 2]),
        (["S-LOC", "B-PER", "E-PER", "O"], ["B-LOC", "B-PER", "I-PER", "O"], []),
        (["U-LOC", "B-PER", "I-PER", "L-PER"], ["B-LOC", "B-PER", "I-PER", "I-PER"], []),
        (["O", "E-PER", "O", "L-LOC"], ["O", "B-PER", "O", "B-LOC"], [1, 3]),
        ([], [], []),
    ],
)
def test_to_iob2(tags, expected, repaired):
    assert to_iob2(tags) == (expected, repaired)


def test_entity_labels_sorted_and_unique():
    assert entity_labels(["O", "B-PER", "I-PER", "S-LOC", "E-ORG", "O"]) == ["LOC", "ORG", "PER"]
    assert entity_labels(iter(["O"])) == []


def test_iob_labels_keep_label_order():
    assert iob_labels(["PER", "LOC"]) == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    assert iob_labels(entity_labels(["B-PER", "B-LOC"])) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
