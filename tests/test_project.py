"""project.yml: every command documented with help, deps and outputs, and the
variables resolve into separate paths."""
from pathlib import Path

import pytest
from weasel.util import load_project_config

from helpers import REPO
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
    assert CONFIG["workflows"]["all"] == ["download", "convert", "train", "evaluate", "model-card", "package"]
    for study in ("zero-shot", "joint", "all-langs", "matrix"):
        assert CONFIG["workflows"][study] == ["encoder", "exp-convert", f"exp-{study}"]
    assert CONFIG["workflows"]["demo"][0] == "encoder" and CONFIG["workflows"]["demo"][-1] == "demo-predict"
    for steps in CONFIG["workflows"].values():
        assert set(steps) <= set(COMMANDS)
    assert COMMANDS["demo-train"]["deps"] == ["configs/cpu.cfg", "corpus/spacy-sample", "/abs/encoder"]


def test_config_values_come_from_vars_not_copied_configs():
    train = " ".join(COMMANDS["train"]["script"])
    for option in ("--paths.encoder xlm-roberta-base", "--corpora.train.langs de", "configs/xlmr_base.cfg"):
        assert option in train


def test_experiments_take_languages_encoder_and_data_from_vars():
    config = load_project_config(
        REPO, overrides={"vars.exp_langs": "de,fr", "vars.exp_encoder": "/enc", "vars.exp_iob_dir": "/data"}
    )
    commands = {cmd["name"]: " ".join(cmd["script"]) for cmd in config["commands"]}
    assert "scripts/convert.py /data corpus/experiments --langs de,fr" in commands["exp-convert"]
    assert "matrix corpus/experiments --langs de,fr" in commands["exp-matrix"]
    assert "--train-langs de,fr --eval-langs de,fr" in commands["exp-all-langs"]
    for name in ("exp-zero-shot", "exp-joint", "exp-all-langs", "exp-matrix"):
        assert "--encoder /enc" in commands[name]


def test_model_card_is_written_before_packaging():
    card = COMMANDS["model-card"]["outputs"][0]
    assert card.endswith("model-best/README.md")
    assert "--paths.log training/xlmr_ner/train-log.jsonl" in " ".join(COMMANDS["train"]["script"])
    assert "training/xlmr_ner/train-log.jsonl" in COMMANDS["model-card"]["deps"]


def test_package_steps_name_the_pipeline_and_keep_setuptools_output_in_a_log():
    config = load_project_config(
        REPO, overrides={"vars.name": "my_ner", "vars.demo_name": "demo_ner", "vars.version": "1.2.3"}
    )
    commands = {cmd["name"]: " ".join(cmd["script"]) for cmd in config["commands"]}
    assert "--name my_ner --version 1.2.3 --license MIT" in commands["model-card"]
    assert "--name demo_ner --version 1.2.3 --license MIT" in commands["demo-card"]
    for step, name in (("package", "my_ner"), ("demo-package", "demo_ner")):
        assert (
            f"python scripts/package.py training/{name}/model-best packages --name {name} --version 1.2.3 "
            f"--log training/{name}/package.log" in commands[step]
        )
        assert "spacy package" not in commands[step] and "pip wheel . --no-deps --no-build-isolation --quiet" in commands[step]
        # Wheels are of the pipeline as trained unless --vars.trim says otherwise.
        assert f"--trim no --trim-output training/{name}/model-trimmed" in commands[step]
    assert "--trim-text corpus/sample/sentences.txt" in commands["demo-package"]
    trimmed = load_project_config(REPO, overrides={"vars.trim": "half"})
    assert "--trim half" in " ".join(next(c for c in trimmed["commands"] if c["name"] == "package")["script"])
    bf16 = load_project_config(REPO, overrides={"vars.trim": "bf16"})
    assert "--trim bf16" in " ".join(next(c for c in bf16["commands"] if c["name"] == "package")["script"])
    assert "--trim-frequent 100000" in commands["package"] and "--trim-frequent 100000" in commands["demo-package"]
    from spacy_xlmr_ner.packaging.trim import DEFAULT_FREQUENT

    assert config["vars"]["trim_frequent"] == DEFAULT_FREQUENT  # the project's default is the library's
    frequent = load_project_config(REPO, overrides={"vars.trim_frequent": 50000})
    scripts = {cmd["name"]: " ".join(cmd["script"]) for cmd in frequent["commands"]}
    for step in ("package", "demo-package"):
        assert "--trim-frequent 50000" in scripts[step]
    assert "--frequent 50000" in scripts["trim"]


def test_cross_domain_study_takes_data_sets_and_languages_from_vars():
    config = load_project_config(REPO, overrides={
        "vars.domain_iob_dir": "/data", "vars.domain_langs": "de", "vars.domain_datasets": "wikiann,wikineural",
        "vars.domain_variant": "lr", "vars.exp_encoder": "/enc",
    })
    commands = {cmd["name"]: cmd for cmd in config["commands"]}
    prepare = " ".join(commands["domain-convert"]["script"])
    run = " ".join(commands["exp-domains"]["script"])
    assert "prepare /data corpus/domains --datasets wikiann,wikineural --langs de" in prepare
    assert "run corpus/domains --datasets wikiann,wikineural --langs de" in run
    assert "--encoder /enc" in run and "--variant lr" in run and "--epochs 1 " in run
    assert commands["exp-domains"]["outputs"] == ["metrics/domains-lr.json", "metrics/domains-lr.md"]
    assert config["workflows"]["domains"] == ["encoder", "domain-convert", "exp-domains"]
