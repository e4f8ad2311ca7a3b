"""Loading the pipeline to serve, and describing it for `GET /meta`."""
import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

import spacy
from spacy.language import Language

from ..io.output import nan_to_none
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


# What spaCy's `Language.meta` says when meta.json does not (a training
# directory before the model card step): not names to show.
SPACY_DEFAULT_NAME, SPACY_DEFAULT_VERSION = "pipeline", "0.0.0"
# The directories `spacy train` saves into, named after nothing in particular.
TRAINING_OUTPUTS = ("model-best", "model-last")


def display_name(source: Union[str, Path]) -> str:
    """A name for a pipeline whose meta has none of its own.

    source (Union[str, Path]): Where it was loaded from: a directory, a
        package or a Hugging Face checkpoint.
    RETURNS (str): The directory's (or package's) name; for `spacy train`'s
        model-best and model-last, the name of the directory above.
    """
    path = Path(os.path.abspath(source))
    if path.name in TRAINING_OUTPUTS and path.parent.name:
        return path.parent.name
    return path.name or str(source)


def describe(nlp: Language, source: Optional[Union[str, Path]] = None) -> Dict[str, Any]:
    """What `GET /meta` tells about a pipeline, from `nlp.meta` (the model
    card) and its `xlmr_ner` component.

    nlp (Language): The pipeline.
    source (Optional[Union[str, Path]]): Where it was loaded from, as given
        (a directory, package name or checkpoint); None: `nlp.path`, the
        directory it was last read from, if any.
    RETURNS (Dict[str, Any]): "name" (the meta's; if that is spaCy's default
        "pipeline", the source's `display_name`), "lang", "version" (the
        meta's; "" for spaCy's default "0.0.0"), "source" (as a string; ""
        if unknown), "description", "pipeline" (component names), "labels"
        (of the `xlmr_ner` component; [] without one), "languages"
        (`meta["languages"]`, [] if absent) and "performance"
        (`meta["performance"]`, {} if absent, e.g. per-language test metrics).
    """
    meta = nlp.meta
    ner = ner_component(nlp)
    if source is None:
        source = nlp.path
    name = meta.get("name", "")
    if name in ("", SPACY_DEFAULT_NAME) and source is not None:
        name = display_name(source)
    version = meta.get("version", "")
    return nan_to_none(
        {
            "name": name,
            "lang": nlp.lang,
            "version": "" if version == SPACY_DEFAULT_VERSION else version,
            "source": str(source) if source is not None else "",
            "description": meta.get("description", ""),
            "pipeline": list(nlp.pipe_names),
            "labels": list(ner.labels) if ner is not None else [],
            "languages": list(meta.get("languages", [])),
            "performance": meta.get("performance", {}) or {},
        }
    )
