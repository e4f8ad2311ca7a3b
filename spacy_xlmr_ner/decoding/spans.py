"""From decoded tag ids to entity spans with confidence scores."""
from typing import List, Optional, Tuple

import numpy
from spacy.tokens import Doc, Span
from spacy.training.iob_utils import biluo_tags_to_spans, iob_to_biluo


def tags_to_spans(
    doc: Doc, tag_ids: numpy.ndarray, probs: numpy.ndarray, tags: List[str]
) -> Tuple[List[Span], List[float]]:
    """Turn a valid IOB2 tag-id sequence into entity spans.

    As with spaCy's `ner`, an entity neither starts nor ends on a whitespace
    token: those are trimmed off its edges, and an entity of whitespace only
    is not one. The confidence of an entity is the mean, over its tokens, of
    the probability the model gave the decoded tag.

    doc (Doc): The document the tags belong to.
    tag_ids (numpy.ndarray): Decoded tag ids, one per token.
    probs (numpy.ndarray): Tag probabilities, shape (n_tokens, n_tags).
    tags (List[str]): The IOB2 tag set that the ids index.
    RETURNS (Tuple[List[Span], List[float]]): The entities and their scores.
    """
    if len(doc) == 0:
        return [], []
    chosen = probs[numpy.arange(len(tag_ids)), tag_ids]
    spans = []
    scores = []
    for span in biluo_tags_to_spans(doc, iob_to_biluo([tags[i] for i in tag_ids])):
        trimmed = trim_whitespace(span)
        if trimmed is not None:
            spans.append(trimmed)
            scores.append(float(chosen[trimmed.start : trimmed.end].mean()))
    return spans, scores


def trim_whitespace(span: Span) -> Optional[Span]:
    """span (Span): An entity. RETURNS (Optional[Span]): The entity without
    whitespace tokens at its edges, or None if it has nothing else."""
    start, end = span.start, span.end
    doc = span.doc
    while start < end and doc[start].is_space:
        start += 1
    while end > start and doc[end - 1].is_space:
        end -= 1
    if start == end:
        return None
    return Span(doc, start, end, label=span.label)
