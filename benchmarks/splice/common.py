"""What every splice benchmark records beside its figures (machine, threads, load), and result writing."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine(threads: int) -> dict[str, Any]:
    import torch

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = ""
    memory_gb = None
    with contextlib.suppress(ValueError, OSError):
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "threads_used": threads,
        "loadavg_at_start": loadavg(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "commit": commit,
        "note": "shared machine (2 cores, other engineers' jobs running): the load average says how busy it was",
    }


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
