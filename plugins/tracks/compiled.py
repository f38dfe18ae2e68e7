"""Compiled kernels (numba) for the Hough baseline's inner loops: the circle fit to a few dozen hits,
following a track hit by hit from the ends of its seed arc, and taking a track's votes back.

They are scalar loops (no array temporaries, no BLAS or LAPACK), compiled when numba is installed
(the physics extra brings it; ``SCIARCH_NUMBA=0`` switches it off). Without numba the array code
runs instead: :func:`~.arcs.grow_chain` with :func:`~.arcs.quick_fit`, and the accumulators' own
vote removal.

- The vote removal gives exactly the array code's votes (whole numbers: the same cells, and the
  order of the subtractions does not matter).
- The fit is quick_fit's — Taubin's algebraic circle refined by Gauss–Newton on the geometric
  residuals — with its 3 × 3 eigenvector found by Jacobi rotations and its 3 × 3 normal equations
  solved by elimination with partial pivoting: the same circle to rounding, not bit for bit (LAPACK's
  order of operations is not reproducible outside LAPACK). Where quick_fit hands over to
  :func:`~.fitting.fit_circle` (hits on a line, or nearly) the follower takes the tail for a line,
  as it does with fit_circle's radius of 10⁵ pixels or more. So a hit lying within rounding of the
  tolerance may be taken by one path and left by the other; on the crowding benchmark's pictures
  the two find the same tracks (``benchmarks/tracks/hough_speed.py``, ``tests/tracks/test_compiled.py``).
"""

from __future__ import annotations

import math

import numpy as np
from sciarch_datasets.tracks.compiled import AVAILABLE, kernel

from .arcs import _quick_circle, grow_chain, next_hits

#: whether the kernels stand in for the array code (tests switch it)
COMPILED = AVAILABLE

#: the fit's outcomes: a circle; no circle (fewer than 3 hits, or all at one place); where
#: quick_fit would hand over to fit_circle (no finite centre, a radius above the largest, a singular
#: step: hits on a line, or nearly)
FIT_OK, FIT_NONE, FIT_ELSEWHERE = 0, 1, 2
#: the starting circles of the stability check, moved by this much (× max(1, R)): 200× the largest
#: difference between the kernel's Taubin circle and quick_fit's measured on the crowding pictures' tails
NUDGE = 1e-10
#: the directions of the moves (centre x, centre y, radius), one check per row
NUDGES = np.array([[1.0, 1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, -1.0]])
#: how far (× max(1, R)) the nudged fits may land from the fit for it to count as steady: an
#: amplification of the start's rounding by 10⁴ at most (the kernel and quick_fit then differ by
#: about 10⁻⁸ R); chaotic Gauss–Newton runs (nearly straight or very short tails) amplify far more
SPREAD = 1e-6


def _fit(px, py, index, start, stop, iterations, max_radius, nudge_x, nudge_y, nudge_r):  # pragma: no cover - compiled
    """Circle (status, cx, cy, R) through the points ``index[start:stop]`` of (px, py): quick_fit's,
    ``iterations`` Gauss–Newton steps at most, started from Taubin's circle moved by ``nudge_*`` ×
    max(1, R) (0 for the fit itself)."""
    n = stop - start
    if n < 3:
        return FIT_NONE, 0.0, 0.0, 0.0
    mx = 0.0
    my = 0.0
    for k in range(start, stop):
        mx += px[index[k]]
        my += py[index[k]]
    mx /= n
    my /= n
    zm = 0.0
    for k in range(start, stop):
        ux = px[index[k]] - mx
        uy = py[index[k]] - my
        zm += ux * ux + uy * uy
    zm /= n
    if not zm > 0.0:
        return FIT_NONE, 0.0, 0.0, 0.0
    scale = 2.0 * math.sqrt(zm)
    # the moment matrix of the design (d0, ux, uy), d0 = (z − z̄) / scale
    m00 = m01 = m02 = m11 = m12 = m22 = 0.0
    for k in range(start, stop):
        ux = px[index[k]] - mx
        uy = py[index[k]] - my
        d0 = (ux * ux + uy * uy - zm) / scale
        m00 += d0 * d0
        m01 += d0 * ux
        m02 += d0 * uy
        m11 += ux * ux
        m12 += ux * uy
        m22 += uy * uy
    a0, a1, a2 = _smallest_eigenvector(m00, m01, m02, m11, m12, m22)
    a0 /= scale
    if not abs(a0) >= 1e-12:
        return FIT_ELSEWHERE, 0.0, 0.0, 0.0
    cx = -a1 / (2.0 * a0)
    cy = -a2 / (2.0 * a0)
    radius = math.sqrt(max(cx * cx + cy * cy + zm, 0.0))
    if not (radius <= max_radius):  # inf and NaN too
        return FIT_ELSEWHERE, 0.0, 0.0, 0.0
    size = max(1.0, radius)
    cx += nudge_x * size
    cy += nudge_y * size
    radius += nudge_r * size
    for _ in range(iterations):  # Gauss–Newton on r_i = |x_i − c| − R
        s00 = s01 = s11 = s0 = s1 = 0.0
        g0 = g1 = g2 = 0.0
        for k in range(start, stop):
            dx = px[index[k]] - mx - cx
            dy = py[index[k]] - my - cy
            dist = max(math.sqrt(dx * dx + dy * dy), 1e-9)
            residual = dist - radius
            j0 = -dx / dist
            j1 = -dy / dist
            s00 += j0 * j0
            s01 += j0 * j1
            s11 += j1 * j1
            s0 += j0
            s1 += j1
            g0 += j0 * residual
            g1 += j1 * residual
            g2 -= residual
        ok, t0, t1, t2 = _solve3(s00, s01, -s0, s11, -s1, float(n), -g0, -g1, -g2)
        if not ok:
            return FIT_ELSEWHERE, 0.0, 0.0, 0.0
        cx += t0
        cy += t1
        radius += t2
        if max(abs(t0), abs(t1), abs(t2)) < 1e-6 * max(1.0, radius):
            break
    return FIT_OK, cx + mx, cy + my, min(abs(radius), max_radius)


def _rotate(c, s, x, y):  # pragma: no cover - compiled
    """(x, y) turned by the angle of cosine ``c`` and sine ``s``."""
    return c * x - s * y, s * x + c * y


def _smallest_eigenvector(a00, a01, a02, a11, a12, a22):  # pragma: no cover - compiled
    """The unit eigenvector of the smallest eigenvalue of a symmetric 3 × 3 matrix, by cyclic
    Jacobi rotations (accurate to rounding for every eigenvector, also when two eigenvalues are
    close, as for the nearly straight arcs)."""
    a = np.empty((3, 3))
    a[0, 0], a[0, 1], a[0, 2] = a00, a01, a02
    a[1, 0], a[1, 1], a[1, 2] = a01, a11, a12
    a[2, 0], a[2, 1], a[2, 2] = a02, a12, a22
    v = np.eye(3)
    for _ in range(32):
        off = a[0, 1] * a[0, 1] + a[0, 2] * a[0, 2] + a[1, 2] * a[1, 2]
        if off == 0.0 or off <= 1e-36 * (a[0, 0] * a[0, 0] + a[1, 1] * a[1, 1] + a[2, 2] * a[2, 2]):
            break
        for p, q in ((0, 1), (0, 2), (1, 2)):
            app, aqq, apq = a[p, p], a[q, q], a[p, q]
            if apq == 0.0:
                continue
            theta = (aqq - app) / (2.0 * apq)
            t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
            if theta < 0.0:
                t = -t
            c = 1.0 / math.sqrt(t * t + 1.0)
            s = t * c
            # A ← Jᵀ A J and V ← V J for the rotation J in the plane (p, q); r is the third axis
            r = 3 - p - q
            a[p, p], a[q, q] = app - t * apq, aqq + t * apq
            a[p, q] = a[q, p] = 0.0
            a[r, p], a[r, q] = _rotate(c, s, a[r, p], a[r, q])
            a[p, r], a[q, r] = a[r, p], a[r, q]
            for k in range(3):
                v[k, p], v[k, q] = _rotate(c, s, v[k, p], v[k, q])
    best = 0
    if not (a[0, 0] <= a[1, 1] and a[0, 0] <= a[2, 2]):
        best = 1 if a[1, 1] <= a[2, 2] else 2
    return v[0, best], v[1, best], v[2, best]


def _solve3(a00, a01, a02, a11, a12, a22, b0, b1, b2):  # pragma: no cover - compiled
    """(ok, x) with A x = b for the symmetric 3 × 3 A, by Gaussian elimination with partial
    pivoting; ok False where A is singular or x not finite."""
    r0 = [a00, a01, a02, b0]
    r1 = [a01, a11, a12, b1]
    r2 = [a02, a12, a22, b2]
    if abs(r1[0]) > abs(r0[0]) and abs(r1[0]) >= abs(r2[0]):
        r0, r1 = r1, r0
    elif abs(r2[0]) > abs(r0[0]):
        r0, r2 = r2, r0
    if r0[0] == 0.0:
        return False, 0.0, 0.0, 0.0
    f1 = r1[0] / r0[0]
    f2 = r2[0] / r0[0]
    for j in range(1, 4):
        r1[j] -= f1 * r0[j]
        r2[j] -= f2 * r0[j]
    if abs(r2[1]) > abs(r1[1]):
        r1, r2 = r2, r1
    if r1[1] == 0.0:
        return False, 0.0, 0.0, 0.0
    f = r2[1] / r1[1]
    r2[2] -= f * r1[2]
    r2[3] -= f * r1[3]
    if r2[2] == 0.0:
        return False, 0.0, 0.0, 0.0
    x2 = r2[3] / r2[2]
    x1 = (r1[3] - r1[2] * x2) / r1[1]
    x0 = (r0[3] - r0[1] * x1 - r0[2] * x2) / r0[0]
    if not (math.isfinite(x0) and math.isfinite(x1) and math.isfinite(x2)):
        return False, 0.0, 0.0, 0.0
    return True, x0, x1, x2


def _decide(px, py, chain, length, candidates, count, tolerance, follow_hits, status, cx, cy, radius,
            flags):  # pragma: no cover - compiled
    """Which ``candidates`` continue ``chain[:length]`` (into ``flags``), as
    :func:`~.arcs.continuing_hits` decides with the tail's circle (status, cx, cy, R) (status
    FIT_NONE for a tail too short to fit); returns 1 where the tail is taken for a circle, 0 for a
    line, −1 where it gives no direction."""
    end = chain[length - 1]
    ex = px[end]
    ey = py[end]
    first = max(0, length - follow_hits)
    on_circle = status == FIT_OK and radius < 1e5
    nx = ny = 0.0
    if not on_circle:  # a line through the tail's ends
        dx = px[chain[length - 1]] - px[chain[first]]
        dy = py[chain[length - 1]] - py[chain[first]]
        norm = math.hypot(dx, dy)
        if norm == 0.0:
            return -1
        nx = -dy / norm
        ny = dx / norm
    back = chain[max(first, length - 6)]  # forward only: a hit behind the end folds the track back
    hx = px[end] - px[back]
    hy = py[end] - py[back]
    for k in range(count):
        i = candidates[k]
        qx = px[i] - ex
        qy = py[i] - ey
        if on_circle:
            off = abs(math.hypot(px[i] - cx, py[i] - cy) - radius)
        else:
            off = abs(qx * nx + qy * ny)
        flags[k] = off < tolerance and qx * hx + qy * hy > 0.0
    return 1 if on_circle else 0


def _steady(px, py, index, start, stop, iterations, max_radius, status, cx, cy, radius):  # pragma: no cover - compiled
    """Whether the fit (status, cx, cy, R) stays within :data:`SPREAD` × max(1, R) when started
    from Taubin's circle moved by :data:`NUDGE` in each of :data:`NUDGES`' directions."""
    size = max(1.0, radius)
    for row in range(NUDGES.shape[0]):
        again, ax, ay, ar = _fit(px, py, index, start, stop, iterations, max_radius, NUDGE * NUDGES[row, 0],
                                 NUDGE * NUDGES[row, 1], NUDGE * NUDGES[row, 2])
        if again != status or max(abs(ax - cx), abs(ay - cy), abs(ar - radius)) > SPREAD * size:
            return False
    return True


def _continuing(px, py, chain, length, candidates, distances, count, keep, tolerance, follow_hits,
                max_radius, flags, other):  # pragma: no cover - compiled
    """:func:`~.arcs.continuing_hits` of the chain ``chain[:length]``: writes the candidates that
    continue it into ``keep``, nearest first (ties in their order in ``candidates``), and returns
    how many; −1 where the array code is to decide: quick_fit would hand over to fit_circle, the
    tail's circle is not :func:`_steady`, or a decision changes with the nudged circles."""
    first = max(0, length - follow_hits)
    status, cx, cy, radius = FIT_NONE, 0.0, 0.0, 0.0
    fitted = length - first >= 5
    if fitted:
        status, cx, cy, radius = _fit(px, py, chain, first, length, 5, max_radius, 0.0, 0.0, 0.0)
        if status == FIT_ELSEWHERE or not _steady(px, py, chain, first, length, 5, max_radius, status, cx, cy,
                                                  radius):
            return -1
    shape = _decide(px, py, chain, length, candidates, count, tolerance, follow_hits, status, cx, cy, radius, flags)
    if shape == -1:
        return 0
    if fitted and status == FIT_OK:
        for row in range(NUDGES.shape[0]):
            again, ax, ay, ar = _fit(px, py, chain, first, length, 5, max_radius, NUDGE * NUDGES[row, 0],
                                     NUDGE * NUDGES[row, 1], NUDGE * NUDGES[row, 2])
            if _decide(px, py, chain, length, candidates, count, tolerance, follow_hits, again, ax, ay, ar,
                       other) != shape:
                return -1
            for k in range(count):
                if other[k] != flags[k]:
                    return -1
    kept = 0
    for k in range(count):
        if flags[k]:
            d = distances[k]  # insertion by distance, after equal ones: nearest first, stable
            j = kept
            while j > 0 and distances[keep[j - 1]] > d:
                keep[j] = keep[j - 1]
                j -= 1
            keep[j] = k
            kept += 1
    for j in range(kept):
        keep[j] = candidates[keep[j]]
    return kept


def _grow(px, py, sorted_keys, order, offset_x, offset_y, width, cell, taken, chain, length, phase, gap,
          tolerance, follow_hits, max_radius, candidates, distances, keep, flags,
          other):  # pragma: no cover - compiled
    """:func:`~.arcs.grow_chain` in place from ``phase`` (0: growing the far end of ``chain[:length]``;
    1: the near end, the chain reversed), through the hits not ``taken`` (marked as they join; the
    grid of :class:`~.arcs.PointGrid` given as its arrays). Returns (length, phase, deferred):
    phase 2 when done (the chain in order along the track), deferred where a step is left to the
    array code (the chain as far as it goes, in the orientation of its phase)."""
    while phase < 2:
        while True:
            end = chain[length - 1]
            ex = px[end]
            ey = py[end]
            col = int(math.floor(ex / cell)) - offset_x + 1
            row = int(math.floor(ey / cell)) - offset_y + 1
            count = 0
            for dr in range(-1, 2):
                key = (row + dr) * width + col - 1
                lo = np.searchsorted(sorted_keys, key)
                hi = np.searchsorted(sorted_keys, key + 3)
                for k in range(lo, hi):
                    i = order[k]
                    if taken[i]:
                        continue
                    d = math.hypot(px[i] - ex, py[i] - ey)
                    if d <= gap:
                        candidates[count] = i
                        distances[count] = d
                        count += 1
            if count == 0:
                break
            kept = _continuing(px, py, chain, length, candidates, distances, count, keep, tolerance, follow_hits,
                               max_radius, flags, other)
            if kept < 0:
                return length, phase, True
            if kept == 0:
                break
            for j in range(kept):
                chain[length] = keep[j]
                taken[keep[j]] = True
                length += 1
        chain[:length] = chain[:length][::-1].copy()
        phase += 1
    return length, phase, False


def take_circle_votes(votes, xs, ys, origin, cell, margin, columns, base, ring, ring_start,
                       ring_length):  # pragma: no cover - compiled
    """Each hit (xs, ys) takes back its vote from every radius: one from each cell of
    that radius' ring about the hit's cell, the hits of one cell together (the circle bank's own
    arithmetic; votes are whole numbers, so the order of the subtractions does not matter)."""
    centres = np.empty(len(xs), dtype=np.int64)
    for k in range(len(base) - 1):
        ox = origin[k, 0]
        oy = origin[k, 1]
        size = cell[k]
        first = ring_start[k]
        stop = first + ring_length[k]
        for i in range(len(xs)):
            col = int(math.floor((xs[i] - ox) / size)) + margin[k]
            row = int(math.floor((ys[i] - oy) / size)) + margin[k]
            centres[i] = row * columns[k] + col + base[k]
        centres.sort()
        i = 0
        while i < len(xs):
            stop_i = i + 1
            while stop_i < len(xs) and centres[stop_i] == centres[i]:
                stop_i += 1
            count = float(stop_i - i)
            centre = centres[i]
            for j in range(first, stop):
                votes[centre + ring[j]] -= count
            i = stop_i


def take_line_votes(votes, xs, ys, cos, sin, rho_max, rho_cell, columns):  # pragma: no cover - compiled
    """Each hit (xs, ys) takes back its vote from every angle of the line accumulator."""
    for i in range(len(xs)):
        x = xs[i]
        y = ys[i]
        for t in range(len(cos)):
            cell = int(math.floor((x * cos[t] + y * sin[t] + rho_max) / rho_cell))
            if cell >= 0 and cell < columns:
                votes[t * columns + cell] -= 1.0


def best_cell(votes, row_max):  # pragma: no cover - compiled
    """:meth:`~.hough._Peaks.best` (the first of the largest row bounds, refreshed until exact;
    the first largest cell of that row): (votes, flat index)."""
    rows, columns = votes.shape
    while True:
        row = 0
        for r in range(1, rows):
            if row_max[r] > row_max[row]:
                row = r
        col = 0
        for c in range(1, columns):
            if votes[row, c] > votes[row, col]:
                col = c
        value = votes[row, col]
        if value == row_max[row]:
            return value, row * columns + col
        row_max[row] = value


def free_near_circle(px, py, owner, cx, cy, radius, limit, out):  # pragma: no cover - compiled
    """The hits with no ``owner`` (−1) within ``limit`` of the circle, in order, into ``out``: how many."""
    count = 0
    for i in range(len(px)):
        if owner[i] < 0 and abs(math.hypot(px[i] - cx, py[i] - cy) - radius) < limit:
            out[count] = i
            count += 1
    return count


def free_near_line(px, py, owner, cos, sin, rho, limit, out):  # pragma: no cover - compiled
    """The hits with no ``owner`` (−1) within ``limit`` of the line x cos θ + y sin θ = ρ, in order,
    into ``out``: how many."""
    count = 0
    for i in range(len(px)):
        if owner[i] < 0 and abs(px[i] * cos + py[i] * sin - rho) < limit:
            out[count] = i
            count += 1
    return count


best_cell = kernel(best_cell)
free_near_circle = kernel(free_near_circle)
free_near_line = kernel(free_near_line)
take_circle_votes = kernel(take_circle_votes)
take_line_votes = kernel(take_line_votes)
_fit = kernel(_fit)
_rotate = kernel(_rotate)
_smallest_eigenvector = kernel(_smallest_eigenvector)
_solve3 = kernel(_solve3)
_decide = kernel(_decide)
_steady = kernel(_steady)
_continuing = kernel(_continuing)
_grow = kernel(_grow)


def circle_fits(xy: np.ndarray, *, iterations: int = 5,
                max_radius_px: float = 1e6) -> list[tuple[float, float, float] | None] | None:
    """The kernel's circle (cx, cy, R) fitted to all of ``xy`` (N, 2), then the same fitted from
    each start moved by :data:`NUDGE`: a caller whose decision is the same for all of them may take
    it. None where quick_fit must fit instead: no numba, quick_fit would hand over to fit_circle,
    or the fit is not steady (:func:`_steady`)."""
    if not COMPILED:
        return None
    xy = np.asarray(xy, dtype=np.float64)
    px, py = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    index = np.arange(len(xy), dtype=np.int64)
    args = (px, py, index, 0, len(xy), iterations, float(max_radius_px))
    status, cx, cy, radius = _fit(*args, 0.0, 0.0, 0.0)
    if status == FIT_ELSEWHERE:
        return None
    if status != FIT_OK:
        return [None]
    fits = [(cx, cy, radius)]
    for nudge in NUDGE * NUDGES:  # _steady's test, keeping the nudged circles
        again, ax, ay, ar = _fit(*args, *map(float, nudge))
        if again != status or max(abs(ax - cx), abs(ay - cy), abs(ar - radius)) > SPREAD * max(1.0, radius):
            return None
        fits.append((ax, ay, ar))
    return fits


class Follower:
    """:func:`~.arcs.grow_chain` for one picture's hits, by the kernel: the hits' grid and the
    buffers are made once, then each seed arc is grown in place."""

    def __init__(self, hits: np.ndarray, grid, *, gap: float, tolerance: float, follow_hits: int,
                 max_radius_px: float = 1e6) -> None:
        self.hits = hits
        self.px = np.ascontiguousarray(hits[:, 0], dtype=np.float64)
        self.py = np.ascontiguousarray(hits[:, 1], dtype=np.float64)
        self.grid = grid
        self.gap, self.tolerance, self.follow_hits = float(gap), float(tolerance), int(follow_hits)
        self.max_radius = float(max_radius_px)
        n = len(hits)
        self.chain = np.empty(n, dtype=np.int64)
        self.candidates = np.empty(n, dtype=np.int64)
        self.distances = np.empty(n, dtype=np.float64)
        self.keep = np.empty(n, dtype=np.int64)
        self.flags = np.empty(n, dtype=np.bool_)
        self.other = np.empty(n, dtype=np.bool_)
        self.deferred = 0  # steps left to the array code

    def __call__(self, taken: np.ndarray, members: np.ndarray) -> np.ndarray:
        """The chain grown from ``members`` through the hits not ``taken`` (which it marks)."""
        if not COMPILED:
            return grow_chain(self.hits, self.grid, taken, members, gap=self.gap, tolerance=self.tolerance,
                              follow_hits=self.follow_hits, circle=_quick_circle)
        grid, chain = self.grid, self.chain
        length, phase = len(members), 0
        chain[:length] = members
        taken[members] = True
        while True:
            length, phase, deferred = _grow(
                self.px, self.py, grid.sorted_keys, grid.order, int(grid.offset[0]), int(grid.offset[1]),
                int(grid.width), float(grid.cell), taken, chain, length, phase, self.gap, self.tolerance,
                self.follow_hits, self.max_radius, self.candidates, self.distances, self.keep, self.flags,
                self.other)
            if not deferred:
                return chain[:length].copy()
            self.deferred += 1
            good = next_hits(self.hits, grid, taken, chain[:length].tolist(), gap=self.gap, tolerance=self.tolerance,
                             follow_hits=self.follow_hits, circle=_quick_circle)
            if len(good):
                chain[length:length + len(good)] = good
                taken[good] = True
                length += len(good)
            else:  # this end is done
                chain[:length] = chain[:length][::-1].copy()
                phase += 1
                if phase == 2:
                    return chain[:length].copy()
