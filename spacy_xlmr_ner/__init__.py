"""Multilingual named entity recognition for spaCy on XLM-R encoders."""
from .pipeline.build import create_pipeline  # noqa: F401
from .pipeline.transformer import XLMRTransformer, make_xlmr_transformer  # noqa: F401
from .pipeline.xlmr_ner import XLMRNER, make_xlmr_ner  # noqa: F401
from .pipeline.span_ner import XLMRSpanNER, make_xlmr_span_ner  # noqa: F401

__version__ = "0.1.0"
