"""Evaluation: metrics over Examples, per-language runs, tables and plots."""
from .metrics import restrict_doc, restrict_labels, score_examples, span_detection_prf, token_accuracy, type_confusion  # noqa: F401
from .report import format_results, markdown_matrix, markdown_results  # noqa: F401
from .runner import evaluate_per_language, predict_examples  # noqa: F401
