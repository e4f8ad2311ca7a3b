"""Accuracy of every system is scored on the same gold tokens with the same scorer."""
import json

import spacy
from spacy.tokens import Doc

from helpers import make_nlp
from harness.benchmark.measure import last_json, predict_gold_tokens


def gold_docs(vocab):
    return [
        Doc(vocab, words=["Angela", "Merkel", "besuchte", "Berlin", "."], ents=["B-PER", "I-PER", "O", "B-LOC", "O"]),
        Doc(vocab, words=["kein", "Name"], ents=["O", "O"]),
    ]


def test_spacy_system_sees_gold_tokens_not_its_tokenizer(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    ner = nlp.get_pipe("xlmr_ner")
    for label in ("LOC", "PER"):
        ner.add_label(label)
    nlp.initialize()
    gold = gold_docs(nlp.vocab)
    examples = predict_gold_tokens("spacy", nlp, gold)
    assert [[t.text for t in eg.predicted] for eg in examples] == [[t.text for t in d] for d in gold]
    assert all(eg.reference is g for eg, g in zip(examples, gold))


class FakeReference:
    """Stands in for a Hugging Face pipeline: tags every first word B-PER."""

    tokenizer = model = None


def test_hf_tags_become_entities_as_seqeval_reads_them(monkeypatch):
    import harness.benchmark.reference as reference

    # An I- tag with no B- before it starts an entity, as in seqeval.
    monkeypatch.setattr(
        reference, "predict_words", lambda tok, model, words: [["I-PER", "I-PER", "O", "B-LOC", "I-ORG"], ["O", "O"]]
    )
    gold = gold_docs(spacy.blank("xx").vocab)
    examples = predict_gold_tokens("hf", FakeReference(), gold)
    assert [(e.text, e.label_) for e in examples[0].predicted.ents] == [
        ("Angela Merkel", "PER"),
        ("Berlin", "LOC"),
        (".", "ORG"),
    ]
    assert list(examples[1].predicted.ents) == []


def test_last_json():
    assert last_json("noise\n{\"a\": 1}\nmore noise\n") == {"a": 1}
    assert last_json("nothing here") is None
    assert last_json(json.dumps({"b": [1, 2]})) == {"b": [1, 2]}
