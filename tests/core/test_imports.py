"""The core's modules import one way: no cycles, and loading a run never pulls in training."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _import_graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tests" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_core_has_no_import_cycles():
    _import_graph().assert_no_import_cycles(ROOT / "core", "sciarch")


def test_the_core_knows_no_plugin_and_no_domain_library():
    graph = _import_graph()
    for module, path in graph.module_names(ROOT / "core", "sciarch").items():
        text = path.read_text()
        for name in ("sciarch_molecules", "sciarch_keywords", "sciarch_tracks", "sciarch_splice", "sciarch_datasets",
                     "torch_geometric", "torchaudio", "torchvision", "rdkit", "from Bio", "import Bio"):
            assert f"import {name}" not in text and f"from {name}" not in text, (module, name)


def test_loading_a_run_does_not_import_training():
    code = "import sys, sciarch.runs; print('sciarch.training' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_version_is_stated_once_for_the_package_and_once_for_the_distribution():
    import re

    import sciarch

    stated = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert sciarch.__version__ == stated


def test_plugins_and_data_sources_use_only_sciarchs_public_names():
    import ast

    for folder in ("plugins", "datasets"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else
                         [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                for name in names:
                    assert not name.startswith("sciarch."), f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
