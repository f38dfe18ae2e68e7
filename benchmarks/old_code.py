"""The code of a package as it was at an earlier commit, importable beside today's, so that a
benchmark measures the old and the new implementation side by side in one run.

    old = import_old("f93b603", "datasets/tracks", "old_tracks")
    old.coco.write_dataset(...)

The package's ``.py`` files (one folder, no subpackages) are taken from git (``git show
COMMIT:PATH``) into a temporary folder and imported under ``name``; relative imports inside it
resolve to the old files, absolute ones (``import sciarch``) to today's installation.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def import_old(commit: str, folder: str, name: str, modules: tuple[str, ...] = ()) -> ModuleType:
    """Import ``folder`` (a package's folder in this repository) as of ``commit`` under ``name``;
    ``modules``: submodules to import as well (they become attributes of the package)."""
    listing = subprocess.run(["git", "ls-tree", "--name-only", commit, folder.rstrip("/") + "/"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    target = Path(tempfile.mkdtemp(prefix="old-code-")) / name
    target.mkdir()
    for path in listing:
        if path.endswith(".py"):
            text = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout
            (target / Path(path).name).write_text(text)
    if not (target / "__init__.py").exists():
        (target / "__init__.py").write_text("")
    sys.path.insert(0, str(target.parent))
    package = importlib.import_module(name)
    for module in modules:
        importlib.import_module(f"{name}.{module}")
    return package
