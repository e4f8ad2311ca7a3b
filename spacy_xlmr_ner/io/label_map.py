"""Label mappings that unify the entity types of several datasets (as T-NER's
unified label set does), applied to IOB2 tags at conversion time."""
import json
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from ..decoding.labels import OUTSIDE, split_tag

# Map a label to this to drop its entities (they are counted, never lost silently).
DROP = OUTSIDE


def load_label_map(spec: Union[str, Path, Dict[str, str], None]) -> Optional[Dict[str, str]]:
    """Read a label mapping.

    spec (Union[str, Path, Dict[str, str], None]): A JSON file holding an object
        `{"PERSON": "PER", ...}`, an inline string `"PERSON=PER,GPE=LOC"`, a
        dict, or None. A label mapped to "O" is dropped.
    RETURNS (Optional[Dict[str, str]]): The mapping, or None for no mapping.
    """
    if spec is None or isinstance(spec, dict):
        mapping = spec
    elif Path(spec).suffix == ".json" or Path(spec).is_file():
        path = Path(spec)
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: cannot read the label map: {err}") from None
        if not isinstance(mapping, dict):
            raise ValueError(f"{path}: a label map must be a JSON object of label -> label")
    else:
        mapping = {}
        for item in str(spec).split(","):
            source, sep, target = (part.strip() for part in item.partition("="))
            if not sep or not source or not target:
                raise ValueError(f"Bad label map item {item!r}: expected SOURCE=TARGET")
            mapping[source] = target
    if mapping is None:
        return None
    for source, target in mapping.items():
        if not isinstance(source, str) or not isinstance(target, str) or not source or not target:
            raise ValueError(f"Bad label map entry {source!r}: {target!r}: labels must be non-empty strings")
        if any(c.isspace() for c in target) or target.startswith(("B-", "I-")):
            raise ValueError(f"Bad label map target {target!r} for {source!r}: give a bare label such as 'PER'")
    return dict(mapping)


def map_tags(tags: List[str], mapping: Dict[str, str]) -> Tuple[List[str], Counter, Counter]:
    """Rename the entity labels of one sentence's IOB2 tags.

    Entity boundaries are kept: two adjacent entities whose labels map to the
    same label stay two entities, since each keeps its `B-` tag.

    tags (List[str]): IOB2 tags.
    mapping (Dict[str, str]): Label -> new label; labels not in it are kept,
        labels mapped to "O" are dropped.
    RETURNS (Tuple[List[str], Counter, Counter]): The new tags, the entities
        renamed per (old, new) label pair, and the entities dropped per label.
    """
    renamed: Counter = Counter()
    dropped: Counter = Counter()
    out = []
    for tag in tags:
        if tag == OUTSIDE:
            out.append(tag)
            continue
        prefix, label = split_tag(tag)
        target = mapping.get(label, label)
        if prefix == "B":
            if target == DROP:
                dropped[label] += 1
            elif target != label:
                renamed[label, target] += 1
        out.append(OUTSIDE if target == DROP else f"{prefix}-{target}")
    return out, renamed, dropped
