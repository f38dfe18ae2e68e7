"""Where prepared data is cached, and keys that change whenever the input or settings change."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def cache_root() -> Path:
    """``$SCIARCH_CACHE``, else ``$XDG_CACHE_HOME/sciarch``, else ``~/.cache/sciarch``."""
    if os.environ.get("SCIARCH_CACHE"):
        return Path(os.environ["SCIARCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sciarch"


def cache_dir(*parts: str) -> Path:
    """A directory under the cache root (created)."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def hash_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def content_key(*parts: Any, length: int = 16) -> str:
    """A short stable key from settings and content hashes (JSON-serialised, sorted keys).

    Paths are hashed by content, not by name, so a changed file gives a new key.
    """
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            part = {"file-sha256": hash_file(part)}
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:length]
