"""Batch annotation: a pipeline's entities for every row of JSONL, Parquet or
text files, written as shards of Parquet or JSONL, in this process or on a Ray
cluster (the `ray` extra).

    from spacy_xlmr_ner.annotate import annotate
    summary = annotate("training/xlmr_ner_demo/model-best", "docs.jsonl", "annotated/")

or `xlmr-ner-annotate PIPELINE INPUT OUTPUT` from the shell.
"""
from .engines import ENGINES  # noqa: F401
from .inputs import FORMATS, InputError  # noqa: F401
from .outputs import OUTPUT_FORMATS, OutputError, read_output  # noqa: F401
from .run import PipelineNotFound, annotate  # noqa: F401

__all__ = ["annotate", "read_output", "InputError", "OutputError", "PipelineNotFound", "ENGINES", "FORMATS", "OUTPUT_FORMATS"]
