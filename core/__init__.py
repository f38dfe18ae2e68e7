"""sciarch: a plugin host for scientific deep learning.

What plugin authors and users need is re-exported here; everything else is internal. Importing
``sciarch`` is cheap: torch and Lightning load only when something that needs them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigError,
    DataError,
    MissingDependencyError,
    NotFoundError,
    PluginError,
    SciarchError,
    UsageError,
)
from .hookspecs import hookimpl
from .imports import require, require_extra
from .records import BadRecords, open_text, reading
from .specs import DatasetSpec, ModelSpec, RecipeSpec, TaskSpec
from .version import __version__

_LAZY = {
    "Task": "sciarch.task",
    "loader": "sciarch.data",
    "Run": "sciarch.runs",
    "evaluate": "sciarch.runs",
    "train": "sciarch.training",
    "load_recipe": ("sciarch.config", "load"),
    "get_host": "sciarch.plugins",
    "PluginHost": "sciarch.plugins",
    "atomic_write": "sciarch.io",
    "atomic_dir": "sciarch.io",
    "write_json": "sciarch.io",
    "load_checkpoint": "sciarch.io",
    "cache_dir": "sciarch.cache",
    "content_key": "sciarch.cache",
    "hash_file": "sciarch.cache",
    "track": "sciarch.progress",
    "console": "sciarch.progress",
}

__all__ = [
    "BadRecords", "ConfigError", "DataError", "DatasetSpec", "MissingDependencyError", "ModelSpec",
    "NotFoundError", "PluginError", "RecipeSpec", "SciarchError", "TaskSpec", "UsageError", "__version__",
    "hookimpl", "open_text", "reading", "require", "require_extra",
    # loaded on first use (see _LAZY)
    "Task", "loader", "Run", "evaluate", "train", "load_recipe", "get_host", "PluginHost", "atomic_write",
    "atomic_dir", "write_json", "load_checkpoint", "cache_dir", "content_key", "hash_file", "track", "console",
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'sciarch' has no attribute {name!r}")
    import importlib

    module_name, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .cache import cache_dir, content_key, hash_file
    from .config import load as load_recipe
    from .data import loader
    from .io import atomic_dir, atomic_write, load_checkpoint, write_json
    from .plugins import PluginHost, get_host
    from .progress import console, track
    from .runs import Run, evaluate
    from .task import Task
    from .training import train
