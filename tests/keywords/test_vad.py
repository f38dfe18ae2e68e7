"""``listen --vad``: Silero VAD (weights from its wheel) keeps detections made while someone speaks."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("silero_vad")


def test_speech_is_heard_as_speech_and_noise_gated_out():
    from sciarch_datasets.audio.espeak import Voice, speak
    from sciarch_datasets.audio.noise import coloured_noise
    from sciarch_keywords.detection import Detection
    from sciarch_keywords.vad import gate, speech_probabilities

    words = [speak(w, Voice("en-US", "m3")) for w in ("stop", "the", "music", "now", "please", "left")]
    speech = np.concatenate([np.concatenate([w / np.abs(w).max() * 0.5, np.zeros(2400, np.float32)]) for w in words])
    noise = coloured_noise("pink", 4.0, seed=0)
    noise = (noise / np.abs(noise).max() * 0.3).astype(np.float32)
    wave = np.concatenate([speech, noise]).astype(np.float32)
    p = speech_probabilities(wave)
    cut = speech.shape[0] // 512
    assert p[:cut].max() > 0.8 and np.mean(p[:cut] > 0.5) > 0.3  # the words are speech
    assert np.mean(p[cut + 2:] > 0.5) < 0.05  # loud pink noise is not
    end_of_speech = speech.shape[0] / 16000
    found = [Detection(0.8, "stop", 0.9), Detection(end_of_speech + 2.5, "go", 0.9)]
    assert [d.word for d in gate(found, p)] == ["stop"]
