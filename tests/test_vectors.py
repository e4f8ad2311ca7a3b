"""Entity embeddings (`span._.entity_vector`) from both NER components."""
import numpy
import pytest
import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from helpers import make_nlp, make_transformer_nlp
from spacy_xlmr_ner.io.output import doc_entities
from spacy_xlmr_ner.vectors import VECTOR_ATTR, set_entity_vectors

DATA = [
    ("Angela Merkel besuchte gestern Berlin .", [(0, 13, "PER"), (31, 37, "LOC")]),
    ("Владимир Путин встретился с представителями Газпрома в Москве .", [(0, 14, "PER"), (44, 52, "ORG"), (55, 61, "LOC")]),
    ("习近平在北京会见了华为公司。", [(0, 3, "PER"), (4, 6, "LOC"), (9, 13, "ORG")]),
]
COMPONENTS = ("xlmr_ner", "xlmr_span_ner")


def build(encoder, component, **config):
    if component == "xlmr_ner":
        nlp = make_nlp(encoder)
        if config:
            nlp.replace_pipe("xlmr_ner", "xlmr_ner", config={"model": {"dropout": 0.0}, **config})
        return nlp
    nlp = make_transformer_nlp(encoder)
    nlp.add_pipe("xlmr_span_ner", config={"model": {"dropout": 0.0}, **config})
    return nlp


def train(nlp):
    examples = [Example.from_dict(nlp.make_doc(t), {"entities": e}) for t, e in DATA]
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 1e-3
    for i in range(200):
        nlp.update(examples, sgd=optimizer)
        if i % 10 == 9 and all(
            [(e.start_char, e.end_char, e.label_) for e in nlp(t).ents] == ents for t, ents in DATA
        ):
            return nlp
    raise AssertionError("did not learn the training sentences")


@pytest.fixture(scope="module", params=list(COMPONENTS))
def trained(request, tiny_encoder):
    spacy.util.fix_random_seed(0)
    return train(build(tiny_encoder, request.param)), request.param


def mean_of_pieces(doc, span):
    """The entity vector computed from `doc._.trf_data`, token by token: the
    hidden states of the distinct pieces aligned to the span's tokens, but
    for bare "▁" pieces of tokens that have other pieces."""
    trf_data = doc._.trf_data
    hidden = numpy.asarray(trf_data.model_output.last_hidden_state)
    hidden = hidden.reshape(-1, hidden.shape[-1])
    strings = numpy.asarray(trf_data.wordpieces.strings, dtype=object).ravel()
    rows = set()
    for i in range(span.start, span.end):
        pieces = [int(p) for p in trf_data.align[i].dataXd.ravel()]
        solid = [p for p in pieces if strings[p] != "\u2581"]
        rows.update(solid or pieces)
    return hidden[sorted(rows)].mean(axis=0)


def test_every_entity_has_the_mean_of_its_pieces(trained):
    nlp, name = trained
    for text, _ in DATA:
        doc = nlp(text)
        assert len(doc.ents) > 1
        for ent in doc.ents:
            vector = ent._.entity_vector
            assert isinstance(vector, numpy.ndarray) and vector.dtype == numpy.float32
            assert vector.shape == (doc._.trf_data.width,)
            numpy.testing.assert_allclose(vector, mean_of_pieces(doc, ent), rtol=1e-5, atol=1e-6)
        # The same vector from the entity in doc.spans.
        for span in doc.spans[name]:
            numpy.testing.assert_allclose(span._.entity_vector, mean_of_pieces(doc, span), rtol=1e-5, atol=1e-6)
    # Different entities, different vectors.
    doc = nlp(DATA[0][0])
    assert not numpy.allclose(doc.ents[0]._.entity_vector, doc.ents[1]._.entity_vector)


def test_vectors_are_kept_through_to_bytes_and_docbin(trained):
    nlp, name = trained
    docs = list(nlp.pipe(t for t, _ in DATA))
    expected = [[e._.entity_vector for e in doc.ents] for doc in docs]
    copies = [Doc(nlp.vocab).from_bytes(doc.to_bytes()) for doc in docs]
    docbin = DocBin(store_user_data=True, docs=docs)
    loaded = list(DocBin().from_bytes(docbin.to_bytes()).get_docs(nlp.vocab))
    for group in (copies, loaded):
        for doc, vectors in zip(group, expected):
            assert len(doc.ents) == len(vectors)
            for ent, vector in zip(doc.ents, vectors):
                numpy.testing.assert_array_equal(ent._.entity_vector, vector)
            assert all(s._.entity_vector is not None for s in doc.spans[name])


def test_doc_entities_gives_vectors_on_request(trained):
    nlp, name = trained
    doc = nlp(DATA[1][0])
    plain = doc_entities(doc, spans_key=name)
    assert all("vector" not in e for e in plain)
    with_vectors = doc_entities(doc, spans_key=name, vectors=True)
    assert [{k: v for k, v in e.items() if k != "vector"} for e in with_vectors] == plain
    for entity, ent in zip(with_vectors, doc.ents):
        assert entity["vector"] == pytest.approx(ent._.entity_vector.tolist())
        assert all(type(x) is float for x in entity["vector"])
    other = nlp.make_doc("Berlin")
    other.ents = [other.char_span(0, 6, "LOC")]
    assert doc_entities(other, vectors=True)[0]["vector"] is None


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_the_setting_turns_vectors_off(tiny_encoder, component):
    assert build(tiny_encoder, component, entity_vectors=False).get_pipe(component).entity_vectors is False
    assert build(tiny_encoder, component).get_pipe(component).entity_vectors is True


def test_without_vectors_entities_have_none(trained):
    nlp, name = trained
    nlp.get_pipe(name).entity_vectors = False
    try:
        doc = nlp(DATA[0][0])
    finally:
        nlp.get_pipe(name).entity_vectors = True
    assert len(doc.ents) == 2 and all(e._.entity_vector is None for e in doc.ents)
    assert not any(isinstance(key, tuple) and VECTOR_ATTR in key for key in doc.user_data)


def test_nothing_is_set_without_encoder_output():
    doc = spacy.blank("xx")("Angela Merkel")
    set_entity_vectors(doc, [doc[0:2]])
    assert doc[0:2]._.entity_vector is None
