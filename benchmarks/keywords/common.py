"""What every keywords benchmark records beside its figures (the shared ``benchmarks/machine.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import RESULTS, cpu_model, loadavg, machine  # noqa: E402

__all__ = ["RESULTS", "built_runs", "cpu_model", "loadavg", "machine"]


def built_runs(items: list[str]):
    """For each ``NAME=RUN_DIR`` of a benchmark's ``--run``: the name, the path as given, the run,
    and its data module and task as the run built them, the model on the CPU in evaluation mode."""
    import sciarch

    for item in items:
        name, _, path = item.partition("=")
        run = sciarch.Run(path)
        datamodule, task = run.build()
        task.model.cpu().eval()
        yield name, path, run, datamodule, task
