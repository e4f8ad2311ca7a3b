import numpy
import pytest
import spacy
from thinc.api import NumpyOps

from spacy_xlmr_ner import create_pipeline
from spacy_xlmr_ner.pipeline.entity_pipe import entity_component_name, find_entity_pipe, masked_cross_entropy


@pytest.mark.parametrize("factory", ["xlmr_ner", "xlmr_span_ner"])
def test_the_entity_component_is_found_in_a_pipeline_and_its_config(tiny_encoder, factory):
    nlp = create_pipeline(tiny_encoder, ner=factory)
    assert find_entity_pipe(nlp) is nlp.get_pipe(factory)
    assert entity_component_name(nlp.config) == factory


def test_no_entity_component():
    nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    assert find_entity_pipe(nlp) is None
    assert entity_component_name(nlp.config) is None


def test_masked_cross_entropy_ignores_unknown_rows():
    ops = NumpyOps()
    probs = [numpy.asarray([[0.5, 0.5], [0.9, 0.1]], dtype="f"), numpy.zeros((0, 2), dtype="f"),
             numpy.asarray([[0.2, 0.8]], dtype="f")]
    loss, grads = masked_cross_entropy(ops, probs, numpy.asarray([1, -1, 1], dtype="int32"))
    assert loss == pytest.approx(-(numpy.log(0.5) + numpy.log(0.8)) / 2, rel=1e-5)
    assert [g.shape for g in grads] == [(2, 2), (0, 2), (1, 2)]
    numpy.testing.assert_allclose(grads[0], [[0.25, -0.25], [0.0, 0.0]], rtol=1e-5)
    numpy.testing.assert_allclose(grads[2], [[0.1, -0.1]], rtol=1e-5)


def test_masked_cross_entropy_weighs_rows():
    ops = NumpyOps()
    probs = [numpy.asarray([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]], dtype="f")]
    truths = numpy.asarray([0, -1, 1], dtype="int32")
    loss, (grad,) = masked_cross_entropy(ops, probs, truths, numpy.asarray([0.2, 5.0, 1.0], dtype="f"))
    w = numpy.asarray([0.2, 1.0]) / 1.2  # the unknown row's weight does not count
    assert loss == pytest.approx(-(w[0] * numpy.log(0.5) + w[1] * numpy.log(0.8)), rel=1e-5)
    numpy.testing.assert_allclose(grad, [[-0.5 * w[0], 0.5 * w[0]], [0.0, 0.0], [0.2 * w[1], -0.2 * w[1]]], rtol=1e-5)


def test_masked_cross_entropy_without_weights_is_the_plain_mean_bit_for_bit():
    # Training follows the floats: weights of 1/n instead of dividing by n
    # changed xlmr_ner's benchmark F1 by a point, so the unweighted gradient
    # must stay exactly (p - onehot) / n.
    ops = NumpyOps()
    rng = numpy.random.default_rng(0)
    raw = rng.random((7, 5)).astype("f")
    probs = [raw / raw.sum(axis=1, keepdims=True)]
    truths = numpy.asarray([0, 3, -1, 4, 1, 1, 2], dtype="int32")
    _, (grad,) = masked_cross_entropy(ops, probs, truths)
    known = truths >= 0
    expected = numpy.zeros_like(probs[0])
    expected[known] = probs[0][known]
    expected[numpy.nonzero(known)[0], truths[known]] -= 1.0
    expected /= known.sum()
    numpy.testing.assert_array_equal(grad, expected)
