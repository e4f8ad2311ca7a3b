import json
import math

import numpy
import spacy
from spacy.tokens import Doc, Span, SpanGroup

from spacy_xlmr_ner.io.output import doc_entities, nan_to_none


def test_doc_entities_with_scores_and_offsets():
    nlp = spacy.blank("xx")
    doc = Doc(nlp.vocab, words=["Гёте", "жил", "в", "Веймаре", "."], spaces=[True, True, True, False, False])
    ents = [Span(doc, 0, 1, "PER"), Span(doc, 3, 4, "LOC")]
    doc.set_ents(ents)
    doc.spans["xlmr_ner"] = SpanGroup(doc, name="xlmr_ner", spans=ents, attrs={"scores": [0.9, 0.75]})
    assert doc_entities(doc) == [
        {"text": "Гёте", "label": "PER", "start": 0, "end": 4, "score": 0.9},
        {"text": "Веймаре", "label": "LOC", "start": 11, "end": 18, "score": 0.75},
    ]
    assert doc.text[11:18] == "Веймаре"
    # Entities set by something else have no score.
    doc.set_ents([Span(doc, 1, 2, "ORG")], default="unmodified")
    assert [e["score"] for e in doc_entities(doc)] == [0.9, None, 0.75]
    assert doc_entities(nlp("")) == []


def test_nan_to_none():
    data = {
        "f": {"de": 0.5, "en": math.nan},
        "ents": ({"score": math.inf}, {"score": -math.inf}, {"score": 0.0}),
        "n": 3,
        "ok": True,
        "label": "nan",
        "half": numpy.float32("nan"),
    }
    cleaned = nan_to_none(data)
    assert cleaned == {
        "f": {"de": 0.5, "en": None},
        "ents": [{"score": None}, {"score": None}, {"score": 0.0}],
        "n": 3,
        "ok": True,
        "label": "nan",
        "half": None,
    }
    json.dumps(cleaned, allow_nan=False)  # raises on NaN or infinity
    assert nan_to_none(math.nan) is None
    assert nan_to_none(1.5) == 1.5
