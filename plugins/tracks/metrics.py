"""Track-finding metrics: TrackML efficiency and fake rate, momentum resolution, COCO AP.

TrackML double-majority matching (Amrouche et al., "The Tracking Machine Learning challenge:
Accuracy phase", 2019): a found track matches a true particle when more than half of the found
track's hits come from that particle *and* it holds more than half of that particle's hits. With
hits owned by at most one found track, each particle matches at most one found track.

* efficiency = matched true tracks / true tracks;
* fake rate = found tracks that match no particle / found tracks. A found track that matches a
  particle too small to be annotated (a few-bubble stub) is neither: it is left out of both counts,
  as TrackML gives such particles zero weight. Split and duplicate tracks are fakes under this rule;
  ``duplicate_rate`` = duplicates / found tracks (a share of *all* found tracks, like the fake rate,
  not of the fakes), a duplicate being a fake whose hits are mostly one particle's that another
  found track matches.
* momentum resolution: for matched tracks, Δp/p = (p_T,fit − p_T,true)/p_T,true with p_T,fit from
  a circle fit to the found track's hits; σ is estimated robustly as 1.4826 × the median absolute
  deviation (energy loss and scattering give tails a plain standard deviation would chase).
* COCO box and mask AP (pycocotools) with the detection cap raised to ``max_dets`` (the default of
  100 silently drops detections, and so lowers AP, in pictures with more than 100 tracks; note that
  ``COCOeval.summarize()`` prints its headline AP at 100 detections whatever ``maxDets`` holds, so
  the AP is read from the precision table at the raised cap), both per class and class-agnostic
  ("track AP": finding the track, whatever its class).
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class PictureMatch:
    """The outcome of matching one picture's found tracks to its true ones."""

    n_true: int
    n_found: int
    matched: dict[int, int]  # found index -> true (annotation) index
    fakes: list[int]
    neutral: list[int]
    duplicates: list[int]
    purity: dict[int, float] = field(default_factory=dict)

    @property
    def n_fake(self) -> int:
        return len(self.fakes)


def match_tracks(true_owner: np.ndarray, found_owner: np.ndarray, n_true: int, *, min_hits: int = 3) -> PictureMatch:
    """Double-majority matching of found tracks to true ones, from two owners per hit.

    ``true_owner`` (H,): annotation index 0…n_true−1 of each hit's particle, or a negative id for
    hits of unannotated particles (each such particle its own id). ``found_owner`` (H,): found
    track of each hit, −1 for none. Found tracks with fewer than ``min_hits`` hits are not tracks.
    """
    true_owner = np.asarray(true_owner)
    found_owner = np.asarray(found_owner)
    ids, sizes = np.unique(true_owner, return_counts=True)
    size_of = dict(zip(ids.tolist(), sizes.tolist(), strict=True))
    matched: dict[int, int] = {}
    fakes, neutral, duplicates = [], [], []
    purity: dict[int, float] = {}
    found_ids, found_sizes = np.unique(found_owner[found_owner >= 0], return_counts=True)
    kept = [int(f) for f, s in zip(found_ids, found_sizes, strict=True) if s >= min_hits]
    majority_of: dict[int, tuple[int, float, float]] = {}
    for f in kept:
        theirs = true_owner[found_owner == f]
        particle_ids, counts = np.unique(theirs, return_counts=True)
        best = int(np.argmax(counts))
        particle = int(particle_ids[best])
        share = counts[best] / len(theirs)
        holds = counts[best] / size_of[particle]
        majority_of[f] = (particle, share, holds)
        purity[f] = float(share)
    matched_particles: set[int] = set()
    for f, (particle, share, holds) in majority_of.items():
        if share > 0.5 and holds > 0.5:
            if particle >= 0:
                matched[f] = particle
                matched_particles.add(particle)
            else:
                neutral.append(f)
    for f, (particle, share, _) in majority_of.items():
        if f in matched or f in neutral:
            continue
        if share > 0.5 and particle < 0:
            neutral.append(f)  # most of a stub's hits: a stub found, not a fake
            continue
        fakes.append(f)
        if share > 0.5 and particle in matched_particles:
            duplicates.append(f)
    return PictureMatch(n_true, len(kept), matched, fakes, neutral, duplicates, purity)


def score_tracks(found: list[Any], target: dict[str, Any], tracks_score: TrackScore, names: list[str], *,
                 min_hits: int) -> PictureMatch:
    """Add one picture's found tracks (:class:`~.found.FoundTrack`) to the running scores, matched
    to the true tracks by their hits. A track's charge is its own where it carries one (a
    ``CurveTrack``'s, from its curvature and direction), else the one its class name implies."""
    from .data import charge_of_class

    found_owner = np.full(len(target["hits"]), -1, dtype=np.int64)
    for i, track in enumerate(found):
        found_owner[track.hits] = i
    true_labels = target["labels"].numpy()
    match = match_tracks(target["hit_owner"].numpy(), found_owner, len(true_labels), min_hits=min_hits)
    tracks_score.add(match)
    pts, charges = target["pt"].numpy(), target["charge"].numpy()
    for f, t in match.matched.items():
        track = found[f]
        name = names[track.label - 1] if 0 < track.label <= len(names) else ""
        own = getattr(track, "charge", None)
        charge = charge_of_class(name) if own is None else own
        tracks_score.momenta.append((float(pts[t]), float(track.pt_gev), int(true_labels[t]), int(track.label),
                                     int(np.sign(charges[t])), int(charge)))
    return match


def robust_sigma(values: np.ndarray) -> float:
    """1.4826 × median absolute deviation: σ of the Gaussian core."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return math.nan
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


MOMENTUM_BINS = (0.0, 0.1, 0.2, 0.4, 0.8, 1.6, math.inf)


@dataclass
class TrackScore:
    """Accumulates matches over pictures and reports efficiency, fake rate and resolutions."""

    true: int = 0
    found: int = 0
    matched: int = 0
    fakes: int = 0
    neutral: int = 0
    duplicates: int = 0
    #: per picture: (true tracks, matched, found (less neutral), fakes)
    pictures: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: per matched track: (true p_T, fitted p_T, true class, found class, true charge, found charge)
    momenta: list[tuple[float, float, int, int, int, int]] = field(default_factory=list)

    def add(self, match: PictureMatch) -> None:
        found = match.n_found - len(match.neutral)
        self.true += match.n_true
        self.found += found
        self.matched += len(match.matched)
        self.fakes += match.n_fake
        self.neutral += len(match.neutral)
        self.duplicates += len(match.duplicates)
        self.pictures.append((match.n_true, len(match.matched), found, match.n_fake))

    @property
    def efficiency(self) -> float:
        return self.matched / self.true if self.true else math.nan

    @property
    def fake_rate(self) -> float:
        return self.fakes / self.found if self.found else 0.0

    @property
    def duplicate_rate(self) -> float:
        return self.duplicates / self.found if self.found else 0.0

    def momentum_errors(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.momenta:
            return np.zeros(0), np.zeros(0)
        arr = np.array([(t, f) for t, f, *_ in self.momenta], dtype=np.float64)
        ok = (arr[:, 0] > 0) & np.isfinite(arr[:, 1])
        return arr[ok, 0], (arr[ok, 1] - arr[ok, 0]) / arr[ok, 0]

    def momentum_resolution(self) -> float:
        _, errors = self.momentum_errors()
        return robust_sigma(errors)

    def resolution_by_momentum(self, bins: tuple[float, ...] = MOMENTUM_BINS) -> list[dict[str, float]]:
        """σ(Δp/p) and the median bias in bins of true p_T."""
        truth, errors = self.momentum_errors()
        rows = []
        for low, high in zip(bins[:-1], bins[1:], strict=True):
            chosen = (truth >= low) & (truth < high)
            rows.append({"p_low": low, "p_high": high, "tracks": int(chosen.sum()),
                         "sigma": robust_sigma(errors[chosen]) if chosen.sum() >= 2 else math.nan,
                         "bias": float(np.median(errors[chosen])) if chosen.any() else math.nan})
        return rows

    def class_accuracy(self) -> float:
        if not self.momenta:
            return math.nan
        return float(np.mean([true == found for _, _, true, found, _, _ in self.momenta]))

    def charge_accuracy(self) -> float:
        known = [(t, f) for *_, t, f in self.momenta if t != 0 and f != 0]
        if not known:
            return math.nan
        return float(np.mean([t == f for t, f in known]))

    def by_multiplicity(self, edges: tuple[int, ...] = (0, 10, 20, 40, 70, 101, 10 ** 6)) -> list[dict[str, float]]:
        """Efficiency and fake rate in bins of true tracks per picture."""
        rows = []
        for low, high in zip(edges[:-1], edges[1:], strict=True):
            chosen = [p for p in self.pictures if low <= p[0] < high]
            if not chosen:
                continue
            true, matched, found, fakes = (sum(v) for v in zip(*chosen, strict=True))
            rows.append({"tracks_low": low, "tracks_high": high - 1, "pictures": len(chosen),
                         "efficiency": matched / true if true else math.nan,
                         "fake_rate": fakes / found if found else 0.0})
        return rows

    def summary(self) -> dict[str, float]:
        return {"efficiency": self.efficiency, "fake_rate": self.fake_rate, "duplicate_rate": self.duplicate_rate,
                "momentum_resolution": self.momentum_resolution(), "class_accuracy": self.class_accuracy(),
                "charge_accuracy": self.charge_accuracy(), "true_tracks": float(self.true),
                "found_tracks": float(self.found)}


class CocoScore:
    """Collects ground truth and detections picture by picture; AP via pycocotools."""

    def __init__(self, class_names: list[str], *, max_dets: int = 300, masks: bool = True) -> None:
        self.class_names = list(class_names)
        self.max_dets = max_dets
        self.use_masks = masks
        self.images: list[dict[str, Any]] = []
        self.truth: list[dict[str, Any]] = []
        self.detections: list[dict[str, Any]] = []

    def add(self, *, height: int, width: int, true_boxes: np.ndarray, true_labels: np.ndarray,
            found_boxes: np.ndarray, found_scores: np.ndarray, found_labels: np.ndarray,
            true_masks: np.ndarray | None = None, found_masks: np.ndarray | None = None,
            mask_threshold: float = 0.5) -> None:
        """One picture: boxes x0y0x1y1; labels 1…C; masks (N, H, W) binary / (K, H, W) probabilities."""
        from pycocotools import mask as mask_utils

        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "height": int(height), "width": int(width)})
        for i, (box, label) in enumerate(zip(true_boxes, true_labels, strict=True)):
            entry = {"id": len(self.truth) + 1, "image_id": image_id, "category_id": int(label),
                     "bbox": _xywh(box), "area": float((box[2] - box[0]) * (box[3] - box[1])), "iscrowd": 0}
            if self.use_masks and true_masks is not None:
                rle = mask_utils.encode(np.asfortranarray(true_masks[i].astype(np.uint8)))
                entry["segmentation"] = rle
                entry["area"] = float(mask_utils.area(rle))
            self.truth.append(entry)
        for k, (box, score, label) in enumerate(zip(found_boxes, found_scores, found_labels, strict=True)):
            entry = {"image_id": image_id, "category_id": int(label), "bbox": _xywh(box), "score": float(score)}
            if self.use_masks and found_masks is not None:
                entry["segmentation"] = mask_utils.encode(np.asfortranarray((found_masks[k] >= mask_threshold)
                                                                            .astype(np.uint8)))
            self.detections.append(entry)

    def add_picture(self, detections: dict[str, np.ndarray], target: dict[str, Any]) -> None:
        """One picture from a detector's numpy output and a data set's target (torch tensors)."""
        height, width = (int(v) for v in target["size"])
        masks = target.get("masks")
        self.add(height=height, width=width, true_boxes=target["boxes"].numpy(), true_labels=target["labels"].numpy(),
                 true_masks=masks.numpy() if masks is not None else None, found_boxes=detections["boxes"],
                 found_scores=detections["scores"], found_labels=detections["labels"],
                 found_masks=detections.get("masks"))

    def _evaluate(self, kind: str, agnostic: bool) -> dict[str, float]:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        if not self.truth:
            return {"ap": math.nan, "ap50": math.nan, "ap75": math.nan}
        categories = [{"id": 1, "name": "track"}] if agnostic else \
            [{"id": i + 1, "name": n} for i, n in enumerate(self.class_names)]
        truth = [dict(t, category_id=1) for t in self.truth] if agnostic else self.truth
        found = [dict(d, category_id=1) for d in self.detections] if agnostic else self.detections
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO()
            gt.dataset = {"images": self.images, "annotations": truth, "categories": categories}
            gt.createIndex()
            if not found:
                return {"ap": 0.0, "ap50": 0.0, "ap75": 0.0}
            dt = gt.loadRes(found)
            evaluator = COCOeval(gt, dt, iouType=kind)
            evaluator.params.maxDets = [10, 100, self.max_dets]
            evaluator.evaluate()
            evaluator.accumulate()
        # read the precision table at the raised cap ourselves: COCOeval.summarize() reports its
        # headline AP at a hard-coded 100 detections whatever params.maxDets says
        precision = evaluator.eval["precision"][:, :, :, 0, -1]  # (IoU thresholds, recalls, classes)

        def mean_of(values: np.ndarray) -> float:
            valid = values[values > -1]
            return float(valid.mean()) if valid.size else math.nan

        thresholds = list(np.round(evaluator.params.iouThrs, 2))
        return {"ap": mean_of(precision), "ap50": mean_of(precision[thresholds.index(0.5)]),
                "ap75": mean_of(precision[thresholds.index(0.75)])}

    def compute(self) -> dict[str, float]:
        out = {}
        kinds = ["bbox", "segm"] if self.use_masks and self.detections and "segmentation" in self.detections[0] \
            else ["bbox"]
        for kind in kinds:
            name = "box" if kind == "bbox" else "mask"
            per_class = self._evaluate(kind, agnostic=False)
            agnostic = self._evaluate(kind, agnostic=True)
            out[f"{name}_ap"] = per_class["ap"]
            out[f"{name}_ap50"] = per_class["ap50"]
            out[f"{name}_ap_track"] = agnostic["ap"]
            out[f"{name}_ap50_track"] = agnostic["ap50"]
        return out


def _xywh(box: np.ndarray) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return [x0, y0, x1 - x0, y1 - y0]
