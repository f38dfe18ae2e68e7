"""WAV files in and out through ``soundfile`` (torchaudio's own loader needs FFmpeg here).

:func:`read_clip` is the one place audio enters: it mixes channels down, resamples a wrong rate to
16 kHz (reported, since a Speech Commands copy should not need it) and turns an unreadable or empty
file into a skipped record counted by :class:`sciarch.BadRecords`, never a crash.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sciarch

from . import SAMPLE_RATE

#: Sample rates a WAV header may plausibly hold; anything else is a damaged header.
PLAUSIBLE_RATES = (1000, 768_000)
#: torchaudio's kernel holds ``new_rate / gcd`` filters of ``orig_rate / gcd`` taps: past this many
#: (16001 Hz -> 16000 Hz would need 16000 x 16013, a gigabyte) the FFT method is used instead.
_MAX_POLYPHASE = 2000


def resample(wave: np.ndarray, orig_rate: int, new_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling (``torchaudio.functional.resample``) of a mono float32 array.

    Rates with a small common divisor (say 16001 and 16000 Hz) are resampled in the frequency
    domain instead (band-limited too, memory linear in the clip's length).
    """
    if orig_rate == new_rate:
        return wave.astype(np.float32, copy=False)
    import math

    if max(orig_rate, new_rate) // math.gcd(orig_rate, new_rate) > _MAX_POLYPHASE:
        return _resample_fft(np.asarray(wave, dtype=np.float64), orig_rate, new_rate)
    torch = sciarch.require("torch")
    functional = sciarch.require("torchaudio.functional")
    out = functional.resample(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), orig_rate, new_rate)
    return out.numpy()


def _resample_fft(wave: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    n = wave.shape[-1]
    m = max(1, int(round(n * new_rate / orig_rate)))
    spectrum = np.fft.rfft(wave)
    kept = np.zeros(m // 2 + 1, dtype=spectrum.dtype)
    bins = min(len(kept), len(spectrum))
    kept[:bins] = spectrum[:bins]
    return (np.fft.irfft(kept, m) * (m / n)).astype(np.float32)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """A mono float32 waveform in [-1, 1] and its sample rate; :class:`sciarch.DataError` if unreadable."""
    soundfile = sciarch.require("soundfile")
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise sciarch.DataError("empty file (0 bytes)", file=path)
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises its own error types for every kind of damage
        raise sciarch.DataError(f"cannot read audio ({str(exc).splitlines()[0] or type(exc).__name__})",
                                file=path) from None
    return data.mean(axis=1), int(rate)


def read_clip(path: str | Path, report: sciarch.BadRecords, *, rate: int = SAMPLE_RATE,
              record: str | None = None, resampled: list[str] | None = None) -> np.ndarray | None:
    """Read ``path`` as mono float32 at ``rate``; ``None`` (and a skip in ``report``) if unusable.

    A file at another sample rate is resampled and kept; its name is appended to ``resampled`` so
    the caller can report how many needed it.
    """
    record = record or Path(path).name
    try:
        wave, file_rate = read_wav(path)
    except sciarch.DataError as exc:
        report.skip(exc.problem, file=path, record=record, kind="unreadable audio")
        return None
    if wave.size == 0:
        report.skip("empty audio (0 samples)", file=path, record=record, kind="empty audio")
        return None
    if not np.isfinite(wave).all():
        report.skip("audio holds NaN or infinite samples", file=path, record=record, kind="non-finite audio")
        return None
    if not PLAUSIBLE_RATES[0] <= file_rate <= PLAUSIBLE_RATES[1]:
        report.skip(f"implausible sample rate {file_rate} Hz (a damaged header?)", file=path, record=record,
                    kind="unreadable audio")
        return None
    if file_rate != rate:
        if resampled is not None:
            resampled.append(f"{path} ({file_rate} Hz)")
        wave = resample(wave, file_rate, rate)
    return wave


def to_pcm16(wave: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as int16, clipped."""
    return np.clip(np.round(np.asarray(wave, dtype=np.float64) * 32767.0), -32768, 32767).astype(np.int16)


def wav_bytes(wave: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """``wave`` (float in [-1, 1]) encoded as a 16-bit PCM WAV file."""
    import io

    soundfile = sciarch.require("soundfile")
    buffer = io.BytesIO()
    soundfile.write(buffer, to_pcm16(wave), rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def write_wav(path: str | Path, wave: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write ``wave`` (float in [-1, 1]) as 16-bit PCM, atomically."""
    data = wav_bytes(wave, rate)
    with sciarch.atomic_write(path, "wb") as handle:
        handle.write(data)


def fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad at the end or cut the end, as Speech Commands readers do with short clips."""
    if wave.shape[-1] >= length:
        return wave[..., :length]
    return np.pad(wave, [(0, 0)] * (wave.ndim - 1) + [(0, length - wave.shape[-1])])
