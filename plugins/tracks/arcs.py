"""Arc helpers shared by the Hough baseline and the box assignment: the longest contiguous stretch
of hits along an arc, and following a track from the ends of a seed arc.

Both :mod:`.hough` and :mod:`.assignment` import from here and neither imports the other, so the
dependencies of the reconstruction modules run one way: ``reconstruction → assignment → arcs``,
``hough → arcs, found``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .fitting import CircleFit, fit_circle

#: The largest gap (pixels) between successive hits of one arc.
GAP_PX = 8.0
#: Hits at a track's end whose local circle decides which hits continue it.
FOLLOW_HITS = 25


def quick_fit(xy: np.ndarray, *, iterations: int = 5, max_radius_px: float = 1e6) -> CircleFit | None:
    """:func:`~.fitting.fit_circle` (Taubin's fit refined by Gauss–Newton) with the 3 × 3 normal
    equations solved directly instead of by SVD and least squares of the N × 3 systems: the same
    circle to rounding, several times faster on the few dozen hits of a track's end."""
    xy = np.asarray(xy, dtype=np.float64)
    n = len(xy)
    if n < 3:
        return None
    centroid = xy.mean(axis=0)
    u = xy - centroid
    z = u[:, 0] * u[:, 0] + u[:, 1] * u[:, 1]
    z_mean = z.mean()
    if z_mean <= 0:
        return None
    scale = 2.0 * np.sqrt(z_mean)
    design = np.stack([(z - z_mean) / scale, u[:, 0], u[:, 1]], axis=1)
    values, vectors = np.linalg.eigh(design.T @ design)
    a = vectors[:, 0]
    a0 = a[0] / scale
    if abs(a0) < 1e-12:
        return fit_circle(xy, iterations=iterations, max_radius_px=max_radius_px)
    cx, cy = -a[1] / (2 * a0), -a[2] / (2 * a0)
    radius = np.sqrt(max(cx * cx + cy * cy + z_mean, 0.0))
    if not np.isfinite(radius) or radius > max_radius_px:
        return fit_circle(xy, iterations=iterations, max_radius_px=max_radius_px)
    for _ in range(iterations):  # Gauss–Newton on r_i = |x_i − c| − R
        dx, dy = u[:, 0] - cx, u[:, 1] - cy
        dist = np.maximum(np.sqrt(dx * dx + dy * dy), 1e-9)
        residual = dist - radius
        jacobian = np.stack([-dx / dist, -dy / dist, -np.ones(n)], axis=1)
        try:
            step = np.linalg.solve(jacobian.T @ jacobian, -(jacobian.T @ residual))
        except np.linalg.LinAlgError:
            return fit_circle(xy, iterations=iterations, max_radius_px=max_radius_px)
        cx, cy, radius = cx + step[0], cy + step[1], radius + step[2]
        if np.abs(step).max() < 1e-6 * max(1.0, radius):
            break
    radius = abs(radius)
    residual = np.sqrt((u[:, 0] - cx) ** 2 + (u[:, 1] - cy) ** 2) - radius
    return CircleFit(float(cx + centroid[0]), float(cy + centroid[1]), float(min(radius, max_radius_px)),
                     float(np.sqrt(np.mean(residual ** 2))), n)


def longest_run(positions: np.ndarray, gap: float, *, periodic: float | None = None) -> np.ndarray:
    """Indices of the longest run of sorted 1-D ``positions`` with no gap above ``gap``.

    ``periodic``: the period of the positions (2π for angles), so a run may wrap around.
    """
    order = np.argsort(positions)
    sorted_pos = positions[order]
    steps = np.diff(sorted_pos)
    breaks = np.flatnonzero(steps > gap)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks + 1, [len(sorted_pos)]])
    lengths = ends - starts
    if periodic is not None and len(starts) > 1 and (sorted_pos[0] + periodic - sorted_pos[-1]) <= gap:
        # the first and last runs join across the wrap-around
        lengths = lengths.copy()
        lengths[0] += lengths[-1]
        lengths[-1] = 0
        best = int(np.argmax(lengths))
        if best == 0:
            return order[np.concatenate([np.arange(starts[0], ends[0]), np.arange(starts[-1], ends[-1])])]
        return order[starts[best]:ends[best]]
    best = int(np.argmax(lengths))
    return order[starts[best]:ends[best]]


class PointGrid:
    """Points binned in square cells, to find those near a position without measuring them all."""

    def __init__(self, points: np.ndarray, cell: float) -> None:
        self.cell = cell
        keys = np.floor(points / cell).astype(np.int64)
        self.offset = keys.min(axis=0) if len(points) else np.zeros(2, np.int64)
        keys -= self.offset
        self.width = int(keys[:, 0].max()) + 3 if len(points) else 1
        flat = (keys[:, 1] + 1) * self.width + keys[:, 0] + 1
        self.order = np.argsort(flat, kind="stable")
        self.sorted_keys = flat[self.order]

    def around(self, position: np.ndarray) -> np.ndarray:
        """Indices of the points in the 3×3 cells around ``position``."""
        col, row = (np.floor(position / self.cell).astype(np.int64) - self.offset) + 1
        found = []
        for dr in (-1, 0, 1):
            start = (row + dr) * self.width + col - 1
            lo, hi = np.searchsorted(self.sorted_keys, [start, start + 3])
            found.append(self.order[lo:hi])
        return np.concatenate(found)


def follow_arc(points: np.ndarray, members: np.ndarray, *, tolerance: float, gap: float = GAP_PX,
               follow_hits: int = FOLLOW_HITS) -> np.ndarray:
    """Grow a seed arc at both ends through free hits that continue its local circle.

    ``members``: indices into ``points`` in order along the arc; hits within ``gap`` of an end that
    lie within ``tolerance`` of the circle fitted to the last ``follow_hits`` hits (a line for fewer
    than 5), and ahead of the end, are added, nearest first, until none is left. Returns the grown
    chain in order along the arc.
    """
    return grow_chain(points, PointGrid(points, gap), np.zeros(len(points), dtype=bool), members, gap=gap,
                      tolerance=tolerance, follow_hits=follow_hits, circle=_quick_circle)


def grow_chain(points: np.ndarray, grid: PointGrid, taken: np.ndarray, members: np.ndarray, *, gap: float,
               tolerance: float, follow_hits: int, circle: Any) -> np.ndarray:
    """:func:`follow_arc`'s loop: grow ``members`` at both ends through the points of ``grid`` not
    ``taken`` (marked as they are added; ``members`` are marked first), with :func:`continuing_hits`
    and the circle fitter ``circle``."""
    taken[members] = True
    chain = list(members)
    for _ in range(2):  # the far end, then (after reversing) the near end
        while True:
            good = next_hits(points, grid, taken, chain, gap=gap, tolerance=tolerance, follow_hits=follow_hits,
                             circle=circle)
            if not len(good):
                break
            chain.extend(good.tolist())
            taken[good] = True
        chain.reverse()
    return np.array(chain, dtype=np.int64)


def next_hits(points: np.ndarray, grid: PointGrid, taken: np.ndarray, chain: list[int], *, gap: float,
              tolerance: float, follow_hits: int, circle: Any) -> np.ndarray:
    """One step of :func:`grow_chain`: the points of ``grid`` not ``taken``, within ``gap`` of the
    end of ``chain``, that continue it (:func:`continuing_hits`), nearest first; empty at its end."""
    end = points[chain[-1]]
    nearby = grid.around(end)
    nearby = nearby[~taken[nearby]]
    distance_nearby = np.hypot(points[nearby, 0] - end[0], points[nearby, 1] - end[1])
    close = distance_nearby <= gap
    candidates, distance_candidates = nearby[close], distance_nearby[close]
    if not len(candidates):
        return candidates
    return continuing_hits(points, chain, candidates, distance_candidates, tolerance=tolerance,
                           follow_hits=follow_hits, circle=circle)


def _quick_circle(xy: np.ndarray) -> tuple[float, float, float] | None:
    fit = quick_fit(xy)
    return None if fit is None else (fit.cx, fit.cy, fit.radius)


def continuing_hits(points: np.ndarray, chain: list[int], candidates: np.ndarray, distances: np.ndarray, *,
                    tolerance: float, follow_hits: int, circle: Any) -> np.ndarray:
    """The ``candidates`` (hits near the end of ``chain``, at ``distances`` from it) that continue
    the chain: within ``tolerance`` of the circle ``circle(xy) -> (cx, cy, r) | None`` fits to its
    last ``follow_hits`` hits (a line for fewer than 5, or a circle too flat to tell), and ahead of
    the end; nearest first. Empty when none does."""
    end = points[chain[-1]]
    tail = np.array(chain[-follow_hits:])
    local = circle(points[tail]) if len(tail) >= 5 else None
    if local is not None and local[2] < 1e5:
        off = np.abs(np.hypot(points[candidates, 0] - local[0], points[candidates, 1] - local[1]) - local[2])
    else:
        direction = points[tail[-1]] - points[tail[0]]
        norm = np.hypot(*direction)
        if norm == 0:
            return candidates[:0]
        normal = np.array([-direction[1], direction[0]]) / norm
        off = np.abs((points[candidates] - end) @ normal)
    # forward only: a hit behind the end would fold the track back on itself
    heading = points[tail[-1]] - points[tail[max(0, len(tail) - 6)]]
    ahead = (points[candidates] - end) @ heading > 0
    keep = (off < tolerance) & ahead
    return candidates[keep][np.argsort(distances[keep])]
