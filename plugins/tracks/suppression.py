"""Non-maximum suppression for crowded pictures: hard NMS or Soft-NMS, per class or across classes.

Soft-NMS (Bodla, Singh, Chellappa & Davis, "Soft-NMS — Improving Object Detection With One Line of
Code", ICCV 2017): instead of deleting every box that overlaps a higher-scoring one, it lowers its
score. Taking the highest box M in turn, every remaining box b_i is rescored

    Gaussian:  s_i ← s_i · exp(−IoU(M, b_i)² / σ)
    linear:    s_i ← s_i · (1 − IoU(M, b_i))   if IoU(M, b_i) ≥ N_t, else unchanged

and boxes whose score falls below ``score_threshold`` are dropped. Two tracks that cross make two
boxes with a large overlap; hard NMS keeps one of them, Soft-NMS keeps both with lowered scores.

Shapes: boxes (N, 4) as (x0, y0, x1, y1), scores (N,), labels (N,); returns indices (K,) into the
input (hard NMS) or indices with the new scores (Soft-NMS), best first.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Suppression = Literal["hard", "soft-gaussian", "soft-linear", "none"]


def soft_nms(boxes: Tensor, scores: Tensor, *, sigma: float = 0.5, iou_threshold: float = 0.3,
             method: Literal["gaussian", "linear"] = "gaussian", score_threshold: float = 0.05,
             max_keep: int | None = None) -> tuple[Tensor, Tensor]:
    """Soft-NMS over one set of boxes: returns (kept indices, their decayed scores), best first."""
    from torchvision.ops import box_iou

    n = boxes.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device), scores.new_zeros(0)
    remaining = torch.arange(n, device=boxes.device)
    current = scores.clone()
    kept, kept_scores = [], []
    # one IoU row per pick; a full N×N matrix would be wasteful when most boxes die early
    while remaining.numel() and (max_keep is None or len(kept) < max_keep):
        best = int(torch.argmax(current[remaining]))
        top = remaining[best]
        kept.append(top)
        kept_scores.append(current[top])
        remaining = torch.cat([remaining[:best], remaining[best + 1:]])
        if not remaining.numel():
            break
        iou = box_iou(boxes[top].unsqueeze(0), boxes[remaining]).squeeze(0)
        if method == "gaussian":
            decay = torch.exp(-(iou * iou) / sigma)
        else:
            decay = torch.where(iou >= iou_threshold, 1.0 - iou, torch.ones_like(iou))
        current[remaining] = current[remaining] * decay
        remaining = remaining[current[remaining] >= score_threshold]
    return torch.stack(kept), torch.stack(kept_scores)


def suppress(boxes: Tensor, scores: Tensor, labels: Tensor, *, method: Suppression = "hard",
             iou_threshold: float = 0.5, sigma: float = 0.5, class_agnostic: bool = True,
             score_threshold: float = 0.05, max_detections: int = 300) -> tuple[Tensor, Tensor]:
    """Suppress duplicates; returns (indices into the input, scores), at most ``max_detections``.

    ``class_agnostic``: a track is one object whatever species the classifier calls it, so by
    default boxes of different classes suppress each other too.
    """
    from torchvision.ops import batched_nms, nms

    if method == "none" or boxes.shape[0] == 0:
        order = torch.argsort(scores, descending=True)[:max_detections]
        return order, scores[order]
    if method == "hard":
        keep = nms(boxes, scores, iou_threshold) if class_agnostic else batched_nms(boxes, scores, labels, iou_threshold)
        keep = keep[:max_detections]
        return keep, scores[keep]
    kind = "gaussian" if method == "soft-gaussian" else "linear"
    if class_agnostic:
        keep, new_scores = soft_nms(boxes, scores, sigma=sigma, iou_threshold=iou_threshold, method=kind,
                                    score_threshold=score_threshold, max_keep=max_detections)
        return keep, new_scores
    all_keep, all_scores = [], []
    for label in labels.unique():
        members = torch.where(labels == label)[0]
        keep, new_scores = soft_nms(boxes[members], scores[members], sigma=sigma, iou_threshold=iou_threshold,
                                    method=kind, score_threshold=score_threshold, max_keep=max_detections)
        all_keep.append(members[keep])
        all_scores.append(new_scores)
    keep, new_scores = torch.cat(all_keep), torch.cat(all_scores)
    order = torch.argsort(new_scores, descending=True)[:max_detections]
    return keep[order], new_scores[order]


def set_suppression(model: torch.nn.Module, method: Suppression, *, iou_threshold: float | None = None,
                    sigma: float | None = None) -> None:
    """Switch a built (or trained) detector's duplicate suppression: it is post-processing only, so a
    detector trained with hard NMS can be run with Soft-NMS without retraining."""
    heads = getattr(model, "roi_heads", None)
    if heads is not None and hasattr(heads, "configure_suppression"):
        heads.configure_suppression(suppression=method, iou=iou_threshold or heads.suppression_iou,
                                    sigma=sigma or heads.soft_nms_sigma, class_agnostic=heads.class_agnostic)
    elif hasattr(model, "suppression"):
        model.suppression = method
        model.suppression_iou = iou_threshold or model.suppression_iou
        model.soft_nms_sigma = sigma or model.soft_nms_sigma
    else:
        raise ValueError(f"{type(model).__name__} has no suppression step to set")
