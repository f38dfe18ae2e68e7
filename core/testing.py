"""The plugin-author kit: a pytest plugin (registered as ``pytest11``) with ready-made tests.

A plugin package gets a full check of itself with::

    from sciarch.testing import PluginTests

    class TestMyPlugin(PluginTests):
        plugin = "myplugin"          # its entry-point name

which loads the plugin through its entry point, checks every spec resolves to importable code with
a checkable signature, checks every recipe against that code, and trains every recipe's smoke
variant end to end on the CPU (one test per recipe). Fixtures: ``sciarch_host`` (a fresh plugin
host) and ``sciarch_runs`` (a temporary runs directory).

This module is imported by every pytest session in an environment with sciarch installed, so it
imports nothing heavy at import time.
"""

from __future__ import annotations

import math
from typing import Any

import pytest


def _host() -> Any:
    from sciarch.plugins import PluginHost

    return PluginHost()


@pytest.fixture
def sciarch_host() -> Any:
    """A fresh plugin host that loads the installed plugins, made the process-wide one for the test."""
    from sciarch.plugins import reset_host

    host = _host()
    previous = reset_host(host)
    try:
        yield host
    finally:
        reset_host(previous)


@pytest.fixture
def sciarch_runs(tmp_path: Any, monkeypatch: Any) -> Any:
    """A temporary runs root (``$SCIARCH_RUNS``) and cache (``$SCIARCH_CACHE``) for one test."""
    monkeypatch.setenv("SCIARCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "runs"


def pytest_generate_tests(metafunc: Any) -> None:
    if "sciarch_recipe" not in metafunc.fixturenames or metafunc.cls is None:
        return
    plugin = getattr(metafunc.cls, "plugin", "")
    recipes = getattr(metafunc.cls, "recipes", None)
    if recipes is None:
        try:
            recipes = sorted(name for name, spec in _host().specs("recipe").items() if spec.plugin == plugin)
        except Exception:  # reported by test_plugin_loads
            recipes = []
    marks = getattr(metafunc.cls, "recipe_marks", {}) or {}
    params = [pytest.param(name, marks=marks.get(name, ()), id=name) for name in recipes]
    metafunc.parametrize("sciarch_recipe", params or [pytest.param(None, id="no-recipes")])


def check_smoke_run(recipe: str, run_dir: Any, overrides: list[str] | None = None) -> dict[str, Any]:
    """Train ``recipe``'s smoke variant into ``run_dir``; check it finished with finite metrics."""
    import json

    from sciarch.config import load
    from sciarch.training import train

    resolved = load(recipe, smoke=True, overrides=overrides or [])
    train(resolved, run_dir=run_dir, quiet=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed", summary
    members = [summary] if resolved.ensemble == 1 else [
        json.loads((run_dir / m / "summary.json").read_text()) for m in summary["members"]]
    for member in members:
        assert member["global_step"] > 0, f"{recipe}: the smoke run took no optimizer step"
        for key, value in {**member.get("validation", {}), **member.get("test", {})}.items():
            assert math.isfinite(value), f"{recipe}: {key} = {value}"
    return summary


class PluginTests:
    """Subclass and set ``plugin`` to the entry-point name. Optional: ``recipes`` (names to smoke
    test; default all of the plugin's), ``recipe_marks`` ({name: pytest.mark.slow})."""

    plugin: str = ""
    recipes: list[str] | None = None
    recipe_marks: dict[str, Any] = {}

    def test_plugin_loads(self, sciarch_host: Any) -> None:
        assert self.plugin, "set `plugin` to the plugin's entry-point name"
        info = sciarch_host.plugins.get(self.plugin)
        assert info is not None, f"plugin {self.plugin!r} is not installed (entry-point group sciarch.plugins)"
        assert info.ok, f"plugin {self.plugin} failed to load: {info.error}"
        for kind in ("model", "dataset", "task", "recipe"):
            sciarch_host.specs(kind)
        assert info.ok, f"plugin {self.plugin} failed while contributing: {info.error}"
        assert any(info.counts.values()), f"plugin {self.plugin} contributes nothing"

    def test_specs_resolve(self, sciarch_host: Any) -> None:
        from sciarch.validation import describe_type, parameters_of, understands

        for kind in ("model", "dataset", "task"):
            for spec in sciarch_host.specs(kind).values():
                if spec.plugin != self.plugin:
                    continue
                builder = spec.load()
                assert callable(builder), f"{spec.name}: {spec.builder} is not callable"
                for p in parameters_of(builder)[0].values():  # a recipe's value for it can be checked
                    assert understands(p.annotation), (f"{spec.name}: parameter {p.name}: sciarch cannot check "
                                                       f"values of {describe_type(p.annotation)}")
                assert spec.summary, f"{spec.name}: give it a one-line summary"
                if kind == "task" and spec.predictor:
                    assert callable(spec.load_predictor()), f"{spec.name}: predictor {spec.predictor}"

    def test_recipes_check(self, sciarch_host: Any) -> None:
        from sciarch.config import load

        for name, spec in sciarch_host.specs("recipe").items():
            if spec.plugin != self.plugin:
                continue
            resolved = load(name, host=sciarch_host)
            assert resolved.name == name
            load(name, smoke=True, host=sciarch_host)

    def test_recipe_smoke(self, sciarch_recipe: str | None, sciarch_host: Any, sciarch_runs: Any) -> None:
        if sciarch_recipe is None:
            pytest.skip(f"plugin {self.plugin} has no recipes")
        check_smoke_run(sciarch_recipe, sciarch_runs / sciarch_recipe.replace("/", "-"))
