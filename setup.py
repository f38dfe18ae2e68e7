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
    found = []
    for package, folder in PACKAGE_DIR.items():
        root = HERE / folder
        for init in sorted(root.rglob("__init__.py")):
            relative = init.parent.relative_to(root)
            if "templates" in relative.parts or "__pycache__" in relative.parts:
                continue
            found.append(".".join((package, *relative.parts)))
    return found


setup(packages=packages())
