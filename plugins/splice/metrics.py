"""Splice-site metrics as SpliceAI reports them: top-k accuracy and PR-AUC, per site class.

For one class (acceptor or donor) over every labelled position of a split (padding excluded):

- **top-k accuracy**: with ``k`` the number of true sites, the fraction of the ``k`` highest-scoring
  positions that are true sites (SpliceAI's "top-k accuracy"; also at ``0.5k, 2k, 4k``, where the
  denominator is ``min(k_predicted, k_true)``, as SpliceAI computes it);
- **PR-AUC**: the area under the precision–recall curve as average precision,
  ``Σ_n (R_n − R_{n−1}) P_n`` over score thresholds (scikit-learn's definition).

:class:`SpliceSiteMetrics` keeps every position's scores (gathered across processes under DDP)
and computes both at the end of an epoch.
"""

from __future__ import annotations

import math

import torch
from torchmetrics import Metric
from torchmetrics.functional.classification import binary_average_precision

SITE_CLASSES = {"acceptor": 1, "donor": 2}


def topk_accuracy(scores: torch.Tensor, truth: torch.Tensor, factor: float = 1.0) -> float:
    """Fraction of the ``factor·k`` top-scoring positions that are true sites (``k`` = true sites)."""
    truth = truth.bool()
    k_true = int(truth.sum())
    if k_true == 0:
        return math.nan
    k = min(len(scores), max(1, int(factor * k_true)))
    top = torch.topk(scores.float(), k, sorted=False).indices
    return float(truth[top].sum()) / min(k, k_true)


def pr_auc(scores: torch.Tensor, truth: torch.Tensor) -> float:
    """Average precision (area under the precision–recall curve)."""
    if int(truth.sum()) == 0:
        return math.nan
    return float(binary_average_precision(scores.float(), truth.long(), thresholds=None))


class SpliceSiteMetrics(Metric):
    """Accumulates acceptor and donor probabilities at labelled positions; computes SpliceAI's metrics."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("acceptor", default=[], dist_reduce_fx="cat")
        self.add_state("donor", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, probabilities: torch.Tensor, labels: torch.Tensor) -> None:
        """``probabilities (B, 3, SL)``, ``labels (B, SL)`` with -1 on padding."""
        mask = labels >= 0
        self.acceptor.append(probabilities[:, 1][mask].detach().float())
        self.donor.append(probabilities[:, 2][mask].detach().float())
        self.labels.append(labels[mask].to(torch.int8))

    def _gathered(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        def cat(x: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
            if isinstance(x, torch.Tensor):
                return x
            return torch.cat(x) if x else torch.zeros(0)

        return cat(self.acceptor), cat(self.donor), cat(self.labels)

    def compute(self) -> dict[str, float]:
        acceptor, donor, labels = self._gathered()
        out: dict[str, float] = {}
        for name, scores in (("acceptor", acceptor), ("donor", donor)):
            truth = labels == SITE_CLASSES[name]
            out[f"topk_{name}"] = topk_accuracy(scores, truth)
            out[f"prauc_{name}"] = pr_auc(scores, truth)
        out["topk"] = (out["topk_acceptor"] + out["topk_donor"]) / 2
        out["prauc"] = (out["prauc_acceptor"] + out["prauc_donor"]) / 2
        return out

    def report(self) -> dict[str, dict[str, float]]:
        """Everything SpliceAI prints: top-k at 0.5, 1, 2, 4 × k, PR-AUC, site and position counts."""
        acceptor, donor, labels = self._gathered()
        out = {}
        for name, scores in (("acceptor", acceptor), ("donor", donor)):
            truth = labels == SITE_CLASSES[name]
            out[name] = {f"top{f:g}k": topk_accuracy(scores, truth, f) for f in (0.5, 1, 2, 4)}
            out[name]["pr_auc"] = pr_auc(scores, truth)
            out[name]["sites"] = int(truth.sum())
            for threshold in (0.5, 0.1):
                out[name][f"predicted_at_{threshold}"] = int((scores >= threshold).sum())
        out["positions"] = {"labelled": int(len(labels))}
        return out
