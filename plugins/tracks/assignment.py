"""Which hits (bubbles) belong to which detected track: the step that turns detections into tracks.

A picture's hits are the measured points (as in the TrackML challenge, where the hits are given
and reconstruction means grouping them); every method hands back one owner per hit, −1 for none,
so efficiency and fake rate are counted the same way for every detector.

* Mask detectors: a hit goes to the detection whose soft mask is highest at its pixel, if that
  probability reaches ``threshold``.
* Box-only detectors: a box says where a track is, not which of the bubbles inside it are its
  own. Going through detections best first, the unclaimed hits in the box are fitted with an arc
  by RANSAC (Fischler & Bolles, 1981) whose hypotheses are circles through one hit near each of
  the two far ends of the box and one anywhere (a track touches the sides of its own box). The
  arc with most inliers, less twice the hits it would also take just outside the box (a track
  ends at its own box; one crossing the box goes on), weighted by how well its inliers fill the
  box, wins; its longest contiguous stretch is followed from both ends through the box (so a
  track whose curvature changes is not cut), and claims those hits.
"""

from __future__ import annotations

import numpy as np

from .arcs import GAP_PX, follow_arc, longest_run
from .fitting import circle_through, fit_circle


def assign_by_masks(hits: np.ndarray, masks: np.ndarray, *, threshold: float = 0.3) -> np.ndarray:
    """Owner (H,) of each hit (H, 2) given soft masks (K, height, width) in [0, 1]."""
    owner = np.full(len(hits), -1, dtype=np.int64)
    if not len(hits) or not len(masks):
        return owner
    height, width = masks.shape[-2:]
    cols = np.clip(np.floor(hits[:, 0]).astype(int), 0, width - 1)
    rows = np.clip(np.floor(hits[:, 1]).astype(int), 0, height - 1)
    probability = masks.reshape(len(masks), height, width)[:, rows, cols]  # (K, H)
    best = probability.argmax(axis=0)
    confident = probability[best, np.arange(len(hits))] >= threshold
    owner[confident] = best[confident]
    return owner


def _box_iou_rows(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, box: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(x1, box[2]) - np.maximum(x0, box[0]), 0, None)
    iy = np.clip(np.minimum(y1, box[3]) - np.maximum(y0, box[1]), 0, None)
    inter = ix * iy
    union = (x1 - x0) * (y1 - y0) + (box[2] - box[0]) * (box[3] - box[1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def arc_in_box(points: np.ndarray, box: np.ndarray, *, tolerance: float, rng: np.random.Generator,
               hypotheses: int = 128, max_points: int = 1500, outside: np.ndarray | None = None) -> np.ndarray:
    """Indices of ``points`` on the best arc through ``box`` (empty if none is found).

    ``outside``: hits in a ring just outside the box. A box is its own track's extent, so that track
    ends at the box; a track merely crossing the box carries on beyond it, and hypotheses whose
    circle picks up hits in the ring are penalised accordingly.
    """
    n = len(points)
    if n < 3:
        return np.arange(n)
    x0, y0, x1, y1 = box
    edge = tolerance + 1.0
    if x1 - x0 >= y1 - y0:
        first, second = points[:, 0] <= x0 + edge, points[:, 0] >= x1 - edge
    else:
        first, second = points[:, 1] <= y0 + edge, points[:, 1] >= y1 - edge
    first, second = np.flatnonzero(first), np.flatnonzero(second)
    if not len(first) or not len(second):
        first = second = np.arange(n)
    i = rng.choice(first, hypotheses)
    j = rng.choice(second, hypotheses)
    m = rng.choice(n, hypotheses)
    centres, radii = circle_through(points[i], points[j], points[m])
    scored = points if n <= max_points else points[rng.choice(n, max_points, replace=False)]
    straight = ~np.isfinite(radii) | (radii > 1e5)
    with np.errstate(invalid="ignore"):  # collinear triples: no centre, handled as lines below
        dist = np.hypot(scored[None, :, 0] - centres[:, None, 0], scored[None, :, 1] - centres[:, None, 1])
        residual = np.abs(dist - radii[:, None])
    if straight.any():  # a line through the two end hits
        a, b = points[i[straight]], points[j[straight]]
        direction = b - a
        length = np.maximum(np.hypot(direction[:, 0], direction[:, 1]), 1e-9)
        normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1) / length[:, None]
        offset = scored[None, :, :] - a[:, None, :]
        residual[straight] = np.abs(offset[..., 0] * normal[:, None, 0] + offset[..., 1] * normal[:, None, 1])
    inlier = residual < tolerance
    count = inlier.sum(axis=1)
    big = 1e9
    ex0 = np.where(inlier, scored[None, :, 0], big).min(axis=1)
    ey0 = np.where(inlier, scored[None, :, 1], big).min(axis=1)
    ex1 = np.where(inlier, scored[None, :, 0], -big).max(axis=1)
    ey1 = np.where(inlier, scored[None, :, 1], -big).max(axis=1)
    fill = _box_iou_rows(ex0, ey0, ex1, ey1, box)
    quality = count.astype(np.float64)
    if outside is not None and len(outside):
        with np.errstate(invalid="ignore"):
            beyond = np.abs(np.hypot(outside[None, :, 0] - centres[:, None, 0],
                                     outside[None, :, 1] - centres[:, None, 1]) - radii[:, None])
        if straight.any():
            a = points[i[straight]]
            direction = points[j[straight]] - a
            length = np.maximum(np.hypot(direction[:, 0], direction[:, 1]), 1e-9)
            normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1) / length[:, None]
            offset = outside[None, :, :] - a[:, None, :]
            beyond[straight] = np.abs(offset[..., 0] * normal[:, None, 0] + offset[..., 1] * normal[:, None, 1])
        quality -= 2.0 * (beyond < tolerance).sum(axis=1)
    best = int(np.argmax(np.clip(quality, 0, None) * fill))
    if count[best] < 3:
        return np.zeros(0, dtype=np.int64)
    # refit on the chosen arc's inliers among all points, then take the points near the refit
    if straight[best]:
        a, b = points[i[best]], points[j[best]]
        direction = (b - a) / max(np.hypot(*(b - a)), 1e-9)
        res_all = np.abs((points[:, 0] - a[0]) * -direction[1] + (points[:, 1] - a[1]) * direction[0])
    else:
        res_all = np.abs(np.hypot(points[:, 0] - centres[best, 0], points[:, 1] - centres[best, 1]) - radii[best])
    chosen = np.flatnonzero(res_all < tolerance)
    fit = fit_circle(points[chosen]) if len(chosen) >= 5 else None
    if fit is not None and fit.radius < 1e5:
        res_fit = np.abs(np.hypot(points[:, 0] - fit.cx, points[:, 1] - fit.cy) - fit.radius)
        refined = np.flatnonzero(res_fit < tolerance)
        if len(refined) >= len(chosen) * 0.8:
            chosen = refined
    if len(chosen) < 5:
        return chosen
    # keep the longest contiguous stretch of the arc and follow the track from its ends, so a
    # track whose curvature changes (energy loss, scattering) is not cut where the circle leaves it
    fit = fit_circle(points[chosen])
    if fit is not None and fit.radius < 1e5:
        angles = np.arctan2(points[chosen, 1] - fit.cy, points[chosen, 0] - fit.cx)
        chosen = chosen[longest_run(angles, GAP_PX / fit.radius, periodic=2 * np.pi)]
    else:
        centred = points[chosen] - points[chosen].mean(axis=0)
        along = centred @ np.linalg.svd(centred, full_matrices=False)[2][0]
        chosen = chosen[longest_run(along, GAP_PX)]
    return follow_arc(points, chosen, tolerance=tolerance) if len(chosen) >= 3 else chosen


def assign_by_boxes(hits: np.ndarray, boxes: np.ndarray, scores: np.ndarray, *, tolerance: float = 1.5,
                    min_hits: int = 3, seed: int = 0, order: str = "score") -> np.ndarray:
    """Owner (H,) of each hit (H, 2) given boxes (K, 4) x0y0x1y1 and their scores (K,).

    ``order``: which boxes claim their hits first: ``score`` (best first) or ``area`` (smallest
    first: a small box holds fewer other tracks, so its arc is the least ambiguous).
    """
    owner = np.full(len(hits), -1, dtype=np.int64)
    if not len(hits) or not len(boxes):
        return owner
    rng = np.random.default_rng(seed)
    margin = tolerance + 0.5
    ring = margin + 6.0
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    sequence = np.argsort(area, kind="stable") if order == "area" else np.argsort(-scores, kind="stable")
    for k in sequence:
        x0, y0, x1, y1 = boxes[k]
        inner = (hits[:, 0] >= x0 - margin) & (hits[:, 0] <= x1 + margin) & \
            (hits[:, 1] >= y0 - margin) & (hits[:, 1] <= y1 + margin)
        free = np.flatnonzero((owner < 0) & inner)
        if len(free) < min_hits:
            continue
        around = ~inner & (hits[:, 0] >= x0 - ring) & (hits[:, 0] <= x1 + ring) & \
            (hits[:, 1] >= y0 - ring) & (hits[:, 1] <= y1 + ring)
        on_arc = arc_in_box(hits[free], boxes[k], tolerance=tolerance, rng=rng, outside=hits[around])
        if len(on_arc) >= min_hits:
            owner[free[on_arc]] = k
    return owner
