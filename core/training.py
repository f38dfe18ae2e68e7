"""Run a resolved recipe with Lightning: build, fit, test, and keep everything in one run directory.

A run directory holds::

    config.yaml          the resolved recipe (every argument spelled out), enough to rebuild the run
    summary.json         status, steps, best checkpoint, test metrics, timings, versions
    checkpoints/         last.ckpt (every validation, every N steps, and on Ctrl-C) and best.ckpt
    metrics.csv          everything logged, step by step (Lightning's CSVLogger)
    tensorboard/         the same for TensorBoard
    evaluation/          plots and tables the task writes when it is tested

Ensembles (``ensemble: N``) train N members with seeds ``seed … seed+N-1`` in ``member-<i>/``
and report each test metric's mean and standard deviation across members, and the metrics of
the members' combined prediction where the task defines how to combine them
(:meth:`sciarch.Task.ensemble_metrics`, ``combined_test`` in the summary).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, Checkpoint, EarlyStopping, ModelCheckpoint

from .building import apply_hints, build_task, make_datamodule, overrides_hook
from .config import Resolved
from .data import ResumableLoader
from .errors import NotFoundError, SciarchError, UsageError
from .io import atomic_write, check_checkpoint, write_json
from .plugins import get_host
from .progress import console, interactive
from .results import scalar_metrics, spread
from .runs import Run, combined_metrics
from .task import Task
from .trainers import Summary, check_trainer_args
from .trainers import quiet as lightning_quiet
from .version import __version__


class RunInterrupted(SciarchError):
    """Training stopped on SIGINT/SIGTERM after saving ``last.ckpt``; resume with ``--resume``."""

    exit_code = 130


# -- callbacks ---------------------------------------------------------------------------------


class ResumeState(Callback):
    """Keeps what Lightning does not: the random-number state and the loader's place in the epoch.

    With it a resumed run continues exactly where the checkpoint was taken: same batches, same
    order, same dropout masks.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    @staticmethod
    def _loaders(trainer: pl.Trainer) -> list[ResumableLoader]:
        found = trainer.train_dataloader
        items = found if isinstance(found, (list, tuple)) else list(found.values()) if isinstance(found, dict) else [found]
        return [dl for dl in items if isinstance(dl, ResumableLoader)]

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        for dl in self._loaders(trainer):
            dl.consumed = batch_idx + 1

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        for dl in self._loaders(trainer):
            if dl.consumed >= len(dl):
                dl.consumed = 0

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self._pending is not None:
            _set_rng_state(self._pending)
            self._pending = None

    def state_dict(self) -> dict[str, Any]:
        return _get_rng_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = dict(state_dict)


def _get_rng_state() -> dict[str, Any]:
    import random

    import numpy as np

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import random

    import numpy as np

    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class StopOnSignal(Callback):
    """On SIGINT/SIGTERM, finish the current batch, save ``last.ckpt`` and stop."""

    def __init__(self, last_path: Path) -> None:
        self.last_path = last_path
        self.requested: str | None = None

    def request(self, signum: int, _frame: Any = None) -> None:
        if self.requested is not None:  # a second signal: stop now
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        self.requested = signal.Signals(signum).name

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.requested:
            trainer.save_checkpoint(self.last_path, weights_only=False)
            raise RunInterrupted(f"{self.requested} received at step {trainer.global_step}; saved "
                                 f"{self.last_path}; continue with --resume")


class EpochReport(Callback):
    """One line per epoch with the logged metrics, where no progress bar is drawn."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                   if k.startswith(("train/", "val/")) and torch.is_tensor(v) and v.numel() == 1}
        shown = "  ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))
        console.print(f"epoch {trainer.current_epoch}  step {trainer.global_step}  {shown}", soft_wrap=True)


@contextlib.contextmanager
def _signals(stopper: StopOnSignal) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, stopper.request)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# -- running -----------------------------------------------------------------------------------


def resolve_precision(precision: str | int | None, accelerator: str) -> str:
    """``auto``: bf16 mixed precision on a GPU that supports it, else full float32."""
    if precision not in (None, "auto"):
        return str(precision)
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if on_gpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def trainer_settings(resolved: Resolved) -> dict[str, Any]:
    """The recipe's Trainer arguments with the precision made concrete."""
    trainer_args = dict(resolved.trainer)
    trainer_args["precision"] = resolve_precision(trainer_args.get("precision"),
                                                  str(trainer_args.get("accelerator", "auto")))
    return trainer_args


def default_run_dir(resolved: Resolved, root: str | Path | None = None) -> Path:
    root = Path(root or os.environ.get("SCIARCH_RUNS", "runs"))
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = resolved.name.replace("/", "-")
    path = root / name / (stamp + ("-smoke" if resolved.smoke else ""))
    n = 1
    while path.exists():
        n += 1
        path = root / name / f"{stamp}-{n}{'-smoke' if resolved.smoke else ''}"
    return path


def versions() -> dict[str, str]:
    out = {"sciarch": __version__, "python": platform.python_version(), "torch": torch.__version__,
           "lightning": pl.__version__}
    host = get_host()
    for info in host.plugins.values():
        if info.ok and info.version:
            out[f"plugin:{info.name}"] = info.version
    return out


def _device_description(trainer: pl.Trainer) -> str:
    if trainer.accelerator.__class__.__name__.lower().startswith("cuda") and torch.cuda.is_available():
        return f"{trainer.num_devices}× {torch.cuda.get_device_name(0)}"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def _read_summary(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "summary.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except ValueError:
            return {}
    return {}


def process_rank() -> int:
    """This process's global rank, by Lightning's own reading of the launchers' variables
    (``RANK``, ``LOCAL_RANK``, ``SLURM_PROCID``, …); a process on node ``NODE_RANK`` > 0 that no
    launcher numbered is not rank zero either."""
    from lightning.fabric.utilities.rank_zero import _get_rank

    rank = _get_rank()
    if rank:
        return rank
    node = os.environ.get("NODE_RANK", "0")
    return int(node) * 1000 if node.isdigit() else 0  # only "is it zero" matters here


def train(resolved: Resolved, *, run_dir: str | Path | None = None, resume: bool = False,
          runs_root: str | Path | None = None, quiet: bool = False,
          callbacks: list[Callback] | None = None) -> Path:
    """Train a resolved recipe (all members of an ensemble) and return its run directory.

    Under DDP every process runs this; only rank 0 writes the run's files. Rank 0 passes the run
    directory to the processes Lightning starts through ``SCIARCH_RUN_DIR``; processes started by
    torchrun or SLURM on several nodes need ``--run-dir`` on a shared file system. Trainer settings
    that Lightning rejects on this machine are a :class:`UsageError` before anything is written.
    ``callbacks`` are added to each member's Trainer (a benchmark's probes, a user's own).
    """
    check_trainer_args(trainer_settings(resolved), source=f"{resolved.name} recipe's trainer")
    if process_rank() > 0:
        run_dir = run_dir or os.environ.get("SCIARCH_RUN_DIR")
        if not run_dir:
            raise UsageError("a multi-process run needs --run-dir (the same shared directory for every process)")
        run_dir = Path(run_dir).resolve()
        if resolved.ensemble > 1:
            raise UsageError("ensembles train their members one after another; run them without DDP")
        _train_one(resolved, run_dir, seed=resolved.seed, resume=resume, quiet=True, extra=callbacks)
        return run_dir
    run_dir = (Path(run_dir) if run_dir else default_run_dir(resolved, runs_root)).resolve()
    if resume and not (run_dir / "config.yaml").is_file():
        raise NotFoundError(f"{run_dir}: not a run directory (no config.yaml) to resume")
    if not resume and (run_dir / "config.yaml").is_file():
        raise UsageError(f"{run_dir} already holds a run; use --resume to continue it or choose another --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ["SCIARCH_RUN_DIR"] = str(run_dir)  # for the processes Lightning's DDP launches
    if not resume:
        with atomic_write(run_dir / "config.yaml") as handle:
            handle.write(resolved.to_yaml())
    if resolved.ensemble == 1:
        _train_one(resolved, run_dir, seed=resolved.seed, resume=resume, quiet=quiet,
                   config_path=run_dir / "config.yaml", extra=callbacks)
        return run_dir
    members, reported = [], False
    for i in range(resolved.ensemble):
        member_dir = run_dir / f"member-{i}"
        done = _read_summary(member_dir).get("status") == "completed"
        if not done:
            member_resume = resume and (member_dir / "checkpoints" / "last.ckpt").is_file()
            if not member_resume and member_dir.exists():
                import shutil

                shutil.rmtree(member_dir)  # a member that never checkpointed starts over
            member_dir.mkdir(parents=True, exist_ok=True)
            _train_one(resolved, member_dir, seed=resolved.seed + i, resume=member_resume, quiet=quiet,
                       config_path=run_dir / "config.yaml" if i == 0 else None, extra=callbacks,
                       data_reported=reported)
            reported = True
        members.append(_read_summary(member_dir))
    summary = ensemble_summary(resolved, members)
    if summary["status"] == "completed":
        combined = combined_metrics(Run(run_dir))
        if combined:
            summary["combined_test"] = combined
    write_json(run_dir / "summary.json", summary)
    return run_dir


def ensemble_summary(resolved: Resolved, members: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "recipe": resolved.name,
        "status": "completed" if all(m.get("status") == "completed" for m in members) else "incomplete",
        "ensemble": resolved.ensemble,
        "members": [f"member-{i}" for i in range(len(members))],
        "seeds": [m.get("seed") for m in members],
        "test": spread((m.get("test") or {} for m in members), keep_values=True),
        "versions": versions(),
    }


def _record_filled(config_path: Path, resolved: Resolved, filled: dict[str, Any]) -> None:
    """Write the values the data filled in (``model.args.in_features``) into the saved config."""
    if not filled or not config_path.is_file():
        return
    with atomic_write(config_path) as handle:
        handle.write(resolved.to_yaml())


# -- one model's training ------------------------------------------------------------------------


class LastCheckpoint(Checkpoint):
    """``last.ckpt`` is the newest state: written after every validation, every
    ``every_n_train_steps`` steps (when set), at the end of every epoch without validation, and
    when training ends.

    (Lightning's ``ModelCheckpoint(save_last=True)`` with a monitor writes ``last`` only when it
    also saves a top-k checkpoint, so a long run's ``last.ckpt`` could be many epochs old.) As a
    :class:`~lightning.pytorch.callbacks.Checkpoint` it runs after the best-checkpoint callback,
    so what it saves knows the newest best score.
    """

    def __init__(self, path: Path, every_n_train_steps: int = 0) -> None:
        self.path = Path(path)
        self.every_n_train_steps = every_n_train_steps
        self._saved_step = -1

    @property
    def state_key(self) -> str:
        return "LastCheckpoint"

    def save(self, trainer: pl.Trainer) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run:
            return
        trainer.save_checkpoint(self.path, weights_only=False)  # everything a resume needs
        self._saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        n = self.every_n_train_steps
        if n and trainer.global_step % n == 0 and trainer.global_step != self._saved_step:
            self.save(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.state.fn == "fit":
            self.save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.global_step != self._saved_step:  # no validation ran at the end of this epoch
            self.save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.global_step != self._saved_step:
            self.save(trainer)


class RunSummary:
    """``summary.json`` of one model's run, kept up to date as training goes (rank zero writes)."""

    def __init__(self, run_dir: Path, *, resume: bool, write: bool) -> None:
        self.path = run_dir / "summary.json"
        self.data: dict[str, Any] = _read_summary(run_dir) if resume else {}
        self.write = write

    def update(self, **values: Any) -> None:
        self.data.update(values)
        if self.write:
            write_json(self.path, self.data)


def _callbacks(resolved: Resolved, run_dir: Path, *, monitor: str | None, quiet: bool,
               show_bar: bool) -> tuple[list[Callback], ModelCheckpoint, StopOnSignal]:
    ckpt_dir = run_dir / "checkpoints"
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=resolved.checkpoint["mode"],
                           save_top_k=resolved.checkpoint["save_top_k"] if monitor else 1, save_last=False,
                           auto_insert_metric_name=False, enable_version_counter=False)
    stopper = StopOnSignal(ckpt_dir / "last.ckpt")
    callbacks: list[Callback] = [
        best,
        LastCheckpoint(ckpt_dir / "last.ckpt", resolved.checkpoint["every_n_train_steps"]),
        ResumeState(),
        stopper,
        Summary(max_depth=1) if not quiet else None,
    ]
    if resolved.early_stopping and monitor:
        es = resolved.early_stopping
        callbacks.append(EarlyStopping(monitor=es["monitor"], mode=es["mode"], patience=es["patience"],
                                       min_delta=es["min_delta"]))
    if show_bar:
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar())
    elif not quiet:
        callbacks.append(EpochReport())
    return [c for c in callbacks if c is not None], best, stopper


def _loggers(run_dir: Path) -> list[Any]:
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    return [CSVLogger(save_dir=str(run_dir), name="", version=""),
            TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False)]


@contextlib.contextmanager
def _console_silenced(silenced: bool) -> Iterator[None]:
    if not silenced:
        yield
        return
    before, console.quiet = console.quiet, True
    try:
        yield
    finally:
        console.quiet = before


def _silence_data_reports(datamodule: Any) -> None:
    """Run the datamodule's ``prepare_data`` and ``setup`` with the console silenced: for an
    ensemble's later members, whose data (read, checked, counted, reported) is the first member's."""
    for name in ("prepare_data", "setup"):
        method = getattr(datamodule, name, None)
        if callable(method):
            def silenced(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
                with _console_silenced(True):
                    return _method(*args, **kwargs)

            setattr(datamodule, name, silenced)


def _train_one(resolved: Resolved, run_dir: Path, *, seed: int, resume: bool, quiet: bool,
               config_path: Path | None = None, extra: list[Callback] | None = None,
               data_reported: bool = False) -> dict[str, Any]:
    """Train one model. ``data_reported``: an earlier ensemble member of this call already printed
    the data's reports (duplicates, skipped records, notes) and the model's description."""
    pl.seed_everything(seed, workers=True, verbose=False)
    datamodule = make_datamodule(resolved, seed=seed)
    if data_reported:
        _silence_data_reports(datamodule)
    with _console_silenced(data_reported):
        complete, filled = apply_hints(resolved, datamodule)
    task = build_task(complete)
    is_zero = process_rank() == 0
    if not resume and config_path is not None and is_zero:
        _record_filled(config_path, complete, filled)
    last = run_dir / "checkpoints" / "last.ckpt"
    if resume and not last.is_file():
        raise NotFoundError(f"{run_dir}: no checkpoints/last.ckpt to resume from")
    if resume:
        check_checkpoint(last)  # damaged or foreign: a DataError naming it, from the Python API too

    trainer_args = trainer_settings(resolved)
    has_val = overrides_hook(datamodule, "val_dataloader")
    has_test = overrides_hook(datamodule, "test_dataloader")
    monitor = resolved.checkpoint["monitor"] if has_val else None
    show_bar = interactive() and not quiet
    callbacks, best, stopper = _callbacks(resolved, run_dir, monitor=monitor, quiet=quiet, show_bar=show_bar)
    callbacks += list(extra or [])
    with lightning_quiet():
        trainer = pl.Trainer(default_root_dir=str(run_dir), callbacks=callbacks, logger=_loggers(run_dir),
                             enable_progress_bar=show_bar, enable_model_summary=False, **trainer_args)

    summary = RunSummary(run_dir, resume=resume, write=is_zero)
    started = time.time()
    summary.update(recipe=resolved.name, status="running", seed=seed,
                   started=_dt.datetime.now().isoformat(timespec="seconds"), filled_from_data=filled,
                   versions=versions(), command=" ".join(sys.argv))
    if not quiet and not data_reported:
        described = getattr(task.model, "describe", None)
        if callable(described):
            console.print(described())
    try:
        with _signals(stopper), lightning_quiet():
            trainer.fit(task, datamodule=datamodule, ckpt_path=str(last) if resume else None, weights_only=True)
    except RunInterrupted:
        summary.update(status="interrupted", global_step=trainer.global_step, epoch=trainer.current_epoch,
                       train_seconds=summary.data.get("train_seconds", 0.0) + time.time() - started)
        raise
    except BaseException as exc:
        summary.update(status="failed", error=f"{type(exc).__name__}: {exc}", global_step=trainer.global_step)
        raise
    summary.update(
        global_step=trainer.global_step,
        epochs=trainer.current_epoch,
        train_seconds=round(summary.data.get("train_seconds", 0.0) + time.time() - started, 2),
        device=_device_description(trainer),
        world_size=trainer.world_size,
        precision=trainer_args["precision"],
        best_checkpoint=str(Path(best.best_model_path).relative_to(run_dir)) if best.best_model_path else None,
        best_score=float(best.best_model_score) if best.best_model_score is not None else None,
        monitor=monitor,
        validation=scalar_metrics(trainer.callback_metrics),
    )
    if has_test:
        summary.data["test"] = _test(trainer, task, datamodule, run_dir, best.best_model_path or None)
    summary.update(status="completed", finished=_dt.datetime.now().isoformat(timespec="seconds"))
    return summary.data


def _test(trainer: pl.Trainer, task: Task, datamodule: Any, run_dir: Path, best: str | None) -> dict[str, float]:
    """Score the best checkpoint (else the last weights) on the test split; the task's plots and
    tables go to ``run_dir/evaluation``."""
    task.artifact_dir = run_dir / "evaluation"
    task.artifact_dir.mkdir(parents=True, exist_ok=True)
    with lightning_quiet():
        results = trainer.test(task, datamodule=datamodule, ckpt_path=best,
                               weights_only=True, verbose=False)  # the CLI prints its own table
    return scalar_metrics(results[0]) if results else {}
