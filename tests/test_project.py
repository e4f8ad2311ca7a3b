"""project.yml: every command documented with help, deps and outputs, and the
variables resolve into separate paths."""
from pathlib import Path

import pytest
from weasel.util import load_project_config

REPO = Path(__file__).parent.parent
CONFIG = load_project_config(REPO, overrides={"vars.demo_encoder": "/abs/encoder"})
COMMANDS = {cmd["name"]: cmd for cmd in CONFIG["commands"]}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_deps_outputs(name):
    cmd = COMMANDS[name]
    assert cmd.get("help")
    assert "deps" in cmd and cmd.get("outputs")
    for path in cmd["deps"] + cmd["outputs"]:
        # weasel joins adjacent list items that both start with a variable.
        assert ", " not in path, (name, path)
    for line in cmd["script"]:
        assert "${" not in line


def test_workflows():
    assert CONFIG["workflows"]["all"] == ["download", "convert", "train", "evaluate", "package"]
    assert CONFIG["workflows"]["demo"][0] == "encoder" and CONFIG["workflows"]["demo"][-1] == "demo-predict"
    for steps in CONFIG["workflows"].values():
        assert set(steps) <= set(COMMANDS)
    assert COMMANDS["demo-train"]["deps"] == ["configs/cpu.cfg", "corpus/spacy-sample", "/abs/encoder"]


def test_config_values_come_from_vars_not_copied_configs():
    train = " ".join(COMMANDS["train"]["script"])
    for option in ("--paths.encoder xlm-roberta-base", "--corpora.train.langs de", "configs/xlmr_base.cfg"):
        assert option in train
