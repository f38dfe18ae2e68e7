"""The ``sciarch`` command as a user meets it: listings, help, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sciarch.cli import cli, main

DOMAIN_LIBRARIES = ("torch_geometric", "torchaudio", "torchvision", "Bio", "rdkit", "pyfaidx", "datamol",
                    "pycocotools", "soundfile", "onnxruntime", "espeakng_loader")


def test_listing_imports_no_domain_library():
    code = (
        "import sys\n"
        "from sciarch.cli import main\n"
        "for args in (['plugins'], ['plugins', '--json'], ['recipes'], ['models', '--json'], ['datasets'], ['tasks']):\n"
        "    assert main(args) == 0, args\n"
        f"print(sorted(m for m in {DOMAIN_LIBRARIES!r} + ('torch', 'lightning') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.needs_all_extras
def test_plugins_json_lists_first_party_plugins(capsys):
    assert main(["plugins", "--json"]) == 0
    plugins = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert {"molecules", "keywords", "tracks", "splice"} <= set(plugins)
    for name in ("molecules", "keywords", "tracks", "splice"):
        assert plugins[name]["distribution"] == "sciarch"
        assert plugins[name]["status"] == "ok", plugins[name]["error"]


def test_plugins_table_shows_status(capsys):
    assert main(["plugins"]) == 0
    err = capsys.readouterr().err
    assert "splice" in err and "ok" in err


def test_lists_filter_by_plugin(host, capsys):
    assert main(["models", "--plugin", "toy", "--json"]) == 0
    assert [m["name"] for m in json.loads(capsys.readouterr().out)] == ["toy/mlp"]
    assert main(["recipes", "--plugin", "toi"]) == 2
    assert "no plugin named 'toi'; did you mean 'toy'?" in capsys.readouterr().err


def test_info_describes_arguments_and_recipes(host, capsys):
    assert main(["info", "toy/mlp", "--json"]) == 0
    [described] = json.loads(capsys.readouterr().out)
    args = {a["name"]: a for a in described["arguments"]}
    assert args["in_features"]["default"] == "required" and args["hidden"]["type"] == "int"
    assert main(["info", "default"]) == 0
    assert "toy/sine" in capsys.readouterr().err
    assert main(["info", "mlpp"]) == 2
    assert "did you mean" in capsys.readouterr().err


def _all_commands(group, prefix=()):
    import click

    for name, command in group.commands.items():
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from _all_commands(command, prefix + (name,))


def test_help_everywhere(host, capsys):
    cli.list_commands(None)  # adds the plugins' subcommands
    commands = list(_all_commands(cli))
    assert {("train",), ("evaluate",), ("predict",), ("new-plugin",), ("plugins",)} <= set(commands)
    assert main(["--help"]) == 0
    for command in commands:
        assert main([*command, "--help"]) == 0, command
        assert "Usage:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "toy/nope"], "unknown recipe 'toy/nope'"),
        (["train", "missing.yaml"], "missing.yaml: no such recipe file"),
        (["train", "toy/default", "--set", "model.args.hiden=3"], "--set: model.args.hiden: unknown argument"),
        (["train"], "missing RECIPE"),
        (["train", "toy/default", "--bogus"], "No such option '--bogus'"),
        (["evaluate", "no/such/run"], "not a run directory"),
        (["predict", "--checkpoint", "x", "--input", "absent.csv", "--output", "o.csv"], "absent.csv: no such input"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_user_mistakes_give_one_line_and_status_2(host, capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_bad_yaml_and_typos_from_a_file(host, capsys, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("data: {name: toy/sine\nmodel: x\n")
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}:") and "invalid YAML" in err
    assert len(err.splitlines()) == 1


def test_debug_shows_the_traceback(host, capsys):
    assert main(["--debug", "train", "toy/nope"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_print_config_prints_resolved_yaml(host, capsys):
    import yaml

    assert main(["train", "toy/default", "--smoke", "--print-config", "--set", "seed=7", "--precision", "32-true"]) == 0
    out = capsys.readouterr().out
    config = yaml.safe_load(out)
    assert config["seed"] == 7 and config["smoke"] is True
    assert config["trainer"] == {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "precision": "32-true"}
    # the values the run uses: the data's hints applied (the toy data has 8 features), the run's
    # seed in the data's shuffling seed
    assert config["model"]["args"]["in_features"] == 8 and config["data"]["args"]["seed"] == 7
    assert out.startswith("# filled from the data: model.args.in_features")


def test_trainer_settings_lightning_rejects_are_usage_errors_before_any_run_folder(host, capsys, tmp_path):
    import torch

    cases = [["--strategy", "no-such-strategy"], ["--devices", "64", "--accelerator", "cpu", "--strategy", "bogus"]]
    if not torch.cuda.is_available():
        cases.append(["--accelerator", "gpu"])
    for i, options in enumerate(cases):
        run_dir = tmp_path / f"run-{i}"
        assert main(["train", "toy/default", "--smoke", *options, "--run-dir", str(run_dir)]) == 2, options
        err = capsys.readouterr().err.strip()
        # the recipe line (printed once the recipe is read, before torch is imported), then the error
        first, *rest = err.splitlines()
        assert first.startswith("recipe toy/default: data toy/"), err
        assert len(rest) == 1 and rest[0].startswith("error: Lightning rejects the toy/default recipe's trainer "
                                                     "settings"), err
        assert "Traceback" not in err
        assert not run_dir.exists()


def test_console_script_exit_codes(run_cli):
    assert run_cli(["recipes"]).returncode == 0
    bad = run_cli(["train", "toy/nope"])
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
