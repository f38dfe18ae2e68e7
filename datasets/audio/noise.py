"""Background noise: coloured noise, babble, and folders of real recordings.

Coloured noise has a power spectral density proportional to 1/f^β: white (β = 0), pink (β = 1)
and brown (β = 2, integrated white noise), made by shaping the spectrum of white Gaussian noise.
Babble is several other words spoken at once by several voices, the hardest noise for a keyword
spotter because it is speech. :func:`read_noise_folder` accepts a folder of real recordings (the
``_background_noise_`` folder of Speech Commands, or any folder of WAV files).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sciarch

from . import SAMPLE_RATE

COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def coloured_noise(colour: str, seconds: float, *, seed: int = 0, sample_rate: int = SAMPLE_RATE,
                   rms: float = 0.1) -> np.ndarray:
    """``seconds`` of white, pink or brown noise, float32 with the given RMS."""
    if colour not in COLOURS:
        raise sciarch.UsageError(f"unknown noise colour {colour!r}; known: {', '.join(COLOURS)}")
    n = int(round(seconds * sample_rate))
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1.0 / sample_rate)
    # amplitude ~ f^(-β/2) gives power ~ f^-β; below 20 Hz held flat so brown noise does not drift
    shaping = np.maximum(freqs, 20.0) ** (-COLOURS[colour] / 2.0)
    wave = np.fft.irfft(spectrum * shaping, n=n)
    wave -= wave.mean()
    return (wave * rms / max(wave.std(), 1e-12)).astype(np.float32)


def babble(utterances: Sequence[np.ndarray], seconds: float, *, talkers: int = 6, seed: int = 0,
           sample_rate: int = SAMPLE_RATE, rms: float = 0.1) -> np.ndarray:
    """``talkers`` overlapping streams of the given utterances, each laid end to end with short gaps."""
    if not utterances:
        raise sciarch.UsageError("babble needs at least one utterance")
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    out = np.zeros(n, dtype=np.float64)
    for _ in range(talkers):
        position = int(rng.integers(0, sample_rate // 2))
        while position < n:
            word = utterances[int(rng.integers(len(utterances)))]
            word = word / max(float(np.sqrt(np.mean(word ** 2))), 1e-8)
            end = min(n, position + len(word))
            out[position:end] += word[: end - position] * 10 ** (rng.uniform(-6, 0) / 20)
            position = end + int(rng.uniform(0.05, 0.3) * sample_rate)
    out -= out.mean()
    return (out * rms / max(out.std(), 1e-12)).astype(np.float32)


def read_noise_folder(folder: str | Path, report: sciarch.BadRecords | None = None,
                      *, sample_rate: int = SAMPLE_RATE, min_seconds: float = 1.0) -> dict[str, np.ndarray]:
    """Every WAV in ``folder`` (not recursive) as mono float32 at ``sample_rate``, by file name.

    Unreadable, empty or shorter-than-``min_seconds`` files are skipped and reported.
    """
    from .wav import read_clip

    folder = Path(folder)
    if not folder.is_dir():
        raise sciarch.DataError("not a folder of noise recordings", file=folder)
    report = report if report is not None else sciarch.BadRecords(source=str(folder))
    found: dict[str, np.ndarray] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".wav" or not path.is_file():
            continue
        wave = read_clip(path, report, rate=sample_rate)
        if wave is None:
            continue
        if wave.shape[0] < min_seconds * sample_rate:
            report.skip(f"shorter than {min_seconds:g} s ({wave.shape[0] / sample_rate:.2f} s)", file=path,
                        record=path.name, kind="noise too short")
            continue
        found[path.name] = wave
    return found


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech + g·noise`` with ``g`` chosen so that the speech-to-noise power ratio is ``snr_db``.

    Speech power is measured over the samples that are not silent, so a short word in a 1 s clip
    is not counted as quiet.
    """
    from .espeak import active_span

    start, end = active_span(speech)
    active = speech[start:end] if end > start else speech
    p_speech = float(np.mean(active.astype(np.float64) ** 2))
    p_noise = float(np.mean(noise.astype(np.float64) ** 2))
    if p_speech <= 0 or p_noise <= 0:
        return speech.copy()
    gain = np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    return (speech + gain * noise).astype(np.float32)
