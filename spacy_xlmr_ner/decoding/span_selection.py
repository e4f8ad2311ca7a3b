"""Candidate spans, their gold classes, and the selection of predicted spans,
for span classification (`xlmr_span_ner`).

A candidate is a span of 1 to `max_length` tokens that neither starts nor
ends on a whitespace token; candidates are ordered by start, then by end.
Class 0 of a candidate is "no entity" and class `i` (from 1) is the
`i - 1`th label.
"""
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.attrs import IS_SPACE
from spacy.tokens import Doc, Span

from .spans import trim_whitespace

NO_ENTITY = 0
IGNORED = -1


def candidate_spans(doc: Doc, max_length: int) -> numpy.ndarray:
    """Every span of the doc that the span classifier scores.

    doc (Doc): The document.
    max_length (int): The most tokens in a candidate.
    RETURNS (numpy.ndarray): Shape (n_candidates, 2), int32: the start and
        end (exclusive) token index of each candidate, ordered by start then
        end.
    """
    n = len(doc)
    if n == 0 or max_length < 1:
        return numpy.zeros((0, 2), dtype="int32")
    is_space = doc.to_array([IS_SPACE]).reshape(-1).astype(bool)
    starts = numpy.repeat(numpy.arange(n), max_length)
    ends = starts + numpy.tile(numpy.arange(1, max_length + 1), n)
    inside = ends <= n
    starts, ends = starts[inside], ends[inside]
    solid = ~is_space[starts] & ~is_space[ends - 1]
    return numpy.stack([starts[solid], ends[solid]], axis=1).astype("int32")


def candidate_classes(
    candidates: numpy.ndarray,
    n_tokens: int,
    max_length: int,
    gold: Iterable[Tuple[int, int, int]],
    known: Optional[numpy.ndarray] = None,
) -> numpy.ndarray:
    """The gold class of each candidate.

    A candidate that covers a token whose gold annotation is unknown is
    ignored, not counted as "no entity", unless it is a gold entity itself.
    So is a candidate equal to a gold entity of a label the classifier does
    not predict (class `IGNORED` in `gold`).

    candidates (numpy.ndarray): As returned by `candidate_spans`.
    n_tokens (int): Length of the doc.
    max_length (int): The `max_length` the candidates were made with.
    gold (Iterable[Tuple[int, int, int]]): Gold entities as (start, end,
        class); those that are not candidates (too long, or with whitespace
        edges) are skipped.
    known (Optional[numpy.ndarray]): Per token, whether its gold annotation
        is known; None if every token's is.
    RETURNS (numpy.ndarray): Per candidate, int32: its class, or `IGNORED`.
    """
    starts, ends = candidates[:, 0], candidates[:, 1]
    classes = numpy.full(len(candidates), NO_ENTITY, dtype="int32")
    if known is not None and not known.all():
        unknown_before = numpy.concatenate([[0], numpy.cumsum(~known)])
        classes[unknown_before[ends] - unknown_before[starts] > 0] = IGNORED
    index = numpy.full(n_tokens * max_length, -1, dtype="int64")
    index[starts * max_length + (ends - starts - 1)] = numpy.arange(len(candidates))
    for start, end, cls in gold:
        width = end - start
        if 1 <= width <= max_length and 0 <= start and end <= n_tokens:
            i = index[start * max_length + width - 1]
            if i >= 0:
                classes[i] = cls
    return classes


def spans_above_threshold(
    doc: Doc,
    candidates: numpy.ndarray,
    probs: numpy.ndarray,
    labels: Sequence[str],
    threshold: float,
) -> Tuple[List[Span], List[float]]:
    """The candidates predicted as entities: those whose most probable class
    is a label, with a probability of at least `threshold`. They may overlap
    and nest.

    doc (Doc): The document.
    candidates (numpy.ndarray): As returned by `candidate_spans`.
    probs (numpy.ndarray): Class probabilities, (n_candidates, 1 + n_labels).
    labels (Sequence[str]): The labels of classes 1, 2, ...
    threshold (float): The least probability of a predicted entity.
    RETURNS (Tuple[List[Span], List[float]]): The entities, ordered by start
        then end, and the probability of each one's label.
    """
    if not len(candidates):
        return [], []
    best = probs[:, 1:].argmax(axis=1)
    scores = probs[numpy.arange(len(best)), best + 1]
    chosen = numpy.nonzero((scores > probs[:, NO_ENTITY]) & (scores >= threshold))[0]
    spans = [
        Span(doc, int(candidates[i, 0]), int(candidates[i, 1]), label=labels[best[i]])
        for i in chosen
    ]
    return spans, [float(scores[i]) for i in chosen]


def select_non_overlapping(spans: Sequence[Span], scores: Sequence[float]) -> List[int]:
    """Greedy selection of non-overlapping spans: the highest score first
    (ties: the earlier, then the shorter span), then every span that
    overlaps no span taken before it.

    spans (Sequence[Span]): Spans of one doc.
    scores (Sequence[float]): The score of each span.
    RETURNS (List[int]): Indices of the spans taken, in the order of `spans`.
    """
    if not spans:
        return []
    starts = numpy.asarray([s.start for s in spans])
    ends = numpy.asarray([s.end for s in spans])
    order = numpy.lexsort((ends, starts, -numpy.asarray(scores, dtype="float64")))
    taken = numpy.zeros(int(ends.max()), dtype=bool)
    chosen = []
    for i in order:
        if not taken[starts[i] : ends[i]].any():
            taken[starts[i] : ends[i]] = True
            chosen.append(int(i))
    return sorted(chosen)


def gold_spans(spans: Iterable[Span]) -> List[Span]:
    """spans (Iterable[Span]): Gold entities, aligned to the predicted doc.
    RETURNS (List[Span]): Them without whitespace at their edges (as
    candidates have none); entities of whitespace only are left out."""
    out = []
    for span in spans:
        trimmed = trim_whitespace(span)
        if trimmed is not None:
            out.append(trimmed)
    return out


def combine_scores(span_probs: numpy.ndarray, path_probs: numpy.ndarray, tagger_weight: float) -> numpy.ndarray:
    """Class probabilities of the candidates from two experts: the span
    head's, and the tagger's (`tag_span_marginals`), as a weighted geometric
    mean per label; "no entity" gets what the labels leave.

    span_probs (numpy.ndarray): (n_candidates, 1 + n_labels), "no entity"
        first.
    path_probs (numpy.ndarray): (n_candidates, n_labels).
    tagger_weight (float): The tagger's weight in [0, 1]; 0 keeps the span
        head's probabilities.
    RETURNS (numpy.ndarray): (n_candidates, 1 + n_labels).
    """
    if tagger_weight == 0.0 or not len(span_probs):
        return span_probs
    combined = numpy.empty_like(span_probs)
    combined[:, 1:] = span_probs[:, 1:] ** (1.0 - tagger_weight) * path_probs ** tagger_weight
    combined[:, NO_ENTITY] = numpy.clip(1.0 - combined[:, 1:].sum(axis=1), 0.0, 1.0)
    return combined


def tag_span_marginals(
    candidates: numpy.ndarray, tag_probs: numpy.ndarray, start: numpy.ndarray, allowed: numpy.ndarray
) -> numpy.ndarray:
    """The probability that each candidate is exactly an entity of each
    label, under the distribution over valid IOB2 tag sequences that the
    tagger's probabilities define (the tags as potentials, the sequences
    restricted by `allowed`; forward-backward): "B-" on its first token,
    "I-" on the others, and no "I-" of that label after it.

    candidates (numpy.ndarray): As returned by `candidate_spans`.
    tag_probs (numpy.ndarray): Tag probabilities (n_tokens, 1 + 2 * n_labels)
        in the order of `iob_labels`: "O", then "B-" and "I-" of each label.
    start (numpy.ndarray): Boolean (n_tags,): tags allowed first.
    allowed (numpy.ndarray): Boolean (n_tags, n_tags): `allowed[i, j]` if
        tag j may follow tag i (see `allowed_transitions`).
    RETURNS (numpy.ndarray): (n_candidates, n_labels) probabilities.
    """
    n_tokens, n_tags = tag_probs.shape
    n_labels = (n_tags - 1) // 2
    if not len(candidates) or not n_tokens:
        return numpy.zeros((len(candidates), n_labels), dtype="f")
    log_tags = numpy.log(numpy.clip(tag_probs.astype("float64"), 1e-30, 1.0))
    log_allowed = numpy.where(allowed, 0.0, -numpy.inf)
    forward = numpy.empty((n_tokens, n_tags))
    backward = numpy.zeros((n_tokens, n_tags))
    forward[0] = log_tags[0] + numpy.where(start, 0.0, -numpy.inf)
    for i in range(1, n_tokens):
        forward[i] = log_tags[i] + numpy.logaddexp.reduce(forward[i - 1][:, None] + log_allowed, axis=0)
    for i in range(n_tokens - 2, -1, -1):
        backward[i] = numpy.logaddexp.reduce(log_allowed + (log_tags[i + 1] + backward[i + 1])[None, :], axis=1)
    log_z = numpy.logaddexp.reduce(forward[-1])
    starts, ends = candidates[:, 0], candidates[:, 1]
    last = ends - 1
    after = numpy.minimum(ends, n_tokens - 1)
    out = numpy.zeros((len(candidates), n_labels), dtype="f")
    for i in range(n_labels):
        b, inside = 1 + 2 * i, 2 + 2 * i
        cum_inside = numpy.concatenate([[0.0], numpy.cumsum(log_tags[:, inside])])
        # After its last token: every continuation but "I-" of the label.
        # The rows of "B-" and "I-" of a label allow the same next tags.
        every = backward[last, inside]
        continues = log_tags[after, inside] + backward[after, inside]
        ratio = numpy.clip(numpy.exp(continues - every), 0.0, 1.0 - 1e-12)
        end = numpy.where(ends < n_tokens, every + numpy.log1p(-ratio), 0.0)
        log_marginal = forward[starts, b] + cum_inside[ends] - cum_inside[starts + 1] + end - log_z
        out[:, i] = numpy.exp(numpy.minimum(log_marginal, 0.0))
    return out

