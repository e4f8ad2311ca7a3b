"""Lists of languages (and other comma-separated options): one parser for the
readers, the scripts, the model card and the harness."""
from typing import List, Optional, Sequence, Union

ALL = "all"


def split_list(spec: Union[str, Sequence[str], None]) -> List[str]:
    """Split a comma-separated option into its items.

    spec (Union[str, Sequence[str], None]): "de, es" or ["de", "es"]; None or
        "" for none.
    RETURNS (List[str]): The items, stripped, without empty ones or repeats,
        in their first order.
    """
    if spec is None:
        return []
    items = spec.split(",") if isinstance(spec, str) else [str(item) for item in spec]
    return list(dict.fromkeys(item.strip() for item in items if item.strip()))


def parse_langs(spec: Union[str, Sequence[str], None], available: Optional[Sequence[str]] = None) -> List[str]:
    """Languages from a comma-separated option or a list, with "all" for every
    available one.

    spec (Union[str, Sequence[str], None]): "de,es", ["de", "es"] or "all".
    available (Optional[Sequence[str]]): The languages "all" stands for; None
        keeps "all" as it is.
    RETURNS (List[str]): The language codes, in the given order ("all":
        sorted).
    """
    langs = split_list(spec)
    if langs == [ALL] and available is not None:
        return sorted(available)
    return langs
