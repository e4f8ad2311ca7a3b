"""Tag schemes and the IOB2 label set: the one place that reads tags and
decides tag ids.

Tags come as IOB1 or IOB2 (B-, I-), BIOES (B-, I-, E-, S-), BILOU (B-, I-,
L-, U-) or IO (plain labels, read by `split_tag` only); every other part of
the package works in IOB2.
"""
import re
from typing import Iterable, List, Tuple

import numpy
from spacy.training.iob_utils import biluo_to_iob, iob_to_biluo

OUTSIDE = "O"
# Names other tools give the outside tag, compared stripped and in lower case.
OUTSIDE_NAMES = ("o", "0", "outside")
# The IOB2 prefix of each scheme's prefix: S and U start an entity, E and L
# continue one.
IOB2_PREFIX = {"B": "B", "S": "B", "U": "B", "I": "I", "E": "I", "L": "I"}
_PREFIXED = re.compile(r"([BIESLU])-(.+)")
_SPACE = re.compile(r"\s")
# spaCy converts BILUO, so BIOES is spelled as BILUO on the way.
_BIOES_TO_BILUO = {"E": "L", "S": "U"}


def split_tag(tag: str) -> Tuple[str, str]:
    """Split a tag into its scheme prefix and its entity label.

    tag (str): A tag, e.g. "B-PER", "S-LOC", "O", or a plain label ("PER").
    RETURNS (Tuple[str, str]): The prefix ("B", "I", "E", "S", "L" or "U")
        and the label; ("O", "") for the outside tag; ("", tag) for anything
        else, such as a plain label of the IO scheme.
    """
    if tag == OUTSIDE:
        return OUTSIDE, ""
    match = _PREFIXED.fullmatch(tag)
    if match is None:
        return "", tag
    prefix, label = match.groups()
    return prefix, label


def is_outside(name: str) -> bool:
    """name (str): A label name from another tool, e.g. a checkpoint's `id2label`.
    RETURNS (bool): Whether it names the outside tag ("O", "0" or "outside",
        in any case).
    """
    return name.strip().lower() in OUTSIDE_NAMES


def is_tag(tag: str) -> bool:
    """tag (str): A tag as read from a file.
    RETURNS (bool): Whether it is "O", or an IOB1, IOB2, BIOES or BILOU tag
        whose label has no whitespace.
    """
    prefix, label = split_tag(tag)
    return prefix == OUTSIDE or (prefix != "" and not _SPACE.search(label))


def to_iob2(tags: List[str]) -> Tuple[List[str], List[int]]:
    """Convert one sentence's IOB1, IOB2, BIOES or BILOU tags to IOB2.

    tags (List[str]): The tags, each one for which `is_tag` holds.
    RETURNS (Tuple[List[str], List[int]]): The IOB2 tags, and the positions of
        broken entity starts (e.g. an `I-X` after `O`) that were turned into `B-X`.
    """
    iob2 = biluo_to_iob(iob_to_biluo([_BIOES_TO_BILUO.get(tag[0], tag[0]) + tag[1:] for tag in tags]))
    # What the tags would be if no entity start were broken.
    plain = [IOB2_PREFIX.get(tag[0], tag[0]) + tag[1:] for tag in tags]
    return iob2, [i for i, (old, new) in enumerate(zip(plain, iob2)) if old != new]


def entity_labels(tags: Iterable[str]) -> List[str]:
    """tags (Iterable[str]): Tags of any scheme but IO.
    RETURNS (List[str]): The entity labels they name, sorted.
    """
    return sorted({split_tag(tag)[1] for tag in tags if tag != OUTSIDE})


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
        prefix, label = split_tag(tag)
        if prefix == "I":
            start[j] = False
            allowed[:, j] = False
            allowed[tags.index(f"B-{label}"), j] = True
            allowed[j, j] = True
    return start, allowed


def unweight_outside(probs: numpy.ndarray, weight: float) -> numpy.ndarray:
    """Undo the loss weight of the "O" tag (column 0): a model trained with
    class weights estimates probabilities proportional to weight x the
    unweighted ones, so dividing by the weight and renormalizing recovers them.

    probs (numpy.ndarray): Probabilities (n_tokens, n_tags), "O" first.
    weight (float): The "O" tag's loss weight.
    RETURNS (numpy.ndarray): The corrected probabilities.
    """
    if not len(probs):
        return probs
    corrected = probs.copy()
    corrected[:, 0] /= weight
    return corrected / corrected.sum(axis=1, keepdims=True)
