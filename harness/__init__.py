"""The project's own harness: the benchmark, the cross-lingual experiments and
the offline encoder builder. It lives beside the package and is not installed
with `pip install spacy-xlmr-ner`; `scripts/` and `bench/bench.py` import it
from the repository."""
import os
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parent.parent


def child_env() -> Dict[str, str]:
    """The environment for a child process that runs `python -m harness...`:
    this one's, with the repository on PYTHONPATH.

    RETURNS (Dict[str, str]): The environment.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env
