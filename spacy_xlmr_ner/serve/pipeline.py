"""Loading the pipeline to serve, and describing it for `GET /meta`."""
import math
from pathlib import Path
from typing import Any, Dict, Union

import spacy
from spacy.language import Language

from .worker import ner_component


def load_pipeline(name_or_path: Union[str, Path], *, hf: bool = False) -> Language:
    """Load a pipeline to serve.

    name_or_path (Union[str, Path]): A pipeline directory or an installed
        package name; with `hf`, a Hugging Face token-classification checkpoint
        (directory or hub name).
    hf (bool): Convert a Hugging Face checkpoint with `spacy_xlmr_ner.hf.from_hf`.
    RETURNS (Language): The pipeline.
    """
    if hf:
        from ..hf import from_hf

        return from_hf(str(name_or_path))
    path = Path(name_or_path)
    if path.is_dir() and not (path / "config.cfg").exists() and (path / "config.json").exists():
        raise ValueError(
            f"{name_or_path} looks like a Hugging Face checkpoint (config.json, no "
            "config.cfg): serve it with --hf (create_app(..., hf=True))"
        )
    return spacy.load(name_or_path)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such scores become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def describe(nlp: Language) -> Dict[str, Any]:
    """What `GET /meta` tells about a pipeline, from `nlp.meta` (the model
    card) and its `xlmr_ner` component.

    nlp (Language): The pipeline.
    RETURNS (Dict[str, Any]): "name", "lang", "version", "description",
        "pipeline" (component names), "labels" (of the `xlmr_ner` component;
        [] without one),
        "languages" (`meta["languages"]`, [] if absent) and "performance"
        (`meta["performance"]`, {} if absent, e.g. per-language test metrics).
    """
    meta = nlp.meta
    ner = ner_component(nlp)
    return _finite(
        {
            "name": meta.get("name", ""),
            "lang": nlp.lang,
            "version": meta.get("version", ""),
            "description": meta.get("description", ""),
            "pipeline": list(nlp.pipe_names),
            "labels": list(ner.labels) if ner is not None else [],
            "languages": list(meta.get("languages", [])),
            "performance": meta.get("performance", {}) or {},
        }
    )
