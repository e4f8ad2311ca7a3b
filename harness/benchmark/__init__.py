"""Side-by-side benchmark of `xlmr_ner`, spaCy's `transformer` + `ner` and the reference recipe."""
from .run import Bench, BenchSettings, markdown_report  # noqa: F401
