"""Lists the packages below each folder that pyproject.toml maps to an import name.

Everything else about the distribution is in pyproject.toml; this only saves keeping a list of
subpackages by hand (a missing one would install a broken wheel).
"""

import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent


def package_dir() -> dict[str, str]:
    # the [tool.setuptools.package-dir] table of pyproject.toml (tomllib is not in Python 3.10)
    text = (HERE / "pyproject.toml").read_text()
    table = text.split("[tool.setuptools.package-dir]", 1)[1].split("\n[", 1)[0]
    return dict(re.findall(r'^(\w+)\s*=\s*"([^"]+)"', table, flags=re.M))


PACKAGE_DIR = package_dir()


def packages() -> list[str]:
    """Every folder below the mapped ones: code packages, and folders that only hold package data
    (recipes, shipped data files, the plugin template), which setuptools wants listed too."""
    found = []
    for package, folder in PACKAGE_DIR.items():
        root = HERE / folder
        for path in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
            relative = path.relative_to(root)
            if any(part == "__pycache__" or part.startswith(".") or part.endswith(".egg-info")
                   for part in relative.parts):
                continue
            if path != root and not any(child.is_file() for child in path.iterdir()) \
                    and not any(child.is_dir() for child in path.iterdir()):
                continue  # an empty folder
            found.append(".".join((package, *relative.parts)))
    return found


setup(packages=packages())
