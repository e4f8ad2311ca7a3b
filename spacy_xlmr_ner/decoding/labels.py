"""The IOB2 label set built from entity labels: the one place that decides tag ids."""
from typing import Iterable, List, Tuple

import numpy

OUTSIDE = "O"


def iob_labels(entity_labels: Iterable[str]) -> List[str]:
    """Build the IOB2 tag set for a list of entity labels.

    entity_labels (Iterable[str]): Entity labels, e.g. ["LOC", "ORG", "PER"].
    RETURNS (List[str]): "O", then "B-X", "I-X" for every label X, in order.
    """
    tags = [OUTSIDE]
    for label in entity_labels:
        tags.extend((f"B-{label}", f"I-{label}"))
    return tags


def allowed_transitions(tags: List[str]) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Which tags may start a sequence and which may follow which in IOB2.

    An "I-X" tag may only follow "B-X" or "I-X"; every other tag may follow
    anything. A sequence may not start with "I-X".

    tags (List[str]): The IOB2 tag set, as built by `iob_labels`.
    RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): A boolean array `start` of
        shape (n_tags,) and a boolean array `allowed` of shape (n_tags, n_tags)
        where `allowed[i, j]` says whether tag j may follow tag i.
    """
    n_tags = len(tags)
    start = numpy.ones((n_tags,), dtype=bool)
    allowed = numpy.ones((n_tags, n_tags), dtype=bool)
    for j, tag in enumerate(tags):
        if tag.startswith("I-"):
            start[j] = False
            label = tag[2:]
            allowed[:, j] = False
            allowed[tags.index(f"B-{label}"), j] = True
            allowed[j, j] = True
    return start, allowed
