"""The Hough transform's compiled kernels against its array code: the same votes, peaks, hits and
tracks, and a fit that agrees with quick_fit to rounding where it is steady (and leaves the rest
to the array code)."""

from __future__ import annotations

import numpy as np
import pytest
from sciarch_tracks import compiled
from sciarch_tracks.arcs import GAP_PX, PointGrid, _quick_circle, grow_chain, quick_fit
from sciarch_tracks.hough import HoughTracker, _CircleBank

pytestmark = pytest.mark.skipif(not compiled.AVAILABLE, reason="numba is not installed")


@pytest.fixture
def array_code(monkeypatch):
    """``array_code(False)``: the array code runs from here to the end of the test; True: the kernels."""

    def switch(on: bool) -> None:
        monkeypatch.setattr(compiled, "COMPILED", on)

    return switch


def crowded_hits(tracks: int = 40, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """One simulated picture's hits, and where each track's hits start among them."""
    from sciarch_datasets.tracks import ChamberConfig
    from sciarch_datasets.tracks.optics import simulate_picture

    picture = simulate_picture(ChamberConfig(image_size=(256, 256), tracks=(tracks, tracks)), seed, 0)
    parts = [t.hits for t in picture.tracks if len(t.hits)]
    starts = np.cumsum([0] + [len(p) for p in parts])[:-1]
    return np.concatenate(parts).astype(np.float64), starts


def test_vote_removal_kernels_leave_the_array_codes_votes(array_code) -> None:
    rng = np.random.default_rng(0)
    hits = rng.uniform(0, 128, (400, 2))
    taken = hits[rng.choice(400, 60, replace=False)]
    tracker = HoughTracker()
    votes = {}
    for on in (False, True):
        array_code(on)
        circles, line = tracker._accumulators(128, 128)
        for acc in circles:
            acc.start(hits)
        line.start(hits)
        bank = _CircleBank(circles)
        before = bank.votes.sum(), line.peaks.votes.sum()
        bank.take(taken)
        line.take(taken)
        votes[on] = (bank.votes.copy(), line.peaks.votes.copy())
        assert bank.votes.sum() < before[0] and line.peaks.votes.sum() < before[1]  # votes were taken back
    assert np.array_equal(votes[True][0], votes[False][0]) and np.array_equal(votes[True][1], votes[False][1])


def test_best_cell_is_the_first_largest_and_keeps_the_row_bounds_bounds() -> None:
    rng = np.random.default_rng(1)
    votes = rng.integers(0, 5, (30, 40)).astype(np.float64)
    row_max = votes.max(axis=1) + rng.integers(0, 3, 30)  # stale bounds, as after votes fall
    value, index = compiled.best_cell(votes, row_max.copy())
    assert value == votes.max()
    assert index == int(np.argmax(votes == votes.max()))  # the first of the ties, row by row


def test_free_hits_near_a_circle_and_a_line_are_the_array_codes() -> None:
    rng = np.random.default_rng(2)
    hits = rng.uniform(0, 100, (2000, 2))
    owner = np.where(rng.random(2000) < 0.3, 1, -1)
    out = np.empty(2000, dtype=np.int64)
    count = compiled.free_near_circle(hits[:, 0].copy(), hits[:, 1].copy(), owner, 40.0, 55.0, 30.0, 2.5, out)
    expected = np.flatnonzero((np.abs(np.hypot(hits[:, 0] - 40, hits[:, 1] - 55) - 30) < 2.5) & (owner < 0))
    assert count > 10 and np.array_equal(out[:count], expected)
    c, s = np.cos(0.7), np.sin(0.7)
    count = compiled.free_near_line(hits[:, 0].copy(), hits[:, 1].copy(), owner, c, s, 50.0, 1.5, out)
    expected = np.flatnonzero((np.abs(hits[:, 0] * c + hits[:, 1] * s - 50.0) < 1.5) & (owner < 0))
    assert count > 10 and np.array_equal(out[:count], expected)


@pytest.mark.parametrize("radius", [6.0, 40.0, 300.0, 3000.0])
def test_the_kernel_fit_is_quick_fits_circle_where_it_is_steady(radius: float) -> None:
    rng = np.random.default_rng(int(radius))
    angles = np.sort(rng.uniform(0, min(3.0, 80.0 / radius), 30))
    xy = np.stack([50 + radius * np.cos(angles), 20 + radius * np.sin(angles)], axis=1) + rng.normal(0, 0.3, (30, 2))
    fits = compiled.circle_fits(xy)
    reference = quick_fit(xy)
    assert fits is not None and len(fits) == 1 + len(compiled.NUDGES)
    for cx, cy, r in fits:
        assert abs(r - reference.radius) <= 1e-6 * reference.radius
        assert abs(cx - reference.cx) <= 1e-6 * reference.radius and abs(cy - reference.cy) <= 1e-6 * reference.radius
    assert fits[0][2] == pytest.approx(reference.radius, rel=1e-9)


def test_points_on_a_line_and_too_few_points_are_left_to_quick_fit() -> None:
    line = np.stack([np.arange(20.0), 2.0 * np.arange(20.0) + 1.0], axis=1)
    assert compiled.circle_fits(line) is None  # quick_fit hands these to fit_circle
    assert compiled.circle_fits(line[:2]) == [None]
    assert compiled.circle_fits(np.ones((6, 2))) == [None]


def test_a_chaotic_fit_is_not_steady() -> None:
    # a short, noisy, nearly straight tail: Gauss–Newton carries the start's rounding far
    rng = np.random.default_rng(5)
    unsteady = 0
    for _ in range(200):
        xy = np.stack([np.linspace(0, 6, 25), np.zeros(25)], axis=1) + rng.normal(0, 0.4, (25, 2))
        fits = compiled.circle_fits(xy)
        if fits is None:
            unsteady += 1
        else:
            assert max(abs(f[2] - fits[0][2]) for f in fits) <= compiled.SPREAD * max(1.0, fits[0][2])
    assert unsteady > 0


def test_the_follower_grows_the_array_codes_chains_and_leaves_it_the_unsteady_steps() -> None:
    hits, starts = crowded_hits()
    grid = PointGrid(hits, GAP_PX)
    follower = compiled.Follower(hits, grid, gap=GAP_PX, tolerance=1.5, follow_hits=25)
    rng = np.random.default_rng(4)
    taken = rng.random(len(hits)) < 0.2
    for start in starts:  # seeds: a stretch of each track's own hits, as the transform's arcs are
        members = np.arange(start, start + 12)
        members = members[(members < len(hits)) & ~taken[np.minimum(members, len(hits) - 1)]]
        if len(members) < 3:
            continue
        chain = follower(taken.copy(), members)
        reference = grow_chain(hits, grid, taken.copy(), members, gap=GAP_PX, tolerance=1.5, follow_hits=25,
                               circle=_quick_circle)
        assert np.array_equal(chain, reference)
    assert follower.deferred > 0  # the unsteady steps were the array code's


def test_the_transform_finds_the_same_tracks_with_and_without_kernels(array_code) -> None:
    hits, _ = crowded_hits(60, seed=7)
    found = {}
    for on in (True, False):
        array_code(on)
        owner, tracks = HoughTracker()(hits, 256, 256)
        found[on] = (owner, [t.box for t in tracks])
    assert len(found[True][1]) > 20
    assert np.array_equal(found[True][0], found[False][0])
    assert all(np.array_equal(a, b) for a, b in zip(found[True][1], found[False][1], strict=True))
