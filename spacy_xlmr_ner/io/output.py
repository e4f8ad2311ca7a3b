"""Entities of annotated docs as plain data (for JSON, printing and APIs)."""
import math
import numbers
from typing import Any, Dict, List

from spacy.tokens import Doc

from ..pipeline.xlmr_ner import DEFAULT_SPANS_KEY
from ..vectors import VECTOR_ATTR, install_extension


def doc_entities(doc: Doc, spans_key: str = DEFAULT_SPANS_KEY, vectors: bool = False) -> List[Dict]:
    """List a doc's entities with character offsets and confidence.

    doc (Doc): A doc annotated by `xlmr_ner`.
    spans_key (str): The component's `spans_key`, where the scores live.
    vectors (bool): Also give each entity's "vector": its entity embedding
        (`span._.entity_vector`, see `spacy_xlmr_ner.vectors`) as a list of
        floats, or None if it has none.
    RETURNS (List[Dict]): Per entity, in order: "text", "label", "start" and
        "end" (character offsets into `doc.text`) and "score" (None when the
        doc has no scores for that entity, e.g. entities set by another
        component), and "vector" if asked for.
    """
    scores = {}
    if spans_key in doc.spans:
        group = doc.spans[spans_key]
        scores = {
            (span.start, span.end, span.label): score
            for span, score in zip(group, group.attrs.get("scores", []))
        }
    entities = [
        {
            "text": ent.text,
            "label": ent.label_,
            "start": ent.start_char,
            "end": ent.end_char,
            "score": scores.get((ent.start, ent.end, ent.label)),
        }
        for ent in doc.ents
    ]
    if vectors:
        install_extension()
        for entity, ent in zip(entities, doc.ents):
            vector = ent._.get(VECTOR_ATTR)
            entity["vector"] = None if vector is None else [float(x) for x in vector]
    return entities


def nan_to_none(value: Any) -> Any:
    """Make data JSON can hold: JSON has no NaN or infinity, so such numbers
    become None, in nested dicts, lists and tuples too.

    value (Any): A number, or a dict, list or tuple of any depth.
    RETURNS (Any): The value with every non-finite number replaced by None;
        dicts stay dicts, lists and tuples become lists.
    """
    if isinstance(value, numbers.Real) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: nan_to_none(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_to_none(v) for v in value]
    return value
