"""TrackML double-majority matching, and COCO AP with the detection cap raised above the multiplicity."""

from __future__ import annotations

import numpy as np
import pytest
from sciarch_tracks.metrics import CocoScore, TrackScore, match_tracks, robust_sigma


def test_a_perfect_reconstruction_is_fully_efficient_with_no_fakes() -> None:
    truth = np.repeat([0, 1, 2], 20)
    match = match_tracks(truth, truth.copy(), 3)
    assert match.matched == {0: 0, 1: 1, 2: 2} and match.fakes == []


def test_double_majority_rule() -> None:
    truth = np.repeat([0, 1], 20)
    found = np.full(40, -1)
    found[:11] = 0  # holds 11 of particle 0's 20 hits, all its own: matched
    found[11:20] = 1  # the other 9 of particle 0: pure, but under half of the particle: a fake (a split)
    found[20:30] = 2  # exactly half of particle 1: not more than half, so a fake
    found[30:40] = 2  # ... unless it also has the rest: now it has all 20
    match = match_tracks(truth, found, 2)
    assert match.matched == {0: 0, 2: 1}
    assert match.fakes == [1] and match.duplicates == [1]
    found[30:40] = 3  # particle 1 now split in two halves: neither track holds more than half
    match = match_tracks(truth, found, 2)
    assert match.matched == {0: 0} and sorted(match.fakes) == [1, 2, 3]


def test_a_track_mostly_made_of_another_particle_is_a_fake() -> None:
    truth = np.repeat([0, 1], 20)
    found = np.full(40, -1)
    found[:12] = 0
    found[20:32] = 0  # 12 + 12 hits: no particle provides more than half
    match = match_tracks(truth, found, 2)
    assert match.matched == {} and match.fakes == [0]


def test_stubs_of_unannotated_particles_are_neither_efficient_nor_fake() -> None:
    truth = np.array([0] * 20 + [-5] * 8)  # -5: a δ-ray stub too short to annotate
    found = np.array([0] * 20 + [1] * 8)
    match = match_tracks(truth, found, 1)
    assert match.matched == {0: 0} and match.neutral == [1] and match.fakes == []
    score = TrackScore()
    score.add(match)
    assert score.efficiency == 1.0 and score.fake_rate == 0.0


def test_found_tracks_below_min_hits_are_not_tracks() -> None:
    truth = np.repeat([0], 20)
    found = np.array([0] * 17 + [1] * 3)
    match = match_tracks(truth, found, 1, min_hits=5)
    assert match.n_found == 1 and match.fakes == []


def test_efficiency_and_fake_rate_add_up_over_pictures() -> None:
    score = TrackScore()
    score.add(match_tracks(np.repeat([0, 1], 10), np.repeat([0, 1], 10), 2))
    score.add(match_tracks(np.repeat([0, 1], 10), np.repeat([0, -1], 10), 2))
    truth = np.repeat([0, 1], 10)
    found = np.array([5] * 6 + [-1] * 4 + [6] * 4 + [5] * 6)  # one track of 6+6 hits: fake
    score.add(match_tracks(truth, found, 2))
    assert score.efficiency == pytest.approx(3 / 6)
    assert score.fake_rate == pytest.approx(2 / 5)  # the 6 + 6 mixture and the 4-hit piece of particle 1
    rows = score.by_multiplicity(edges=(0, 3))
    assert rows[0]["pictures"] == 3


def test_robust_sigma_ignores_tails() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 0.05, 2000), rng.normal(0, 2.0, 100)])
    assert robust_sigma(values) == pytest.approx(0.05, rel=0.1)
    assert np.std(values) > 0.4


def _boxes(n: int) -> np.ndarray:
    x = np.arange(n, dtype=float) % 20 * 12
    y = np.arange(n, dtype=float) // 20 * 12
    return np.stack([x, y, x + 10, y + 10], axis=1)


def test_ap_is_perfect_for_perfect_boxes_only_when_the_cap_exceeds_the_multiplicity() -> None:
    n = 150  # more tracks than COCO's default cap of 100 detections
    boxes = _boxes(n)
    rng = np.random.default_rng(1)
    scores = rng.uniform(0.5, 1.0, n)
    results = {}
    for cap in (100, 300):
        coco = CocoScore(["track"], max_dets=cap, masks=False)
        coco.add(height=240, width=240, true_boxes=boxes, true_labels=np.ones(n, int), found_boxes=boxes,
                 found_scores=scores, found_labels=np.ones(n, int))
        results[cap] = coco.compute()
    assert results[300]["box_ap"] == pytest.approx(1.0)
    assert results[100]["box_ap"] < 0.75  # two thirds of the tracks could not be reported


def test_class_agnostic_ap_ignores_the_class_and_per_class_ap_does_not() -> None:
    boxes = _boxes(10)
    coco = CocoScore(["negative", "positive"], max_dets=300, masks=False)
    coco.add(height=240, width=240, true_boxes=boxes, true_labels=np.ones(10, int), found_boxes=boxes,
             found_scores=np.linspace(0.9, 0.5, 10), found_labels=np.full(10, 2))
    result = coco.compute()
    assert result["box_ap_track"] == pytest.approx(1.0)
    assert result["box_ap"] < 0.01
