"""Joining the pieces of one found track and cutting a found track that is two (synthetic hits): a
circle in two pieces is joined and runs one way, two prongs meeting at a kink and two tracks side by
side are not joined; a kinked pair is cut where the prongs meet, while a circle and a track that
only slows down (its curvature changing smoothly) are left whole."""

from __future__ import annotations

import math

import numpy as np
from sciarch_tracks.pieces import join_pieces, junction, split_kinked


def _arc(cx: float, cy: float, r: float, start: float, stop: float, n: int, noise: float = 0.2,
         seed: int = 0) -> np.ndarray:
    angles = np.linspace(start, stop, n)
    xy = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)
    return xy + np.random.default_rng(seed).normal(0, noise, xy.shape)


def _track(index: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return index, np.ones(len(index)), order.astype(np.float64)


def test_two_pieces_of_one_circle_are_joined_in_order() -> None:
    hits = _arc(128, 128, 150, 0.0, 1.2, 180)
    first, second = np.arange(0, 80), np.arange(86, 180)  # a 6-hit gap (about 6 px)
    # the first piece runs with the hits, the second (predicted) against them; the first scores higher
    tracks = [_track(first, first.astype(float)), _track(second, -second.astype(float))]
    joined, scores = join_pieces(hits, tracks, [0.9, 0.6])
    assert len(joined) == 1 and scores == [0.9]
    index, _, order = joined[0]
    assert sorted(index.tolist()) == sorted(np.r_[first, second].tolist())
    ranked = index[np.argsort(order)]
    assert (np.diff(ranked) > 0).all()  # one way along the arc: the better piece's
    # the other piece scoring higher turns the joined track round
    joined, _ = join_pieces(hits, tracks, [0.5, 0.6])
    index, _, order = joined[0]
    assert (np.diff(index[np.argsort(order)]) < 0).all()


def test_a_kink_and_tracks_side_by_side_are_not_joined() -> None:
    # two prongs from one vertex at (100, 100), 50 degrees apart: their ends meet, their directions do not
    one = np.stack([100 + np.arange(1, 60) * math.cos(0.0), 100 + np.arange(1, 60) * math.sin(0.0)], axis=1)
    two = np.stack([100 - np.arange(1, 60) * math.cos(0.87), 100 - np.arange(1, 60) * math.sin(0.87)], axis=1)
    hits = np.concatenate([one, two])
    tracks = [_track(np.arange(59), np.arange(59)), _track(np.arange(59, 118), np.arange(59))]
    j = junction(hits, *tracks)
    assert j is not None and j["gap"] < 3 and j["angle"] > 40
    assert len(join_pieces(hits, tracks, [0.9, 0.8])[0]) == 2
    # two parallel tracks 3 px apart, ends close: side by side along the circle, not one after the other
    hits = np.concatenate([_arc(128, 128, 150, 0.0, 0.5, 70, seed=1), _arc(128, 128, 153, 0.02, 0.5, 70, seed=2)])
    tracks = [_track(np.arange(70), np.arange(70)), _track(np.arange(70, 140), np.arange(70))]
    j = junction(hits, *tracks)
    assert j is not None and j["overlap"] > 3
    assert len(join_pieces(hits, tracks, [0.9, 0.8])[0]) == 2


def test_two_prongs_in_one_found_track_are_cut_at_the_vertex() -> None:
    # a found track running along one circle into a vertex at angle 0 and out along another, 40 degrees off
    a = _arc(100, 100, 80, -1.0, 0.0, 60, seed=3)
    vertex = np.array([180.0, 100.0])
    turn = math.radians(40)
    out_direction = np.array([math.cos(math.pi / 2 + turn), math.sin(math.pi / 2 + turn)])
    b = vertex + np.arange(1, 61)[:, None] * out_direction + np.random.default_rng(4).normal(0, 0.2, (60, 2))
    hits = np.concatenate([a, b])
    tracks, scores = split_kinked(hits, [_track(np.arange(120), np.arange(120))], [0.7])
    assert len(tracks) == 2 and scores == [0.7, 0.7]
    sides = sorted((set(t[0].tolist()) for t in tracks), key=min)
    assert len(sides[0] & set(range(60))) >= 56 and len(sides[1] & set(range(60, 120))) >= 56


def test_a_circle_and_a_slowing_track_are_not_cut() -> None:
    hits = _arc(128, 128, 70, 0.0, 2.5, 150, seed=5)
    assert len(split_kinked(hits, [_track(np.arange(150), np.arange(150))], [0.5])[0]) == 1
    # a spiral in: the radius falls from 90 to 30 px along the track, the direction never jumps
    angles = np.linspace(0, 4.0, 200)
    radius = 90 - 15 * angles
    hits = np.stack([128 + radius * np.cos(angles), 128 + radius * np.sin(angles)], axis=1)
    hits += np.random.default_rng(6).normal(0, 0.2, hits.shape)
    whole = split_kinked(hits, [_track(np.arange(200), np.arange(200))], [0.5], depth=1)[0]
    assert len(whole) == 1
