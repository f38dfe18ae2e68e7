"""``sciarch new-plugin NAME``: write a complete third-party plugin package from the templates."""

from __future__ import annotations

import keyword
import re
from importlib.resources import files
from pathlib import Path

from .errors import UsageError
from .io import atomic_dir

NAME = re.compile(r"[a-z][a-z0-9_]*")
#: names whose package (sciarch_<name>) sciarch ships: a new plugin named so would shadow it
RESERVED = frozenset({"molecules", "keywords", "tracks", "splice", "datasets"})


def scaffold(name: str, parent: str | Path = ".") -> Path:
    """Write ``<parent>/sciarch-<name>/`` and return its path.

    The package holds a model, a data source, a task with a predictor, a recipe with a smoke
    variant, a README and tests that use :mod:`sciarch.testing`. It installs and trains as is.
    """
    if not NAME.fullmatch(name) or keyword.iskeyword(name):  # fullmatch: "$" would let "abc\n" through
        raise UsageError(f"plugin name {name!r} must be lower-case letters, digits and underscores, "
                         "starting with a letter")
    if name in RESERVED:
        raise UsageError(f"plugin name {name!r} is taken by sciarch itself (package sciarch_{name}); choose another")
    target = Path(parent) / f"sciarch-{name}"
    if target.exists():
        raise UsageError(f"{target} already exists")
    templates = files("sciarch").joinpath("templates/plugin")
    with atomic_dir(target) as tmp:
        for source, relative in _walk(templates, ""):
            relative = relative.replace("package/", f"sciarch_{name}/", 1)
            out = tmp / relative.removesuffix(".tmpl")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(source.read_text(encoding="utf-8").replace("{{name}}", name), encoding="utf-8")
    return target


def _walk(node, prefix: str):
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        relative = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, relative + "/")
        elif child.name.endswith(".tmpl"):
            yield child, relative
