"""The base class of training objectives: a LightningModule around one model.

A plugin's task subclasses :class:`Task`: it takes ``model`` (built by the host from the recipe's
``model:`` section) and its own arguments, and implements the steps and metrics. The optimizer
and schedule come from the recipe's ``optimizer:`` and ``scheduler:`` sections; the host sets them
with :meth:`Task.set_optimization`. ``artifact_dir``, when set, is where evaluation writes plots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from .optim import configure


class Task(pl.LightningModule):
    """A LightningModule that owns ``self.model`` and builds its optimizer from the recipe."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self._optimizer_cfg: dict[str, Any] = {"name": "adamw", "lr": 1e-3}
        self._scheduler_cfg: dict[str, Any] | None = None
        #: where ``sciarch evaluate`` wants plots and tables written (None: write nothing)
        self.artifact_dir: Path | None = None

    def set_optimization(self, optimizer: dict[str, Any], scheduler: dict[str, Any] | None) -> None:
        self._optimizer_cfg = dict(optimizer)
        self._scheduler_cfg = dict(scheduler) if scheduler else None

    def configure_optimizers(self) -> Any:
        return configure(self, self._optimizer_cfg, self._scheduler_cfg)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    @classmethod
    def ensemble_metrics(cls, members: list[Task], datamodule: Any, split: str = "test") -> dict[str, float] | None:
        """Metrics of the members' combined prediction on ``split`` (``"test"`` or ``"val"``).

        An ensemble is judged by its combined prediction (the mean of its members' outputs, for
        regression), not by how good its members are on average; the host reports both. A task
        that knows how to combine its members overrides this; the default, ``None``, leaves only
        the members' mean ± standard deviation. ``members`` are trained tasks in eval mode,
        ``datamodule`` is built from the run's recipe (it may already have been set up and tested
        on, so ``setup`` must be safe to call again, as Lightning's contract asks).
        """
        return None
