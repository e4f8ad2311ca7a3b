"""A web demo and REST API over any pipeline with `xlmr_ner` (FastAPI).

    from spacy_xlmr_ner.serve import create_app
    app = create_app("training/xlmr_ner/model-best")

or, from the shell, `xlmr-ner-serve PIPELINE --port 8000`. Needs the `serve`
extra: `pip install "spacy-xlmr-ner[serve]"`.
"""
from .app import create_app  # noqa: F401
from .body import Limits  # noqa: F401
