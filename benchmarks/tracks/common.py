"""What every tracks benchmark records beside its figures: the machine, the threads, the load."""

from __future__ import annotations

import datetime
import os
import platform
from typing import Any


def machine(threads: int | None = None) -> dict[str, Any]:
    """CPU, cores, torch threads and the load average now (figures measured under load say so)."""
    info: dict[str, Any] = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                            "cpu_count": os.cpu_count(), "loadavg": [round(v, 2) for v in os.getloadavg()],
                            "when": datetime.datetime.now().isoformat(timespec="seconds")}
    try:
        import torch

        info["torch_threads"] = threads or torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        if names:
            info["cpu_model"] = names[0]
    except OSError:
        pass
    return info


def machine_line(info: dict[str, Any]) -> str:
    load = ", ".join(str(v) for v in info["loadavg"])
    return (f"{info.get('cpu_model', info['processor'])}, {info['cpu_count']} cores, "
            f"{info.get('torch_threads', '?')} torch thread(s), load average {load} ({info['when']})")
