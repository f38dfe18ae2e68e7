"""Fixtures for the host's tests: a real plugin, written by ``sciarch new-plugin`` into a temp dir.

The toy plugin is the scaffold's own output, so these tests also keep the scaffold working. It is
loaded as a module plugin (``SCIARCH_PLUGIN_MODULES``), the same way in this process and in the
``sciarch`` subprocesses the tests start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sciarch.plugins import PluginHost, reset_host
from sciarch.scaffold import scaffold

TOY_MODULES = "toy=sciarch_toy.plugin"


@pytest.fixture(scope="session")
def toy_package(tmp_path_factory) -> Path:
    """``sciarch-toy/``, written once per session and importable (on sys.path)."""
    package = scaffold("toy", tmp_path_factory.mktemp("plugins"))
    sys.path.insert(0, str(package))
    yield package
    sys.path.remove(str(package))


@pytest.fixture
def host(toy_package, monkeypatch) -> PluginHost:
    """The process-wide host for one test: the installed plugins plus the toy plugin."""
    monkeypatch.setenv("SCIARCH_PLUGIN_MODULES", TOY_MODULES)
    fresh = PluginHost()
    assert fresh.plugins["toy"].ok, fresh.plugins["toy"].error
    previous = reset_host(fresh)
    yield fresh
    reset_host(previous)


@pytest.fixture
def cli_env(toy_package, tmp_path) -> dict[str, str]:
    """Environment for a ``sciarch`` subprocess that sees the toy plugin."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(toy_package), env.get("PYTHONPATH", "")]))
    env["SCIARCH_PLUGIN_MODULES"] = TOY_MODULES
    env["SCIARCH_RUNS"] = str(tmp_path / "runs")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def run_cli(cli_env):
    """Run ``sciarch ARGS`` in a subprocess, as a user would; returns the CompletedProcess."""

    def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sciarch", *map(str, args)], env=cli_env,
                              capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), **kwargs)

    return run


def _all_extras_installed() -> bool:
    from sciarch.errors import MissingDependencyError
    from sciarch.imports import require_extra

    try:
        for extra in ("chemistry", "audio", "physics", "genomics"):
            require_extra(extra)
    except MissingDependencyError:
        return False
    return True


def pytest_collection_modifyitems(config, items):
    # `tox -e core` runs these tests with no extra installed: tests about the first-party plugins
    # being loaded need their libraries.
    if _all_extras_installed():
        return
    skip = pytest.mark.skip(reason="needs sciarch[all] (the first-party plugins' libraries)")
    for item in items:
        if "needs_all_extras" in item.keywords:
            item.add_marker(skip)
