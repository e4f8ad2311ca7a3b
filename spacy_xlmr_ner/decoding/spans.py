"""From decoded tag ids to entity spans with confidence scores."""
from typing import List, Tuple

import numpy
from spacy.tokens import Doc, Span
from spacy.training.iob_utils import biluo_tags_to_spans, iob_to_biluo


def tags_to_spans(
    doc: Doc, tag_ids: numpy.ndarray, probs: numpy.ndarray, tags: List[str]
) -> Tuple[List[Span], List[float]]:
    """Turn a valid IOB2 tag-id sequence into entity spans.

    The confidence of an entity is the mean, over its tokens, of the
    probability the model gave the decoded tag.

    doc (Doc): The document the tags belong to.
    tag_ids (numpy.ndarray): Decoded tag ids, one per token.
    probs (numpy.ndarray): Tag probabilities, shape (n_tokens, n_tags).
    tags (List[str]): The IOB2 tag set that the ids index.
    RETURNS (Tuple[List[Span], List[float]]): The entities and their scores.
    """
    if len(doc) == 0:
        return [], []
    spans = biluo_tags_to_spans(doc, iob_to_biluo([tags[i] for i in tag_ids]))
    chosen = probs[numpy.arange(len(tag_ids)), tag_ids]
    scores = [float(chosen[span.start : span.end].mean()) for span in spans]
    return spans, scores
