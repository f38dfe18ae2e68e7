"""The plugin host: loading entry points one at a time, failures, environment switches, names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import click
import pytest
import sciarch
from sciarch import DatasetSpec, ModelSpec, RecipeSpec, TaskSpec, hookimpl
from sciarch.errors import NotFoundError, PluginError
from sciarch.imports import install_hint
from sciarch.plugins import ENTRY_POINT_GROUP, PluginHost

FIRST_PARTY = {"molecules": "chemistry", "keywords": "audio", "tracks": "physics", "splice": "genomics"}


def make_plugin(**hooks) -> types.SimpleNamespace:
    """A throwaway plugin object with the given hook implementations."""
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def fake_distribution(tmp_path: Path, name: str, version: str) -> metadata.Distribution:
    info = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return metadata.PathDistribution(info)


def with_entry_points(monkeypatch, extra: list[metadata.EntryPoint]) -> None:
    real = metadata.entry_points

    def entry_points(**kwargs):
        found = list(real(**kwargs))
        if kwargs.get("group") == ENTRY_POINT_GROUP:
            found += extra
        return found

    monkeypatch.setattr(metadata, "entry_points", entry_points)


@pytest.mark.needs_all_extras
def test_first_party_plugins_load_through_entry_points():
    host = PluginHost()
    for name in FIRST_PARTY:
        info = host.plugins[name]
        assert info.ok, f"{name}: {info.error}"
        assert info.distribution == "sciarch"
        assert info.version == sciarch.__version__
        assert info.module == f"sciarch_{name}.plugin"


HIDE_DISTRIBUTION = """
import importlib.metadata as m, sys
real = m.version
def version(name):
    if name.lower() == sys.argv[1]:
        raise m.PackageNotFoundError(name)
    return real(name)
m.version = version
from sciarch.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.needs_all_extras
def test_missing_extra_library_fails_that_plugin_only():
    # A fresh process that sees no distribution metadata for pyfaidx, as after `pip uninstall pyfaidx`.
    result = subprocess.run([sys.executable, "-c", HIDE_DISTRIBUTION, "pyfaidx", "plugins", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["splice"]["status"] == "failed"
    assert plugins["splice"]["install"] == install_hint("sciarch", "genomics")
    assert "pyfaidx" in plugins["splice"]["error"]
    for name in ("molecules", "keywords", "tracks"):
        assert plugins[name]["status"] == "ok", plugins[name]["error"]


@pytest.mark.needs_all_extras
def test_missing_extra_is_an_error_in_strict_mode():
    env = {**os.environ, "SCIARCH_STRICT_PLUGINS": "1"}
    result = subprocess.run([sys.executable, "-c", HIDE_DISTRIBUTION, "rdkit", "plugins"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 1
    assert 'plugin molecules (sciarch' in result.stderr and install_hint("sciarch", "chemistry") in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.needs_all_extras
def test_declared_extra_is_checked_at_every_load(monkeypatch, tmp_path):
    (tmp_path / "declares_extra.py").write_text("sciarch_extra = 'genomics'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    dist = metadata.distribution("sciarch")
    ep = metadata.EntryPoint(name="declared", value="declares_extra", group=ENTRY_POINT_GROUP)._for(dist)
    with_entry_points(monkeypatch, [ep])
    assert PluginHost().plugins["declared"].ok
    real_version = metadata.version
    monkeypatch.setattr(metadata, "version", lambda n: (_ for _ in ()).throw(metadata.PackageNotFoundError(n))
                        if n.lower() == "biopython" else real_version(n))
    info = PluginHost().plugins["declared"]  # the module is imported already; the check still runs
    assert info.status == "failed" and info.install == install_hint("sciarch", "genomics")


def test_plugin_that_fails_to_import_is_listed_with_its_error(monkeypatch, tmp_path):
    module = tmp_path / "broken_plugin_mod.py"
    module.write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    dist = fake_distribution(tmp_path, "sciarch-broken", "0.3")
    ep = metadata.EntryPoint(name="broken", value="broken_plugin_mod", group=ENTRY_POINT_GROUP)._for(dist)
    with_entry_points(monkeypatch, [ep])
    host = PluginHost()
    info = host.plugins["broken"]
    assert info.status == "failed"
    assert info.distribution == "sciarch-broken" and info.version == "0.3"
    assert "RuntimeError: boom at import" in info.error
    assert all(host.plugins[n].ok for n in FIRST_PARTY)


def test_plugin_missing_a_module_gets_an_install_hint(monkeypatch, tmp_path):
    (tmp_path / "needs_rdkit_like.py").write_text("import not_a_real_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = metadata.EntryPoint(name="needy", value="needs_rdkit_like", group=ENTRY_POINT_GROUP)
    with_entry_points(monkeypatch, [ep])
    info = PluginHost().plugins["needy"]
    assert info.status == "failed"
    assert info.install == "pip install not_a_real_module_xyz"


@pytest.mark.needs_all_extras
def test_two_distributions_claiming_one_plugin_name_are_both_named(monkeypatch, tmp_path):
    dist = fake_distribution(tmp_path, "sciarch-splice-fork", "9.9")
    ep = metadata.EntryPoint(name="splice", value="sciarch_splice.plugin", group=ENTRY_POINT_GROUP)._for(dist)
    with_entry_points(monkeypatch, [ep])
    host = PluginHost()
    assert host.plugins["splice"].ok  # the first one found keeps the name
    [clash] = [i for i in host.plugins.values() if i.status == "failed"]
    assert f"sciarch {sciarch.__version__}" in clash.error and "sciarch-splice-fork 9.9" in clash.error


def test_environment_switches(monkeypatch):
    monkeypatch.setenv("SCIARCH_PLUGINS", "splice,tracks")
    assert sorted(PluginHost().plugins) == ["splice", "tracks"]
    monkeypatch.setenv("SCIARCH_PLUGINS", "splcie")
    info = PluginHost().plugins["splcie"]
    assert info.status == "failed" and "did you mean 'splice'" in info.error
    monkeypatch.delenv("SCIARCH_PLUGINS")
    monkeypatch.setenv("SCIARCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert PluginHost().plugins == {}


def test_hook_sciarch_models_contributes_qualified_names():
    host = PluginHost(autoload=False)
    host.register(make_plugin(sciarch_models=lambda: [ModelSpec(name="mlp", builder="torch.nn:Linear",
                                                                 summary="a linear layer")]), name="demo")
    spec = host.get("model", "demo/mlp")
    assert spec.plugin == "demo" and spec.short_name == "mlp"
    assert host.get("model", "mlp") is spec  # unique short name
    assert spec.load() is __import__("torch").nn.Linear
    assert host.plugins["demo"].counts["model"] == 1


def test_hook_sciarch_datasets_contributes_specs():
    host = PluginHost(autoload=False)
    host.register(make_plugin(sciarch_datasets=lambda: [DatasetSpec(name="d", builder="x:y", embedded=True,
                                                                     formats=("CSV",))]), name="demo")
    assert host.specs("dataset")["demo/d"].formats == ("CSV",)


def test_hook_sciarch_tasks_contributes_specs():
    host = PluginHost(autoload=False)
    host.register(make_plugin(sciarch_tasks=lambda: [TaskSpec(name="t", builder="x:y")]), name="demo")
    with pytest.raises(NotFoundError, match="has no predictor"):
        host.get("task", "demo/t").load_predictor()


def test_hook_sciarch_recipes_contributes_specs(host):
    spec = host.get("recipe", "toy/default")
    assert "data:" in spec.read_text()
    host.register(make_plugin(sciarch_recipes=lambda: [RecipeSpec(name="r", resource="sciarch_toy:nope.yaml")]),
                  name="demo")
    with pytest.raises(NotFoundError, match="nope.yaml"):
        host.get("recipe", "demo/r").read_text()


def test_hook_sciarch_add_commands_adds_subcommands():
    @click.command("hello")
    def hello():
        click.echo("hi")

    def add(cli):
        cli.add_command(hello)

    host = PluginHost(autoload=False)
    host.register(make_plugin(sciarch_add_commands=add), name="demo")
    group = click.Group("sciarch")
    host.add_commands(group)
    assert "hello" in group.commands


def test_failing_hook_fails_its_plugin_and_drops_its_contributions():
    host = PluginHost(autoload=False)
    host.register(make_plugin(sciarch_models=lambda: [ModelSpec(name="ok", builder="a:b")],
                              sciarch_datasets=lambda: 1 / 0), name="bad")
    host.register(make_plugin(sciarch_models=lambda: [ModelSpec(name="fine", builder="a:b")]), name="good")
    assert "good/fine" in host.specs("model")
    assert "bad/ok" not in host.specs("model")
    assert host.plugins["bad"].status == "failed"
    assert "ZeroDivisionError" in host.plugins["bad"].error


def test_bad_contributions_are_rejected_with_the_reason():
    host = PluginHost(autoload=False)
    host.register(make_plugin(sciarch_models=lambda: [DatasetSpec(name="x", builder="a:b")]), name="wrongtype")
    host.register(make_plugin(sciarch_models=lambda: [ModelSpec(name="a/b", builder="a:b")]), name="slash")
    host.register(make_plugin(sciarch_models=lambda: [ModelSpec(name="m", builder="a:b")] * 2), name="twice")
    host.specs("model")
    assert "returned DatasetSpec, not ModelSpec" in host.plugins["wrongtype"].error
    assert "contain no '/'" in host.plugins["slash"].error
    assert "'twice/m' is contributed twice" in host.plugins["twice"].error


def test_unknown_hook_name_fails_registration():
    host = PluginHost(autoload=False)
    info = host.register(make_plugin(sciarch_modles=lambda: []), name="typo")
    assert info.status == "failed" and "sciarch_modles" in info.error


def test_names_are_looked_up_with_suggestions_and_ambiguity():
    host = PluginHost(autoload=False)
    for plugin in ("a", "b"):
        host.register(make_plugin(sciarch_models=lambda: [ModelSpec(name="gine", builder="x:y"),
                                                          ModelSpec(name="schnet", builder="x:y")]), name=plugin)
    with pytest.raises(NotFoundError, match=r"ambiguous: a/gine, b/gine"):
        host.get("model", "gine")
    with pytest.raises(NotFoundError, match=r"did you mean .*'a/schnet'"):
        host.get("model", "a/shnet")
    host.unregister("b")
    assert host.get("model", "gine").name == "a/gine"


def test_registering_a_taken_name_is_refused():
    host = PluginHost(autoload=False)
    host.register(make_plugin(sciarch_models=lambda: []), name="x", distribution="one", version="1")
    with pytest.raises(PluginError, match="already registered by one 1"):
        host.register(make_plugin(sciarch_models=lambda: []), name="x")


def test_module_plugins_from_the_environment(host):
    assert host.plugins["toy"].ok
    assert host.plugins["toy"].hooks == ["sciarch_datasets", "sciarch_models", "sciarch_recipes", "sciarch_tasks"]


def test_the_install_hint_of_an_editable_install_names_the_checkout(monkeypatch, tmp_path):
    checkout = tmp_path / "my clone"
    for name, direct in (("sciarch-editable-probe", {"dir_info": {"editable": True}, "url": checkout.as_uri()}),
                         ("sciarch-wheel-probe", {"archive_info": {}, "url": "file:///tmp/x.whl"})):
        info = fake_distribution(tmp_path / name, name, "1.0")._path
        (info / "direct_url.json").write_text(json.dumps(direct))
        monkeypatch.syspath_prepend(str(info.parent))
    assert install_hint("sciarch-editable-probe", "genomics") == f'pip install -e "{checkout}[genomics]"'
    assert install_hint("sciarch-wheel-probe", "genomics") == 'pip install "sciarch-wheel-probe[genomics]"'
    assert install_hint("not-installed-anywhere", "audio") == 'pip install "not-installed-anywhere[audio]"'


@pytest.mark.needs_all_extras
def test_a_command_of_a_failed_plugin_says_how_to_install_it():
    # `sciarch tracks simulate` with the physics extra missing: the install hint, not "No such command"
    result = subprocess.run([sys.executable, "-c", HIDE_DISTRIBUTION, "pycocotools", "tracks", "simulate", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "No such command" not in result.stderr
    assert "plugin tracks, which failed to load" in result.stderr
    assert install_hint("sciarch", "physics") in result.stderr.replace("\n", "")
