"""Packaging trained pipelines: the model card and the wheel."""
from .model_card import write_model_card  # noqa: F401
from .wheel import PackagingError, build_pipeline_wheel  # noqa: F401
