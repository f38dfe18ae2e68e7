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

import numpy as np

from .arcs import FOLLOW_HITS, GAP_PX, follow_arc, longest_run, quick_fit
from .fitting import fit_circle
from .found import FoundTrack


class _Peaks:
    """Votes (rows × columns) with each row's largest kept, so the largest cell is found without
    scanning every cell after each change."""

    def __init__(self, votes: np.ndarray) -> None:
        self.votes = votes
        self.row_max = votes.max(axis=1)

    def best(self) -> tuple[float, int]:
        row = int(np.argmax(self.row_max))
        col = int(np.argmax(self.votes[row]))
        return float(self.votes[row, col]), row * self.votes.shape[1] + col

    def set(self, index: int, value: float) -> None:
        row, col = divmod(index, self.votes.shape[1])
        self.votes[row, col] = value
        self.row_max[row] = self.votes[row].max()


class _CircleAccumulator:
    """Centres of circles of one radius: each hit votes for the cells of a ring of that radius
    around its own cell (the ring of ``n`` points, rounded to cells; a cell may be voted for twice).
    The first votes are the hits' cell histogram convolved with the ring (by FFT); a track's hits
    take their votes back from the ring around each of their cells."""

    def __init__(self, radius: float, cell: float, origin: np.ndarray, shape: tuple[int, int], n: int) -> None:
        self.radius, self.cell, self.origin, self.shape = radius, cell, origin, shape
        angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
        ring = np.floor(0.5 + (radius / cell) * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.int64)
        self.margin = int(np.abs(ring).max()) + 1  # votes never fall off the padded grid
        self.padded = (shape[0] + 2 * self.margin, shape[1] + 2 * self.margin)
        self.ring = ring[:, 1] * self.padded[1] + ring[:, 0]  # flat offsets
        self.ring_cells = ring

    def cells(self, hits: np.ndarray) -> np.ndarray:
        col = np.floor((hits[:, 0] - self.origin[0]) / self.cell).astype(np.int64) + self.margin
        row = np.floor((hits[:, 1] - self.origin[1]) / self.cell).astype(np.int64) + self.margin
        return row * self.padded[1] + col

    def start(self, hits: np.ndarray) -> None:
        histogram = np.bincount(self.cells(hits), minlength=self.padded[0] * self.padded[1]).reshape(self.padded)
        kernel = np.zeros(self.padded)
        np.add.at(kernel, (self.ring_cells[:, 1] % self.padded[0], self.ring_cells[:, 0] % self.padded[1]), 1.0)
        votes = np.rint(np.fft.irfft2(np.fft.rfft2(histogram) * np.fft.rfft2(kernel), s=self.padded))
        m = self.margin
        self.valid = np.zeros(self.padded, dtype=bool)
        self.valid[m:m + self.shape[0], m:m + self.shape[1]] = True
        votes[~self.valid] = -1.0  # centres outside the searched area are never peaks
        self.peaks = _Peaks(votes)

    def take(self, hits: np.ndarray) -> None:
        cells, counts = np.unique(self.cells(hits), return_counts=True)
        flat = (cells[:, None] + self.ring[None, :]).ravel()
        np.subtract.at(self.peaks.votes.reshape(-1), flat, np.repeat(counts.astype(np.float64), len(self.ring)))
        # only the rows the rings reached have a new largest cell (margin cells only fall: never peaks)
        rows = cells // self.padded[1]
        first, last = max(0, int(rows.min()) - self.margin), min(self.padded[0], int(rows.max()) + self.margin + 1)
        self.peaks.row_max[first:last] = self.peaks.votes[first:last].max(axis=1)

    def centre(self, index: int) -> np.ndarray:
        row, col = divmod(index, self.padded[1])
        return self.origin + (np.array([col - self.margin, row - self.margin]) + 0.5) * self.cell

    def clear(self, index: int) -> None:
        """A peak that gave no track: it and its eight neighbours are never peaks again."""
        row, col = divmod(index, self.padded[1])
        for r in range(max(0, row - 1), min(self.padded[0], row + 2)):
            for c in range(max(0, col - 1), min(self.padded[1], col + 2)):
                if self.peaks.votes[r, c] > 0:
                    self.peaks.set(r * self.padded[1] + c, 0.0)


class _LineAccumulator:
    """Lines ρ = x cos θ + y sin θ: each hit votes once per θ."""

    def __init__(self, thetas: np.ndarray, rho_cell: float, rho_max: float) -> None:
        self.thetas, self.rho_cell, self.rho_max = thetas, rho_cell, rho_max
        self.shape = (len(thetas), int(2 * rho_max / rho_cell) + 1)
        self.cos, self.sin = np.cos(thetas), np.sin(thetas)

    def cells(self, hits: np.ndarray) -> np.ndarray:
        rho = hits[:, 0:1] * self.cos[None, :] + hits[:, 1:2] * self.sin[None, :]
        cells = np.floor((rho + self.rho_max) / self.rho_cell).astype(np.int64)
        flat = (np.arange(len(self.thetas))[None, :] * self.shape[1] + cells).ravel()
        return flat.compress((cells.ravel() >= 0) & (cells.ravel() < self.shape[1]))

    def start(self, hits: np.ndarray) -> None:
        votes = np.zeros(self.shape)
        for first in range(0, len(self.thetas), 16):  # a few angles at a time: no huge temporaries
            rho = hits[:, 0:1] * self.cos[None, first:first + 16] + hits[:, 1:2] * self.sin[None, first:first + 16]
            cells = np.floor((rho + self.rho_max) / self.rho_cell).astype(np.int64)
            np.clip(cells, -1, self.shape[1], out=cells)
            count = cells.shape[1]
            flat = (cells + (np.arange(count) * (self.shape[1] + 2) + 1)[None, :]).ravel()
            block = np.bincount(flat, minlength=count * (self.shape[1] + 2)).reshape(count, self.shape[1] + 2)
            votes[first:first + count] = block[:, 1:-1]  # cells off the accumulator (−1, n) dropped
        self.peaks = _Peaks(votes)

    def take(self, hits: np.ndarray) -> None:
        np.subtract.at(self.peaks.votes.reshape(-1), self.cells(hits), 1.0)
        self.peaks.row_max = self.peaks.votes.max(axis=1)


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
            circles.append(_CircleAccumulator(radius, cell, origin, shape, n))
        rho_max = math.hypot(width, height)
        thetas = np.linspace(0, math.pi, 2 * span // 2, endpoint=False)
        return circles, _LineAccumulator(thetas, 1.0, rho_max)

    def __call__(self, hits: np.ndarray, width: int, height: int) -> tuple[np.ndarray, list]:
        hits = np.asarray(hits, dtype=np.float64)
        owner = np.full(len(hits), -1, dtype=np.int64)
        if len(hits) < self.min_hits:
            return owner, []
        circles, line = self._accumulators(width, height)
        for acc in circles:
            acc.start(hits)
        line.start(hits)
        accumulators: list = [*circles, line]
        tracks: list = []
        chains: list[np.ndarray] = []
        failures = 0
        while len(chains) < self.max_tracks and failures < 50:
            # the highest cell of all accumulators; the hits near its circle are then collected
            # with a tolerance of a cell, so a centre falling on a cell corner loses nothing
            best_votes, best = -1.0, None
            for k, acc in enumerate(accumulators):
                votes, index = acc.peaks.best()
                if votes > best_votes:
                    best_votes, best = votes, (k, index)
            if best is None or best_votes < self.min_hits:
                break
            free = np.flatnonzero(owner < 0)
            points = hits[free]
            k, index = best
            if accumulators[k] is not line:
                acc = circles[k]
                centre = acc.centre(index)
                residual = np.abs(np.hypot(points[:, 0] - centre[0], points[:, 1] - centre[1]) - acc.radius)
                near = residual < self.tolerance + 1.5 * acc.cell
            else:
                t_index, r_index = divmod(index, line.shape[1])
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
                if accumulators[k] is not line:
                    circles[k].clear(index)
                else:
                    line.peaks.set(index, 0.0)
                continue
            members = free[chosen]
            owner[members] = len(chains)
            chains.append(members)
            for acc in accumulators:
                acc.take(hits[members])
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
        rejected = np.zeros((len(chains), len(chains)), dtype=bool)  # pairs fitted and found not one track
        while len(chains) > 1:
            ends = np.array([[hits[c[0]], hits[c[-1]]] for c in chains])  # (T, 2 ends, 2)
            gaps = np.hypot(ends[:, None, :, None, 0] - ends[None, :, None, :, 0],
                            ends[:, None, :, None, 1] - ends[None, :, None, :, 1])  # (T, T, 2, 2)
            closest = gaps.reshape(len(chains), len(chains), 4).min(axis=2)
            pairs = np.argwhere(np.triu(closest <= 2 * self.gap, k=1) & ~rejected)
            pairs = pairs[np.argsort(closest[pairs[:, 0], pairs[:, 1]], kind="stable")]
            joined = False
            for i, j in pairs:
                a, b = chains[i], chains[j]
                fit = quick_fit(hits[np.concatenate([a, b])])
                if fit is None or fit.rms > 0.6 * self.tolerance:
                    rejected[i, j] = True
                    continue
                ia, ib = np.unravel_index(int(np.argmin(gaps[i, j])), (2, 2))
                first = a if ia == 1 else a[::-1]
                second = b if ib == 0 else b[::-1]
                chains[i] = np.concatenate([first, second])
                chains.pop(j)
                rejected[i, :] = False  # the joined track is a new one
                rejected[:, i] = False
                rejected = np.delete(np.delete(rejected, j, axis=0), j, axis=1)
                joined = True
                break
            if not joined:
                break
        return chains

    def _arc(self, points: np.ndarray) -> np.ndarray:
        """The longest contiguous arc among points near a circle or line, refitted once."""
        if len(points) < self.min_hits:
            return np.zeros(0, dtype=np.int64)
        fit = quick_fit(points)
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
