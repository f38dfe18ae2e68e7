"""One door for optional imports: a missing module becomes "install sciarch[extra]".

Plugins and data sources import heavy or optional libraries inside the function that needs them,
through :func:`require`, so that listing plugins stays fast and a missing extra is reported with
the exact command that fixes it.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib import metadata
from types import ModuleType

from .errors import MissingDependencyError

#: Import name -> distribution name, for the libraries whose two names differ.
DISTRIBUTION_OF_MODULE = {
    "Bio": "biopython",
    "torch_geometric": "torch-geometric",
    "espeakng_loader": "espeakng-loader",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "cv2": "opencv-python",
}


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


@cache
def extras_of(distribution: str) -> dict[str, frozenset[str]]:
    """Map each extra of ``distribution`` to the canonical names of the distributions it adds."""
    from packaging.requirements import Requirement

    try:
        requires = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return {}
    provided = metadata.metadata(distribution).get_all("Provides-Extra") or []
    out: dict[str, set[str]] = {extra: set() for extra in provided}
    for line in requires:
        req = Requirement(line)
        if req.marker is None:
            continue
        for extra in out:
            if req.marker.evaluate({"extra": extra}) and not req.marker.evaluate({"extra": ""}):
                out[extra].add(_canonical(req.name))
    return {k: frozenset(v) for k, v in out.items()}


def extra_for_module(module: str, distribution: str = "sciarch") -> str | None:
    """The smallest extra of ``distribution`` that installs the library ``module`` comes from."""
    top = module.split(".")[0]
    wanted = _canonical(DISTRIBUTION_OF_MODULE.get(top, top))
    candidates = [(len(deps), extra) for extra, deps in extras_of(distribution).items() if wanted in deps]
    return min(candidates)[1] if candidates else None


def install_hint(distribution: str, extra: str) -> str:
    """The command that installs ``distribution[extra]`` where it is installed from: ``pip install
    -e "<checkout>[extra]"`` for an editable install from a clone (pip's ``direct_url.json``), else
    ``pip install "distribution[extra]"``."""
    import json
    from urllib.parse import unquote, urlparse

    # every copy of the metadata on the path: a checkout also holds setuptools' egg-info, which
    # has no direct_url.json and is found first when Python starts in the checkout
    for dist in metadata.distributions(name=distribution):
        try:
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        url = urlparse(str(direct.get("url", "")))
        if url.scheme == "file" and (direct.get("dir_info") or {}).get("editable"):
            return f'pip install -e "{unquote(url.path)}[{extra}]"'
    return f'pip install "{distribution}[{extra}]"'


def require(module: str, extra: str | None = None, *, distribution: str = "sciarch") -> ModuleType:
    """Import ``module``; if it (or a module it needs) is missing, say which extra to install.

    >>> np = require("numpy")
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        if extra is None:
            extra = extra_for_module(missing, distribution) or extra_for_module(module, distribution)
        raise MissingDependencyError(missing, extra, distribution=distribution,
                                     install=install_hint(distribution, extra) if extra else None) from exc


def require_extra(extra: str, *, distribution: str = "sciarch") -> None:
    """Raise :class:`MissingDependencyError` unless every library of ``distribution[extra]`` is installed.

    A plugin module calls this first thing, so the host lists it as failed with the exact
    ``pip install`` command instead of failing later, mid-run.
    """
    wanted = extras_of(distribution).get(extra)
    if wanted is None:
        return  # not installed as a distribution (running from a source tree): imports will tell
    missing = []
    for name in sorted(wanted):
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        raise MissingDependencyError(", ".join(missing), extra, distribution=distribution,
                                     install=install_hint(distribution, extra))
