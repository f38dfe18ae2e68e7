"""From Hit R-CNN's memberships to tracks: hits assigned, a circle, a momentum, a charge.

Detections are taken best first; each claims the still-free hits whose membership probability
reaches ``member_threshold``. A detection whose members are mostly taken already (a duplicate of a
better one: under half of them free) or that is left with fewer than ``min_hits`` is dropped, so
duplicates are removed by the hits they share, not by box overlap (two tracks crossing in an X
have nearly the same box but few common hits).

Each track gets a circle fit (:func:`~.fitting.fit_circle`) and **p_T = 0.3 B R**. Its **charge**
is the sign of its curvature along its direction of travel: a track that turns with increasing
angle in picture coordinates (x right, y down) bends the way a positive charge does in a field
pointing at the camera (a test checks this on simulated tracks), so charge = turning sign ×
sign(B). The direction comes from the head's predicted order of the hits (0 at the start), or
from where the track's ends lie (``direction="geometry"``). The class head says the species.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fitting import fit_circle
from .found import FoundTrack
from .metrics import TrackScore, match_tracks, score_tracks  # noqa: F401 (score_tracks: its home was here)


@dataclass
class CurveTrack(FoundTrack):
    """A found track with the charge from its curvature and direction (0: undetermined)."""

    charge: int = 0


def arc_positions(points: np.ndarray, fit: Any) -> np.ndarray:
    """Each hit's place along its track's arc (an arbitrary direction): the angle about the
    circle's centre, unwrapped about its circular mean, or the position along the principal axis
    for a nearly straight track."""
    if fit is not None and math.isfinite(fit.radius) and fit.radius < 1e5:
        angle = np.arctan2(points[:, 1] - fit.cy, points[:, 0] - fit.cx)
        mean = math.atan2(np.sin(angle).mean(), np.cos(angle).mean())
        return np.angle(np.exp(1j * (angle - mean))) * fit.radius
    centred = points - points.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0] if len(points) > 1 else np.array([1.0, 0.0])
    return centred @ axis


def turning_sign(points: np.ndarray, order: np.ndarray, groups: int = 8) -> int:
    """+1 if the points, taken in ``order``, turn with increasing angle in picture coordinates (x
    right, y down), −1 if the other way, 0 if it cannot be told: the sign of the summed cross
    products of successive chords between the means of ``groups`` runs of hits (robust to spirals
    and to the noise of single hits)."""
    if len(points) < 3:
        return 0
    ordered = points[np.argsort(order, kind="stable")]
    means = np.array([part.mean(axis=0) for part in np.array_split(ordered, max(3, min(groups, len(points) // 3)))])
    chords = np.diff(means, axis=0)
    z = float((chords[:-1, 0] * chords[1:, 1] - chords[:-1, 1] * chords[1:, 0]).sum())
    return 0 if z == 0 or not math.isfinite(z) else (1 if z > 0 else -1)


def charge_of(points: np.ndarray, order: np.ndarray, field_tesla: float) -> int:
    """The charge sign of a track from its hits in their order along it (first hit where it
    starts): positive charges turn with increasing angle (picture coordinates) when B > 0."""
    return turning_sign(points, order) * (1 if field_tesla >= 0 else -1)


def learned_direction(order: np.ndarray, positions: np.ndarray) -> int:
    """+1 if the predicted order runs with ``positions`` (the arc, arbitrary direction), else −1."""
    if len(order) < 3 or np.std(order) < 1e-9 or np.std(positions) < 1e-9:
        return 1
    return 1 if float(np.corrcoef(order, positions)[0, 1]) >= 0 else -1


def geometric_direction(ends: np.ndarray, other_ends: np.ndarray, width: float, height: float,
                        border_px: float = 3.0, vertex_px: float = 5.0) -> int:
    """Which end a track starts from, from where its ends lie: +1 for ``ends[0]``, −1 for
    ``ends[1]``, 0 if it cannot be told. A track born in the chamber leaves through its border, so
    an end on the border (and the other not) is where it ends; failing that, tracks start in stars,
    so the end that more other tracks' ends lie near is its start."""
    border = [min(e[0], e[1], width - e[0], height - e[1]) < border_px for e in ends]
    if border[0] != border[1]:
        return -1 if border[0] else 1
    if len(other_ends):
        near = [int((np.hypot(*(other_ends - e).T) < vertex_px).sum()) for e in ends]
        if near[0] != near[1]:
            return 1 if near[0] > near[1] else -1
    return 0


def tracks_from_members(output: dict[str, Any], hits: np.ndarray, *, field_tesla: float, pixel_size_m: float,
                        min_hits: int = 5, member_threshold: float = 0.5, min_free: float = 0.5,
                        score_threshold: float = 0.0, direction: str = "learned",
                        picture_size: tuple[float, float] | None = None) -> tuple[np.ndarray, list[CurveTrack]]:
    """Hit owners (H,) and the tracks of one picture from a Hit R-CNN output (tensors or arrays).

    ``direction``: which way each track runs, for its charge: ``learned`` (the head's order of its
    hits) or ``geometry`` (:func:`geometric_direction` from its ends, the other tracks' ends and the
    picture's border, ``picture_size`` (width, height); the learned order where that cannot tell).
    """
    scores = _np(output["scores"])
    boxes, labels = _np(output["boxes"]), _np(output["labels"])
    owner = np.full(len(hits), -1, dtype=np.int64)
    tracks: list[CurveTrack] = []
    arcs: list[tuple[np.ndarray, int]] = []
    for k in np.argsort(-scores, kind="stable"):
        if scores[k] < score_threshold:
            break
        index, prob, order = (_np(v) for v in output["members"][k])
        chosen = prob >= member_threshold
        candidates, order = index[chosen], order[chosen]
        free = owner[candidates] < 0
        if free.sum() < min_hits or free.sum() < min_free * len(candidates):
            continue
        mine, order = candidates[free], order[free]
        owner[mine] = len(tracks)
        points = hits[mine]
        fit = fit_circle(points)
        pt = fit.momentum(field_tesla, pixel_size_m) if fit is not None else math.nan
        positions = arc_positions(points, fit)
        arcs.append((positions, learned_direction(order, positions)))
        tracks.append(CurveTrack(boxes[k], float(scores[k]), int(labels[k]), mine, fit, pt))
    ends = [np.stack([hits[t.hits][np.argmin(p)], hits[t.hits][np.argmax(p)]]) for t, (p, _) in zip(tracks, arcs,
                                                                                                     strict=True)]
    for i, (track, (positions, learned)) in enumerate(zip(tracks, arcs, strict=True)):
        way = learned
        if direction == "geometry":
            if picture_size is None:
                raise ValueError("direction='geometry' needs the picture_size")
            others = np.concatenate([e for j, e in enumerate(ends) if j != i]) if len(ends) > 1 else np.zeros((0, 2))
            way = geometric_direction(ends[i], others, *picture_size) or learned
        track.charge = charge_of(hits[track.hits], positions * way, field_tesla)
    return owner, tracks


def _np(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
