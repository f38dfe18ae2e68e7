"""What every splice benchmark records beside its figures (the shared ``benchmarks/machine.py``), and result
writing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import RESULTS, cpu_model, loadavg, machine  # noqa: E402

__all__ = ["RESULTS", "cpu_model", "loadavg", "machine", "write_results"]


def write_results(name: str, payload: dict[str, Any], table: str) -> tuple[Path, Path]:
    """``benchmarks/results/<name>.json`` and ``<name>.md`` (a short table naming the machine)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{name}.json"
    md_path = RESULTS / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    m = payload["machine"]
    header = (f"Machine: {m['cpu']}, {m['cores']} cores, {m.get('memory_gb')} GB; {m['threads_used']} thread(s); "
              f"load average at start {m['loadavg_at_start']}; torch {m['torch']}; commit {m['commit']}; "
              f"{m['date']}.\n\n")
    md_path.write_text(header + table + "\n")
    return json_path, md_path
