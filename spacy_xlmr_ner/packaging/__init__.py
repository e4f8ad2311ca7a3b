"""Packaging trained pipelines: the model card."""
from .model_card import write_model_card  # noqa: F401
