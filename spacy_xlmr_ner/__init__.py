"""Multilingual named entity recognition for spaCy on XLM-R encoders."""
from .pipeline.xlmr_ner import XLMRNER, make_xlmr_ner  # noqa: F401

__version__ = "0.1.0"
