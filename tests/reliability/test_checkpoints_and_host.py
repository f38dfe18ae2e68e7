"""Hostile checkpoints, recipes and plugins: what the host itself reads.

Checkpoints that are truncated, empty, foreign or carry pickled objects, given to ``evaluate``,
``predict`` and ``train --resume``; recipes and run configs with Python YAML tags; plugins that
call ``sys.exit()`` while loading, or take a first-party plugin's name; ``new-plugin`` names that
would make a broken or shadowing package. Nothing in any of them is ever run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from sciarch.plugins import PluginHost, reset_host


class Payload:
    """Pickled into a checkpoint: if it were ever unpickled, it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _damage(path: Path, kind: str, marker: Path) -> None:
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "pickled objects":
        state = torch.load(path, weights_only=True)
        state["payload"] = Payload(marker)
        torch.save(state, path)
    elif kind == "foreign archive":
        torch.save({"weights": torch.ones(2)}, path)
    elif kind == "text":
        path.write_text("not a checkpoint\n")
    elif kind == "some other zip":
        path.unlink()
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "hello")
    else:
        raise ValueError(kind)


WANTED = {
    "truncated": "truncated or empty checkpoint",
    "empty": "truncated or empty checkpoint (0 bytes)",
    "pickled objects": "not a sciarch checkpoint (refused to unpickle objects)",
    "foreign archive": "not a sciarch checkpoint (no state_dict; holds weights)",
    "text": "not a checkpoint (neither a PyTorch archive nor safetensors)",
    "some other zip": "not a sciarch checkpoint",
}


@pytest.fixture
def damaged_run(molecule_run, tmp_path):
    """A copy of the molecule run whose checkpoints can be damaged."""
    run = tmp_path / "run"
    shutil.copytree(molecule_run, run)
    return run


@pytest.mark.parametrize("kind", list(WANTED))
def test_evaluate_with_a_bad_checkpoint_is_exit_2_naming_it(kind, damaged_run, tmp_path, sciarch):
    marker = tmp_path / "payload-ran"
    checkpoint = damaged_run / "checkpoints" / "best.ckpt"
    _damage(checkpoint, kind, marker)
    sciarch("evaluate", checkpoint).check(2, f"{checkpoint}: {WANTED[kind]}")
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["truncated", "empty", "pickled objects", "foreign archive"])
def test_resume_from_a_bad_checkpoint_is_exit_2_before_any_work(kind, damaged_run, tmp_path, sciarch):
    marker = tmp_path / "payload-ran"
    last = damaged_run / "checkpoints" / "last.ckpt"
    _damage(last, kind, marker)
    summary = json.loads((damaged_run / "summary.json").read_text())
    (damaged_run / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    result = sciarch("train", "--resume", damaged_run, "-q").check(2, f"{last}: {WANTED[kind]}")
    assert "resuming" not in result.text
    assert not marker.exists()
    assert json.loads((damaged_run / "summary.json").read_text())["status"] == "interrupted"  # untouched


def test_predict_with_a_truncated_checkpoint_is_exit_2(damaged_run, tmp_path, sciarch):
    checkpoint = damaged_run / "checkpoints" / "best.ckpt"
    _damage(checkpoint, "truncated", tmp_path / "m")
    data = tmp_path / "in.csv"
    data.write_text("smiles\nCCO\n")
    sciarch("predict", "--checkpoint", checkpoint, "--input", data, "--output", tmp_path / "out.csv").check(
        2, f"{checkpoint}: truncated or empty checkpoint")
    assert not (tmp_path / "out.csv").exists()


def test_a_truncated_safetensors_file_is_exit_2(damaged_run, tmp_path, sciarch):
    from safetensors.torch import save_file

    weights = damaged_run / "checkpoints" / "model.safetensors"
    save_file({"w": torch.ones(64)}, str(weights))
    weights.write_bytes(weights.read_bytes()[:40])
    sciarch("evaluate", weights).check(2, f"{weights}: truncated or not a safetensors file")


# -- YAML ----------------------------------------------------------------------------------------------

TAG = '!!python/object/apply:os.system ["touch {marker}"]'


@pytest.mark.parametrize("where", ["recipe value", "recipe key", "--set value"])
def test_yaml_with_a_python_tag_is_refused_and_never_run(where, tmp_path, sciarch):
    marker = tmp_path / "tag-ran"
    tag = TAG.format(marker=marker)
    recipe = tmp_path / "recipe.yaml"
    if where == "recipe value":
        recipe.write_text(f"seed: {tag}\n")
        args = ["train", recipe]
        wanted = f"{recipe}:1: invalid YAML: could not determine a constructor for the tag"
    elif where == "recipe key":
        recipe.write_text(f"data:\n  name: molecules/freesolv\n  args:\n    ? {tag}\n    : 1\n")
        args = ["train", recipe]
        wanted = f"{recipe}:4: invalid YAML"
    else:
        args = ["train", "molecules/freesolv", "--print-config", "--set", f"seed={tag}"]
        wanted = "--set: seed: cannot read value"
    sciarch(*args).check(2, wanted)
    assert not marker.exists()


def test_a_run_config_with_a_python_tag_is_refused(damaged_run, tmp_path, sciarch):
    marker = tmp_path / "tag-ran"
    config = damaged_run / "config.yaml"
    config.write_text(config.read_text() + f"extra: {TAG.format(marker=marker)}\n")
    result = sciarch("evaluate", damaged_run)
    result.check(2, f"{config}", "could not determine a constructor for the tag")
    assert not marker.exists()


@pytest.mark.parametrize("text,wanted", [("seed: [1\n", ":2: invalid YAML"), ("", "missing section 'data'"),
                                         ("- just\n- a list\n", "recipe.yaml")])
def test_a_malformed_recipe_is_exit_2_naming_the_file(text, wanted, tmp_path, sciarch):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    sciarch("train", recipe).check(2, wanted)


# -- plugins -------------------------------------------------------------------------------------------


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    previous = reset_host(None)
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("exit_plugin")]:
        del sys.modules[name]
    reset_host(previous)


@pytest.mark.parametrize("code", ["sys.exit(0)", "sys.exit(3)", "raise SystemExit('bye')"])
def test_a_plugin_that_exits_at_import_is_listed_failed_and_the_host_goes_on(code, plugin_dir, monkeypatch, sciarch):
    (plugin_dir / "exit_plugin_mod.py").write_text(f"import sys\n{code}\n")
    monkeypatch.setenv("SCIARCH_PLUGIN_MODULES", "exiting=exit_plugin_mod")
    result = sciarch("plugins", "--json").check(0)
    plugins = {p["name"]: p for p in json.loads(result.out)}
    assert plugins["exiting"]["status"] == "failed" and "the plugin called sys.exit(" in plugins["exiting"]["error"]
    assert plugins["molecules"]["status"] == "ok"
    # a command that needs it is a usage error, never a silent "success"
    sciarch("train", "exiting/default").check(2, "plugin exiting failed to load")


def test_a_plugin_hook_that_exits_fails_that_plugin_only(plugin_dir, monkeypatch, sciarch):
    (plugin_dir / "exit_plugin_hook.py").write_text(
        "import sys\nimport sciarch\n\n@sciarch.hookimpl\ndef sciarch_models():\n    sys.exit(4)\n")
    monkeypatch.setenv("SCIARCH_PLUGIN_MODULES", "hooky=exit_plugin_hook")
    result = sciarch("plugins", "--json").check(0)
    plugins = {p["name"]: p for p in json.loads(result.out)}
    assert plugins["hooky"]["status"] == "failed" and "sys.exit(4)" in plugins["hooky"]["error"]
    assert all(plugins[n]["status"] == "ok" for n in ("molecules", "keywords", "tracks", "splice"))


def test_a_distribution_cannot_take_a_first_party_plugin_name(tmp_path):
    """A real distribution on disk, earlier on the path than sciarch, with an entry point 'molecules'."""
    (tmp_path / "impostor_mod.py").write_text(
        "import sciarch\n\n@sciarch.hookimpl\ndef sciarch_models():\n"
        "    return [sciarch.ModelSpec(name='dmpnn', builder='impostor_mod:build', task='x', summary='not it')]\n")
    info = tmp_path / "sciarch_impostor-6.6.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sciarch-impostor\nVersion: 6.6\n")
    (info / "entry_points.txt").write_text("[sciarch.plugins]\nmolecules = impostor_mod\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    code = ("import json, sys\nfrom sciarch.plugins import PluginHost\nhost = PluginHost()\n"
            "print(json.dumps({n: i.to_dict() for n, i in host.plugins.items()}))\n"
            "print(host.get('model', 'molecules/dmpnn').builder)\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    plugins_line, builder = done.stdout.strip().splitlines()[-2:]
    plugins = json.loads(plugins_line)
    assert plugins["molecules"]["distribution"] == "sciarch" and plugins["molecules"]["status"] == "ok"
    assert builder.startswith("sciarch_molecules")
    [clash] = [p for p in plugins.values() if p["distribution"] == "sciarch-impostor"]
    assert clash["status"] == "failed"
    assert "sciarch 0." in clash["error"] and "sciarch-impostor 6.6" in clash["error"]
    assert "first-party" in clash["error"]


@pytest.mark.parametrize("name,wanted", [
    ("abc\n", "must be lower-case letters"), ("molecules", "taken by sciarch itself"),
    ("datasets", "taken by sciarch itself"), ("Abc", "must be lower-case letters"), ("class", "must be lower-case"),
    ("../evil", "must be lower-case letters"),
])
def test_new_plugin_refuses_broken_and_shadowing_names(name, wanted, tmp_path, sciarch):
    sciarch("new-plugin", name, "--path", tmp_path).check(2, wanted)
    assert list(tmp_path.iterdir()) == []


def test_plugin_host_is_unaffected_after_these_tests():
    host = PluginHost()
    assert all(host.plugins[n].ok for n in ("molecules", "keywords", "tracks", "splice"))


def test_an_eoferror_escaping_a_command_is_a_failure_not_a_ctrl_c(sciarch):
    """Click files an EOFError under "aborted", exit 130, as if the user had pressed Ctrl-C: what a
    truncated gzip used to show. Readers now raise DataError (exit 2, the cases above); an EOFError
    that still escapes is a bug, reported as one (exit 1), never as an interruption."""
    import click
    from sciarch.cli import cli

    @click.command("eof-bug")
    def eof_bug() -> None:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    cli.add_command(eof_bug)
    try:
        result = sciarch("eof-bug")
    finally:
        cli.commands.pop("eof-bug")
    assert result.code == 1 and "aborted" not in result.text
    assert "EOFError: Compressed file ended" in result.text
