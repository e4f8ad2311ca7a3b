"""Entities of annotated docs as plain data (for JSON, printing and APIs)."""
from typing import Dict, List

from spacy.tokens import Doc

from ..pipeline.xlmr_ner import DEFAULT_SPANS_KEY


def doc_entities(doc: Doc, spans_key: str = DEFAULT_SPANS_KEY) -> List[Dict]:
    """List a doc's entities with character offsets and confidence.

    doc (Doc): A doc annotated by `xlmr_ner`.
    spans_key (str): The component's `spans_key`, where the scores live.
    RETURNS (List[Dict]): Per entity, in order: "text", "label", "start" and
        "end" (character offsets into `doc.text`) and "score" (None when the
        doc has no scores for that entity, e.g. entities set by another
        component).
    """
    scores = {}
    if spans_key in doc.spans:
        group = doc.spans[spans_key]
        scores = {
            (span.start, span.end, span.label): score
            for span, score in zip(group, group.attrs.get("scores", []))
        }
    return [
        {
            "text": ent.text,
            "label": ent.label_,
            "start": ent.start_char,
            "end": ent.end_char,
            "score": scores.get((ent.start, ent.end, ent.label)),
        }
        for ent in doc.ents
    ]
