"""Voice-activity gating for ``listen --vad``: keep only detections made while someone is speaking.

The voice-activity model is Silero VAD (``pip install silero-vad``, MIT licence), whose weights ship
inside its wheel (``silero_vad/data/silero_vad.onnx``), so nothing is downloaded. It scores 32 ms
windows (512 samples at 16 kHz) for speech; a detection at time *t* is kept if the speech
probability reached ``vad_threshold`` in the ``window_s`` before *t* (the keyword has just been
said). Noise that makes the spotter fire but that the VAD hears as no speech (a fan, a door, music
without a voice) is so removed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sciarch
import torch

from .detection import Detection

WINDOW = 512  # samples per Silero VAD window at 16 kHz


def speech_probabilities(wave: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """Silero VAD's speech probability of each 512-sample window of ``wave`` (16 kHz)."""
    if sample_rate != 16000:
        raise sciarch.UsageError(f"the voice-activity gate needs 16 kHz audio, not {sample_rate} Hz")
    silero = sciarch.require("silero_vad", "audio")
    model = silero.load_silero_vad(onnx=True)
    model.reset_states()
    wave = torch.as_tensor(np.asarray(wave, dtype=np.float32)).flatten()
    out = []
    for first in range(0, wave.shape[0] - WINDOW + 1, WINDOW):
        out.append(float(model(wave[first: first + WINDOW], sample_rate)))
    return np.asarray(out, dtype=np.float32)


def gate(detections: Sequence[Detection], probabilities: np.ndarray, *, vad_threshold: float = 0.5,
         window_s: float = 1.0, sample_rate: int = 16000) -> list[Detection]:
    """The detections made within ``window_s`` after speech (probability ≥ ``vad_threshold``)."""
    window_s_each = WINDOW / sample_rate
    speech_ends = (np.nonzero(probabilities >= vad_threshold)[0] + 1) * window_s_each
    kept = []
    for d in detections:
        near = speech_ends[(speech_ends <= d.time_s + window_s_each) & (speech_ends >= d.time_s - window_s)]
        if near.size:
            kept.append(d)
    return kept
