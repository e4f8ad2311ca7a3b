"""NER metrics over `Example`s: strict span P/R/F per type (spaCy's
`get_ner_prf`, equal to seqeval's default mode on IOB2), type-ignored span
detection P/R/F, token accuracy and the confusion between types, and
scoring over the entity types two datasets share (`restrict_labels`, `restrict_doc`)."""
from collections import Counter, defaultdict
from typing import Collection, Dict, Iterable, List, Optional, Set, Tuple

from spacy.scorer import PRFScore, get_ner_prf
from spacy.tokens import Doc
from spacy.training import Example
from spacy.training.iob_utils import biluo_to_iob, doc_to_biluo_tags

# The row / column of the confusion table for "no entity with these boundaries".
NONE = "O"


def score_examples(examples: Iterable[Example]) -> Dict:
    """Every metric of this module for a set of examples.

    examples (Iterable[Example]): Predicted docs (`eg.predicted`) with their gold docs.
    RETURNS (Dict): `ents_p`, `ents_r`, `ents_f`, `ents_per_type` (strict:
        label and boundaries must match; from spaCy's `get_ner_prf`),
        `untyped_p`, `untyped_r`, `untyped_f` (boundaries only), `token_acc`
        (IOB2 tag accuracy), `confusion` ({gold label: {predicted label: n}},
        "O" for no entity with those boundaries), `n_docs`, `n_gold_ents`.
    """
    examples = list(examples)
    scores = get_ner_prf(examples)
    aligned = [_aligned_entities(eg) for eg in examples]
    scores.update({f"untyped_{k}": v for k, v in _untyped_prf(aligned).items()})
    scores["token_acc"] = token_accuracy(examples)
    scores["confusion"] = _confusion(aligned)
    scores["n_docs"] = len(examples)
    scores["n_gold_ents"] = sum(len(eg.reference.ents) for eg in examples if _annotated(eg))
    return scores


def restrict_doc(doc: Doc, labels: Collection[str]) -> Tuple[Doc, List[str]]:
    """Keep only the entities of some types in a doc: the others become "O".

    doc (Doc): An annotated doc; it is not changed.
    labels (Collection[str]): The entity types to keep.
    RETURNS (Tuple[Doc, List[str]]): The doc, or a copy without the other
        types' entities, and the labels of the entities removed.
    """
    dropped = [ent for ent in doc.ents if ent.label_ not in labels]
    if not dropped:
        return doc, []
    copy = doc.copy()
    copy.set_ents([], outside=[copy[ent.start : ent.end] for ent in dropped], default="unmodified")
    return copy, [ent.label_ for ent in dropped]


def restrict_labels(examples: Iterable[Example], labels: Collection[str]) -> Tuple[List[Example], Counter]:
    """Keep only the entities of some types, in gold and predicted docs alike,
    to score a model on data annotated with other types (a model trained with
    MISC on data without it, or the reverse), as T-NER's cross-domain matrix
    does over the types two datasets share.

    The entities of other types become "O" in copies of the docs (see
    `restrict_doc`); the inputs are unchanged, and what was removed is counted.

    examples (Iterable[Example]): Predicted docs with their gold docs.
    labels (Collection[str]): The entity types to keep.
    RETURNS (Tuple[List[Example], Counter]): The restricted examples, and the
        entities removed per ("gold" or "predicted", label).
    """
    keep = set(labels)
    removed: Counter = Counter()
    restricted = []
    for eg in examples:
        predicted, pred_removed = restrict_doc(eg.predicted, keep)
        gold, gold_removed = restrict_doc(eg.reference, keep)
        removed.update(("predicted", label) for label in pred_removed)
        removed.update(("gold", label) for label in gold_removed)
        restricted.append(Example(predicted, gold))
    return restricted, removed


def span_detection_prf(examples: Iterable[Example]) -> Dict[str, Optional[float]]:
    """Type-ignored P/R/F: a predicted entity is correct if a gold entity has
    the same boundaries, whatever the labels.

    examples (Iterable[Example]): The examples.
    RETURNS (Dict[str, Optional[float]]): `p`, `r`, `f`; None when there are
        neither gold nor predicted entities.
    """
    return _untyped_prf(_aligned_entities(eg) for eg in examples)


def _untyped_prf(aligned: Iterable[Tuple[Set, List]]) -> Dict[str, Optional[float]]:
    prf = PRFScore()
    for pred, gold in aligned:
        pred_bounds = {(start, end) for _, start, end in pred}
        gold_bounds = {(start, end) for _, start, end in gold}
        prf.tp += len(pred_bounds & gold_bounds)
        prf.fp += len(pred_bounds - gold_bounds)
        prf.fn += len(gold_bounds - pred_bounds)
    if not len(prf):
        return {"p": None, "r": None, "f": None}
    return {"p": prf.precision, "r": prf.recall, "f": prf.fscore}


def type_confusion(examples: Iterable[Example]) -> Dict[str, Dict[str, int]]:
    """Count, for each gold entity, the label of the predicted entity with the
    same boundaries ("O" if none), and for each predicted entity without a
    gold entity of the same boundaries, ("O", its label).

    The diagonal holds the strict true positives; the cells off the diagonal
    and outside the "O" row and column are type errors with right boundaries.

    examples (Iterable[Example]): The examples.
    RETURNS (Dict[str, Dict[str, int]]): {gold label: {predicted label: count}}.
    """
    return _confusion(_aligned_entities(eg) for eg in examples)


def _confusion(aligned: Iterable[Tuple[Set, List]]) -> Dict[str, Dict[str, int]]:
    counts: Counter = Counter()
    for pred, gold in aligned:
        pred_by_bounds = {(start, end): label for label, start, end in pred}
        gold_by_bounds = {(start, end): label for label, start, end in gold}
        for bounds, label in gold_by_bounds.items():
            counts[label, pred_by_bounds.get(bounds, NONE)] += 1
        for bounds, label in pred_by_bounds.items():
            if bounds not in gold_by_bounds:
                counts[NONE, label] += 1
    table: Dict[str, Dict[str, int]] = defaultdict(dict)
    for (gold_label, pred_label), n in sorted(counts.items()):
        table[gold_label][pred_label] = n
    return dict(table)


def token_accuracy(examples: Iterable[Example]) -> Optional[float]:
    """The share of tokens whose predicted IOB2 tag (B-X, I-X or O) equals
    the gold one, as seqeval's `accuracy_score` when the tokens are the
    same. Otherwise gold tags come from spaCy's alignment
    (`Example.get_aligned_ner`), and predicted tokens it leaves without a tag
    (e.g. inside a gold entity split differently) are not counted.

    examples (Iterable[Example]): The examples.
    RETURNS (Optional[float]): The accuracy, or None without countable tokens.
    """
    right = total = 0
    for eg in examples:
        if not _annotated(eg):
            continue
        pred = biluo_to_iob(doc_to_biluo_tags(eg.predicted))
        pairs = [(p, g) for p, g in zip(pred, eg.get_aligned_ner()) if g is not None and g != "-"]
        if not pairs:
            continue
        gold = biluo_to_iob([g for _, g in pairs])
        total += len(pairs)
        right += sum(p == g for (p, _), g in zip(pairs, gold))
    return right / total if total else None


def _annotated(eg: Example) -> bool:
    return eg.reference.has_annotation("ENT_IOB")


def _aligned_entities(eg: Example) -> Tuple[Set[Tuple[str, int, int]], List[Tuple[str, int, int]]]:
    """Predicted and gold entities as (label, start, end) in gold token
    offsets, with the same alignment rules as `get_ner_prf`: a predicted
    entity over unannotated or unalignable gold tokens is ignored."""
    if not _annotated(eg):
        return set(), []
    gold = [(ent.label_, ent.start, ent.end) for ent in eg.reference.ents]
    pred = set()
    x2y = eg.alignment.x2y
    for ent in eg.predicted.ents:
        indices = x2y[ent.start : ent.end]
        if len(indices) and all(token.ent_iob != 0 for token in eg.reference[indices[0] : indices[-1] + 1]):
            pred.add((ent.label_, int(indices[0]), int(indices[-1]) + 1))
    return pred, gold
