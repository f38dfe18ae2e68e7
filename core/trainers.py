"""The one place sciarch makes Lightning Trainers: settings checked before a run starts, and
Lightning's output kept to what applies to a run the host set up.

Lightning advertises cloud services ("💡 Tip: …") and warns about choices the host makes on
purpose (no loader workers for in-memory data, short epochs, an existing checkpoint folder on
resume). Those messages are dropped only while sciarch itself drives Lightning (:func:`quiet`, a
context manager that restores every filter and handler when it ends); nothing is changed for the
rest of the process.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelSummary

from .errors import UsageError

#: Lightning log lines that advertise a service or describe a choice sciarch made on purpose.
LOG_NOISE = ("💡 Tip", "litlogger", "litmodels", "exists and is not empty")
#: Warnings of the same kind (matched against the start of the message).
WARNING_NOISE = (
    r".*does not have many workers",          # in-memory data sets load fastest in the main process
    r".*is smaller than the logging interval",  # smoke runs and small data sets have short epochs
    r".*exists and is not empty",             # a resumed run writes into its own checkpoint folder
    r".*LeafSpec",                            # a torch deprecation raised inside Lightning
    r".*`isinstance\(treespec, LeafSpec\)`",
)
_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning")


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in LOG_NOISE)


@contextlib.contextmanager
def quiet(*, info: bool = True) -> Iterator[None]:
    """Drop Lightning's advertisements and not-applicable warnings inside this block only;
    ``info=False`` drops its informational lines too (a Trainer made only to check settings)."""
    noise = _DropNoise()
    attached: list[logging.Filterer] = []
    levels: dict[logging.Logger, int] = {}
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not info:
            levels[logger] = logger.level
            logger.setLevel(logging.WARNING)
        for target in (logger, *logger.handlers):
            target.addFilter(noise)
            attached.append(target)
    try:
        with warnings.catch_warnings():
            for pattern in WARNING_NOISE:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        for target in attached:
            target.removeFilter(noise)
        for logger, level in levels.items():
            logger.setLevel(level)


class Summary(ModelSummary):
    """Lightning's model summary, without the FLOPs column when nothing was counted.

    Lightning counts FLOPs only for a module with an ``example_input_array``; for the others its
    column reads 0 everywhere, which is wrong rather than unknown. ``sciarch inspect`` counts them.
    """

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], total_parameters: int, trainable_parameters: int,
                  model_size: float, total_training_modes: dict[str, int], total_flops: int,
                  **summarize_kwargs: Any) -> None:
        if not total_flops:
            summary_data = [column for column in summary_data if column[0] != "FLOPs"]
            from lightning.pytorch.utilities.model_summary.model_summary import _format_summary_table

            table = _format_summary_table(total_parameters, trainable_parameters, model_size, total_training_modes,
                                          total_flops, *summary_data)
            table = "\n".join(line for line in table.splitlines() if not line.rstrip().endswith("Total Flops"))
            from lightning.pytorch.utilities import rank_zero_info

            rank_zero_info("\n" + table)
            return
        ModelSummary.summarize(summary_data, total_parameters, trainable_parameters, model_size,
                               total_training_modes, total_flops, **summarize_kwargs)


def check_trainer_args(trainer_args: dict[str, Any], *, source: str = "trainer") -> None:
    """Raise :class:`UsageError` (one line) for Trainer settings Lightning rejects on this machine
    (``accelerator: gpu`` with no GPU, an unknown strategy, devices that are not there), before a
    run directory is made."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        with quiet(info=False):
            pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                       enable_model_summary=False, **trainer_args)
    except (MisconfigurationException, ValueError, TypeError, RuntimeError) as exc:
        settings = ", ".join(f"{k}={v!r}" for k, v in trainer_args.items()
                             if k in ("accelerator", "devices", "strategy", "num_nodes", "precision"))
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"Lightning rejects the {source} settings ({settings}): {first}") from None


def evaluation_trainer(accelerator: str = "auto") -> pl.Trainer:
    """A Trainer for testing or predicting with a finished run: one device, no logs, no checkpoints."""
    with quiet(info=False):
        return pl.Trainer(accelerator=accelerator, devices=1, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False)
