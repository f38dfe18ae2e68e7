"""``sciarch new-plugin``: the package it writes installs, lists, trains and passes its own tests."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sciarch.errors import UsageError
from sciarch.scaffold import scaffold


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600)


def test_scaffolded_plugin_installs_lists_trains_and_uninstalls(tmp_path, monkeypatch):
    from sciarch.cli import main

    assert main(["new-plugin", "pkgtest", "--path", str(tmp_path)]) == 0
    package = tmp_path / "sciarch-pkgtest"
    for name in ("pyproject.toml", "README.md", "sciarch_pkgtest/plugin.py", "sciarch_pkgtest/recipes/default.yaml",
                 "tests/test_plugin.py"):
        assert (package / name).is_file(), name
    installed = pip("install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(package))
    assert installed.returncode == 0, installed.stderr
    assert "is absent from the `packages` configuration" not in installed.stdout + installed.stderr
    try:
        env = {k: v for k, v in __import__("os").environ.items() if k != "SCIARCH_PLUGIN_MODULES"}
        env["SCIARCH_RUNS"] = str(tmp_path / "runs")
        listed = subprocess.run([sys.executable, "-m", "sciarch", "plugins", "--json"], capture_output=True,
                                text=True, env=env, timeout=120)
        plugins = {p["name"]: p for p in json.loads(listed.stdout)}
        assert plugins["pkgtest"]["status"] == "ok"
        assert plugins["pkgtest"]["distribution"] == "sciarch-pkgtest" and plugins["pkgtest"]["version"] == "0.1.0"
        assert plugins["pkgtest"]["counts"] == {"model": 1, "dataset": 1, "task": 1, "recipe": 1}

        trained = subprocess.run([sys.executable, "-m", "sciarch", "train", "pkgtest/default", "--smoke", "-q"],
                                 capture_output=True, text=True, env=env, timeout=300)
        assert trained.returncode == 0, trained.stderr
        assert "status completed" in trained.stderr

        # the package's own tests, written with sciarch.testing, pass
        tested = subprocess.run([sys.executable, "-m", "pytest", "-q", str(package / "tests")],
                                capture_output=True, text=True, env=env, cwd=package, timeout=600)
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert "4 passed" in tested.stdout  # loads, specs, recipes, smoke run
    finally:
        removed = pip("uninstall", "-y", "sciarch-pkgtest")
    assert removed.returncode == 0, removed.stderr
    listed = subprocess.run([sys.executable, "-m", "sciarch", "plugins", "--json"], capture_output=True, text=True,
                            timeout=120)
    assert "pkgtest" not in {p["name"] for p in json.loads(listed.stdout)}


def test_scaffold_refuses_bad_names_and_existing_folders(tmp_path):
    with pytest.raises(UsageError, match="lower-case"):
        scaffold("My-Plugin", tmp_path)
    with pytest.raises(UsageError, match="lower-case"):
        scaffold("class", tmp_path)
    scaffold("ok", tmp_path)
    with pytest.raises(UsageError, match="already exists"):
        scaffold("ok", tmp_path)


def test_sciarch_itself_lists_every_data_folder_as_a_package():
    # setuptools warns "Package '…' is absent from the `packages` configuration" at every install
    # for a folder of package data (templates, recipes, shipped data) that setup.py does not list
    import runpy
    from pathlib import Path

    import setuptools

    root = Path(__file__).resolve().parents[2]
    captured = {}
    real = setuptools.setup
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    try:
        runpy.run_path(str(root / "setup.py"), run_name="__main__")
    finally:
        setuptools.setup = real
    listed = set(captured["packages"])
    for name in ("sciarch.templates.plugin.package.recipes", "sciarch.templates.plugin.tests",
                 "sciarch_molecules.recipes"):
        assert name in listed, name
    assert not any("__pycache__" in name for name in listed)
