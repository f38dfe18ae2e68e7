"""From a detector's output to tracks: hits per detection, a circle, a momentum, a class.

Shared by training-time evaluation, ``sciarch tracks detect`` and the crowding experiment, so every
number comes from the same code. On simulated pictures the hits are the true bubble positions (the
TrackML convention: measurements are given, reconstruction groups them); on a user's photograph they
are found in the picture by :func:`image_hits`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .assignment import assign_by_boxes, assign_by_masks
from .fitting import fit_circle
from .found import FoundTrack
from .metrics import CocoScore, TrackScore, score_tracks


def reconstruct(detections: dict[str, np.ndarray], hits: np.ndarray, *, field_tesla: float, pixel_size_m: float,
                score_threshold: float = 0.5, mask_threshold: float = 0.3, tolerance_px: float = 1.5,
                min_hits: int = 5) -> tuple[np.ndarray, list[FoundTrack]]:
    """Hit owners (H,) and the found tracks of one picture from a detector's output.

    ``detections``: numpy "boxes" (K, 4), "scores" (K,), "labels" (K,), optionally "masks"
    (K, height, width) probabilities. Detections below ``score_threshold`` are not tracks.
    """
    keep = detections["scores"] >= score_threshold
    boxes, scores, labels = detections["boxes"][keep], detections["scores"][keep], detections["labels"][keep]
    if "masks" in detections and detections["masks"] is not None:
        masks = detections["masks"][keep]
        owner = assign_by_masks(hits, masks, threshold=mask_threshold)
    else:
        owner = assign_by_boxes(hits, boxes, scores, tolerance=tolerance_px, min_hits=min_hits)
    return owner, tracks_from_owner(owner, hits, boxes, scores, labels, field_tesla=field_tesla,
                                    pixel_size_m=pixel_size_m, min_hits=min_hits)


def reconstruct_at_thresholds(detections: dict[str, np.ndarray], hits: np.ndarray, thresholds: list[float], *,
                              field_tesla: float, pixel_size_m: float, mask_threshold: float = 0.3,
                              tolerance_px: float = 1.5, min_hits: int = 5) -> dict[float, tuple[np.ndarray, list]]:
    """:func:`reconstruct` at several score thresholds at once.

    Boxes claim hits greedily, best first, so the tracks at a higher threshold are exactly the
    best-scoring ones of the lowest threshold's: one assignment serves them all. Masks give each
    hit to the highest mask among the detections kept, so they are assigned again per threshold.
    """
    out: dict[float, tuple[np.ndarray, list]] = {}
    if "masks" in detections and detections["masks"] is not None:
        for threshold in thresholds:
            out[threshold] = reconstruct(detections, hits, field_tesla=field_tesla, pixel_size_m=pixel_size_m,
                                         score_threshold=threshold, mask_threshold=mask_threshold,
                                         tolerance_px=tolerance_px, min_hits=min_hits)
        return out
    lowest = min(thresholds)
    owner, found = reconstruct(detections, hits, field_tesla=field_tesla, pixel_size_m=pixel_size_m,
                               score_threshold=lowest, mask_threshold=mask_threshold, tolerance_px=tolerance_px,
                               min_hits=min_hits)
    for threshold in thresholds:
        kept = [t for t in found if t.score >= threshold]
        out[threshold] = (owner, kept)
    return out


def tracks_from_owner(owner: np.ndarray, hits: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                      labels: np.ndarray, *, field_tesla: float, pixel_size_m: float,
                      min_hits: int) -> list[FoundTrack]:
    tracks = []
    for k in range(len(boxes)):
        mine = np.flatnonzero(owner == k)
        if len(mine) < min_hits:
            continue
        fit = fit_circle(hits[mine])
        pt = fit.momentum(field_tesla, pixel_size_m) if fit is not None else math.nan
        tracks.append(FoundTrack(boxes[k], float(scores[k]), int(labels[k]), mine, fit, pt))
    return tracks


def image_hits(image: np.ndarray, *, background_px: float = 6.0, significance: float = 4.0) -> np.ndarray:
    """Bubble positions (H, 2) found in a photograph: pixels darker than their surroundings by
    ``significance`` noise widths that are the darkest of their 3×3 neighbourhood, plus every
    pixel of a dark run (a black, heavily ionising track is a solid line, not separate bubbles)."""
    from scipy import ndimage

    picture = image.astype(np.float32)
    if picture.ndim == 3:
        picture = picture.mean(axis=2)
    background = ndimage.grey_closing(picture, size=int(2 * background_px + 1))
    background = ndimage.gaussian_filter(background, background_px)
    darkness = ndimage.gaussian_filter(background - picture, 0.7)
    noise = 1.4826 * np.median(np.abs(darkness - np.median(darkness))) + 1e-6
    dark = darkness > significance * noise
    local_max = darkness >= ndimage.maximum_filter(darkness, size=3)
    solid = dark & (darkness > 3 * significance * noise)
    rows, cols = np.nonzero((dark & local_max) | solid)
    return np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float64)


def to_numpy(output: dict[str, Any]) -> dict[str, np.ndarray]:
    """A torchvision detection dict as numpy arrays; masks squeezed to (K, H, W)."""
    out = {k: v.detach().float().cpu().numpy() if k in ("boxes", "scores", "masks") else v.detach().cpu().numpy()
           for k, v in output.items()}
    if "masks" in out:
        out["masks"] = out["masks"].reshape(len(out["masks"]), *out["masks"].shape[-2:])
    return out


def score_picture(detections: dict[str, np.ndarray], target: dict[str, Any], tracks_score: TrackScore,
                  coco: CocoScore | None, names: list[str], *, field_tesla: float, pixel_size_m: float,
                  score_threshold: float, mask_threshold: float, tolerance_px: float, min_hits: int,
                  owner: np.ndarray | None = None, found: list[FoundTrack] | None = None) -> list[FoundTrack]:
    """Reconstruct one picture and add it to the running scores (``owner``/``found`` when the
    caller reconstructed already, e.g. the Hough transform)."""

    hits = target["hits"].numpy().astype(np.float64)
    if owner is None or found is None:
        owner, found = reconstruct(detections, hits, field_tesla=field_tesla, pixel_size_m=pixel_size_m,
                                   score_threshold=score_threshold, mask_threshold=mask_threshold,
                                   tolerance_px=tolerance_px, min_hits=min_hits)
    score_tracks(found, target, tracks_score, names, min_hits=min_hits)  # only hits of kept tracks count
    if coco is not None:
        coco.add_picture(detections, target)
    return found
