"""Components that fail on purpose, for the batch annotation tests: loaded in
the annotating process (and in Ray's workers) with `--import
helpers.annotate_components`, so `tests/` must be on the workers' path."""
import os
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc

TRIGGER = "FAIL-HERE"


class FailOn:
    """On a doc whose text contains TRIGGER: "raise" raises, "raise_once"
    raises only while `marker` does not exist (and creates it), "exit_once"
    ends the whole process at once (as a crash or an out-of-memory kill
    would), also only while `marker` does not exist."""

    def __init__(self, mode: str, marker: str):
        self.mode, self.marker = mode, Path(marker)

    def __call__(self, doc: Doc) -> Doc:
        if TRIGGER not in doc.text:
            return doc
        if self.mode == "raise":
            raise RuntimeError("this text is poison")
        if self.marker.exists():
            return doc
        self.marker.touch()
        if self.mode == "exit_once":
            os._exit(17)
        raise RuntimeError("failing once")


@Language.factory("fail_on_trigger", default_config={"mode": "raise", "marker": ""})
def make_fail_on_trigger(nlp: Language, name: str, mode: str, marker: str) -> FailOn:
    return FailOn(mode, marker)
