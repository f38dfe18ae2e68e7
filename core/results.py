"""Numbers out of Lightning, and the spread of an ensemble's members, as plain floats."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The single-number entries of a metrics mapping (tensors of one element included), as floats."""
    out = {}
    for key, value in metrics.items():
        if hasattr(value, "numel"):  # a tensor
            if value.numel() != 1:
                continue
            value = value.item()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def spread(per_member: Iterable[Mapping[str, float]], *, keep_values: bool = False) -> dict[str, dict[str, Any]]:
    """Each metric's mean and sample standard deviation across members (and the values)."""
    per_member = list(per_member)
    out: dict[str, dict[str, Any]] = {}
    for key in sorted({k for m in per_member for k in m}):
        values = [m[key] for m in per_member if key in m]
        out[key] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}
        if keep_values:
            out[key]["values"] = values
    return out
