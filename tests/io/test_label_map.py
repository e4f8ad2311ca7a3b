"""Label maps unify the label sets of several datasets at conversion time,
counting every renamed or dropped entity."""
import json

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_xlmr_ner.io.docbin import convert_iob_dir, convert_iob_file, format_stats
from spacy_xlmr_ner.io.label_map import load_label_map, map_tags

MULTINERD = ["PER", "ORG", "LOC", "ANIM", "BIO", "CEL", "DIS", "EVE", "FOOD", "INST", "MEDIA", "MYTH", "PLANT",
             "TIME", "VEHI"]


def test_load_inline_json_and_dict(tmp_path):
    assert load_label_map("PERSON=PER, GPE=LOC") == {"PERSON": "PER", "GPE": "LOC"}
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"person": "PER", "misc": "O"}), encoding="utf-8")
    assert load_label_map(str(path)) == {"person": "PER", "misc": "O"}
    assert load_label_map(None) is None
    assert load_label_map({"A": "B"}) == {"A": "B"}


@pytest.mark.parametrize("spec,problem", [
    ("PERSON", "SOURCE=DST"), ("PERSON=", "SOURCE=DST"), ("A=B-PER", "bare label"), ({"A": ""}, "non-empty"),
])
def test_bad_maps_are_clear_errors(spec, problem):
    with pytest.raises(ValueError, match=problem.replace("=DST", "=TARGET")):
        load_label_map(spec)


def test_bad_json_file_names_the_file(tmp_path):
    path = tmp_path / "map.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="map.json"):
        load_label_map(str(path))


def test_map_tags_keeps_boundaries_and_counts():
    tags = ["B-PERSON", "I-PERSON", "B-PER", "O", "B-MISC", "I-MISC", "B-GPE"]
    mapping = {"PERSON": "PER", "MISC": "O", "GPE": "LOC"}
    new, renamed, dropped = map_tags(tags, mapping)
    # Two adjacent entities that end up with the same label stay two entities.
    assert new == ["B-PER", "I-PER", "B-PER", "O", "O", "O", "B-LOC"]
    assert renamed == {("PERSON", "PER"): 1, ("GPE", "LOC"): 1}
    assert dropped == {"MISC": 1}


def test_conversion_unifies_two_datasets(tmp_path):
    (tmp_path / "a" / "en").mkdir(parents=True)
    (tmp_path / "b" / "en").mkdir(parents=True)
    (tmp_path / "a" / "en" / "train.iob").write_text("Obama\tB-PER\nin\tO\nParis\tB-LOC\n\n", encoding="utf-8")
    (tmp_path / "b" / "en" / "train.iob").write_text(
        "Obama\tB-person\nin\tO\nParis\tB-location\non\tO\nMonday\tB-date\n\n", encoding="utf-8"
    )
    convert_iob_dir(tmp_path / "a", tmp_path / "out_a", splits=["train"])
    stats = convert_iob_dir(
        tmp_path / "b", tmp_path / "out_b", splits=["train"],
        label_map={"person": "PER", "location": "LOC", "date": "O"},
    )
    vocab = spacy.blank("xx").vocab
    labels = {
        name: [(e.text, e.label_) for doc in DocBin().from_disk(tmp_path / name / "en" / "train.spacy").get_docs(vocab)
               for e in doc.ents]
        for name in ("out_a", "out_b")
    }
    assert labels["out_a"] == labels["out_b"] == [("Obama", "PER"), ("Paris", "LOC")]
    text = format_stats(stats)
    assert "relabeled 1 person entities as PER" in text
    assert "dropped 1 date entities (label map: date=O)" in text


def test_any_label_set_converts_unchanged(tmp_path):
    lines = []
    for i, label in enumerate(MULTINERD + ["DATE"]):
        lines += [f"w{i}\tB-{label}", f"x{i}\tI-{label}", "und\tO", ""]
    (tmp_path / "train.iob").write_text("\n".join(lines), encoding="utf-8")
    stats = convert_iob_file(tmp_path / "train.iob", tmp_path / "train.spacy")
    assert sorted(stats.entities) == sorted(MULTINERD + ["DATE"])
    assert all(n == 1 for n in stats.entities.values())
