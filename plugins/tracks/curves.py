"""From Hit R-CNN's memberships to tracks: hits assigned, a circle, a momentum, a charge.

Detections are taken best first; each claims the still-free hits whose membership probability
reaches ``member_threshold``. A detection whose members are mostly taken already (a duplicate of a
better one: under half of them free) or that is left with fewer than ``min_hits`` is dropped, so
duplicates are removed by the hits they share, not by box overlap (two tracks crossing in an X
have nearly the same box but few common hits).

Each track gets a circle fit (:func:`~.fitting.fit_circle`) and **p_T = 0.3 B R**. Its **charge**
is the sign of its curvature along its direction of travel: the head predicts each hit's place
along the track (0 at its start), and the track turns with increasing angle about the circle's
centre, in picture coordinates (x right, y down), exactly when it bends the way a positive charge
does in a field pointing at the camera (a test checks this on simulated tracks) — so
charge = sign(corr(order, angle)) × sign(B). The class head is left to say the species.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fitting import fit_circle
from .found import FoundTrack
from .metrics import TrackScore, match_tracks


@dataclass
class CurveTrack(FoundTrack):
    """A found track with the charge from its curvature and direction (0: undetermined)."""

    charge: int = 0


def turning_sign(points: np.ndarray, order: np.ndarray, centre: tuple[float, float]) -> int:
    """+1 if the points, taken in ``order``, turn with increasing angle about ``centre`` (picture
    coordinates), −1 if decreasing, 0 if it cannot be told."""
    if len(points) < 3 or not np.all(np.isfinite(centre)):
        return 0
    angle = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    mean = math.atan2(np.sin(angle).mean(), np.cos(angle).mean())
    relative = np.angle(np.exp(1j * (angle - mean)))
    order = np.asarray(order, dtype=np.float64)
    if np.std(relative) < 1e-12 or np.std(order) < 1e-12:
        return 0
    corr = float(np.corrcoef(order, relative)[0, 1])
    return 0 if not math.isfinite(corr) or corr == 0 else (1 if corr > 0 else -1)


def charge_of(points: np.ndarray, order: np.ndarray, fit: Any, field_tesla: float) -> int:
    """The charge sign of a track from its hits, their order along it and its circle."""
    if fit is None or not math.isfinite(fit.radius):
        return 0
    return turning_sign(points, order, (fit.cx, fit.cy)) * (1 if field_tesla >= 0 else -1)


def tracks_from_members(output: dict[str, Any], hits: np.ndarray, *, field_tesla: float, pixel_size_m: float,
                        min_hits: int = 5, member_threshold: float = 0.5, min_free: float = 0.5,
                        score_threshold: float = 0.0) -> tuple[np.ndarray, list[CurveTrack]]:
    """Hit owners (H,) and the tracks of one picture from a Hit R-CNN output (tensors or arrays)."""
    scores = _np(output["scores"])
    boxes, labels = _np(output["boxes"]), _np(output["labels"])
    owner = np.full(len(hits), -1, dtype=np.int64)
    tracks: list[CurveTrack] = []
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
        tracks.append(CurveTrack(boxes[k], float(scores[k]), int(labels[k]), mine, fit, pt,
                                 charge=charge_of(points, order, fit, field_tesla)))
    return owner, tracks


def _np(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def score_tracks(found: list[FoundTrack], target: dict[str, Any], tracks_score: TrackScore, names: list[str], *,
                 min_hits: int) -> None:
    """Add one picture's found tracks to the running scores; the charge is the track's own
    (:class:`CurveTrack`) or, for other methods, the one its class implies."""
    from .data import charge_of_class

    hits = target["hits"].numpy()
    true_owner = target["hit_owner"].numpy()
    found_owner = np.full(len(hits), -1, dtype=np.int64)
    for i, track in enumerate(found):
        found_owner[track.hits] = i
    true_labels = target["labels"].numpy()
    match = match_tracks(true_owner, found_owner, len(true_labels), min_hits=min_hits)
    tracks_score.add(match)
    pts, charges = target["pt"].numpy(), target["charge"].numpy()
    for f, t in match.matched.items():
        track = found[f]
        name = names[track.label - 1] if 0 < track.label <= len(names) else ""
        charge = track.charge if isinstance(track, CurveTrack) else charge_of_class(name)
        tracks_score.momenta.append((float(pts[t]), float(track.pt_gev), int(true_labels[t]), int(track.label),
                                     int(np.sign(charges[t])), int(charge)))
