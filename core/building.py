"""Build what a resolved recipe names: the DataModule, the model and the task.

Used by training (:mod:`sciarch.training`) and by loading a finished run back
(:mod:`sciarch.runs`); it imports neither.

The run's seed reaches the data: :func:`sciarch.config.resolve` writes it into the DataModule's
``seed`` argument unless the recipe set that on purpose, and ensemble member ``i`` shuffles with
that seed plus ``i``, as its model is initialised with the run's seed plus ``i``.
"""

from __future__ import annotations

import copy
from typing import Any

from .config import Resolved
from .errors import ConfigError
from .plugins import get_host
from .validation import parameters_of


def make_datamodule(resolved: Resolved, *, seed: int | None = None, host: Any = None) -> Any:
    """The recipe's DataModule; ``seed`` (an ensemble member's) shifts the data's shuffling seed
    by as much as it differs from the run's."""
    host = host or get_host()
    data_builder = host.get("dataset", resolved.data.name).load()
    data_args = dict(resolved.data.args)
    offset = 0 if seed is None else seed - resolved.seed
    if offset and isinstance(data_args.get("seed"), int):
        data_args["seed"] = data_args["seed"] + offset
    return data_builder(**data_args)


def hints_of(datamodule: Any) -> dict[str, Any]:
    """Values the data offers for model and task arguments (``in_features``, class counts)."""
    return dict(datamodule.hints()) if hasattr(datamodule, "hints") else {}


def apply_hints(resolved: Resolved, datamodule: Any, host: Any = None) -> tuple[Resolved, dict[str, Any]]:
    """The recipe with the data's hints filled into the model and task arguments it left at their
    defaults (the recipe's own values win), and what was filled (``{"model.args.x": value}``).

    Raises :class:`ConfigError` when a required argument is neither in the recipe nor offered.
    """
    host = host or get_host()
    hints = hints_of(datamodule)
    filled: dict[str, Any] = {}
    updated = copy.deepcopy(resolved)
    for section, skip in (("model", ()), ("task", ("model",))):
        part = getattr(updated, section)
        params, _ = parameters_of(host.get(section, part.name).load(), skip=skip)
        explicit = set(resolved.explicit.get(section, ()))
        for name, value in hints.items():
            if name in params and name not in explicit:
                part.args[name] = value
                filled[f"{section}.args.{name}"] = value
        missing = [n for n, p in params.items() if p.required and n not in part.args]
        if missing:
            raise ConfigError(f"missing required argument(s) {', '.join(missing)}; the data set does not "
                              "provide them either", source=resolved.source, key=f"{section}.args")
    return updated, filled


def build_task(complete: Resolved, host: Any = None) -> Any:
    """The model and the task (a LightningModule) of a recipe whose arguments are complete
    (hints applied: :func:`apply_hints`), with the recipe's optimizer and schedule."""
    from .task import Task

    host = host or get_host()
    model = host.get("model", complete.model.name).load()(**complete.model.args)
    task = host.get("task", complete.task.name).load()(model=model, **complete.task.args)
    if isinstance(task, Task):
        task.set_optimization(complete.optimizer, complete.scheduler)
    return task


def build(resolved: Resolved, *, seed: int | None = None, host: Any = None) -> tuple[Any, Any, dict[str, Any]]:
    """Build the DataModule, the model and the task of a recipe.

    The DataModule may offer ``hints()``: values derived from the data (feature sizes, number of
    classes, target statistics) that fill model and task arguments the recipe left at their
    defaults. Returns ``(datamodule, task, filled)`` where ``filled`` lists what hints set.
    """
    host = host or get_host()
    datamodule = make_datamodule(resolved, seed=seed, host=host)
    complete, filled = apply_hints(resolved, datamodule, host)
    return datamodule, build_task(complete, host), filled


def overrides_hook(datamodule: Any, hook: str) -> bool:
    """Whether a DataModule defines ``hook`` itself (``val_dataloader``), not only inherits it."""
    import lightning.pytorch as pl

    method = getattr(type(datamodule), hook, None)
    return method is not None and method is not getattr(pl.LightningDataModule, hook, None)
