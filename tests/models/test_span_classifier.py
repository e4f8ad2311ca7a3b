import numpy
import pytest
import spacy
from spacy.tokens import Doc
from thinc.api import Model

from spacy_xlmr_ner.decoding.span_selection import candidate_spans
from spacy_xlmr_ner.models.span_classifier import build_span_classifier, build_span_tagger_classifier

WIDTH = 8


def fixed_vectors(vectors):
    """A stand-in for the listener: given arrays as the docs' token vectors,
    keeping the gradient it receives."""

    def forward(model, docs, is_train):
        def backprop(d_vectors):
            model.attrs["d_vectors"] = d_vectors
            return docs

        return [model.ops.asarray2f(v) for v in vectors], backprop

    return Model("fixed_vectors", forward, dims={"nO": WIDTH})


def assert_finite_difference(objective, array, index, gradient, eps=1e-2):
    """The gradient of `objective` at `array[index]`, changed in place and
    restored, matches the central difference."""
    original = array[index]
    array[index] = original + eps
    up = objective()
    array[index] = original - eps
    down = objective()
    array[index] = original
    assert gradient == pytest.approx((up - down) / (2 * eps), rel=0.05, abs=1e-4)


@pytest.fixture
def setup():
    numpy.random.seed(0)
    vocab = spacy.blank("xx").vocab
    docs = [
        Doc(vocab, words=["Bank", "of", "America", "in", "Wien"]),
        Doc(vocab, words=[]),
        Doc(vocab, words=[" "]),
        Doc(vocab, words=["Wien", "\n", "Graz"]),
    ]
    vectors = [numpy.random.normal(0, 1, (len(d), WIDTH)).astype("f") for d in docs]
    vectors[1] = numpy.zeros((0, 0), dtype="f")  # as the transformer gives empty docs
    tok2vec = fixed_vectors(vectors)
    model = build_span_classifier(tok2vec, hidden_width=6, dropout=0.0)
    model.set_dim("nW", 3)
    candidates = [candidate_spans(d, 3) for d in docs]
    Y = [numpy.zeros((len(c), 4), dtype="f") for c in candidates]
    model.initialize(X=(docs, candidates), Y=Y)
    return model, tok2vec, docs, candidates, vectors


def test_output_shapes_and_probabilities(setup):
    model, _, docs, candidates, _ = setup
    probs = model.predict((docs, candidates))
    assert [p.shape for p in probs] == [(len(c), 4) for c in candidates]
    assert [len(c) for c in candidates] == [12, 0, 0, 3]
    numpy.testing.assert_allclose(numpy.concatenate(probs).sum(axis=1), 1.0, rtol=1e-5)


def test_weights_start_small_random_not_zero(setup):
    model = setup[0]
    output = model.get_ref("output_layer")
    for W in (model.get_param("W_width"), output.get_param("W"), model.layers[1].layers[-1].get_param("W")):
        assert numpy.count_nonzero(W) == W.size
        assert 0.01 < float(W.std()) < 0.03
    assert model.get_param("W_width").shape == (3, 6)
    assert output.get_param("W").shape == (4, 6)


def test_span_representation_is_start_plus_end_plus_width(setup):
    model, _, docs, candidates, vectors = setup
    linear = model.layers[1].layers[-1]
    W, b = linear.get_param("W"), linear.get_param("b")
    out = model.get_ref("output_layer")
    P = vectors[0] @ W.T + b
    (probs,) = model.predict(([docs[0]], [candidates[0]]))
    for (start, end), p in zip(candidates[0], probs):
        h = P[start, :6] + P[end - 1, 6:] + model.get_param("W_width")[end - start - 1]
        a = 0.5 * h * (1 + numpy.tanh(numpy.sqrt(2 / numpy.pi) * (h + 0.044715 * h**3)))
        logits = out.get_param("W") @ a + out.get_param("b")
        expected = numpy.exp(logits - logits.max())
        numpy.testing.assert_allclose(p, expected / expected.sum(), rtol=1e-3, atol=1e-5)


def test_gradients_match_finite_differences(setup):
    model, tok2vec, docs, candidates, vectors = setup
    rng = numpy.random.default_rng(1)
    weights = [rng.normal(size=(len(c), 4)).astype("f") for c in candidates]

    def objective():
        probs = model.predict((docs, candidates))
        return sum(float((p * w).sum()) for p, w in zip(probs, weights))

    probs, backprop = model.begin_update((docs, candidates))
    # The output layer's backprop takes the gradient of the logits: that of
    # the objective is p * (w - sum(p * w)).
    d_logits = [p * (w - (p * w).sum(axis=1, keepdims=True)) for p, w in zip(probs, weights)]
    backprop(d_logits)
    d_vectors = tok2vec.attrs["d_vectors"]
    assert [d.shape for d in d_vectors] == [v.shape for v in vectors]
    assert not d_vectors[1].size and not numpy.abs(d_vectors[2]).sum()
    for doc_i, token, dim in [(0, 0, 1), (0, 2, 5), (0, 4, 0), (3, 2, 3)]:
        assert_finite_difference(objective, vectors[doc_i], (token, dim), d_vectors[doc_i][token, dim])
    d_width = model.get_grad("W_width")
    for row, col in [(0, 0), (2, 5)]:
        assert_finite_difference(objective, model.get_param("W_width"), (row, col), d_width[row, col])


def test_no_candidates_at_all(setup):
    model, tok2vec, docs, _, vectors = setup
    none = [numpy.zeros((0, 2), dtype="int32") for _ in docs]
    probs, backprop = model.begin_update((docs, none))
    assert [p.shape for p in probs] == [(0, 4)] * len(docs)
    backprop(probs)
    assert all(not numpy.abs(d).sum() for d in tok2vec.attrs["d_vectors"])


def test_a_candidate_longer_than_the_width_table_is_an_error(setup):
    model, _, docs, _, _ = setup
    with pytest.raises(ValueError, match="at most 3"):
        model.predict(([docs[0]], [numpy.array([[0, 4]], dtype="int32")]))


@pytest.fixture
def setup_v2(setup):
    _, _, docs, candidates, vectors = setup
    numpy.random.seed(0)
    tok2vec = fixed_vectors(vectors)
    model = build_span_tagger_classifier(tok2vec, hidden_width=6, dropout=0.0)
    model.set_dim("nW", 3)
    Y = [numpy.zeros((len(c), 4), dtype="f") for c in candidates]
    model.initialize(X=(docs, candidates), Y=Y)
    return model, tok2vec, docs, candidates, vectors


def test_v2_gives_span_and_tag_probabilities(setup_v2):
    model, _, docs, candidates, _ = setup_v2
    span_probs, tag_probs = model.predict((docs, candidates))
    assert [p.shape for p in span_probs] == [(len(c), 4) for c in candidates]
    # 3 labels: "O" and B-/I- of each.
    assert [t.shape for t in tag_probs] == [(5, 7), (0, 7), (1, 7), (3, 7)]
    numpy.testing.assert_allclose(numpy.concatenate(tag_probs).sum(axis=1), 1.0, rtol=1e-5)
    W = model.get_ref("tag_output").get_param("W")
    assert W.shape == (7, WIDTH) and numpy.count_nonzero(W) == W.size and 0.01 < float(W.std()) < 0.03
    # Without candidates the tokens are still tagged.
    none = [numpy.zeros((0, 2), dtype="int32") for _ in docs]
    span_probs, tag_probs = model.predict((docs, none))
    assert [p.shape for p in span_probs] == [(0, 4)] * 4 and tag_probs[0].shape == (5, 7)


def test_v2_gradients_match_finite_differences(setup_v2):
    model, tok2vec, docs, candidates, vectors = setup_v2
    rng = numpy.random.default_rng(2)
    span_w = [rng.normal(size=(len(c), 4)).astype("f") for c in candidates]
    tag_w = [rng.normal(size=(len(v), 7)).astype("f") for v in vectors]

    def objective():
        span_probs, tag_probs = model.predict((docs, candidates))
        return sum(float((p * w).sum()) for p, w in zip(span_probs + tag_probs, span_w + tag_w))

    (span_probs, tag_probs), backprop = model.begin_update((docs, candidates))
    d_logits = [p * (w - (p * w).sum(axis=1, keepdims=True)) for p, w in zip(span_probs + tag_probs, span_w + tag_w)]
    backprop((d_logits[: len(docs)], d_logits[len(docs) :]))
    d_vectors = tok2vec.attrs["d_vectors"]
    assert [d.shape for d in d_vectors] == [v.shape for v in vectors]
    # The whitespace doc has no candidate, but its token is tagged.
    assert numpy.abs(d_vectors[2]).sum() > 0
    for doc_i, token, dim in [(0, 0, 1), (0, 4, 0), (2, 0, 3), (3, 1, 2)]:
        assert_finite_difference(objective, vectors[doc_i], (token, dim), d_vectors[doc_i][token, dim])
