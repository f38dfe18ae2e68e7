"""Rooms and microphones for training clips: simulated reverberation and channel effects.

- **Room impulse responses** (statistical model of Polack 1988, as used for RIR simulation in
  speech augmentation): a direct path, a few discrete early reflections 2–25 ms after it, and a
  late tail of Gaussian noise decaying by 60 dB over the reverberation time ``RT60``
  (``exp(-6.91 t / RT60)``), scaled so that the direct path's energy over the rest is the
  direct-to-reverberant ratio ``DRR``. RT60 from 0.15 s (a furnished office) to 0.9 s (a hall),
  DRR from −3 dB (far from the microphone) to 12 dB (close). No image-source geometry: the
  statistics of the tail, not the room's shape, are what a spotter must learn to ignore.
- **Channel** (microphone and transmission): a band limit (high-pass at 50–400 Hz, low-pass at
  3.4–7.8 kHz, 12 dB per octave, applied on the spectrum), a gain of −12 to +12 dB on the peak
  level with hard clipping at full scale (loud speech into a cheap microphone), and, with some
  probability, codec-like quantisation: 8-bit μ-law (G.711) or a round trip through 8 kHz.

All draws come from torch's global generator (saved in checkpoints with the rest of the run).
"""

from __future__ import annotations

import math

import torch


def room_impulse_response(rt60_s: float, drr_db: float, *, sample_rate: int = 16000,
                          max_seconds: float = 0.4) -> torch.Tensor:
    """A random impulse response (1-D, starting with the direct path at sample 0), cut at ``max_seconds``
    (the tail of a 0.9 s room is 27 dB down by then) and to a whole number of 10 ms."""
    length = max(160, int(min(max_seconds, rt60_s) * sample_rate) // 160 * 160)
    t = torch.arange(length, dtype=torch.float32) / sample_rate
    tail = torch.randn(length) * torch.exp(-6.91 * t / rt60_s)
    onset = int(0.002 * sample_rate)
    tail[:onset] = 0.0
    for _ in range(int(torch.randint(3, 9, ()))):  # early reflections
        k = int(torch.randint(onset, max(onset + 1, int(0.025 * sample_rate)), ()))
        tail[k] += float(torch.empty(()).uniform_(-1.0, 1.0)) * 3.0 * float(tail[onset:].abs().mean())
    rest = tail.pow(2).sum().clamp_min(1e-12)
    tail = tail * math.sqrt(1.0 / (float(rest) * 10 ** (drr_db / 10)))
    tail[0] = 1.0
    return tail


def reverberate(wave: torch.Tensor, rir: torch.Tensor) -> torch.Tensor:
    """``wave`` convolved with ``rir`` (same length, the first sample aligned), at the same peak level."""
    # wave + rir samples hold the whole linear convolution; both multiples of 160 keep the FFT fast
    size = wave.shape[-1] + rir.shape[-1]
    out = torch.fft.irfft(torch.fft.rfft(wave, size) * torch.fft.rfft(rir, size), size)[..., : wave.shape[-1]]
    peak_in, peak_out = wave.abs().max(), out.abs().max()
    return out * (peak_in / peak_out) if peak_out > 0 else out


def band_limit(wave: torch.Tensor, low_hz: float, high_hz: float, sample_rate: int = 16000) -> torch.Tensor:
    """Second-order-like high-pass at ``low_hz`` and low-pass at ``high_hz``, on the spectrum."""
    spectrum = torch.fft.rfft(wave)
    f = torch.fft.rfftfreq(wave.shape[-1], 1.0 / sample_rate).clamp_min(1.0)
    gain = 1.0 / (1.0 + (low_hz / f) ** 4).sqrt() / (1.0 + (f / high_hz) ** 4).sqrt()
    return torch.fft.irfft(spectrum * gain, wave.shape[-1])


def mu_law(wave: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """A round trip through ``bits``-bit μ-law (as G.711 telephony stores speech)."""
    mu = float(2 ** bits - 1)
    x = wave.clamp(-1.0, 1.0)
    encoded = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    quantised = torch.round((encoded + 1) / 2 * mu) / mu * 2 - 1
    return torch.sign(quantised) * ((1 + mu) ** quantised.abs() - 1) / mu


class RoomAndChannel:
    """Reverberation and channel effects for one clip (see the module docstring).

    Args:
        rir_probability: chance a clip is reverberated.
        rt60_s, drr_db: ranges the reverberation time and direct-to-reverberant ratio are drawn from.
        channel_probability: chance a clip goes through a band-limited channel with a random gain.
        gain_db: range of the gain on the clip's level (peaks above full scale are clipped).
        codec_probability: chance (within the channel) of μ-law 8-bit or 8 kHz narrowband.
    """

    def __init__(self, *, rir_probability: float = 0.0, rt60_s: tuple[float, float] = (0.15, 0.9),
                 drr_db: tuple[float, float] = (-3.0, 12.0), channel_probability: float = 0.0,
                 gain_db: tuple[float, float] = (-12.0, 12.0), codec_probability: float = 0.3,
                 sample_rate: int = 16000) -> None:
        from torchaudio.transforms import Resample

        self.rir_probability, self.rt60_s, self.drr_db = rir_probability, tuple(rt60_s), tuple(drr_db)
        self.channel_probability, self.gain_db = channel_probability, tuple(gain_db)
        self.codec_probability, self.sample_rate = codec_probability, sample_rate
        self.down, self.up = Resample(sample_rate, 8000), Resample(8000, sample_rate)

    @property
    def active(self) -> bool:
        return self.rir_probability > 0 or self.channel_probability > 0

    def reverb(self, wave: torch.Tensor) -> torch.Tensor:
        if float(torch.rand(())) >= self.rir_probability:
            return wave
        rt60 = float(torch.empty(()).uniform_(*self.rt60_s))
        drr = float(torch.empty(()).uniform_(*self.drr_db))
        return reverberate(wave, room_impulse_response(rt60, drr, sample_rate=self.sample_rate))

    def channel(self, wave: torch.Tensor) -> torch.Tensor:
        if float(torch.rand(())) >= self.channel_probability:
            return wave
        low = float(torch.empty(()).uniform_(50.0, 400.0))
        high = float(torch.empty(()).uniform_(3400.0, 7800.0))
        wave = band_limit(wave, low, high, self.sample_rate)
        wave = wave * 10 ** (float(torch.empty(()).uniform_(*self.gain_db)) / 20)
        wave = wave.clamp(-1.0, 1.0)
        if float(torch.rand(())) < self.codec_probability:
            if float(torch.rand(())) < 0.5:
                wave = mu_law(wave)
            else:
                wave = self.up(self.down(wave[None]))[0][: wave.shape[0]]
        return wave
