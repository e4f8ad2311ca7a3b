"""A web demo and REST API over any pipeline with `xlmr_ner` (FastAPI).

    from spacy_xlmr_ner.serve import create_app
    app = create_app("training/xlmr_ner/model-best")

or, from the shell, `xlmr-ner-serve PIPELINE --port 8000`. Needs the `serve`
extra: `pip install "spacy-xlmr-ner[serve]"`.
"""
from types import ModuleType

from ..extras import MissingExtra, import_extra, install_line
from .body import Limits  # noqa: F401

SERVE_EXTRA = install_line("serve")
# The top-level packages the serve extra brings (starlette comes with fastapi).
SERVE_PACKAGES = ("fastapi", "starlette", "uvicorn")
MissingServeExtra = MissingExtra


def import_serve_module(name: str) -> ModuleType:
    """Import a module that needs the `serve` extra.

    name (str): An absolute name ("uvicorn") or one relative to this package
        (".app").
    RETURNS (ModuleType): The module.
    """
    return import_extra(name, "serve", "The service", provides=SERVE_PACKAGES, anchor=__name__)


def __getattr__(name: str):
    # create_app is imported on first use, so that the CLI (and `Limits`) can
    # be imported without the extra and say what to install.
    if name == "create_app":
        return import_serve_module(".app").create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Limits", "create_app", "import_serve_module", "MissingServeExtra", "SERVE_EXTRA"]
