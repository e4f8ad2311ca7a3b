"""Every name the package registers is declared as an entry point, and every
entry point resolves through spaCy's registries."""
import configparser
import importlib.metadata
from pathlib import Path

import pytest
import spacy
import spacy_transformers.util
from spacy.util import registry

from helpers import REPO

SETUP_CFG = REPO / "setup.cfg"
REGISTRIES = {
    "spacy_architectures": registry.architectures,
    "spacy_readers": registry.readers,
    "spacy_callbacks": registry.callbacks,
    "thinc_layers": registry.layers,
    "spacy_tokenizers": registry.tokenizers,
    # spacy-transformers adds this registry to spaCy's when imported.
    "spacy_span_getters": spacy_transformers.util.registry.span_getters,
}


def declared_entry_points():
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    section = parser["options.entry_points"]
    out = []
    for group in section:
        for line in section[group].strip().splitlines():
            name, target = (part.strip() for part in line.split("=", 1))
            out.append((group, name, target))
    return out


ENTRY_POINTS = declared_entry_points()


def test_entry_points_are_declared():
    groups = {group for group, _, _ in ENTRY_POINTS}
    assert groups == {"spacy_factories", "console_scripts", *REGISTRIES}
    names = {name for _, name, _ in ENTRY_POINTS}
    assert {"xlmr_ner", "spacy-xlmr-ner.TokenClassifier.v1", "xlmr_span_ner", "spacy-xlmr-ner.SpanClassifier.v1", "spacy-xlmr-ner.SpanClassifier.v2"} <= names


def test_entry_points_are_installed():
    # The installed metadata matches setup.cfg (catches a stale install).
    installed = {
        (ep.group, ep.name, ep.value)
        for ep in importlib.metadata.distribution("spacy-xlmr-ner").entry_points
    }
    assert set(ENTRY_POINTS) == installed


@pytest.mark.parametrize("group,name,target", ENTRY_POINTS)
def test_entry_point_resolves(group, name, target):
    if group == "spacy_factories":
        # No import of the package: spaCy finds the factory by its entry point.
        nlp = spacy.blank("xx")
        pipe = nlp.add_pipe(name)
        expected = {
            "xlmr_ner": ("XLMRNER", "doc.ents"),
            "xlmr_span_ner": ("XLMRSpanNER", "doc.ents"),
            "xlmr_transformer": ("XLMRTransformer", "doc._.trf_data"),
        }
        assert (type(pipe).__name__, nlp.get_pipe_meta(name).assigns[0]) == expected[name]
    elif group == "console_scripts":
        module, attr = target.split(":")
        assert callable(getattr(importlib.import_module(module), attr))
    else:
        func = REGISTRIES[group].get(name)
        module, attr = target.split(":")
        assert func.__module__ == module and func.__name__ == attr


def test_every_registered_name_is_an_entry_point():
    import spacy_xlmr_ner.io.readers  # noqa: F401
    import spacy_xlmr_ner.models  # noqa: F401
    import spacy_xlmr_ner.models.span_getters  # noqa: F401
    import spacy_xlmr_ner.tokenization.tokenizer  # noqa: F401
    import spacy_xlmr_ner.training.callbacks  # noqa: F401

    declared = {(group, name) for group, name, _ in ENTRY_POINTS}
    for group, reg in REGISTRIES.items():
        ours = {n for n in reg.get_all() if n.startswith("spacy-xlmr-ner.")}
        assert ours, group
        assert {(group, n) for n in ours} <= declared
    factories = {n for n in spacy.registry.factories.get_all() if "xlmr" in n}
    assert {(("spacy_factories", n)) for n in factories} <= declared
