"""The classical baseline: an iterative Hough transform for circular arcs and straight lines.

Hough (US patent 3,069,654, 1962, devised for bubble-chamber pictures) as generalised to circles
by Duda & Hart ("Use of the Hough transformation to detect lines and curves in pictures", CACM
15, 1972). Every hit (x, y) votes, for each radius r_k of a log-spaced set, for all centres
(x + r_k cos θ, y + r_k sin θ) — a circle in the (a, b) accumulator of that radius, binned in
cells of about r_k·0.06 pixels — and, for straight tracks, for all lines ρ = x cos θ + y sin θ.
Then, repeatedly: take the highest peak of all accumulators; collect the unassigned hits within
``tolerance_px`` of that circle or line; refit a circle to them; keep the longest contiguous arc
(a circle through one track crosses others elsewhere); then follow the track from both ends of that
arc, as the geometry programs of the bubble-chamber era did, adding free hits within ``gap_px`` of
the end that lie on a circle fitted to the last ``follow_hits`` hits (so a track whose curvature
changes, as it loses energy or scatters, is not cut into pieces); if it has at least ``min_hits``
hits it becomes a track, and its hits' votes are taken back out of every accumulator. It stops
when no peak has ``min_hits`` votes or after ``max_tracks`` tracks.

Input: hits (H, 2) in pixels and the picture size; output: owner (H,) (track index or −1) and the
tracks (:class:`~.reconstruction.FoundTrack`), so it is scored exactly like the detectors.
Nothing is learned; it has no classes (every track is class 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .arcs import FOLLOW_HITS, GAP_PX, follow_arc, longest_run
from .fitting import fit_circle
from .found import FoundTrack


@dataclass
class _CircleAccumulator:
    radius: float
    cell: float
    origin: np.ndarray  # (2,) pixel position of cell (0, 0)
    shape: tuple[int, int]
    offsets: np.ndarray  # (n, 2) vote offsets, in cells
    votes: np.ndarray  # (ny, nx) float32

    def indices(self, hits: np.ndarray) -> np.ndarray:
        scaled = ((hits - self.origin) / self.cell).astype(np.float32)
        col = np.floor(scaled[:, None, 0] + self.offsets[None, :, 0]).astype(np.int32)
        row = np.floor(scaled[:, None, 1] + self.offsets[None, :, 1]).astype(np.int32)
        ok = (col >= 0) & (col < self.shape[1]) & (row >= 0) & (row < self.shape[0])
        return row[ok].astype(np.int64) * self.shape[1] + col[ok]

    def vote(self, hits: np.ndarray, weight: float) -> None:
        flat = self.indices(hits)
        if weight > 0 and len(hits) > 200:
            self.votes += np.bincount(flat, minlength=self.votes.size).reshape(self.shape).astype(np.float32)
        else:  # a few hits taken back: touch only their cells
            np.add.at(self.votes.reshape(-1), flat, np.float32(weight))


@dataclass
class _LineAccumulator:
    thetas: np.ndarray
    rho_cell: float
    rho_max: float
    votes: np.ndarray  # (n_theta, n_rho)

    def indices(self, hits: np.ndarray) -> np.ndarray:
        rho = hits[:, 0:1] * np.cos(self.thetas)[None, :] + hits[:, 1:2] * np.sin(self.thetas)[None, :]
        cells = np.floor((rho + self.rho_max) / self.rho_cell).astype(np.int64)
        theta_index = np.broadcast_to(np.arange(len(self.thetas))[None, :], cells.shape)
        ok = (cells >= 0) & (cells < self.votes.shape[1])
        return (theta_index * self.votes.shape[1] + cells)[ok]

    def vote(self, hits: np.ndarray, weight: float) -> None:
        flat = self.indices(hits)
        if weight > 0 and len(hits) > 200:
            self.votes += np.bincount(flat, minlength=self.votes.size).reshape(self.votes.shape).astype(np.float32)
        else:
            np.add.at(self.votes.reshape(-1), flat, np.float32(weight))


class HoughTracker:
    """Finds circular and straight tracks among hits by an iterative Hough transform.

    ``min_radius_px``/``max_radius_px``: the radii searched (log-spaced by ``radius_ratio``);
    ``min_hits``: the fewest hits (and votes) a track needs; ``tolerance_px``: how far from the
    circle a hit may lie; ``gap_px``: the largest gap within one arc; ``max_tracks`` per picture.
    """

    def __init__(self, *, min_radius_px: float = 4.0, max_radius_px: float = 800.0, radius_ratio: float = 1.3,
                 min_hits: int = 10, tolerance_px: float = 1.5, gap_px: float = GAP_PX, follow_hits: int = FOLLOW_HITS,
                 max_tracks: int = 300) -> None:
        self.radii = [min_radius_px * radius_ratio ** k
                      for k in range(int(math.log(max_radius_px / min_radius_px) / math.log(radius_ratio)) + 1)]
        self.min_hits, self.tolerance, self.gap, self.max_tracks = min_hits, tolerance_px, gap_px, max_tracks
        self.follow_hits = follow_hits

    def _accumulators(self, width: int, height: int) -> tuple[list[_CircleAccumulator], _LineAccumulator]:
        circles = []
        span = max(width, height)
        for radius in self.radii:
            cell = float(np.clip(radius * 0.06, 1.0, 8.0))
            reach = min(radius, 2 * span)
            origin = np.array([-reach, -reach])
            shape = (int(math.ceil((height + 2 * reach) / cell)), int(math.ceil((width + 2 * reach) / cell)))
            n = max(8, int(math.ceil(2 * math.pi * radius / cell)))
            angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
            offsets = (radius / cell) * np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
            circles.append(_CircleAccumulator(radius, cell, origin, shape, offsets, np.zeros(shape, np.float32)))
        rho_max = math.hypot(width, height)
        thetas = np.linspace(0, math.pi, 2 * span // 2, endpoint=False)
        rho_cell = 1.0
        line = _LineAccumulator(thetas, rho_cell, rho_max, np.zeros((len(thetas), int(2 * rho_max / rho_cell) + 1),
                                                                    np.float32))
        return circles, line

    def __call__(self, hits: np.ndarray, width: int, height: int) -> tuple[np.ndarray, list]:
        hits = np.asarray(hits, dtype=np.float64)
        owner = np.full(len(hits), -1, dtype=np.int64)
        if len(hits) < self.min_hits:
            return owner, []
        circles, line = self._accumulators(width, height)
        for acc in circles:
            acc.vote(hits, 1.0)
        line.vote(hits, 1.0)
        tracks: list = []
        chains: list[np.ndarray] = []
        failures = 0
        while len(chains) < self.max_tracks and failures < 50:
            # the highest cell of all accumulators; the hits near its circle are then collected
            # with a tolerance of a cell, so a centre falling on a cell corner loses nothing
            best_votes, best = -1.0, None
            for k, acc in enumerate(circles):
                index = int(np.argmax(acc.votes))
                if acc.votes.flat[index] > best_votes:
                    best_votes, best = float(acc.votes.flat[index]), ("circle", k, index)
            line_index = int(np.argmax(line.votes))
            if line.votes.flat[line_index] > best_votes:
                best_votes, best = float(line.votes.flat[line_index]), ("line", 0, line_index)
            if best is None or best_votes < self.min_hits:
                break
            free = np.flatnonzero(owner < 0)
            points = hits[free]
            kind, k, index = best
            if kind == "circle":
                acc = circles[k]
                row, col = divmod(index, acc.shape[1])
                centre = acc.origin + (np.array([col, row]) + 0.5) * acc.cell
                residual = np.abs(np.hypot(points[:, 0] - centre[0], points[:, 1] - centre[1]) - acc.radius)
                near = residual < self.tolerance + 1.5 * acc.cell
            else:
                t_index, r_index = divmod(index, line.votes.shape[1])
                theta = line.thetas[t_index]
                rho = (r_index + 0.5) * line.rho_cell - line.rho_max
                residual = np.abs(points[:, 0] * math.cos(theta) + points[:, 1] * math.sin(theta) - rho)
                near = residual < self.tolerance + 1.5 * line.rho_cell
            chosen = self._arc(points[near])
            chosen = np.flatnonzero(near)[chosen] if len(chosen) else chosen
            if len(chosen) >= 3:
                chosen = follow_arc(points, chosen, tolerance=self.tolerance, gap=self.gap,
                                    follow_hits=self.follow_hits)
            if len(chosen) < self.min_hits:
                failures += 1
                if kind == "circle":
                    circles[k].votes.flat[index] = 0.0
                    r, c = divmod(index, circles[k].shape[1])
                    circles[k].votes[max(0, r - 1):r + 2, max(0, c - 1):c + 2] = 0.0
                else:
                    line.votes.flat[index] = 0.0
                continue
            members = free[chosen]
            owner[members] = len(chains)
            chains.append(members)
            for acc in circles:
                acc.vote(hits[members], -1.0)
            line.vote(hits[members], -1.0)
        owner[:] = -1
        for index, members in enumerate(self._merge(hits, chains)):
            owner[members] = index
            extent = hits[members]
            box = np.array([*extent.min(axis=0), *extent.max(axis=0)])
            tracks.append(FoundTrack(box, min(1.0, len(members) / 100.0), 1, members, fit_circle(hits[members]),
                                     math.nan))
        return owner, tracks

    def _merge(self, hits: np.ndarray, chains: list[np.ndarray]) -> list[np.ndarray]:
        """Join tracks whose ends meet and whose union is still one circle: a track the transform
        found in pieces, e.g. across a gap in its bubbles. (Joining on local continuity alone was
        tried and joins the prongs of a star, which meet at their vertex.)"""
        chains = [c for c in chains if len(c)]
        identity = list(range(len(chains)))  # a merged chain gets a new identity
        rejected: set[tuple[int, int]] = set()  # pairs already fitted and found not to be one track
        fresh = len(chains)
        while len(chains) > 1:
            ends = np.array([[hits[c[0]], hits[c[-1]]] for c in chains])  # (T, 2 ends, 2)
            gaps = np.hypot(ends[:, None, :, None, 0] - ends[None, :, None, :, 0],
                            ends[:, None, :, None, 1] - ends[None, :, None, :, 1])  # (T, T, 2, 2)
            closest = gaps.reshape(len(chains), len(chains), 4).min(axis=2)
            pairs = np.argwhere(np.triu(closest <= 2 * self.gap, k=1))
            pairs = pairs[np.argsort(closest[pairs[:, 0], pairs[:, 1]], kind="stable")]
            joined = False
            for i, j in pairs:
                key = (identity[i], identity[j])
                if key in rejected:
                    continue
                a, b = chains[i], chains[j]
                fit = fit_circle(hits[np.concatenate([a, b])])
                if fit is None or fit.rms > 0.6 * self.tolerance:
                    rejected.add(key)
                    continue
                ia, ib = np.unravel_index(int(np.argmin(gaps[i, j])), (2, 2))
                first = a if ia == 1 else a[::-1]
                second = b if ib == 0 else b[::-1]
                chains[i] = np.concatenate([first, second])
                identity[i] = fresh
                fresh += 1
                chains.pop(j)
                identity.pop(j)
                joined = True
                break
            if not joined:
                break
        return chains

    def _arc(self, points: np.ndarray) -> np.ndarray:
        """The longest contiguous arc among points near a circle or line, refitted once."""
        if len(points) < self.min_hits:
            return np.zeros(0, dtype=np.int64)
        fit = fit_circle(points)
        if fit is None:
            return np.zeros(0, dtype=np.int64)
        if fit.radius < 1e5:
            residual = np.abs(np.hypot(points[:, 0] - fit.cx, points[:, 1] - fit.cy) - fit.radius)
            on = np.flatnonzero(residual < self.tolerance)
            if len(on) < self.min_hits:
                return np.zeros(0, dtype=np.int64)
            angles = np.arctan2(points[on, 1] - fit.cy, points[on, 0] - fit.cx)
            run = longest_run(angles, self.gap / fit.radius, periodic=2 * math.pi)
            return on[run]
        centred = points - points.mean(axis=0)
        direction = np.linalg.svd(centred, full_matrices=False)[2][0]
        along = centred @ direction
        return longest_run(along, self.gap)


def hough_tracks(hits: np.ndarray, width: int, height: int, *, field_tesla: float, pixel_size_m: float,
                 **options: float) -> tuple[np.ndarray, list]:
    """Run :class:`HoughTracker` and give each track its p_T from its circle."""
    owner, tracks = HoughTracker(**options)(hits, width, height)
    for track in tracks:
        if track.fit is not None:
            track.pt_gev = track.fit.momentum(field_tesla, pixel_size_m)
    return owner, tracks
