"""Splice-site classification: per-position cross-entropy over (none, acceptor, donor), padding masked.

The model maps ``(B, 4, SL + CL_model)`` to ``(B, 3, SL)`` logits. Windows from the data may carry
more context than the model consumes; they are cropped to the model's ``context`` (centred), so
one prepared data set serves SpliceAI-400 and SpliceAI-10k alike. Metrics are SpliceAI's
(:mod:`.metrics`), logged as ``{val,test}/topk_{acceptor,donor}``, ``{val,test}/prauc_{acceptor,donor}``
and their means ``topk`` and ``prauc``. After the test, ``splice_metrics.json`` and a
precision–recall plot are written to the evaluation folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sciarch
import torch
from torch.nn import functional as F

from .metrics import SITE_CLASSES, SpliceSiteMetrics


def crop_context(x: torch.Tensor, length: int) -> torch.Tensor:
    """The central ``length`` positions of ``x (..., L)``; ``L − length`` must be even and ≥ 0."""
    extra = x.shape[-1] - length
    if extra < 0 or extra % 2:
        raise sciarch.UsageError(f"windows of {x.shape[-1]} bases cannot feed a model that needs {length}: "
                                 "set data.args.context to at least the model's context")
    return x[..., extra // 2:x.shape[-1] - extra // 2] if extra else x


class SpliceSiteTask(sciarch.Task):
    """Per-base splice-site classification (SpliceAI's objective).

    Args:
        model: maps one-hot windows to ``(B, 3, SL)`` logits and has a ``context`` attribute.
        site_weight (float): weight of the acceptor and donor classes in the loss relative to "none"
            (1.0: SpliceAI's plain cross-entropy).
    """

    def __init__(self, model: torch.nn.Module, site_weight: float = 1.0) -> None:
        super().__init__(model)
        self.site_weight = site_weight
        self.register_buffer("class_weight", torch.tensor([1.0, site_weight, site_weight]), persistent=False)
        self.val_metrics = SpliceSiteMetrics()
        self.test_metrics = SpliceSiteMetrics()
        self._pr_curves: dict[str, Any] = {}

    @property
    def context(self) -> int:
        return int(getattr(self.model, "context", 0))

    def forward(self, x: torch.Tensor, labelled: int | None = None) -> torch.Tensor:
        if labelled is not None:
            x = crop_context(x, labelled + self.context)
        return self.model(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x, y.shape[-1])
        weight = self.class_weight if self.site_weight != 1.0 else None
        loss = F.cross_entropy(logits.float(), y, weight=weight, ignore_index=-1)
        self.log(f"{stage}/loss", loss, prog_bar=stage != "train", batch_size=len(x), sync_dist=stage != "train")
        if stage != "train":
            metrics = self.val_metrics if stage == "val" else self.test_metrics
            metrics.update(torch.softmax(logits.float(), dim=1), y)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "test")

    @classmethod
    def ensemble_metrics(cls, members: list[sciarch.Task], datamodule: Any, split: str = "test") -> dict[str, float]:
        """SpliceAI's metrics of the members' mean probabilities (as SpliceAI scores its five models)."""
        datamodule.setup("test" if split == "test" else "validate")
        loader = datamodule.test_dataloader() if split == "test" else datamodule.val_dataloader()
        metrics = SpliceSiteMetrics()
        device = next(members[0].parameters()).device
        with torch.inference_mode():
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                probs = torch.stack([torch.softmax(m(x, y.shape[-1]).float(), dim=1) for m in members]).mean(0)
                metrics.update(probs, y)
        return {f"{split}/{k}": v for k, v in metrics.compute().items()}

    def _log_metrics(self, metrics: SpliceSiteMetrics, stage: str) -> None:
        values = metrics.compute()
        self.log_dict({f"{stage}/{k}": v for k, v in values.items()}, prog_bar=False)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.val_metrics, "val")
        self.val_metrics.reset()

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.test_metrics, "test")
        if self.artifact_dir is not None and self.trainer.is_global_zero:
            self._write_artifacts(Path(self.artifact_dir))
        self.test_metrics.reset()

    def _write_artifacts(self, folder: Path) -> None:
        report = self.test_metrics.report()
        sciarch.write_json(folder / "splice_metrics.json", report)
        acceptor, donor, labels = self.test_metrics._gathered()
        if not len(labels):
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from torchmetrics.functional.classification import binary_precision_recall_curve

        fig, ax = plt.subplots(figsize=(4.5, 4))
        for name, scores in (("acceptor", acceptor), ("donor", donor)):
            truth = (labels == SITE_CLASSES[name]).long()
            if int(truth.sum()) == 0:
                continue
            precision, recall, _ = binary_precision_recall_curve(scores, truth, thresholds=200)
            ax.plot(recall.numpy(), precision.numpy(), label=f"{name} (PR-AUC {report[name]['pr_auc']:.3f})")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower left")
        ax.set_title("splice sites, test chromosomes")
        fig.tight_layout()
        with sciarch.atomic_write(folder / "precision_recall.png", "wb") as handle:
            fig.savefig(handle, format="png", dpi=120)
        plt.close(fig)
