"""Getting a trained pipeline ready to annotate in a process of its own (a
server worker, a batch-annotation worker): imports, threads, GPU, precision,
and where its scores are."""
from importlib import import_module
from typing import Sequence

from spacy.language import Language

from ..models.precision import PRECISIONS
from .entity_pipe import find_entity_pipe
from .xlmr_ner import DEFAULT_SPANS_KEY


def prepare_process(imports: Sequence[str] = (), threads: int = 0, gpu_id: int = -1) -> None:
    """Set up this process before a pipeline loads.

    imports (Sequence[str]): Modules to import first: where components that
        are not entry points are registered.
    threads (int): torch threads (intra-op); 0 leaves torch's default.
    gpu_id (int): GPU to run on; -1 for CPU.
    """
    for module in imports:
        import_module(module)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    if gpu_id >= 0:
        import spacy

        spacy.require_gpu(gpu_id)


def apply_precision(nlp: Language, precision: str, name: str = "pipeline") -> None:
    """Switch every `xlmr_transformer` of a loaded pipeline to a precision
    (`XLMRTransformer.set_precision`).

    nlp (Language): The pipeline.
    precision (str): "fp32", "bf16" or "int8".
    name (str): The pipeline's name or path, for the message.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision == "fp32":
        return
    encoders = [proc for _, proc in nlp.pipeline if hasattr(proc, "set_precision")]
    if not encoders:
        raise ValueError(f"{name} has no xlmr_transformer component: it runs in fp32 only")
    for encoder in encoders:
        encoder.set_precision(precision)


def scores_key(nlp: Language) -> str:
    """nlp (Language): A pipeline.
    RETURNS (str): The `doc.spans` key where its entity component keeps the
        entities' scores (the default key if it has no such component).
    """
    ner = find_entity_pipe(nlp)
    return ner.cfg["spans_key"] if ner is not None else DEFAULT_SPANS_KEY
