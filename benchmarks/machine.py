"""What every benchmark records beside its figures: machine, memory, threads, load, versions, commit.

Imported by the per-domain ``common.py`` modules (each benchmark script puts its own folder on
``sys.path``; those modules put this folder there too).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        return ""


def machine(threads: int) -> dict[str, Any]:
    """The machine a figure was measured on, and how busy it was when the measurement started."""
    import torch

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
        "platform": platform.platform(),
        "commit": commit(),
        "note": "the load average says how busy the machine was (other jobs share its cores)",
    }


def write_results(name: str, record: dict[str, Any], markdown: str) -> None:
    """``results/NAME.json`` (the record) and ``results/NAME.md`` (its table), each written whole,
    and the table printed."""
    from sciarch.io import atomic_write, write_json

    write_json(RESULTS / f"{name}.json", record)
    with atomic_write(RESULTS / f"{name}.md") as handle:
        handle.write(markdown)
    print(markdown)


def results_header(record: dict[str, Any], load_note: str) -> list[str]:
    """The first lines of a benchmark's markdown: its title, the machine with the load average at
    start and end of the record (``loadavg_start``/``loadavg_end``) and ``load_note``, and the command."""
    m = record["machine"]
    return [f"# {record['benchmark']}", "",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['threads_used']} torch thread(s); torch {m['torch']}; "
            f"commit {m['commit']}. Load average at start {record['loadavg_start'][0]:.2f}, at end "
            f"{record['loadavg_end'][0]:.2f} ({load_note}).", "", f"Command: `{record['command']}`", ""]
