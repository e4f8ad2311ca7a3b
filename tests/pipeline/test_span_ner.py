import numpy
import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import Span
from spacy.training import Example

from helpers import make_transformer_nlp
from spacy_xlmr_ner.pipeline.span_ner import DEFAULT_TAGGER_WEIGHT

KEY = "xlmr_span_ner"


def offsets(text, entities, nested=False):
    """(text, [(start_char, end_char, label)]) from (entity text, label)
    pairs, in order (nested: each entity's text occurs once)."""
    out, pos = [], 0
    for ent_text, label in entities:
        start = text.index(ent_text, 0 if nested else pos)
        out.append((start, start + len(ent_text), label))
        pos = start + len(ent_text)
    return text, out


# Latin, Cyrillic, Arabic, Han (zh, ja) and a sentence without entities.
TRAIN_DATA = [
    offsets(t, e)
    for t, e in [
        ("Angela Merkel besuchte gestern Berlin .", [("Angela Merkel", "PER"), ("Berlin", "LOC")]),
        ("Barack Obama visited the United Nations in New York .", [("Barack Obama", "PER"), ("United Nations", "ORG"), ("New York", "LOC")]),
        ("Владимир Путин встретился с представителями Газпрома в Москве .", [("Владимир Путин", "PER"), ("Газпрома", "ORG"), ("Москве", "LOC")]),
        ("زار محمد بن سلمان مدينة الرياض مع وفد من شركة أرامكو .", [("محمد بن سلمان", "PER"), ("الرياض", "LOC"), ("أرامكو", "ORG")]),
        ("习近平在北京会见了华为公司。", [("习近平", "PER"), ("北京", "LOC"), ("华为公司", "ORG")]),
        ("安倍晋三は東京でトヨタの社長と会談した。", [("安倍晋三", "PER"), ("東京", "LOC"), ("トヨタ", "ORG")]),
        ("Hakuna habari mpya leo .", []),
    ]
]

# Nested entities, given in doc.spans[KEY]: an ORG that contains a LOC.
NESTED_DATA = [
    offsets(t, e, nested=True)
    for t, e in [
        ("Sie studierte an der Universität Wien .", [("Universität Wien", "ORG"), ("Wien", "LOC")]),
        ("He works for the Bank of America in Boston .", [("Bank of America", "ORG"), ("America", "LOC"), ("Boston", "LOC")]),
        ("Он учился в Московском университете .", [("Московском университете", "ORG")]),
        ("Wien ist schön .", [("Wien", "LOC")]),
    ]
]


def make_span_nlp(encoder, **config):
    nlp = make_transformer_nlp(encoder)
    config.setdefault("model", {"dropout": 0.0})
    nlp.add_pipe("xlmr_span_ner", config=config)
    return nlp


def make_examples(nlp, data=TRAIN_DATA):
    return [Example.from_dict(nlp.make_doc(t), {"entities": ents}) for t, ents in data]


def make_nested_examples(nlp, data=NESTED_DATA):
    examples = []
    for text, ents in data:
        doc = nlp.make_doc(text)
        reference = doc.copy()
        reference.spans[KEY] = [reference.char_span(s, e, label) for s, e, label in ents]
        examples.append(Example(doc, reference))
    return examples


def ents_of(doc):
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def spans_of(doc, key=KEY):
    return [(s.start_char, s.end_char, s.label_) for s in doc.spans[key]]


def predict_all(nlp, data=TRAIN_DATA):
    return [ents_of(nlp(t)) for t, _ in data]


def train(nlp, examples, n_iter=150, learn_rate=1e-3, until=None):
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = learn_rate
    for i in range(n_iter):
        nlp.update(examples, sgd=optimizer)
        if until is not None and i % 10 == 9 and until():
            break
    return optimizer


@pytest.fixture(scope="module")
def trained(tiny_encoder):
    spacy.util.fix_random_seed(0)
    nlp = make_span_nlp(tiny_encoder)
    gold = [ents for _, ents in TRAIN_DATA]
    train(nlp, make_examples(nlp), until=lambda: predict_all(nlp) == gold)
    return nlp


def test_overfitting_several_scripts(trained):
    assert predict_all(trained) == [ents for _, ents in TRAIN_DATA]
    labels_seen = {label for _, ents in TRAIN_DATA for *_, label in ents}
    assert trained.get_pipe(KEY).labels == tuple(sorted(labels_seen))


def test_spans_hold_every_entity_with_scores_and_ents_the_best_non_overlapping(trained):
    # The span head's own decoding (tagger_weight 0); the tagger's share is
    # tested below.
    ner = trained.get_pipe(KEY)
    ner.cfg["tagger_weight"] = 0.0
    try:
        _check_span_head_decoding(trained, ner)
    finally:
        ner.cfg["tagger_weight"] = DEFAULT_TAGGER_WEIGHT


def _check_span_head_decoding(trained, ner):
    for text, _ in TRAIN_DATA:
        doc = trained(text)
        group = doc.spans[KEY]
        scores = group.attrs["scores"]
        assert len(scores) == len(group)
        assert all(ner.cfg["threshold"] <= s <= 1.0 for s in scores)
        score_of = {(s.start, s.end, s.label_): score for s, score in zip(group, scores)}
        # Every entity in doc.ents is one of the spans, and the spans left out
        # of doc.ents overlap an entity of a higher score.
        assert {(e.start, e.end, e.label_) for e in doc.ents} <= set(score_of)
        for span, score in zip(group, scores):
            if span not in doc.ents:
                assert any(
                    e.start < span.end and span.start < e.end and score_of[(e.start, e.end, e.label_)] >= score
                    for e in doc.ents
                )
    # The scores are the label probabilities the model gives the candidates.
    doc = trained.get_pipe("transformer")(trained.make_doc(TRAIN_DATA[1][0]))
    (candidates,), (probs,), tags = ner.predict([doc])
    rows = {tuple(r): i for i, r in enumerate(candidates)}
    ner.set_annotations([doc], ([candidates], [probs], tags))
    for span, score in zip(doc.spans[KEY], doc.spans[KEY].attrs["scores"]):
        row = probs[rows[(span.start, span.end)]]
        assert score == pytest.approx(float(row[1 + ner.labels.index(span.label_)]))
        assert row.argmax() == 1 + ner.labels.index(span.label_)


def test_scorer_reports_ner_metrics(trained):
    scores = trained.evaluate(make_examples(trained))
    assert scores["ents_f"] == pytest.approx(1.0)
    assert set(scores["ents_per_type"]) == {"LOC", "ORG", "PER"}


def test_pipe_equals_call_and_empty_docs(trained):
    texts = ["", "   ", "\n", TRAIN_DATA[0][0], "😀‍👩 ‏ \u200b", TRAIN_DATA[2][0], ""]
    piped = list(trained.pipe(texts, batch_size=3))
    assert [d.text for d in piped] == texts
    for text, doc in zip(texts, piped):
        assert ents_of(doc) == ents_of(trained(text))
        assert spans_of(doc) == spans_of(trained(text))
    assert ents_of(piped[0]) == ents_of(piped[1]) == []
    assert list(piped[1].spans[KEY].attrs["scores"]) == []
    assert ents_of(piped[3]) == TRAIN_DATA[0][1]
    # All docs empty or whitespace: no model call at all.
    assert [ents_of(d) for d in trained.pipe(["", " ", "\t\n"])] == [[], [], []]


def test_update_with_empty_and_whitespace_docs(tiny_encoder):
    nlp = make_span_nlp(tiny_encoder)
    examples = make_examples(nlp, TRAIN_DATA[:2])
    optimizer = nlp.initialize(lambda: examples)
    empty = [Example.from_dict(nlp.make_doc(t), {"entities": []}) for t in ("", " \n ")]
    assert nlp.update(empty, sgd=optimizer)[KEY] == 0.0
    losses = nlp.update(empty[:1] + examples + empty[1:], sgd=optimizer)
    assert losses[KEY] > 0.0


def test_serialization_round_trip(trained, tmp_path):
    texts = [t for t, _ in TRAIN_DATA] + [t for t, _ in NESTED_DATA]
    before = [trained(t) for t in texts]
    trained.to_disk(tmp_path / "pipeline")
    nlp2 = spacy.load(tmp_path / "pipeline")
    after = [nlp2(t) for t in texts]
    ner, ner2 = trained.get_pipe(KEY), nlp2.get_pipe(KEY)
    # srsly's JSON reader can turn 0.7 into 0.7000000000000001.
    assert ner2.cfg.keys() == ner.cfg.keys() and ner2.labels == ner.labels
    for key, value in ner.cfg.items():
        assert ner2.cfg[key] == (pytest.approx(value) if isinstance(value, float) else value)
    assert nlp2.config["components"][KEY]["factory"] == "xlmr_span_ner"
    for a, b in zip(before, after):
        assert ents_of(a) == ents_of(b)
        assert spans_of(a) == spans_of(b)
        numpy.testing.assert_allclose(a.spans[KEY].attrs["scores"], b.spans[KEY].attrs["scores"], rtol=1e-5)
    ner2.from_bytes(ner.to_bytes())
    assert ner2.labels == ("LOC", "ORG", "PER")
    assert ner2.model.get_dim("nW") == ner.cfg["max_length"]


def test_nested_entities_learned_from_doc_spans(tiny_encoder):
    spacy.util.fix_random_seed(0)
    nlp = make_span_nlp(tiny_encoder)
    examples = make_nested_examples(nlp)
    gold = [sorted(ents, key=lambda x: (x[0], x[1])) for _, ents in NESTED_DATA]

    # doc.ents takes the outer of two nested entities, as the tagger learns
    # the outermost entities.
    outermost = [[e for e in ents if not any(o != e and o[0] <= e[0] and e[1] <= o[1] for o in ents)] for ents in gold]

    def learned():
        docs = [nlp(t) for t, _ in NESTED_DATA]
        return [sorted(spans_of(d), key=lambda x: (x[0], x[1])) for d in docs] == gold and [
            ents_of(d) for d in docs
        ] == outermost

    train(nlp, examples, n_iter=200, until=learned)
    assert nlp.get_pipe(KEY).labels == ("LOC", "ORG")
    assert learned()
    doc = nlp(NESTED_DATA[0][0])
    assert spans_of(doc) == [(21, 37, "ORG"), (33, 37, "LOC")]
    assert ents_of(doc) == [(21, 37, "ORG")]


def test_gold_from_doc_spans_when_present_else_from_ents(tiny_encoder):
    nlp = make_span_nlp(tiny_encoder)
    nested = make_nested_examples(nlp, NESTED_DATA[:1])
    flat = make_examples(nlp, [(NESTED_DATA[0][0], NESTED_DATA[0][1][:1])])
    nlp.initialize(lambda: nested)
    ner = nlp.get_pipe(KEY)
    for eg, expected in [(nested[0], {(4, 6): 2, (5, 6): 1}), (flat[0], {(4, 6): 2})]:
        candidates = ner.candidates([eg.predicted])[0]
        classes = ner._gold_classes(eg, candidates)
        positives = {tuple(candidates[i]): int(c) for i, c in enumerate(classes) if c > 0}
        assert positives == expected
        assert (classes >= 0).all()


def test_unknown_gold_tokens_are_left_out(tiny_encoder):
    nlp = make_span_nlp(tiny_encoder)
    nlp.initialize(lambda: make_examples(nlp, TRAIN_DATA[:2]))
    ner = nlp.get_pipe(KEY)
    doc = nlp.make_doc("Angela Merkel besuchte gestern Berlin .")
    partial = Example.from_dict(doc, {"entities": ["B-PER", "L-PER", "-", "-", "-", "-"]})
    (candidates,) = ner.candidates([doc])
    n = len(candidates)
    probs = [ner.model.ops.asarray2f(numpy.full((n, 4), 0.25, dtype="f"))]
    loss, (d_probs,) = ner.get_loss([partial], ([candidates], probs, None))
    known = [i for i, (s, e) in enumerate(candidates) if e <= 2]
    assert len(known) == 3  # "Angela", "Angela Merkel", "Merkel"
    assert numpy.abs(d_probs[known]).sum() > 0
    assert numpy.abs(numpy.delete(d_probs, known, axis=0)).sum() == 0
    assert loss == pytest.approx(numpy.log(4), rel=1e-5)
    # The tagger's loss leaves the same tokens out, and adds its own.
    n_tags = len(ner.tags)
    tags = [ner.model.ops.asarray2f(numpy.full((len(doc), n_tags), 1 / n_tags, dtype="f"))]
    both, ((d_probs2,), (d_tags,)) = ner.get_loss([partial], ([candidates], probs, tags))
    numpy.testing.assert_array_equal(d_probs2, d_probs)
    assert numpy.abs(d_tags[:2]).sum() > 0 and numpy.abs(d_tags[2:]).sum() == 0
    assert both == pytest.approx(numpy.log(4) + numpy.log(n_tags), rel=1e-5)


def test_initialize_counts_gold_entities_longer_than_max_length(tiny_encoder):
    nlp = make_span_nlp(tiny_encoder, max_length=2)
    # "Samia Suluhu Hassan" (3 tokens) and "Recep Tayyip Erdoğan" (3) are too long.
    data = [
        offsets("Rais Samia Suluhu Hassan alitembelea Dodoma .", [("Samia Suluhu Hassan", "PER"), ("Dodoma", "LOC")]),
        offsets("Recep Tayyip Erdoğan dün İstanbul ' u ziyaret etti .", [("Recep Tayyip Erdoğan", "PER"), ("İstanbul", "LOC")]),
        offsets("Angela Merkel besuchte Berlin .", [("Angela Merkel", "PER"), ("Berlin", "LOC")]),
    ]
    with pytest.warns(UserWarning, match=r"2 of 6 gold entities .* max_length = 2"):
        nlp.initialize(lambda: make_examples(nlp, data))
    ner = nlp.get_pipe(KEY)
    assert ner.labels == ("LOC", "PER")
    assert ner.model.get_dim("nW") == 2


def test_labels_given_explicitly_and_no_labels(tiny_encoder):
    nlp = make_span_nlp(tiny_encoder)
    nlp.config["initialize"]["components"][KEY] = {"labels": ["PER", "ORG", "LOC", "MISC"]}
    nlp.initialize(lambda: make_examples(nlp, TRAIN_DATA[:1]))
    ner = nlp.get_pipe(KEY)
    assert ner.labels == ("PER", "ORG", "LOC", "MISC")
    assert ner.model.get_dim("nO") == 5
    with pytest.raises(ValueError, match="already initialized"):
        ner.add_label("DATE")
    nlp = make_span_nlp(tiny_encoder)
    with pytest.raises(ValueError, match="No entity labels"):
        nlp.initialize(lambda: make_examples(nlp, [("Nichts hier .", [])]))


@pytest.mark.parametrize(
    "config,match",
    [({"head_lr_scale": 0.0}, "head_lr_scale"), ({"max_length": 0}, "max_length"), ({"threshold": 1.5}, "threshold")],
)
def test_invalid_settings(config, match):
    nlp = spacy.blank("xx")
    with pytest.raises(ValueError, match=match):
        nlp.add_pipe("xlmr_span_ner", config=config)


def test_head_learns_and_the_encoder_gets_gradients_no_collapse(tiny_encoder):
    # With dropout, at the default settings: after a few dozen updates the
    # predictions are entities of several labels (not all "no entity", not
    # one label), and every weight of the encoder's layers still gets a
    # gradient. A head that starts at zero fails both.
    spacy.util.fix_random_seed(1)
    nlp = make_transformer_nlp(tiny_encoder)
    nlp.add_pipe("xlmr_span_ner")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 1e-3
    for _ in range(30):
        nlp.update(examples, sgd=optimizer, drop=0.1)
    nlp.update(examples, sgd=False, drop=0.0)  # gradients, kept, no step
    encoder = nlp.get_pipe("transformer").model.transformer
    layers = [(n, p) for n, p in encoder.named_parameters() if "encoder.layer" in n]
    assert layers and all(p.grad is not None and float(p.grad.abs().sum()) > 0 for _, p in layers)
    predicted = [ent for doc in nlp.pipe(t for t, _ in TRAIN_DATA) for ent in doc.ents]
    assert len({e.label_ for e in predicted}) == 3
    gold = {(t, s, e, label) for t, ents in TRAIN_DATA for s, e, label in ents}
    found = {(e.doc.text, e.start_char, e.end_char, e.label_) for e in predicted}
    assert len(found & gold) >= len(gold) // 2


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_head_lr_scale_scales_the_head_step_only(tiny_encoder, scale):
    from thinc.api import Adam

    nlp = make_span_nlp(tiny_encoder, head_lr_scale=scale)
    examples = make_examples(nlp, TRAIN_DATA[:3])
    nlp.initialize(lambda: examples)
    model = nlp.get_pipe(KEY).model
    W0 = model.get_ref("output_layer").get_param("W").copy()
    nlp.update(examples, sgd=Adam(1e-3, grad_clip=0.0, L2=0.0), drop=0.0)
    step = numpy.median(numpy.abs(model.get_ref("output_layer").get_param("W") - W0))
    assert step == pytest.approx(1e-3 * scale, rel=0.2)


def test_entities_along_a_document_of_many_encoder_windows(tmp_path):
    # The candidates of every copy of a paragraph, along a document of many
    # encoder windows, score as in the paragraph's sentences alone. What is
    # tested is that the whole length goes through the encoder and back to
    # the right tokens and spans, so the encoder must not depend on where a
    # piece sits in a window: no layers, no position embeddings, frozen but
    # for its LayerNorm (as in test_xlmr_ner's 100k-character test).
    import torch
    from transformers import AutoModel

    from helpers.tiny_models import build_tiny_xlmr

    encoder = build_tiny_xlmr(tmp_path / "encoder", hidden_size=64, num_layers=0)
    hf_model = AutoModel.from_pretrained(encoder)
    with torch.no_grad():
        hf_model.embeddings.position_embeddings.weight.zero_()
    hf_model.save_pretrained(encoder)
    spacy.util.fix_random_seed(0)
    nlp = make_span_nlp(encoder)
    data = TRAIN_DATA[:4]
    examples = make_examples(nlp, data)
    optimizer = nlp.initialize(lambda: examples)
    hf = nlp.get_pipe("transformer").model.transformer
    hf.requires_grad_(False)
    hf.embeddings.LayerNorm.requires_grad_(True)
    optimizer.learn_rate = 3e-3
    for i in range(300):
        nlp.update(examples, sgd=optimizer)
        if i % 20 == 19 and predict_all(nlp, data) == [e for _, e in data]:
            break
    assert predict_all(nlp, data) == [e for _, e in data]
    paragraph = " ".join(t for t, _ in data)
    n_copies = 40
    text = " ".join([paragraph] * n_copies)
    doc = nlp(text)
    trf_data = doc._.trf_data
    assert trf_data.model_output.last_hidden_state.shape[0] > 10  # windows
    found = set(spans_of(doc))
    expected = set()
    pos = 0
    for _ in range(n_copies):
        for t, ents in data:
            expected |= {(pos + s, pos + e, label) for s, e, label in ents}
            pos += len(t) + 1
    assert expected <= found
    # The spans of the last copy and of the first score the same.
    group = doc.spans[KEY]
    score_of = {(s.start_char, s.end_char, s.label_): score for s, score in zip(group, group.attrs["scores"])}
    shift = (n_copies - 1) * (len(paragraph) + 1)
    for s, e, label in sorted(expected)[: sum(len(e) for _, e in data)]:
        assert score_of[(s + shift, e + shift, label)] == pytest.approx(score_of[(s, e, label)], rel=1e-4)


def test_no_span_starts_or_ends_on_whitespace(trained):
    doc = trained("Angela  Merkel \n besuchte Berlin\n\n.")
    assert all(not s[0].is_space and not s[-1].is_space for s in doc.spans[KEY])
    assert all(isinstance(s, Span) for s in doc.ents)


ODD_TEXTS = [
    "",
    "\n\n\t ",
    "مرحبا بكم في القاهرة، يا محمد!",
    "e\u0301 cafe\u0301 \u0915\u094d\u0937",
    "👩‍👩‍👧 family 🇩🇪 flag",
    "zero\u200bwidth\u200d joiner\u2060 and \u00a0nbsp",
    "control\x00\x01\x1f chars\x7f",
    "mixed Берлин und 北京 and القاهرة और दिल्ली",
    "a" * 3000,
]


@pytest.fixture(scope="module")
def noisy(tiny_encoder):
    """An initialized pipeline whose random head is scaled up so that it
    predicts plenty of entities everywhere (validity, not accuracy)."""
    spacy.util.fix_random_seed(0)
    nlp = make_span_nlp(tiny_encoder, threshold=0.0)
    nlp.initialize(lambda: make_examples(nlp, TRAIN_DATA[:2]))
    for name in ("output_layer", "tag_output"):
        output = nlp.get_pipe(KEY).model.get_ref(name)
        output.set_param("W", output.get_param("W") * 300)
    return nlp


def check_span_doc(doc, text):
    assert doc.text == text
    group = doc.spans[KEY]
    assert len(group.attrs["scores"]) == len(group)
    assert all(0.0 < score <= 1.0 for score in group.attrs["scores"])
    assert {(e.start, e.end, e.label_) for e in doc.ents} <= {(s.start, s.end, s.label_) for s in group}
    for span in group:
        assert span.text == text[span.start_char : span.end_char]
        assert not span[0].is_space and not span[-1].is_space
        assert 1 <= len(span) <= 10


def test_odd_texts(noisy):
    docs = list(noisy.pipe(ODD_TEXTS, batch_size=4))
    assert len(docs) == len(ODD_TEXTS)
    for text, doc in zip(ODD_TEXTS, docs):
        check_span_doc(doc, text)
        assert spans_of(doc) == spans_of(noisy(text))
    assert sum(len(doc.spans[KEY]) for doc in docs) > 20  # the check is not vacuous
    assert sum(len(doc.ents) for doc in docs) > 5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.text(max_size=200), min_size=1, max_size=6))
def test_any_unicode(noisy, texts):
    docs = list(noisy.pipe(texts, batch_size=3))
    assert len(docs) == len(texts)
    for text, doc in zip(texts, docs):
        check_span_doc(doc, text)
        assert spans_of(doc) == spans_of(noisy(text))


def test_a_model_without_tagger_still_trains_and_predicts(tiny_encoder):
    # Pipelines built with SpanClassifier.v1 (no tagger) keep working.
    spacy.util.fix_random_seed(0)
    from spacy_xlmr_ner.pipeline.span_ner import DEFAULT_MODEL

    model = DEFAULT_MODEL.copy()
    model.update({"@architectures": "spacy-xlmr-ner.SpanClassifier.v1", "dropout": 0.0})
    nlp = make_span_nlp(tiny_encoder, model=model)
    ner = nlp.get_pipe(KEY)
    examples = make_examples(nlp, TRAIN_DATA[:2])
    train(nlp, examples, n_iter=60)
    assert not ner.has_tagger
    doc = nlp.get_pipe("transformer")(nlp.make_doc(TRAIN_DATA[0][0]))
    candidates, probs, tags = ner.predict([doc])
    assert tags is None and probs[0].shape == (len(candidates[0]), 4)
    assert predict_all(nlp, TRAIN_DATA[:2]) == [ents for _, ents in TRAIN_DATA[:2]]


def test_spans_take_the_entities_with_the_higher_of_their_two_scores():
    from spacy_xlmr_ner.pipeline.span_ner import _with_entities

    doc = spacy.blank("xx")("Anna Schmidt wohnt in Berlin bei Siemens")
    a, b, c = Span(doc, 0, 2, "PER"), Span(doc, 4, 5, "LOC"), Span(doc, 6, 7, "ORG")
    ents = [Span(doc, 0, 2, "PER"), Span(doc, 4, 5, "LOC"), c]
    spans, scores = _with_entities([a, b], [0.6, 0.9], ents, [0.8, 0.7, 0.55])
    assert [(s.start, s.end, s.label_) for s in spans] == [(0, 2, "PER"), (4, 5, "LOC"), (6, 7, "ORG")]
    assert scores == [0.8, 0.9, 0.55]
    same_span_other_label, _ = _with_entities([a], [0.6], [Span(doc, 0, 2, "ORG")], [0.7])
    assert [(s.start, s.end, s.label_) for s in same_span_other_label] == [(0, 2, "ORG"), (0, 2, "PER")]
