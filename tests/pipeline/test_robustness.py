"""Any text in, valid entities out: no exception, exact offsets, one doc per
input, and `nlp.pipe` equal to `nlp(...)` doc by doc."""
import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.training import Example

from helpers import make_nlp

ODD_TEXTS = [
    "",
    " ",
    "\n\n\t ",
    "مرحبا بكم في القاهرة، يا محمد!",
    "e\u0301 cafe\u0301 \u0915\u094d\u0937",  # combining marks
    "👩‍👩‍👧 family 🇩🇪 flag",  # ZWJ sequences, regional indicators
    "zero\u200bwidth\u200d joiner\u2060 and \u00a0nbsp",
    "ＦＵＬＬ　ＷＩＤＴＨ　Ｂｅｒｌｉｎ",
    "control\x00\x01\x1f chars\x7f",
    "mixed Берлин und 北京 and القاهرة और दिल्ली",
    "\ud7ff\ue000\uffff",
    "a" * 3000,
]


@pytest.fixture(scope="module")
def nlp(tiny_encoder):
    """An initialized pipeline whose random head is scaled up so that it
    predicts plenty of entities everywhere (validity, not accuracy)."""
    spacy.util.fix_random_seed(0)
    nlp = make_nlp(tiny_encoder)
    doc = nlp.make_doc("Angela Merkel besuchte Berlin und Siemens .")
    nlp.initialize(lambda: [Example.from_dict(doc, {"entities": [(0, 13, "PER"), (23, 29, "LOC"), (34, 41, "ORG")]})])
    output = nlp.get_pipe("xlmr_ner").model.get_ref("output_layer")
    output.set_param("W", output.get_param("W") * 200)
    return nlp


def check_doc(doc, text):
    assert doc.text == text
    scores = doc.spans["xlmr_ner"].attrs["scores"]
    assert len(scores) == len(doc.ents) == len(doc.spans["xlmr_ner"])
    for ent, score in zip(doc.ents, scores):
        assert ent.text == text[ent.start_char : ent.end_char]
        assert ent.text and 0.0 < score <= 1.0


def test_odd_texts(nlp):
    docs = list(nlp.pipe(ODD_TEXTS, batch_size=4))
    assert len(docs) == len(ODD_TEXTS)
    for text, doc in zip(ODD_TEXTS, docs):
        check_doc(doc, text)
        assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [
            (e.start_char, e.end_char, e.label_) for e in nlp(text).ents
        ]
    assert sum(len(doc.ents) for doc in docs) > 5  # the check is not vacuous


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.text(max_size=200), min_size=1, max_size=6))
def test_any_unicode(nlp, texts):
    docs = list(nlp.pipe(texts, batch_size=3))
    assert len(docs) == len(texts)
    for text, doc in zip(texts, docs):
        check_doc(doc, text)
        single = nlp(text)
        assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [
            (e.start_char, e.end_char, e.label_) for e in single.ents
        ]
