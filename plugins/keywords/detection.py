"""Keyword detection in long audio, and how it is scored: false rejects against false alarms per hour.

A frame-level model gives, every 10 ms, a posterior for each class, averaged over the last
``smooth_frames`` frames (a causal moving average; Chen et al. 2014 smooth posteriors the same
way). A keyword is *detected* when its smoothed posterior rises to the threshold; the detection is
placed at the end of that frame, and no other detection is made for ``refractory_s`` after it (one
keyword, one detection). Scored against
the known keyword times of a recording:

- a detection of word ``w`` at time ``t`` is a hit if an occurrence of ``w`` not yet matched spans
  ``start - 0.1 s ≤ t ≤ end + tolerance_s``; otherwise it is a false alarm (a wrong word counts as
  a false alarm, and the occurrence is still missed unless found);
- false-reject rate = missed occurrences / occurrences; false alarms per hour = false alarms /
  hours of audio.

Sweeping the threshold traces the DET curve; the operating points reported are the lowest
false-reject rate at which the false alarms stay at or under 0.5 and 1 per hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass
class Detection:
    time_s: float
    word: str
    score: float


@torch.inference_mode()
def frame_posteriors(model: torch.nn.Module, wave: torch.Tensor | np.ndarray, *, chunk_seconds: float = 30.0,
                     device: torch.device | str | None = None) -> np.ndarray:
    """``(frames, classes)`` softmax posteriors of a frame-level model over a recording of any length.

    The recording is cut into chunks, each preceded by enough past audio to fill the receptive
    field, so the result equals one pass over the whole recording (the model is causal).
    """
    wave = torch.as_tensor(wave, dtype=torch.float32).flatten()
    device = device or next(model.parameters()).device
    hop = model.frontend.hop_length
    context = model.receptive_field + -(-model.frontend.pad // hop) + getattr(model.frontend, "memory_frames", 0)
    total = wave.shape[0] // hop
    step = max(1, int(chunk_seconds * model.frontend.sample_rate) // hop)
    out = []
    for first in range(0, total, step):
        last = min(total, first + step)
        begin = max(0, first - context)
        logits = model(wave[begin * hop: last * hop][None].to(device))[0]  # (C, frames)
        out.append(torch.softmax(logits[:, first - begin:], dim=0).T.float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.num_classes), dtype=np.float32)


def smooth(posteriors: np.ndarray, frames: int) -> np.ndarray:
    """Causal moving average over ``frames`` frames (1: unchanged)."""
    if frames <= 1:
        return posteriors
    cumulative = np.cumsum(np.concatenate([np.zeros((1, posteriors.shape[1])), posteriors]), axis=0)
    t = np.arange(1, posteriors.shape[0] + 1)
    lo = np.maximum(0, t - frames)
    return ((cumulative[t] - cumulative[lo]) / (t - lo)[:, None]).astype(posteriors.dtype)


class OnlineDetector:
    """Turns posteriors arriving frame by frame into detections (the rule of :func:`detect`).

    A detection is made at a frame where the best keyword posterior reaches ``threshold`` while it
    was below at the previous frame, unless the last detection is less than ``refractory_s`` old;
    the word is the best keyword at that frame.
    """

    def __init__(self, class_names: Sequence[str], keywords: Sequence[str], *, threshold: float = 0.5,
                 refractory_s: float = 0.5, hop_s: float = 0.01, smooth_frames: int = 1) -> None:
        from collections import deque

        self.ids = np.asarray([list(class_names).index(k) for k in keywords], dtype=np.int64)
        self.keywords = list(keywords)
        self.threshold, self.hop_s = threshold, hop_s
        self.refractory = refractory_s / hop_s
        self.frame = 0
        self.was_above = False
        self.last = -np.inf
        self.recent: deque = deque(maxlen=max(1, smooth_frames))

    def push(self, posteriors: np.ndarray) -> list[Detection]:
        """``(frames, classes)`` posteriors of the next frames → the detections among them."""
        out = []
        for row in np.atleast_2d(posteriors):
            self.recent.append(row[self.ids].astype(np.float64))
            scores = np.mean(self.recent, axis=0)
            k = int(np.argmax(scores))
            above = bool(scores[k] >= self.threshold)
            if above and not self.was_above and self.frame - self.last >= self.refractory:
                out.append(Detection(round((self.frame + 1) * self.hop_s, 6), self.keywords[k], float(scores[k])))
                self.last = self.frame
            self.was_above = above
            self.frame += 1
        return out


def detect(posteriors: np.ndarray, class_names: Sequence[str], keywords: Sequence[str], *, threshold: float = 0.5,
           refractory_s: float = 0.5, hop_s: float = 0.01, smooth_frames: int = 1) -> list[Detection]:
    """Every detection in ``(frames, classes)`` posteriors (the rule of :class:`OnlineDetector`)."""
    ids = [list(class_names).index(k) for k in keywords]
    if not ids or posteriors.shape[0] == 0:
        return []
    scores = smooth(posteriors[:, ids].astype(np.float64), smooth_frames)
    best = scores.max(axis=1)
    above = best >= threshold
    onsets = np.nonzero(above & ~np.concatenate([[False], above[:-1]]))[0]
    out: list[Detection] = []
    last = -np.inf
    refractory = refractory_s / hop_s
    for t in onsets:  # few: only where the posterior crosses the threshold upwards
        if t - last < refractory:
            continue
        k = int(np.argmax(scores[t]))
        out.append(Detection(time_s=round(float((t + 1) * hop_s), 6), word=keywords[k], score=float(scores[t, k])))
        last = t
    return out


def score_detections(detections: Sequence[Detection], events: Sequence[Any], hours: float, *,
                     tolerance_s: float = 0.75, keywords: Sequence[str] | None = None) -> dict[str, float]:
    """Hits, misses, false alarms, false-reject rate and false alarms per hour."""
    targets = sorted((e for e in events if (e.word in keywords if keywords is not None else e.keyword)),
                     key=lambda e: e.start_s)
    matched = [False] * len(targets)
    starts = np.asarray([e.start_s for e in targets])
    hits = false_alarms = 0
    for d in sorted(detections, key=lambda d: d.time_s):
        found = -1
        for i in np.nonzero(starts - 0.1 <= d.time_s)[0][::-1]:
            e = targets[i]
            if d.time_s > e.end_s + tolerance_s:
                break
            if not matched[i] and e.word == d.word:
                found = int(i)
                break
        if found >= 0:
            matched[found] = True
            hits += 1
        else:
            false_alarms += 1
    n = len(targets)
    return {"keywords": n, "hits": hits, "misses": n - hits, "false_alarms": false_alarms,
            "false_reject_rate": (n - hits) / n if n else 0.0,
            "false_alarms_per_hour": false_alarms / hours if hours > 0 else 0.0}


def det_curve(recordings: Sequence[tuple[np.ndarray, Sequence[Any], float]], class_names: Sequence[str],
              keywords: Sequence[str], *, thresholds: Sequence[float] | None = None, refractory_s: float = 0.5,
              tolerance_s: float = 0.75, smooth_frames: int = 1, hop_s: float = 0.01) -> list[dict[str, float]]:
    """One operating point per threshold, pooled over ``(posteriors, events, hours)`` recordings
    (posteriors every ``hop_s`` seconds: the model's hop)."""
    if thresholds is None:
        # every 0.01, then closer to 1 where the quietest operating points lie
        thresholds = np.unique(np.round(np.concatenate([np.linspace(0.01, 0.99, 99), 1 - np.logspace(-2, -5, 13)]), 8))
    points = []
    for threshold in thresholds:
        totals = {"keywords": 0, "hits": 0, "false_alarms": 0}
        hours = 0.0
        for posteriors, events, rec_hours in recordings:
            found = detect(posteriors, class_names, keywords, threshold=float(threshold), refractory_s=refractory_s,
                           hop_s=hop_s, smooth_frames=smooth_frames)
            result = score_detections(found, events, rec_hours, tolerance_s=tolerance_s, keywords=keywords)
            for key in totals:
                totals[key] += result[key]
            hours += rec_hours
        n = totals["keywords"]
        points.append({"threshold": float(threshold), **totals,
                       "false_reject_rate": (n - totals["hits"]) / n if n else 0.0,
                       "false_alarms_per_hour": totals["false_alarms"] / hours if hours else 0.0})
    return points


def frr_at(points: Sequence[dict[str, float]], false_alarms_per_hour: float) -> tuple[float, float]:
    """The lowest false-reject rate with at most ``false_alarms_per_hour``, and its threshold.

    ``(1.0, nan)`` if no threshold is that quiet.
    """
    ok = [p for p in points if p["false_alarms_per_hour"] <= false_alarms_per_hour]
    if not ok:
        return 1.0, float("nan")
    best = min(ok, key=lambda p: (p["false_reject_rate"], p["threshold"]))
    return best["false_reject_rate"], best["threshold"]


def plot_det(points: Sequence[dict[str, float]], path: str | Path, *, title: str = "DET curve") -> None:
    """False-reject rate against false alarms per hour, written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import sciarch

    floor = 1e-2  # thresholds with no false alarm at all are drawn at the left edge
    ordered = sorted(points, key=lambda p: (p["false_alarms_per_hour"], p["false_reject_rate"]))
    fa = [max(p["false_alarms_per_hour"], floor) for p in ordered]
    frr = [100 * p["false_reject_rate"] for p in ordered]
    # the operating curve: the lowest false-reject rate reachable at or under each false-alarm rate
    best = list(np.minimum.accumulate(frr)) if frr else []
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(fa, frr, ".", color="grey", alpha=0.4, label="each threshold")
    ax.step(fa, best, where="post", label="best at or under")
    for rate in (0.5, 1.0):
        ax.axvline(rate, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("false alarms per hour")
    ax.set_ylabel("false rejects (%)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with sciarch.atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)
