"""Recipes: reading, overrides, the smoke variant, and every mistake caught before training."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sciarch.config import apply_overrides, load, read_recipe
from sciarch.errors import ConfigError, NotFoundError

GOOD = """\
summary: test recipe
seed: 3
data:
  name: toy/sine
  args: {n: 512, features: 4}
model:
  name: toy/mlp
  args:
    hidden: 16
task:
  name: toy/regression
optimizer: {name: adam, lr: 1e-3}
trainer:
  max_epochs: 2
smoke:
  trainer: {max_epochs: 1}
  data: {args: {n: 64}}
"""


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path_or_name, host, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(path_or_name, host=host, **kwargs)
    return info.value


def test_a_registered_recipe_resolves_with_every_default_spelled_out(host):
    resolved = load("toy/default", host=host)
    assert resolved.name == "toy/default"
    assert resolved.model.name == "toy/mlp"
    assert resolved.model.args == {"hidden": 64, "depth": 2, "out_features": 1, "dropout": 0.0}
    assert resolved.data.args["noise"] == 0.05  # a default the recipe did not state
    assert resolved.explicit["model"] == ("hidden", "depth")
    assert resolved.scheduler == {"name": "cosine", "warmup_steps": 20, "warmup_fraction": 0.0, "min_lr_ratio": 0.0}


def test_a_recipe_file_resolves_and_yaml_1_1_floats_become_floats(tmp_path, host):
    resolved = load(write(tmp_path, GOOD), host=host)
    assert resolved.seed == 3 and resolved.name == "recipe"
    assert resolved.optimizer == {"name": "adam", "lr": 1e-3}  # "1e-3" is a string in YAML 1.1
    assert isinstance(resolved.optimizer["lr"], float)


def test_overrides_are_typed_and_nested(tmp_path, host):
    resolved = load(write(tmp_path, GOOD), host=host,
                    overrides=["model.args.depth=4", "model.args.dropout=0.25", "trainer.gradient_clip_val=1.5",
                               "data.args.features=7", "early_stopping={patience: 3}"])
    assert resolved.model.args["depth"] == 4 and resolved.model.args["dropout"] == 0.25
    assert resolved.trainer == {"max_epochs": 2, "gradient_clip_val": 1.5}
    assert resolved.data.args["features"] == 7
    assert resolved.early_stopping == {"monitor": "val/loss", "mode": "min", "patience": 3, "min_delta": 0.0}


def test_smoke_variant_merges_and_pins_one_cpu(tmp_path, host):
    resolved = load(write(tmp_path, GOOD), host=host, smoke=True, overrides=["trainer.strategy=ddp"])
    assert resolved.smoke
    assert resolved.data.args["n"] == 64 and resolved.data.args["features"] == 4
    assert resolved.trainer["max_epochs"] == 1
    assert resolved.trainer["accelerator"] == "cpu" and resolved.trainer["devices"] == 1
    assert resolved.trainer["strategy"] == "ddp"  # an explicit override still wins


def test_extends_starts_from_another_recipe(tmp_path, host):
    path = write(tmp_path, """\
        extends: toy/default
        model: {name: toy/mlp, args: {depth: 5}}
        """)
    resolved = load(path, host=host)
    assert resolved.model.args["depth"] == 5 and resolved.model.args["hidden"] == 64
    assert resolved.trainer["max_epochs"] == 20


def test_unknown_top_level_key_names_file_line_and_close_match(tmp_path, host):
    path = write(tmp_path, GOOD.replace("trainer:\n", "trainr:\n"))
    err = error_of(path, host)
    assert str(err) == f"{path}:13: trainr: unknown key; did you mean 'trainer'?"


def test_typo_in_model_argument(tmp_path, host):
    path = write(tmp_path, GOOD.replace("hidden: 16", "hiden: 16"))
    err = error_of(path, host)
    assert err.line == 9 and err.key == "model.args.hiden"
    assert "unknown argument of toy/mlp; did you mean 'hidden'?" in str(err)


def test_wrong_type_is_reported_with_the_expected_type(tmp_path, host):
    err = error_of(write(tmp_path, GOOD.replace("hidden: 16", "hidden: lots")), host)
    assert err.key == "model.args.hidden" and "expected int, got 'lots'" in str(err)
    err = error_of(write(tmp_path, GOOD.replace("max_epochs: 2", "max_epochs: 2\n  precison: 32")), host)
    assert err.key == "trainer.precison" and "did you mean 'precision'" in str(err)


def test_unknown_names_suggest_registered_ones(tmp_path, host):
    err = error_of(write(tmp_path, GOOD.replace("toy/mlp", "toy/mpl")), host)
    assert err.key == "model.name" and "unknown model 'toy/mpl'; did you mean 'toy/mlp'" in str(err)
    err = error_of(write(tmp_path, GOOD.replace("name: adam", "name: adamm")), host)
    assert err.key == "optimizer.name" and "did you mean 'adam'" in str(err)
    with pytest.raises(NotFoundError, match=r"unknown recipe 'toy/defualt'; did you mean 'toy/default'"):
        load("toy/defualt", host=host)


def test_bad_yaml_names_the_line(tmp_path, host):
    path = write(tmp_path, "data:\n  name: toy/sine\n  args: {n: [1, 2}\n")
    err = error_of(path, host)
    assert err.source == str(path) and err.line == 3 and "invalid YAML" in str(err)


def test_missing_file_and_non_mapping(tmp_path, host):
    with pytest.raises(NotFoundError, match="no such recipe file"):
        load(tmp_path / "absent.yaml", host=host)
    err = error_of(write(tmp_path, "- a list\n"), host)
    assert "a recipe is a mapping" in str(err)


def test_missing_section_and_required_argument(tmp_path, host):
    err = error_of(write(tmp_path, GOOD.replace("task:\n  name: toy/regression\n", "")), host)
    assert "missing section 'task'" in str(err)


def test_set_errors_name_the_override(tmp_path, host):
    err = error_of(write(tmp_path, GOOD), host, overrides=["model.args.widht=3"])
    assert str(err).startswith("--set: model.args.widht: unknown argument")
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides(read_recipe(write(tmp_path, GOOD), host), ["model.args.width"])


def test_trainer_keys_the_host_owns_are_refused(tmp_path, host):
    err = error_of(write(tmp_path, GOOD), host, overrides=["trainer.logger=false"])
    assert "set by sciarch itself" in str(err)


def test_checkpoint_and_ensemble_are_checked(tmp_path, host):
    err = error_of(write(tmp_path, GOOD), host, overrides=["checkpoint.mode=maximum"])
    assert err.key == "checkpoint.mode" and "expected 'min' or 'max'" in str(err)
    err = error_of(write(tmp_path, GOOD), host, overrides=["ensemble=0"])
    assert err.key == "ensemble"
    err = error_of(write(tmp_path, GOOD), host, overrides=["scheduler={name: cosin}"])
    assert "did you mean 'cosine'" in str(err)


def test_extends_loop_is_reported(tmp_path, host):
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(ConfigError, match="in a loop"):
        load(tmp_path / "a.yaml", host=host)


class Data:
    provides = ("in_features",)


def build_data(n: int = 1) -> Data:
    return Data()


def test_function_builders_provide_what_their_data_module_class_provides():
    from sciarch.config import provided_by

    assert provided_by(Data) == ("in_features",)
    assert provided_by(build_data) == ("in_features",)
    assert provided_by(lambda: None) == ()
