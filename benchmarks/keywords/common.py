"""What every keywords benchmark records beside its figures (the shared ``benchmarks/machine.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import RESULTS, cpu_model, loadavg, machine  # noqa: E402

__all__ = ["RESULTS", "cpu_model", "loadavg", "machine"]
