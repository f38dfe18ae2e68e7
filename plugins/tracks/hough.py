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

With numba, :mod:`.compiled`'s kernels take the votes back, find the peaks and the hits near them,
fit the seed arcs and follow the tracks; they make the array code's decisions (a fit whose outcome
is carried far by rounding is left to the array code), so the tracks are the same with and without
them (``tests/tracks/test_compiled.py``; ``benchmarks/tracks/hough_speed.py`` on the crowding pictures).
"""

from __future__ import annotations

import math

import numpy as np

from . import compiled
from .arcs import FOLLOW_HITS, GAP_PX, PointGrid, longest_run, quick_fit
from .compiled import Follower, circle_fits
from .fitting import fit_circle
from .found import FoundTrack


class _Peaks:
    """Votes (rows × columns) with a bound on each row's largest, so the largest cell is found
    without scanning every cell after each change. Votes only ever fall (a track's are taken
    back, a failed peak is cleared), so a row's largest as it was is a bound on it now: the best
    row is found by refreshing the bounds of the rows that lead until the leader's is exact (the
    same cell, ties included, as scanning every row would give)."""

    def __init__(self, votes: np.ndarray) -> None:
        self.votes = votes
        self.row_max = votes.max(axis=1)

    def best(self) -> tuple[float, int]:
        if compiled.COMPILED:  # the same search, compiled
            value, index = compiled.best_cell(self.votes, self.row_max)
            return float(value), int(index)
        while True:
            row = int(np.argmax(self.row_max))
            col = int(np.argmax(self.votes[row]))
            value = self.votes[row, col]
            if value == self.row_max[row]:
                return float(value), row * self.votes.shape[1] + col
            self.row_max[row] = value

    def set(self, index: int, value: float) -> None:
        """Lower one cell's votes (its row's bound stays a bound)."""
        row, col = divmod(index, self.votes.shape[1])
        self.votes[row, col] = min(value, self.votes[row, col])


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
        # the rows' bounds stay bounds (votes only fell): _Peaks.best refreshes the leading ones

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


class _CircleBank:
    """All circle accumulators' votes in one array, so a track's votes are taken back from every
    radius at once: its hits' cells in each accumulator (counted once per cell), each cell's
    ring of that radius, one subtraction (the same votes as each accumulator's own ``take``)."""

    def __init__(self, circles: list[_CircleAccumulator]) -> None:
        sizes = [acc.padded[0] * acc.padded[1] for acc in circles]
        self.base = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.votes = np.concatenate([acc.peaks.votes.reshape(-1) for acc in circles])
        for acc, first, size in zip(circles, self.base[:-1], sizes, strict=True):
            acc.peaks.votes = self.votes[first:first + size].reshape(acc.padded)
        self.origin = np.array([acc.origin for acc in circles], dtype=np.float64)  # (K, 2)
        self.cell = np.array([acc.cell for acc in circles], dtype=np.float64)
        self.margin = np.array([acc.margin for acc in circles], dtype=np.int64)
        self.columns = np.array([acc.padded[1] for acc in circles], dtype=np.int64)
        lengths = np.array([len(acc.ring) for acc in circles], dtype=np.int64)
        self.ring = np.concatenate([acc.ring for acc in circles])
        self.ring_start, self.ring_length = np.cumsum(lengths) - lengths, lengths

    def take(self, hits: np.ndarray) -> None:
        if compiled.COMPILED:  # the same subtractions, cell by cell
            compiled.take_circle_votes(self.votes, np.ascontiguousarray(hits[:, 0]),
                                       np.ascontiguousarray(hits[:, 1]), self.origin, self.cell, self.margin,
                                       self.columns, self.base, self.ring, self.ring_start, self.ring_length)
            return
        col = np.floor((hits[:, 0:1] - self.origin[None, :, 0]) / self.cell[None, :]).astype(np.int64) + self.margin
        row = np.floor((hits[:, 1:2] - self.origin[None, :, 1]) / self.cell[None, :]).astype(np.int64) + self.margin
        cells, counts = np.unique(row * self.columns + col + self.base[:-1], return_counts=True)
        which = np.searchsorted(self.base, cells, side="right") - 1  # each cell's accumulator
        lengths = self.ring_length.take(which)
        first = np.cumsum(lengths) - lengths
        position = np.arange(int(lengths.sum())) - np.repeat(first - self.ring_start.take(which), lengths)
        flat = np.repeat(cells, lengths) + self.ring.take(position)
        np.subtract.at(self.votes, flat, np.repeat(counts.astype(np.float64), lengths))


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
        if compiled.COMPILED:  # the same subtractions, hit by hit
            compiled.take_line_votes(self.peaks.votes.reshape(-1), np.ascontiguousarray(hits[:, 0]),
                                     np.ascontiguousarray(hits[:, 1]), self.cos, self.sin, float(self.rho_max),
                                     float(self.rho_cell), self.shape[1])
            return
        np.subtract.at(self.peaks.votes.reshape(-1), self.cells(hits), 1.0)


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
        bank = _CircleBank(circles)
        accumulators: list = [*circles, line]
        tops = np.array([acc.peaks.best()[0] for acc in accumulators])
        follower = None  # every hit in cells of gap_px, for following tracks
        pool, pool_xy, free = np.arange(len(hits)), hits, len(hits)  # the free hits among the pool's
        px, py = np.ascontiguousarray(hits[:, 0]), np.ascontiguousarray(hits[:, 1])
        scratch = np.empty(len(hits), dtype=np.int64)
        tracks: list = []
        chains: list[np.ndarray] = []
        failures = 0
        while len(chains) < self.max_tracks and failures < 50:
            # the highest cell of all accumulators; the hits near its circle are then collected
            # with a tolerance of a cell, so a centre falling on a cell corner loses nothing
            # (each accumulator's best as it was bounds it now: refresh the leader's until exact,
            # the first accumulator of the highest votes, as asking every one would give)
            while True:
                k = int(np.argmax(tops))
                votes, index = accumulators[k].peaks.best()
                if votes == tops[k]:
                    break
                tops[k] = votes
            best_votes, best = votes, (k, index)
            if best_votes < self.min_hits:
                break
            k, index = best
            if compiled.COMPILED:  # the same hits, by one pass over them
                if accumulators[k] is not line:
                    centre = circles[k].centre(index)
                    count = compiled.free_near_circle(px, py, owner, float(centre[0]), float(centre[1]),
                                                      float(circles[k].radius),
                                                      self.tolerance + 1.5 * circles[k].cell, scratch)
                else:
                    t_index, r_index = divmod(index, line.shape[1])
                    theta = line.thetas[t_index]
                    rho = (r_index + 0.5) * line.rho_cell - line.rho_max
                    count = compiled.free_near_line(px, py, owner, math.cos(theta), math.sin(theta), float(rho),
                                                    self.tolerance + 1.5 * line.rho_cell, scratch)
                near = scratch[:count].copy()
            else:
                if len(pool) > 1.25 * free + 100:  # drop the hits taken since the pool was made
                    pool = pool[owner[pool] < 0]
                    pool_xy = hits[pool]
                if accumulators[k] is not line:
                    acc = circles[k]
                    centre = acc.centre(index)
                    residual = np.abs(np.hypot(pool_xy[:, 0] - centre[0], pool_xy[:, 1] - centre[1]) - acc.radius)
                    near = pool[residual < self.tolerance + 1.5 * acc.cell]
                else:
                    t_index, r_index = divmod(index, line.shape[1])
                    theta = line.thetas[t_index]
                    rho = (r_index + 0.5) * line.rho_cell - line.rho_max
                    residual = np.abs(pool_xy[:, 0] * math.cos(theta) + pool_xy[:, 1] * math.sin(theta) - rho)
                    near = pool[residual < self.tolerance + 1.5 * line.rho_cell]
                near = near[owner[near] < 0]  # free hits near the peak's circle or line, in order
            chosen = self._arc(hits[near])
            members = near[chosen] if len(chosen) else chosen
            if len(members) >= 3:
                if follower is None:
                    follower = Follower(hits, PointGrid(hits, self.gap), gap=self.gap, tolerance=self.tolerance,
                                        follow_hits=self.follow_hits)
                members = follower(owner >= 0, members)
            if len(members) < self.min_hits:
                failures += 1
                if accumulators[k] is not line:
                    circles[k].clear(index)
                else:
                    line.peaks.set(index, 0.0)
                continue
            owner[members] = len(chains)
            free -= len(members)
            chains.append(members)
            bank.take(hits[members])
            line.take(hits[members])
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
        tried and joins the prongs of a star, which meet at their vertex.)

        Pairs are tried nearest ends first; the first whose union fits one circle is joined, and
        the search starts again. Every pair's fit is kept until one of its tracks changes (the
        fits of all untried pairs are made together, :func:`_pair_rms`), which finds the same
        joins as fitting one pair at a time."""
        chains = [c for c in chains if len(c)]
        if len(chains) < 2:
            return chains
        ends = np.array([[hits[c[0]], hits[c[-1]]] for c in chains])  # (T, 2 ends, 2)

        def gaps_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (A, B, 2, 2)
            return np.hypot(a[:, None, :, None, 0] - b[None, :, None, :, 0],
                            a[:, None, :, None, 1] - b[None, :, None, :, 1])

        gaps = gaps_between(ends, ends)
        closest = gaps.reshape(len(chains), len(chains), 4).min(axis=2)
        # each pair's fit: 0 not made (or one of its tracks changed since), 1 one circle, 2 not one
        state = np.zeros((len(chains), len(chains)), dtype=np.int8)
        limit = 0.6 * self.tolerance
        while len(chains) > 1:
            pairs = np.argwhere(np.triu(closest <= 2 * self.gap, k=1) & (state != 2))
            pairs = pairs[np.argsort(closest[pairs[:, 0], pairs[:, 1]], kind="stable")]
            untried = pairs[state[pairs[:, 0], pairs[:, 1]] == 0]
            if len(untried):
                rms = _pair_rms(hits, [np.concatenate([chains[i], chains[j]]) for i, j in untried],
                                give_up=3 * limit)
                state[untried[:, 0], untried[:, 1]] = np.where(rms <= limit, 1, 2)
            good = pairs[state[pairs[:, 0], pairs[:, 1]] == 1]
            if not len(good):
                break
            i, j = (int(v) for v in good[0])
            a, b = chains[i], chains[j]
            ia, ib = np.unravel_index(int(np.argmin(gaps[i, j])), (2, 2))
            first = a if ia == 1 else a[::-1]
            second = b if ib == 0 else b[::-1]
            chains[i] = np.concatenate([first, second])
            chains.pop(j)
            ends[i] = (hits[chains[i][0]], hits[chains[i][-1]])
            ends = np.delete(ends, j, axis=0)
            gaps = np.delete(np.delete(gaps, j, axis=0), j, axis=1)
            state = np.delete(np.delete(state, j, axis=0), j, axis=1)
            row = gaps_between(ends[i:i + 1], ends)[0]  # (T, 2, 2): the joined track's ends to each
            gaps[i] = row
            gaps[:, i] = row.transpose(0, 2, 1)
            closest = np.delete(np.delete(closest, j, axis=0), j, axis=1)
            closest[i] = closest[:, i] = row.reshape(len(chains), 4).min(axis=1)
            state[i, :] = 0  # the joined track is a new one
            state[:, i] = 0
        return chains

    def _arc(self, points: np.ndarray) -> np.ndarray:
        """The longest contiguous arc among points near a circle or line, refitted once."""
        if len(points) < self.min_hits:
            return np.zeros(0, dtype=np.int64)
        fits = circle_fits(points)  # the kernel's circle, and again from nudged starts
        if fits is not None:
            chosen = [self._arc_on(points, fit) for fit in fits]
            if all(np.array_equal(chosen[0], other) for other in chosen[1:]):
                return chosen[0]
        fit = quick_fit(points)  # the array code decides
        return self._arc_on(points, None if fit is None else (fit.cx, fit.cy, fit.radius))

    def _arc_on(self, points: np.ndarray, fit: tuple[float, float, float] | None) -> np.ndarray:
        if fit is None:
            return np.zeros(0, dtype=np.int64)
        cx, cy, radius = fit
        if radius < 1e5:
            residual = np.abs(np.hypot(points[:, 0] - cx, points[:, 1] - cy) - radius)
            on = np.flatnonzero(residual < self.tolerance)
            if len(on) < self.min_hits:
                return np.zeros(0, dtype=np.int64)
            angles = np.arctan2(points[on, 1] - cy, points[on, 0] - cx)
            run = longest_run(angles, self.gap / radius, periodic=2 * math.pi)
            return on[run]
        centred = points - points.mean(axis=0)
        direction = np.linalg.svd(centred, full_matrices=False)[2][0]
        along = centred @ direction
        return longest_run(along, self.gap)


def _pair_rms(hits: np.ndarray, groups: list[np.ndarray], *, iterations: int = 5,
              max_radius_px: float = 1e6, give_up: float = math.inf) -> np.ndarray:
    """The rms residual of :func:`~.arcs.quick_fit` to each group of hits (inf where it fits
    none), all groups at once: Taubin's circle from each group's 3 × 3 moment matrix, refined by
    Gauss–Newton steps on the geometric residuals, each group stopping when its step is below
    10⁻⁶ of its radius, as quick_fit does (the same circle to rounding). Groups quick_fit would
    hand to :func:`~.fitting.fit_circle` (collinear hits, a singular step) are fitted one by one.

    ``give_up``: a group whose residuals about Taubin's circle have an rms above this keeps that
    rms, unrefined (the refinement lowered it by at most a factor 1.4 over the pairs of the
    crowding pictures; the merge gives up at 3× its limit)."""
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    out = np.full(len(groups), math.inf)
    if not len(groups):
        return out
    if iterations and give_up < math.inf:
        out = _pair_rms(hits, groups, iterations=0, max_radius_px=max_radius_px)
        hard = np.flatnonzero(out <= give_up)
        out[hard] = _pair_rms(hits, [groups[k] for k in hard], iterations=iterations, max_radius_px=max_radius_px)
        return out
    size = len(groups)
    owner = np.repeat(np.arange(size), counts)
    xy = hits[np.concatenate(groups)]
    n = counts.astype(np.float64)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(owner, values, minlength=size)

    centroid = np.stack([total(xy[:, 0]), total(xy[:, 1])], axis=1) / n[:, None]
    ux, uy = xy[:, 0] - centroid[owner, 0], xy[:, 1] - centroid[owner, 1]
    z = ux * ux + uy * uy
    z_mean = total(z) / n
    alone = (counts < 3) | (z_mean <= 0)
    scale = 2.0 * np.sqrt(np.where(alone, 1.0, z_mean))
    d0 = (z - z_mean[owner]) / scale[owner]
    moments = np.empty((size, 3, 3))
    for (r, c), (p, q) in {(0, 0): (d0, d0), (0, 1): (d0, ux), (0, 2): (d0, uy), (1, 1): (ux, ux),
                           (1, 2): (ux, uy), (2, 2): (uy, uy)}.items():
        moments[:, r, c] = moments[:, c, r] = total(p * q)
    a = np.linalg.eigh(moments)[1][:, :, 0]
    a0 = a[:, 0] / scale
    alone |= np.abs(a0) < 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        cx, cy = -a[:, 1] / (2 * a0), -a[:, 2] / (2 * a0)
        radius = np.sqrt(np.maximum(cx * cx + cy * cy + z_mean, 0.0))
    alone |= ~np.isfinite(radius) | (radius > max_radius_px)
    going = ~alone
    for _ in range(iterations):  # Gauss–Newton on r_i = |x_i − c| − R, for the groups still going
        on = going[owner]
        dx, dy = ux - cx[owner], uy - cy[owner]
        dist = np.maximum(np.sqrt(dx * dx + dy * dy), 1e-9)
        residual = dist - radius[owner]
        jx, jy = np.where(on, -dx / dist, 0.0), np.where(on, -dy / dist, 0.0)
        normal = np.empty((size, 3, 3))
        normal[:, 0, 0], normal[:, 1, 1], normal[:, 2, 2] = total(jx * jx), total(jy * jy), n
        normal[:, 0, 1] = normal[:, 1, 0] = total(jx * jy)
        normal[:, 0, 2] = normal[:, 2, 0] = -total(jx)
        normal[:, 1, 2] = normal[:, 2, 1] = -total(jy)
        gradient = np.stack([total(jx * residual), total(jy * residual), -total(residual)], axis=1)
        normal[~going] = np.eye(3)
        gradient[~going] = 0.0
        singular = np.linalg.det(normal) == 0
        if singular.any():
            alone |= singular & going
            going &= ~singular
            normal[singular] = np.eye(3)
            gradient[singular] = 0.0
        step = np.linalg.solve(normal, -gradient[:, :, None])[:, :, 0]
        cx, cy, radius = cx + step[:, 0], cy + step[:, 1], radius + step[:, 2]
        going &= ~(np.abs(step).max(axis=1) < 1e-6 * np.maximum(1.0, radius))
        if not going.any():
            break
    radius = np.abs(radius)
    residual = np.sqrt((ux - cx[owner]) ** 2 + (uy - cy[owner]) ** 2) - radius[owner]
    out[:] = np.sqrt(total(residual * residual) / n)
    for k in np.flatnonzero(alone):
        fit = quick_fit(xy[owner == k])
        out[k] = math.inf if fit is None else fit.rms
    return out


def hough_tracks(hits: np.ndarray, width: int, height: int, *, field_tesla: float, pixel_size_m: float,
                 **options: float) -> tuple[np.ndarray, list]:
    """Run :class:`HoughTracker` and give each track its p_T from its circle."""
    owner, tracks = HoughTracker(**options)(hits, width, height)
    for track in tracks:
        if track.fit is not None:
            track.pt_gev = track.fit.momentum(field_tesla, pixel_size_m)
    return owner, tracks
