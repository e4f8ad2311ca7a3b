"""Constrained Viterbi decoding: the most probable valid IOB2 sequence."""
from typing import List, Sequence

import numpy

# Log-probabilities are clipped here so that a zero probability stays a
# (very bad) finite score rather than -inf, which keeps every path comparable.
_MIN_LOG_PROB = -1e4


def viterbi_decode(
    probs: Sequence[numpy.ndarray], start: numpy.ndarray, allowed: numpy.ndarray
) -> List[numpy.ndarray]:
    """Find, for each sequence, the tag path with the highest total
    log-probability among the paths that obey the transition constraints.

    All sequences of a batch are decoded together: the loop runs over
    positions, and the work at each position is one array operation for the
    whole batch.

    probs (Sequence[numpy.ndarray]): Per sequence, an array of shape
        (n_tokens, n_tags) of tag probabilities.
    start (numpy.ndarray): Boolean (n_tags,): tags allowed at position 0.
    allowed (numpy.ndarray): Boolean (n_tags, n_tags): `allowed[i, j]` if tag
        j may follow tag i. Some tag must be allowed everywhere (in IOB2: "O").
    RETURNS (List[numpy.ndarray]): Per sequence, the tag ids of the best path
        (an int array of length n_tokens).
    """
    n_tags = start.shape[0]
    lengths = numpy.asarray([len(p) for p in probs], dtype="int64")
    if lengths.size == 0 or lengths.max() == 0:
        return [numpy.zeros((n,), dtype="int64") for n in lengths]
    batch, max_len = len(probs), int(lengths.max())
    emissions = numpy.zeros((batch, max_len, n_tags), dtype="float32")
    for i, p in enumerate(probs):
        if len(p):
            emissions[i, : len(p)] = numpy.maximum(
                numpy.log(numpy.maximum(p, 1e-30)), _MIN_LOG_PROB
            )
    start_scores = numpy.where(start, 0.0, -numpy.inf).astype("float32")
    transitions = numpy.where(allowed, 0.0, -numpy.inf).astype("float32")
    identity = numpy.arange(n_tags)[None, :]
    scores = emissions[:, 0] + start_scores
    backpointers = numpy.zeros((batch, max_len, n_tags), dtype="int64")
    for t in range(1, max_len):
        candidates = scores[:, :, None] + transitions[None, :, :]
        best_prev = candidates.argmax(axis=1)
        new_scores = candidates.max(axis=1) + emissions[:, t]
        # Finished sequences carry their scores forward unchanged, and point
        # to themselves so that backtracking passes straight through.
        active = (t < lengths)[:, None]
        scores = numpy.where(active, new_scores, scores)
        backpointers[:, t] = numpy.where(active, best_prev, identity)
    path = numpy.zeros((batch, max_len), dtype="int64")
    path[:, -1] = scores.argmax(axis=1)
    rows = numpy.arange(batch)
    for t in range(max_len - 1, 0, -1):
        path[:, t - 1] = backpointers[rows, t, path[:, t]]
    return [path[i, :n] for i, n in enumerate(lengths)]
