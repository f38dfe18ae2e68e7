"""Circle fits, p_T = 0.3 B R, hit assignment and the Hough baseline on hits of known tracks."""

from __future__ import annotations

import numpy as np
import pytest
from sciarch_tracks.assignment import assign_by_boxes, assign_by_masks
from sciarch_tracks.fitting import fit_circle
from sciarch_tracks.hough import hough_tracks


def arc(cx: float, cy: float, radius: float, start: float, stop: float, n: int, noise: float = 0.0,
        seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    angles = np.linspace(start, stop, n)
    points = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)
    return points + rng.normal(0, noise, points.shape)


@pytest.mark.parametrize("radius", [8.0, 60.0, 900.0])
def test_circle_fit_recovers_the_radius_of_a_short_noisy_arc(radius: float) -> None:
    # a 60-pixel arc whatever the radius: a nearly straight one for the largest
    span = 60.0 / radius
    points = arc(128, 128, radius, 0.3, 0.3 + span, 120, noise=0.2, seed=1)
    fit = fit_circle(points)
    assert fit is not None
    tolerance = 0.02 if radius < 100 else 0.25  # the sagitta of a 900-px arc over 60 px is 0.5 px
    assert fit.radius == pytest.approx(radius, rel=tolerance)
    assert fit.rms == pytest.approx(0.2, rel=0.3)


def test_momentum_is_0_3_b_r() -> None:
    fit = fit_circle(arc(0, 0, 100.0, 0, 2, 50))
    # 100 px of 4 mm in 1.5 T: R = 0.4 m, p_T = 0.2998 × 1.5 × 0.4 GeV/c
    assert fit.momentum(1.5, 0.004) == pytest.approx(0.299792458 * 1.5 * 0.4, rel=1e-6)


def test_too_few_hits_give_no_fit() -> None:
    assert fit_circle(np.array([[0.0, 0.0], [1.0, 1.0]])) is None


def crossing_pair() -> tuple[np.ndarray, np.ndarray]:
    a = arc(50, 200, 150, -1.2, -0.3, 200)  # two arcs that cross
    b = arc(200, 200, 150, -2.8, -1.9, 200)
    hits = np.concatenate([a, b])
    truth = np.repeat([0, 1], 200)
    return hits, truth


def test_masks_give_each_hit_to_the_most_confident_mask() -> None:
    hits, truth = crossing_pair()
    masks = np.zeros((2, 256, 256), np.float32)
    for k in (0, 1):
        mine = hits[truth == k].astype(int)
        masks[k, mine[:, 1], mine[:, 0]] = 0.9 - 0.1 * k
    owner = assign_by_masks(hits, masks, threshold=0.3)
    # hits on both masks (at the crossing) go to the higher one; everything else to its own mask
    assert (owner == truth).mean() > 0.97
    assert (owner >= 0).all()
    assert (assign_by_masks(hits, masks * 0.2, threshold=0.3) == -1).all()


def test_boxes_recover_the_hits_of_two_crossing_arcs() -> None:
    hits, truth = crossing_pair()
    boxes = np.array([[*hits[truth == k].min(axis=0), *hits[truth == k].max(axis=0)] for k in (0, 1)])
    owner = assign_by_boxes(hits, boxes, np.array([0.9, 0.8]), tolerance=1.5)
    for k in (0, 1):
        mine = owner[truth == k]
        assert (mine == k).mean() > 0.9, f"arc {k}: {(mine == k).mean():.2f} of its hits"


def test_hough_finds_two_crossing_arcs_and_a_line_with_their_momenta() -> None:
    hits, truth = crossing_pair()
    line = np.stack([np.linspace(20, 230, 150), np.full(150, 25.0)], axis=1)
    hits = np.concatenate([hits, line])
    truth = np.concatenate([truth, np.full(150, 2)])
    owner, tracks = hough_tracks(hits, 256, 256, field_tesla=1.5, pixel_size_m=0.004)
    assert len(tracks) == 3
    for k in range(3):
        found, counts = np.unique(owner[truth == k], return_counts=True)
        assert counts.max() / counts.sum() > 0.9
    radii = sorted(t.fit.radius for t in tracks)
    assert radii[0] == pytest.approx(150, rel=0.01) and radii[1] == pytest.approx(150, rel=0.01)
    assert radii[2] > 2000  # the straight one
    assert tracks[0].pt_gev == pytest.approx(0.299792458 * 1.5 * tracks[0].fit.radius * 0.004)


def test_hough_on_no_hits_finds_nothing() -> None:
    owner, tracks = hough_tracks(np.zeros((0, 2)), 64, 64, field_tesla=1.5, pixel_size_m=0.01)
    assert len(owner) == 0 and tracks == []


def test_bubbles_found_in_a_picture_lie_on_the_true_bubbles() -> None:
    from sciarch_datasets.tracks import ChamberConfig
    from sciarch_datasets.tracks.optics import simulate_picture
    from sciarch_tracks.reconstruction import image_hits
    from scipy.spatial import cKDTree

    picture = simulate_picture(ChamberConfig(image_size=(160, 160), tracks=(8, 8)), seed=3)
    truth = np.concatenate([t.hits for t in picture.tracks])
    truth = truth[(truth >= 0).all(axis=1) & (truth < 160).all(axis=1)]
    found = image_hits(picture.image)
    recall = (cKDTree(found).query(truth)[0] < 1.5).mean()
    precision = (cKDTree(truth).query(found)[0] < 1.5).mean()
    # the misses are merged bubbles of dark tracks; the extras are fiducial crosses, dust and grain
    assert recall > 0.9 and precision > 0.8, (recall, precision)
