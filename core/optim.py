"""Optimizers and learning-rate schedules a recipe can name (``optimizer:``, ``scheduler:``).

Optimizers are ``torch.optim`` classes by lower-case name; their arguments are checked against
the class signature. Schedules are the functions below: each takes the optimizer and the run's
step counts and returns a Lightning ``lr_scheduler`` configuration.
"""

from __future__ import annotations

import math
from typing import Any

OPTIMIZERS = {
    "adam": "Adam",
    "adamw": "AdamW",
    "sgd": "SGD",
    "radam": "RAdam",
    "nadam": "NAdam",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
}


def optimizer_class(name: str) -> type:
    import torch

    return getattr(torch.optim, OPTIMIZERS[str(name).lower()])


def _lambda(optimizer: Any, fn: Any) -> dict[str, Any]:
    import torch

    return {"scheduler": torch.optim.lr_scheduler.LambdaLR(optimizer, fn), "interval": "step"}


def cosine(optimizer: Any, total_steps: int, steps_per_epoch: int, *, warmup_steps: int = 0,
           warmup_fraction: float = 0.0, min_lr_ratio: float = 0.0) -> dict[str, Any]:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` × lr at the last step."""
    warm = max(warmup_steps, int(warmup_fraction * total_steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = min(1.0, (step - warm) / max(1, total_steps - warm))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return _lambda(optimizer, factor)


def noam(optimizer: Any, total_steps: int, steps_per_epoch: int, *, warmup_epochs: float = 2.0,
         init_lr_ratio: float = 0.1, final_lr_ratio: float = 0.1) -> dict[str, Any]:
    """Linear warm-up from ``init_lr_ratio`` × lr over ``warmup_epochs``, then exponential decay to
    ``final_lr_ratio`` × lr at the last step (the schedule chemprop trains D-MPNN with)."""
    warm = max(1, int(warmup_epochs * steps_per_epoch))
    decay_steps = max(1, total_steps - warm)
    gamma = final_lr_ratio ** (1.0 / decay_steps)

    def factor(step: int) -> float:
        if step < warm:
            return init_lr_ratio + (1 - init_lr_ratio) * step / warm
        return gamma ** (step - warm)

    return _lambda(optimizer, factor)


def plateau(optimizer: Any, total_steps: int, steps_per_epoch: int, *, monitor: str = "val/loss",
            mode: str = "min", factor: float = 0.5, patience: int = 5, min_lr: float = 0.0) -> dict[str, Any]:
    """Multiply the lr by ``factor`` when ``monitor`` stops improving for ``patience`` epochs."""
    import torch

    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=factor, patience=patience,
                                                       min_lr=min_lr)
    return {"scheduler": sched, "monitor": monitor, "interval": "epoch"}


def onecycle(optimizer: Any, total_steps: int, steps_per_epoch: int, *, pct_start: float = 0.3,
             div_factor: float = 25.0, final_div_factor: float = 1e4) -> dict[str, Any]:
    """Smith's one-cycle policy, peaking at the optimizer's lr."""
    import torch

    max_lr = [group["lr"] for group in optimizer.param_groups]
    sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(total_steps, 1),
                                                pct_start=pct_start, div_factor=div_factor,
                                                final_div_factor=final_div_factor)
    return {"scheduler": sched, "interval": "step"}


def step(optimizer: Any, total_steps: int, steps_per_epoch: int, *, step_epochs: int = 10,
         gamma: float = 0.5) -> dict[str, Any]:
    """Multiply the lr by ``gamma`` every ``step_epochs`` epochs."""
    import torch

    return {"scheduler": torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_epochs, gamma=gamma),
            "interval": "epoch"}


SCHEDULERS = {"cosine": cosine, "noam": noam, "plateau": plateau, "onecycle": onecycle, "step": step}


def configure(module: Any, optimizer_cfg: dict[str, Any], scheduler_cfg: dict[str, Any] | None) -> Any:
    """What ``LightningModule.configure_optimizers`` returns for a recipe's settings."""
    cfg = dict(optimizer_cfg)
    name = cfg.pop("name")
    params = [p for p in module.parameters() if p.requires_grad]
    cls = optimizer_class(name)
    if "fused" not in cfg and params and all(p.is_cuda for p in params) and _takes(cls, "fused"):
        cfg["fused"] = True  # one kernel for the whole update on a GPU (Lightning moved the model there)
    optimizer = cls(param_groups(params), **cfg)
    if not scheduler_cfg:
        return optimizer
    sched_cfg = dict(scheduler_cfg)
    sched_name = sched_cfg.pop("name")
    total, per_epoch = step_counts(module.trainer)
    return {"optimizer": optimizer, "lr_scheduler": SCHEDULERS[sched_name](optimizer, total, per_epoch, **sched_cfg)}


def param_groups(params: list[Any]) -> list[Any]:
    """The parameters as optimizer groups: one per distinct ``_optim`` dict that a model set on some of
    them (its own ``lr`` or ``weight_decay``, as S4 marks its state-space parameters: Gu et al., ICLR
    2022), the unmarked ones in the first group with the recipe's settings. No marks: the plain list."""
    marked: dict[tuple, list[Any]] = {}
    for p in params:
        if getattr(p, "_optim", None):
            marked.setdefault(tuple(sorted(p._optim.items())), []).append(p)
    if not marked:
        return params
    plain = [p for p in params if not getattr(p, "_optim", None)]
    return ([{"params": plain}] if plain else []) + [{"params": group, **dict(key)} for key, group in marked.items()]


def _takes(cls: type, argument: str) -> bool:
    import inspect

    try:
        return argument in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def step_counts(trainer: Any) -> tuple[int, int]:
    """(optimizer steps in the whole run, optimizer steps per epoch).

    Counted from a fresh train loader of the DataModule rather than with
    ``trainer.estimated_stepping_batches``: that property sets up Lightning's own train loader
    before a resumed checkpoint's loader state is restored, and the resumed epoch would then start
    from its first batch again.
    """
    datamodule = getattr(trainer, "datamodule", None)
    if datamodule is None:
        total = int(trainer.estimated_stepping_batches)
        return total, max(1, total // max(1, trainer.max_epochs or 1))
    batches = len(datamodule.train_dataloader())
    limit = trainer.limit_train_batches
    if isinstance(limit, float):
        batches = int(batches * limit)
    elif isinstance(limit, int):
        batches = min(batches, limit)
    per_epoch = max(1, math.ceil(batches / trainer.accumulate_grad_batches))
    total = per_epoch * max(trainer.max_epochs or 1, 1) if (trainer.max_epochs or -1) != -1 else math.inf
    if trainer.max_steps not in (-1, None):
        total = min(total, trainer.max_steps)
    if math.isinf(total):
        raise ValueError("set trainer.max_epochs or trainer.max_steps for a learning-rate schedule")
    return int(total), per_epoch
