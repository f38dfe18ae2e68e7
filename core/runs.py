"""A finished (or interrupted) run, loaded back for evaluation and prediction.

``Run(path)`` accepts a run directory or a checkpoint file inside one. It rebuilds the task from
the saved ``config.yaml`` and loads weights with ``weights_only=True``. An ensemble run has
``members``: one :class:`Run` per member.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import NotFoundError
from .io import load_checkpoint, write_json


class Run:
    """A run directory: its config, checkpoints, summary and (for ensembles) members."""

    def __init__(self, path: str | Path, *, checkpoint: str | Path | None = None,
                 parent: Run | None = None) -> None:
        path = Path(path)
        if path.is_file() and path.suffix in (".ckpt", ".safetensors"):
            checkpoint = path
            path = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        if parent is None and not (path / "config.yaml").is_file():
            if path.name.startswith("member-") and (path.parent / "config.yaml").is_file():
                parent = Run(path.parent)
            else:
                raise NotFoundError(f"{path}: not a run directory (no config.yaml) and not a checkpoint in one")
        self.path = path
        self._checkpoint = Path(checkpoint) if checkpoint else None
        self._parent = parent

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @cached_property
    def config(self) -> Any:
        from .config import load_run_config

        return self._parent.config if self._parent else load_run_config(self.path)

    @property
    def summary(self) -> dict[str, Any]:
        path = self.path / "summary.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def members(self) -> list[Run]:
        dirs = sorted(self.path.glob("member-*"), key=lambda p: int(p.name.split("-")[1]))
        return [Run(d, parent=self) for d in dirs if (d / "checkpoints").is_dir()]

    @property
    def is_ensemble(self) -> bool:
        return bool(self.members)

    @property
    def checkpoint(self) -> Path:
        """The checkpoint to use: the one asked for, else best, else last."""
        if self._checkpoint is not None:
            return self._checkpoint
        for name in ("best.ckpt", "last.ckpt"):
            candidate = self.path / "checkpoints" / name
            if candidate.is_file():
                return candidate
        raise NotFoundError(f"{self.path}: no checkpoint (checkpoints/best.ckpt or last.ckpt)")

    def task_spec(self) -> Any:
        from .plugins import get_host

        return get_host().get("task", self.config.task.name)

    def build(self, data_overrides: dict[str, Any] | None = None) -> tuple[Any, Any]:
        """The DataModule and the task with this run's weights, in eval mode."""
        import copy

        from .building import build

        config = copy.deepcopy(self.config)
        if data_overrides:
            config.data.args.update(data_overrides)
        datamodule, task, _ = build(config)
        state = load_checkpoint(self.checkpoint)
        task.load_state_dict(state["state_dict"])
        task.eval()
        return datamodule, task

    def load_task(self) -> Any:
        """The trained task (a LightningModule) in eval mode."""
        return self.build()[1]

    def build_members(self, data_overrides: dict[str, Any] | None = None) -> tuple[Any, list[Any]]:
        """One DataModule (from the first member's recipe) and every member's task in eval mode;
        a run that is not an ensemble gives its one task."""
        members = self.members or [self]
        datamodule, first = members[0].build(data_overrides)
        return datamodule, [first] + [m.load_task() for m in members[1:]]

    def tasks(self) -> list[Any]:
        """Every member's task for an ensemble, else the one task."""
        return self.build_members()[1]


def combined_metrics(run: Run, *, split: str = "test",
                     data_overrides: dict[str, Any] | None = None) -> dict[str, float] | None:
    """An ensemble's metrics on its combined prediction (see :meth:`sciarch.Task.ensemble_metrics`),
    or None when the run is not an ensemble or its task does not combine predictions."""
    if len(run.members) < 2:
        return None
    datamodule, tasks = run.build_members(data_overrides)
    return _combine(tasks, datamodule, split)


def _combine(tasks: list[Any], datamodule: Any, split: str) -> dict[str, float] | None:
    combined = type(tasks[0]).ensemble_metrics([task.eval() for task in tasks], datamodule, split)
    return {k: float(v) for k, v in combined.items()} if combined else None


def evaluate(run: Run, *, split: str = "test", out: str | Path | None = None,
             data_overrides: dict[str, Any] | None = None, accelerator: str = "auto") -> dict[str, Any]:
    """Score a run on a split of its data (or other data, through ``data_overrides``).

    Writes ``metrics.json`` and whatever the task draws (parity plot, confusion matrix) to
    ``out`` (default ``<run>/evaluation``). Ensembles are scored member by member and summarised
    as mean and standard deviation, and, when the task can combine its members' predictions, on the
    combined prediction as well (``combined``).
    """
    from .results import scalar_metrics, spread
    from .trainers import evaluation_trainer, quiet

    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', not {split!r}")
    out = Path(out) if out else run.path / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    runs = run.members if run.is_ensemble else [run]
    per_member, tasks = [], []
    for i, member in enumerate(runs):
        datamodule, task = member.build(data_overrides)
        tasks.append(task)
        if i == 0:
            first_datamodule = datamodule
        task.artifact_dir = out if len(runs) == 1 else out / f"member-{i}"
        task.artifact_dir.mkdir(parents=True, exist_ok=True)
        trainer = evaluation_trainer(accelerator)
        method = trainer.test if split == "test" else trainer.validate
        with quiet():
            results = method(task, datamodule=datamodule, verbose=False)
        per_member.append(scalar_metrics(results[0]) if results else {})
    metrics: dict[str, Any] = per_member[0] if len(per_member) == 1 else spread(per_member)
    report = {"run": str(run.path), "checkpoint": str(runs[0].checkpoint), "split": split, "metrics": metrics,
              "data_overrides": data_overrides or {}}
    if len(tasks) > 1:  # the members tested above, combined: nothing is loaded again
        combined = _combine(tasks, first_datamodule, split)
        if combined:
            report["combined"] = combined
    write_json(out / "metrics.json", report)
    return report
