"""Post-processing of found tracks' hit sets: joining the pieces of one track, splitting a found
track that is two, and which way a track runs.

A found track is ``(index, prob, order)``: indices into the picture's hits, their membership
probabilities and their place along the track (increasing the way it runs), as Arc Net and Hit
R-CNN hand them to :func:`~.curves.tracks_from_members`.

* :func:`join_pieces` — a track claimed in two pieces: the pieces' facing ends are close, the hits
  next to the junction on both sides lie on one circle (a *local* fit: a long track that slows
  down is not one circle from end to end, but is one near any point), and the pieces follow one
  another along that circle instead of overlapping. The joined track runs the way its better piece
  ran.
* :func:`split_kinked` — a found track holding two tracks end to end (the two prongs of a
  vertex, which in a field can make one smooth-looking curve; a decay's kink): the hits in order
  along the track are cut where two circles, one either side, fit far better than one and their
  tangents disagree at the cut (a track that only slows down changes its curvature smoothly, with
  no change of direction at any point).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .arcs import quick_fit
from .curves import arc_positions

Track = tuple[np.ndarray, np.ndarray, np.ndarray]  # hit indices, membership probabilities, order along


def _ranked(track: Track) -> np.ndarray:
    """Positions into the track's arrays, in its order along the track."""
    return np.argsort(track[2], kind="stable")


def _tail(track: Track, at_end: bool, count: int) -> np.ndarray:
    """The hit indices of the ``count`` hits next to one end (the last ones if ``at_end``), ordered
    from the inside of the track out towards that end."""
    ranked = track[0][_ranked(track)]
    return ranked[-count:] if at_end else ranked[:count][::-1]


def _tangent(fit: Any, points: np.ndarray) -> np.ndarray:
    """Unit direction of travel at ``points[-1]`` for ``points`` ordered along a track: the circle's
    tangent there (or the chord's direction for a line), pointing the way the points run."""
    chord = points[-1] - points[0]
    if fit is not None and fit.radius < 1e5:
        radial = points[-1] - (fit.cx, fit.cy)
        tangent = np.array([-radial[1], radial[0]])
    else:
        tangent = chord.copy()
    norm = float(np.hypot(*tangent))
    if norm == 0:
        return np.zeros(2)
    tangent /= norm
    return tangent if float(tangent @ chord) >= 0 else -tangent


def junction(hits: np.ndarray, first: Track, second: Track, *, tail_hits: int = 15) -> dict[str, float] | None:
    """How well two found tracks continue one another at their closest ends: ``gap`` (pixels
    between the facing ends), ``rms`` of one circle through the hits next to the junction on both
    sides, ``overlap`` (pixels by which the two sides' hits overlap along that circle: > 0 when they
    lie side by side instead of one after the other) and ``angle`` (degrees between the two sides'
    directions at the junction, each from its own circle). None when either has under 3 hits."""
    if len(first[0]) < 3 or len(second[0]) < 3:
        return None
    ends = []
    for track in (first, second):
        ranked = track[0][_ranked(track)]
        ends.append(hits[[ranked[0], ranked[-1]]])
    distance = np.hypot(ends[0][:, None, 0] - ends[1][None, :, 0], ends[0][:, None, 1] - ends[1][None, :, 1])
    a, b = np.unravel_index(int(np.argmin(distance)), distance.shape)
    near_a, near_b = _tail(first, bool(a), tail_hits), _tail(second, bool(b), tail_hits)
    both = np.concatenate([near_a, near_b[::-1]])  # in order: first's inside → junction → second's inside
    fit = quick_fit(hits[both])
    if fit is None:
        return None
    position = arc_positions(hits[both], fit)
    if np.corrcoef(np.arange(len(both)), position)[0, 1] < 0:
        position = -position
    side_a, side_b = position[:len(near_a)], position[len(near_a):]
    overlap = float(side_a.max() - side_b.min())
    fit_a, fit_b = quick_fit(hits[near_a]), quick_fit(hits[near_b])
    ta, tb = _tangent(fit_a, hits[near_a]), _tangent(fit_b, hits[near_b])  # each pointing into the junction
    angle = math.degrees(math.acos(float(np.clip(-(ta @ tb), -1.0, 1.0)))) if ta.any() and tb.any() else 180.0
    return {"gap": float(distance[a, b]), "rms": float(fit.rms), "overlap": overlap, "angle": angle,
            "first_at_end": float(a), "second_at_end": float(b)}


def _joined(hits: np.ndarray, first: Track, second: Track, j: dict[str, float], first_leads: bool) -> Track:
    """The union of two pieces, ordered first → junction → second, running the way the leading
    piece ran."""
    sign_a = 1.0 if j["first_at_end"] else -1.0  # first runs into the junction
    sign_b = -1.0 if j["second_at_end"] else 1.0  # second runs out of it
    order_a, order_b = sign_a * first[2], sign_b * second[2]
    order = np.concatenate([order_a, order_b - order_b.min() + order_a.max() + j["gap"]])
    if (sign_a if first_leads else sign_b) < 0:  # the leading piece ran the other way
        order = -order
    return np.concatenate([first[0], second[0]]), np.concatenate([first[1], second[1]]), order


def close_end_pairs(hits: np.ndarray, tracks: list, limit_px: float) -> np.ndarray:
    """Pairs ``(i, k)``, ``i < k``, of tracks (hit indices first, order along third) whose closest
    ends are within ``limit_px``, closest first: the pair search of :func:`join_pieces` and of Arc
    Net's merge of one track claimed in two."""
    ends = np.array([hits[[r[0], r[-1]]] for r in (t[0][_ranked(t)] for t in tracks)])
    gaps = np.hypot(ends[:, None, :, None, 0] - ends[None, :, None, :, 0],
                    ends[:, None, :, None, 1] - ends[None, :, None, :, 1]).min(axis=(2, 3))  # (T, T)
    pairs = np.argwhere(np.triu(gaps <= limit_px, k=1))
    return pairs[np.argsort(gaps[pairs[:, 0], pairs[:, 1]], kind="stable")]


def join_pieces(hits: np.ndarray, tracks: list[Track], scores: list[float], *, gap_px: float = 30.0,
                rms_px: float = 0.8, angle_deg: float = 15.0, overlap_px: float = 3.0,
                tail_hits: int = 15) -> tuple[list[Track], list[float]]:
    """Join found tracks that are pieces of one (see the module docstring): facing ends within
    ``gap_px``, one circle through the ``tail_hits`` hits either side of the junction with rms at
    most ``rms_px``, the sides overlapping by at most ``overlap_px`` along it and their own
    directions at the junction within ``angle_deg``. Closest pairs first, again until none joins;
    a joined track keeps the higher score and runs the way the better-scored piece ran."""
    tracks, scores = list(tracks), list(scores)
    refused: set[tuple[int, int]] = set()
    while len(tracks) > 1:
        pairs = close_end_pairs(hits, tracks, gap_px)
        done = False
        for i, k in pairs:
            key = (id(tracks[i][0]), id(tracks[k][0]))
            if key in refused:
                continue
            j = junction(hits, tracks[i], tracks[k], tail_hits=tail_hits)
            if j is None or j["rms"] > rms_px or j["angle"] > angle_deg or j["overlap"] > overlap_px:
                refused.add(key)
                continue
            tracks[i] = _joined(hits, tracks[i], tracks[k], j, scores[i] >= scores[k])
            scores[i] = max(scores[i], scores[k])
            tracks.pop(k)
            scores.pop(k)
            done = True
            break
        if not done:
            break
    return tracks, scores


def _cut(hits: np.ndarray, track: Track, *, min_side: int, rms_px: float, gain: float, angle_deg: float,
         step: int) -> int | None:
    """Where to cut one track in two (a place in its order), or None (see :func:`split_kinked`)."""
    n = len(track[0])
    if n < 2 * min_side:
        return None
    xy = hits[track[0][_ranked(track)]]
    whole = quick_fit(xy)
    if whole is None or whole.rms <= rms_px:
        return None
    best, best_rms, fits = None, math.inf, None
    for k in range(min_side, n - min_side + 1, step):
        one, two = quick_fit(xy[:k]), quick_fit(xy[k:])
        if one is None or two is None:
            continue
        rms = math.sqrt((k * one.rms ** 2 + (n - k) * two.rms ** 2) / n)
        if rms < best_rms:
            best, best_rms, fits = k, rms, (one, two)
    if best is None or best_rms > gain * whole.rms:
        return None
    before = _tangent(fits[0], xy[:best])  # the first side's direction at the cut
    after = _tangent(fits[1], xy[best:][::-1])  # the second side's, pointing back into the cut
    angle = math.degrees(math.acos(float(np.clip(-(before @ after), -1.0, 1.0))))
    return best if angle >= angle_deg else None


def split_kinked(hits: np.ndarray, tracks: list[Track], scores: list[float], *, min_side: int = 10,
                 rms_px: float = 0.7, gain: float = 0.5, angle_deg: float = 20.0, step: int = 2,
                 depth: int = 2) -> tuple[list[Track], list[float]]:
    """Cut found tracks that are two end to end (see the module docstring): a track whose one circle
    has rms over ``rms_px`` is cut at the place, at least ``min_side`` hits from either end (tried
    every ``step`` hits), where a circle either side fits best, when that rms is at most ``gain``
    × the one circle's and the two sides' directions at the cut differ by at least ``angle_deg``;
    each side again, up to ``depth`` cuts deep. Both sides keep the track's score and order."""
    out_tracks: list[Track] = []
    out_scores: list[float] = []
    pending = [(track, score, 0) for track, score in zip(tracks, scores, strict=True)]
    while pending:
        track, score, level = pending.pop(0)
        k = None if level >= depth else _cut(hits, track, min_side=min_side, rms_px=rms_px, gain=gain,
                                              angle_deg=angle_deg, step=step)
        if k is None:
            out_tracks.append(track)
            out_scores.append(score)
            continue
        ranked = _ranked(track)
        for part in (ranked[:k], ranked[k:]):
            pending.append((tuple(v[part] for v in track), score, level + 1))
    return out_tracks, out_scores
