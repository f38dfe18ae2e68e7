"""Molecular property prediction: regression and classification, one or many targets, masked.

Missing target values (NaN) are masked out of the loss and the metrics, not dropped, so a
multi-task table with gaps trains on every value it has. Regression targets are standardised
with the training split's mean and standard deviation: the statistics are computed when fitting
starts (from the DataModule's training split only) and stored as buffers, so they travel inside
the checkpoint and prediction needs nothing from the training data. Metrics are torchmetrics',
computed per target and averaged over targets: RMSE, MAE, R², Pearson and Spearman correlation
for regression, ROC-AUC and PR-AUC (average precision) for classification, all in the targets'
own units. Testing writes ``test_predictions.csv`` and a parity plot (regression) or ROC curves
(classification) into the run's evaluation folder.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any, Literal

import sciarch
import torch
from torch import Tensor
from torch.nn import functional as F

REGRESSION_METRICS = ("rmse", "mae", "r2", "pearson", "spearman")
CLASSIFICATION_METRICS = ("roc_auc", "pr_auc")


def _metric_collection(task_type: str) -> Any:
    from torchmetrics import MetricCollection
    from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision
    from torchmetrics.regression import (
        MeanAbsoluteError,
        MeanSquaredError,
        PearsonCorrCoef,
        R2Score,
        SpearmanCorrCoef,
    )

    if task_type == "regression":
        with warnings.catch_warnings():  # it keeps an epoch's predictions: a few thousand molecules here
            warnings.filterwarnings("ignore", message=r"Metric `SpearmanCorrcoef` will save all targets")
            spearman = SpearmanCorrCoef()
        return MetricCollection({"rmse": MeanSquaredError(squared=False), "mae": MeanAbsoluteError(),
                                 "r2": R2Score(), "pearson": PearsonCorrCoef(), "spearman": spearman})
    return MetricCollection({"roc_auc": BinaryAUROC(), "pr_auc": BinaryAveragePrecision()})


def _update(collections: Any, pred: Tensor, y: Tensor, task_type: str) -> None:
    """Feed each target's metrics the predictions of the rows where that target is known."""
    for t, collection in enumerate(collections):
        mask = ~torch.isnan(y[:, t])
        if mask.any():
            known = y[mask, t]
            collection.update(pred[mask, t], known.long() if task_type == "classification" else known)


def _compute(collections: Any, target_names: list[str], metric_names: tuple[str, ...]) -> dict[str, float]:
    """Each metric averaged over the targets that have values (``rmse``), and per target
    (``rmse/<target>``) when there are several; resets the metrics."""
    out: dict[str, float] = {}
    per_metric: dict[str, list[float]] = {name: [] for name in metric_names}
    for name_t, collection in zip(target_names, collections, strict=True):
        if not any(m.update_count for m in collection.values()):
            continue
        values = {}
        for name, metric in collection.items(keep_base=False, copy_state=True):
            try:
                values[name] = float(metric.compute())
            except ValueError:  # R² needs two samples: a split of one leaves it out, not the run
                values[name] = math.nan
        collection.reset()
        for name in metric_names:
            value = values[name]
            per_metric[name].append(value)
            if len(target_names) > 1:
                out[f"{name}/{name_t}"] = value
    for name, values in per_metric.items():
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            out[name] = sum(finite) / len(finite)
    return out


class PropertyTask(sciarch.Task):
    """Fits a graph model's outputs to molecular properties.

    Args:
        model: the graph model (built by the host), returning ``[graphs, targets]``.
        task_type: ``regression`` (masked MSE on standardised targets) or ``classification``
            (masked binary cross-entropy on logits; targets 0/1). Filled from the data.
        target_names: one name per output (filled from the data); used in logs and outputs.
        standardise: scale regression targets by the training split's mean and sd.
        loss: ``mse`` or ``huber`` (regression only; Huber with delta 1 in standardised units).
    """

    def __init__(self, model: torch.nn.Module, task_type: Literal["regression", "classification"] = "regression",
                 target_names: list[str] | None = None, standardise: bool = True,
                 loss: Literal["mse", "huber"] = "mse") -> None:
        super().__init__(model)
        self.task_type = task_type
        self.target_names = list(target_names or ["target"])
        self.standardise = standardise
        self.loss_name = loss
        n = len(self.target_names)
        self.register_buffer("target_mean", torch.zeros(n))
        self.register_buffer("target_std", torch.ones(n))
        stages = ("val", "test")
        self.metrics = torch.nn.ModuleDict({
            stage: torch.nn.ModuleList([_metric_collection(task_type) for _ in range(n)]) for stage in stages})
        self._test_rows: list[tuple[Tensor, Tensor, Tensor]] = []

    @property
    def metric_names(self) -> tuple[str, ...]:
        return REGRESSION_METRICS if self.task_type == "regression" else CLASSIFICATION_METRICS

    # -- standardisation -------------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        # runs after the DataModule's setup and before a checkpoint is restored, so a resumed run
        # gets the saved statistics back (identical, since the split is seeded)
        if stage != "fit" or self.task_type != "regression" or not self.standardise:
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None or not hasattr(datamodule, "target_statistics"):
            return
        mean, std = datamodule.target_statistics()
        self.target_mean.copy_(torch.as_tensor(mean, dtype=self.target_mean.dtype))
        self.target_std.copy_(torch.as_tensor(std, dtype=self.target_std.dtype))

    def predict_batch(self, batch: Any) -> Tensor:
        """Predictions in the targets' units: values (regression) or probabilities (classification)."""
        out = self.model(batch)
        if self.task_type == "regression":
            return out * self.target_std + self.target_mean
        return torch.sigmoid(out)

    # -- steps -----------------------------------------------------------------------------------

    def _loss(self, out: Tensor, y: Tensor) -> Tensor:
        mask = ~torch.isnan(y)
        if not mask.any():
            return out.sum() * 0.0  # a batch without any label: no gradient, but a valid step
        target = torch.where(mask, y, torch.zeros_like(y))
        if self.task_type == "regression":
            target = (target - self.target_mean) / self.target_std
            if self.loss_name == "huber":
                per = F.huber_loss(out, target, reduction="none", delta=1.0)
            else:
                per = F.mse_loss(out, target, reduction="none")
        else:
            per = F.binary_cross_entropy_with_logits(out, target, reduction="none")
        return (per * mask).sum() / mask.sum()

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        out = self.model(batch)
        loss = self._loss(out, batch.y)
        self.log("train/loss", loss, batch_size=batch.num_graphs, prog_bar=True)
        return loss

    def _eval_step(self, batch: Any, stage: str) -> Tensor:
        out = self.model(batch)
        loss = self._loss(out, batch.y)
        self.log(f"{stage}/loss", loss, batch_size=batch.num_graphs, prog_bar=stage == "val")
        pred = out * self.target_std + self.target_mean if self.task_type == "regression" else torch.sigmoid(out)
        _update(self.metrics[stage], pred, batch.y, self.task_type)
        return pred

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        pred = self._eval_step(batch, "test")
        self._test_rows.append((batch.idx.detach().cpu(), pred.detach().cpu(), batch.y.detach().cpu()))

    def _log_metrics(self, stage: str) -> None:
        for key, value in _compute(self.metrics[stage], self.target_names, self.metric_names).items():
            self.log(f"{stage}/{key}", value, prog_bar=stage == "val" and key in ("rmse", "roc_auc"))

    @classmethod
    def ensemble_metrics(cls, members: list[sciarch.Task], datamodule: Any, split: str = "test") -> dict[str, float]:
        """Metrics of the members' mean prediction (values for regression, probabilities for
        classification) on the run's ``split``, as chemprop scores an ensemble."""
        first = members[0]
        datamodule.setup("test" if split == "test" else "validate")
        loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
        collections = [_metric_collection(first.task_type) for _ in first.target_names]
        with torch.inference_mode():
            for batch in loader:
                pred = torch.stack([member.predict_batch(batch) for member in members]).mean(0)
                _update(collections, pred, batch.y, first.task_type)
        return {f"{split}/{key}": value
                for key, value in _compute(collections, first.target_names, first.metric_names).items()}

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_start(self) -> None:
        self._test_rows.clear()

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")
        if self.artifact_dir is not None and self._test_rows:
            self._write_test_artifacts(Path(self.artifact_dir))
        self._test_rows.clear()

    # -- artefacts -------------------------------------------------------------------------------

    def _write_test_artifacts(self, out: Path) -> None:
        idx = torch.cat([r[0] for r in self._test_rows])
        pred = torch.cat([r[1] for r in self._test_rows])
        true = torch.cat([r[2] for r in self._test_rows])
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        describe = getattr(datamodule, "describe_record", None)
        with sciarch.atomic_write(out / "test_predictions.csv", newline="") as handle:
            writer = csv.writer(handle)
            header = ["record", "smiles"]
            for name in self.target_names:
                header += [name, f"{name}_pred"]
            writer.writerow(header)
            for i in range(len(idx)):
                record, smiles = describe(int(idx[i])) if describe else (str(int(idx[i])), "")
                row: list[Any] = [record, smiles]
                for t in range(len(self.target_names)):
                    value = float(true[i, t])
                    row += ["" if math.isnan(value) else f"{value:.6g}", f"{float(pred[i, t]):.6g}"]
                writer.writerow(row)
        if self.task_type == "regression":
            parity_plot(true, pred, self.target_names, out / "parity.png")
        else:
            roc_plot(true, pred, self.target_names, out / "roc.png")


def _figure_grid(n: int) -> tuple[Any, list[Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(n, 3)
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 4.0 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def parity_plot(true: Tensor, pred: Tensor, names: list[str], path: Path, *, max_panels: int = 12) -> None:
    """Predicted against true, one panel per target, with the y = x line, RMSE and R² in the title."""
    names = names[:max_panels]
    fig, axes = _figure_grid(len(names))
    for t, (ax, name) in enumerate(zip(axes, names, strict=True)):
        mask = ~torch.isnan(true[:, t])
        y, p = true[mask, t].numpy(), pred[mask, t].numpy()
        if len(y) == 0:
            ax.set_title(f"{name}: no labelled test molecules")
            continue
        low, high = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
        pad = 0.05 * (high - low or 1.0)
        ax.plot([low - pad, high + pad], [low - pad, high + pad], color="0.6", lw=1, zorder=1)
        ax.scatter(y, p, s=12, alpha=0.7, zorder=2)
        rmse = float(((p - y) ** 2).mean() ** 0.5)
        ss_res, ss_tot = float(((p - y) ** 2).sum()), float(((y - y.mean()) ** 2).sum())
        r2 = 1 - ss_res / ss_tot if ss_tot > 0 else float("nan")
        ax.set_title(f"{name}: RMSE {rmse:.3g}, R² {r2:.3f} (n={len(y)})", fontsize=10)
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
        ax.set_xlim(low - pad, high + pad)
        ax.set_ylim(low - pad, high + pad)
        ax.set_aspect("equal")
    _save(fig, path)


def roc_plot(true: Tensor, prob: Tensor, names: list[str], path: Path, *, max_panels: int = 12) -> None:
    """ROC curve per target with its area."""
    from torchmetrics.functional.classification import binary_auroc, binary_roc

    names = names[:max_panels]
    fig, axes = _figure_grid(len(names))
    for t, (ax, name) in enumerate(zip(axes, names, strict=True)):
        mask = ~torch.isnan(true[:, t])
        y, p = true[mask, t].long(), prob[mask, t]
        if y.numel() == 0 or y.min() == y.max():
            ax.set_title(f"{name}: one class only in test")
            continue
        fpr, tpr, _ = binary_roc(p, y)
        auc = float(binary_auroc(p, y))
        ax.plot([0, 1], [0, 1], color="0.6", lw=1)
        ax.plot(fpr.numpy(), tpr.numpy())
        ax.set_title(f"{name}: ROC-AUC {auc:.3f} (n={len(y)})", fontsize=10)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with sciarch.atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)
