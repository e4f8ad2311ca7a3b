import itertools

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spacy_xlmr_ner.decoding import allowed_transitions, iob_labels, viterbi_decode

TAGS = iob_labels(["LOC", "ORG", "PER"])
START, ALLOWED = allowed_transitions(TAGS)


def is_valid_iob2(tags):
    prev = "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            return False
        prev = tag
    return True


def log_score(path, probs):
    return float(sum(numpy.log(probs[i, t]) for i, t in enumerate(path)))


def brute_force(probs):
    best, best_score = None, -numpy.inf
    for path in itertools.product(range(len(TAGS)), repeat=len(probs)):
        if not is_valid_iob2([TAGS[i] for i in path]):
            continue
        score = log_score(path, probs)
        if score > best_score:
            best, best_score = path, score
    return best, best_score


def random_probs(rng, n):
    logits = rng.normal(0, 3, (n, len(TAGS)))
    probs = numpy.exp(logits)
    return (probs / probs.sum(axis=1, keepdims=True)).astype("float32")


def test_transition_mask():
    assert TAGS == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert START.tolist() == [True, True, False, True, False, True, False]
    i_loc = TAGS.index("I-LOC")
    assert [TAGS[i] for i in numpy.nonzero(ALLOWED[:, i_loc])[0]] == ["B-LOC", "I-LOC"]
    assert ALLOWED[:, TAGS.index("B-PER")].all()
    assert ALLOWED[:, 0].all()


def test_invalid_argmax_is_not_patched_but_rescored():
    # argmax gives "O I-PER": the best valid path is B-PER I-PER here, since
    # P(B-PER) at 0 is close to P(O), and I-PER is very likely at 1.
    probs = numpy.full((2, len(TAGS)), 0.01, dtype="float32")
    probs[0, TAGS.index("O")] = 0.5
    probs[0, TAGS.index("B-PER")] = 0.4
    probs[1, TAGS.index("I-PER")] = 0.9
    probs[1, TAGS.index("O")] = 0.05
    (path,) = viterbi_decode([probs], START, ALLOWED)
    assert [TAGS[i] for i in path] == ["B-PER", "I-PER"]
    # ... and when O is much more likely at 0 (and O unlikely at 1), the best
    # valid path starts the entity at 1.
    probs[0, TAGS.index("B-PER")] = 0.001
    probs[1, TAGS.index("O")] = 0.001
    probs[1, TAGS.index("B-PER")] = 0.03
    (path,) = viterbi_decode([probs], START, ALLOWED)
    assert [TAGS[i] for i in path] == ["O", "B-PER"]


@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force(seed):
    rng = numpy.random.default_rng(seed)
    batch = [random_probs(rng, n) for n in (1, 4, 0, 5, 3)]
    paths = viterbi_decode(batch, START, ALLOWED)
    assert [len(p) for p in paths] == [1, 4, 0, 5, 3]
    for probs, path in zip(batch, paths):
        if len(probs) == 0:
            continue
        _, best_score = brute_force(probs)
        assert is_valid_iob2([TAGS[i] for i in path])
        assert log_score(path, probs) == pytest.approx(best_score, rel=1e-5)


def test_valid_argmax_is_kept():
    rng = numpy.random.default_rng(1)
    probs = random_probs(rng, 6)
    probs[:, 0] += 10  # argmax is all "O", which is valid
    probs /= probs.sum(axis=1, keepdims=True)
    (path,) = viterbi_decode([probs], START, ALLOWED)
    assert path.tolist() == [0] * 6


def test_empty_batch_and_empty_docs():
    assert viterbi_decode([], START, ALLOWED) == []
    paths = viterbi_decode([numpy.zeros((0, len(TAGS)), dtype="f")], START, ALLOWED)
    assert [p.tolist() for p in paths] == [[]]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        arrays(
            numpy.float32,
            st.tuples(st.integers(0, 30), st.just(len(TAGS))),
            elements=st.floats(0, 1, width=32),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_never_emits_invalid_iob(batch):
    # Any scores, including zeros, ties and rows that do not sum to one.
    paths = viterbi_decode(batch, START, ALLOWED)
    assert len(paths) == len(batch)
    for probs, path in zip(batch, paths):
        assert len(path) == len(probs)
        assert is_valid_iob2([TAGS[i] for i in path])
