"""Detection in long audio and its scoring: false rejects, false alarms per hour, DET curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sciarch_datasets.audio.continuous import Event
from sciarch_keywords.detection import (
    OnlineDetector,
    det_curve,
    detect,
    frr_at,
    plot_det,
    score_detections,
    smooth,
)

CLASSES = ["yes", "no", "_unknown_", "_silence_"]
KEYWORDS = ["yes", "no"]


def posteriors_with_bumps(frames: int, bumps: list[tuple[int, int, float]]) -> np.ndarray:
    """Silence everywhere except ``(frame, class, height)`` bumps 10 frames wide."""
    p = np.zeros((frames, len(CLASSES)), dtype=np.float32)
    p[:, 3] = 1.0
    for frame, cls, height in bumps:
        p[frame: frame + 10, cls] = height
        p[frame: frame + 10, 3] = 1.0 - height
    return p


def test_one_detection_per_crossing_with_the_leading_word_and_its_time():
    p = posteriors_with_bumps(1000, [(100, 0, 0.9), (400, 1, 0.7), (700, 2, 0.99)])
    found = detect(p, CLASSES, KEYWORDS, threshold=0.5)
    assert [(d.word, d.time_s) for d in found] == [("yes", 1.01), ("no", 4.01)]  # unknown is not a keyword
    assert found[0].score == pytest.approx(0.9)
    assert detect(p, CLASSES, KEYWORDS, threshold=0.8) == detect(p[:300], CLASSES, KEYWORDS, threshold=0.8)


def test_refractory_period_suppresses_a_second_crossing():
    p = posteriors_with_bumps(400, [(100, 0, 0.9), (125, 0, 0.9), (200, 1, 0.9)])
    assert [d.time_s for d in detect(p, CLASSES, KEYWORDS, refractory_s=0.5)] == [1.01, 2.01]
    assert [d.time_s for d in detect(p, CLASSES, KEYWORDS, refractory_s=0.1)] == [1.01, 1.26, 2.01]


def test_online_detector_gives_the_offline_detections_frame_by_frame():
    rng = np.random.default_rng(0)
    p = posteriors_with_bumps(3000, [(int(f), int(rng.integers(3)), float(rng.uniform(0.3, 1)))
                                     for f in rng.choice(2900, 40, replace=False)])
    for smooth_frames in (1, 6):
        offline = detect(p, CLASSES, KEYWORDS, threshold=0.6, refractory_s=0.3, smooth_frames=smooth_frames)
        online = OnlineDetector(CLASSES, KEYWORDS, threshold=0.6, refractory_s=0.3, smooth_frames=smooth_frames)
        streamed = [d for t in range(0, 3000, 7) for d in online.push(p[t: t + 7])]
        assert [(d.time_s, d.word) for d in streamed] == [(d.time_s, d.word) for d in offline]
        assert all(abs(a.score - b.score) < 1e-9 for a, b in zip(streamed, offline, strict=True))
        assert len(offline) > 5


def test_smoothing_delays_and_flattens_a_short_spike():
    p = posteriors_with_bumps(300, [(100, 0, 0.9)])  # 10 frames at 0.9
    assert [d.time_s for d in detect(p, CLASSES, KEYWORDS, threshold=0.5)] == [1.01]
    # averaged over 20 frames the bump peaks at 0.45: no detection at 0.5; at 0.4 it fires later
    assert detect(p, CLASSES, KEYWORDS, threshold=0.5, smooth_frames=20) == []
    assert [d.time_s for d in detect(p, CLASSES, KEYWORDS, threshold=0.4, smooth_frames=20)] == [1.09]


def test_scoring_counts_hits_misses_and_false_alarms_per_hour():
    events = [Event("yes", 1.0, 1.4, "v", True), Event("no", 3.0, 3.5, "v", True), Event("cat", 5.0, 5.3, "v", False),
              Event("yes", 8.0, 8.4, "v", True)]
    p = posteriors_with_bumps(1200, [(140, 0, 0.9),   # yes at 1.41 s: a hit
                                     (350, 0, 0.9),   # yes at 3.51 s where "no" was said: false alarm
                                     (530, 0, 0.9),   # during "cat": false alarm
                                     ])
    found = detect(p, CLASSES, KEYWORDS)
    hours = 12 / 3600
    result = score_detections(found, events, hours, keywords=KEYWORDS)
    assert (result["keywords"], result["hits"], result["misses"], result["false_alarms"]) == (3, 1, 2, 2)
    assert result["false_reject_rate"] == pytest.approx(2 / 3)
    assert result["false_alarms_per_hour"] == pytest.approx(2 / hours)


def test_det_curve_trades_false_rejects_for_false_alarms():
    # 20 keywords, each with a bump of varying height; 10 false bumps among them
    events, bumps = [], []
    for i in range(20):
        start = 2.0 * i + 1.0
        events.append(Event(KEYWORDS[i % 2], start, start + 0.4, "v", True))
        bumps.append((int((start + 0.4) * 100), i % 2, 0.55 + 0.02 * i))
    for i in range(10):
        bumps.append((int((2.0 * i + 2.0) * 100), 0, 0.5 + 0.04 * i))
    p = posteriors_with_bumps(4200, bumps)
    hours = 42 / 3600
    points = det_curve([(p, events, hours)], CLASSES, KEYWORDS, thresholds=np.linspace(0.3, 0.99, 70))
    frrs = [pt["false_reject_rate"] for pt in points]
    fas = [pt["false_alarms"] for pt in points]
    assert frrs == sorted(frrs) and fas == sorted(fas, reverse=True)  # higher threshold: fewer alarms, more misses
    assert points[0]["false_alarms"] == 10 and points[0]["false_reject_rate"] == 0.0
    assert points[-1]["hits"] == 0
    # with no false alarm allowed, only keywords above the highest false bump (0.86) count
    frr, threshold = frr_at(points, 0.0)
    assert threshold > 0.86 and frr == pytest.approx(1 - sum(0.55 + 0.02 * i >= threshold for i in range(20)) / 20)
    assert frr_at([{"false_alarms_per_hour": 5.0, "false_reject_rate": 0.1, "threshold": 0.5}], 1.0)[0] == 1.0
    assert math.isnan(frr_at([], 1.0)[1])


def test_det_plot_is_a_png(tmp_path):
    points = [{"threshold": t, "false_reject_rate": t / 2, "false_alarms_per_hour": 10 * (1 - t)} for t in
              (0.1, 0.5, 0.9, 0.99)]
    plot_det(points, tmp_path / "det.png")
    assert (tmp_path / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_smoothing_is_a_causal_moving_average():
    p = np.zeros((6, 1), dtype=np.float32)
    p[2] = 1.0
    assert smooth(p, 3)[:, 0].tolist() == pytest.approx([0, 0, 1 / 3, 1 / 3, 1 / 3, 0])
    assert smooth(p, 1) is p


def test_det_curve_reads_posteriors_at_the_model_hop():
    # an 80 ms hop (the speech-embedding front end): a bump right after each word is a hit only if
    # frames are read as 80 ms apart, not the log-mel's 10 ms
    events = [Event("yes", 3.0 * i + 1.0, 3.0 * i + 1.4, "v", True) for i in range(5)]
    p = np.zeros((200, len(CLASSES)), dtype=np.float32)
    p[:, 3] = 1.0
    for e in events:
        frame = int(round(e.end_s / 0.08))
        p[frame: frame + 3, 0], p[frame: frame + 3, 3] = 0.9, 0.1
    at_hop = det_curve([(p, events, 16 / 3600)], CLASSES, KEYWORDS, thresholds=[0.5], hop_s=0.08)[0]
    assert at_hop["hits"] == 5 and at_hop["false_alarms"] == 0
    misread = det_curve([(p, events, 16 / 3600)], CLASSES, KEYWORDS, thresholds=[0.5])[0]  # read as 10 ms apart
    assert misread["hits"] <= 1
