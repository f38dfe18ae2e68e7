"""PyTorch Geometric, imported without the deprecation warnings it raises while importing.

PyG scripts a few helpers with ``torch.jit.script`` when it is first imported, and current torch
warns about that (a ``FutureWarning`` a user can do nothing about). Every sciarch import of PyG
goes through :func:`pyg`, which silences exactly that warning during the import and nothing else,
for no longer than the import.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from types import ModuleType


@functools.cache
def pyg(module: str = "torch_geometric") -> ModuleType:
    """``torch_geometric`` or one of its submodules (``"torch_geometric.nn"``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)
        importlib.import_module("torch_geometric")
        return importlib.import_module(module)
