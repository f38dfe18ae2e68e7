"""Training-time augmentation: speed perturbation, time shift and background noise on the waveform,
SpecAugment masks on the log-mel features.

- Speed perturbation (Ko et al. 2015, "Audio augmentation for speech recognition"): the clip is
  resampled as if it had been recorded at ``f × 16 kHz``, so it plays ``f`` times faster with its
  pitch shifted by the same factor.
- Time shift: the clip moves by up to ``time_shift_s`` either way, never pushing the word out.
- Background noise at a random SNR: a random stretch of a random noise recording, scaled so that
  the word's power over the noise's is ``snr_db`` (drawn uniformly from a range).
- Rooms and microphones (:mod:`.rooms`, off unless asked for): simulated reverberation after the
  shift, channel effects (band limit, gain and clipping, codecs) after the noise.
- Vocal-tract length perturbation (after Jaitly & Hinton 2013): the mel axis of a clip's features
  is stretched by a factor drawn from ``1 ± vtl_warp``, moving formants as a longer or shorter
  vocal tract would (:func:`warp_mel`).
- SpecAugment (Park et al. 2019, arXiv:1904.08779): bands of mel channels and runs of frames
  masked with ``torchaudio.transforms.FrequencyMasking`` / ``TimeMasking``, different per example.

Random numbers come from torch's global generator, which the host saves in checkpoints, so a
resumed run draws the same augmentations it would have drawn.
"""

from __future__ import annotations

import torch
from torch import nn

from .rooms import RoomAndChannel


class WaveAugment:
    """Speed perturbation, time shift and noise for one clip and the span of its word.

    Args:
        noise: noise recordings (1-D float tensors at 16 kHz) to mix in; none disables noise.
        noise_probability: chance a clip gets noise.
        snr_db: range of the signal-to-noise ratio in dB.
        time_shift_s: largest shift either way, in seconds.
        speed_factors: factors speed perturbation draws from (1.0 leaves the clip as it is).
        speed_probability: chance a clip is speed-perturbed.
        room: reverberation and channel effects (:class:`~.rooms.RoomAndChannel`), or None.
        sample_rate: of the clips and the noise.
    """

    def __init__(self, noise: list[torch.Tensor] | None = None, *, noise_probability: float = 0.8,
                 snr_db: tuple[float, float] = (0.0, 20.0), time_shift_s: float = 0.1,
                 speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1), speed_probability: float = 0.5,
                 room: RoomAndChannel | None = None, sample_rate: int = 16000) -> None:
        from torchaudio.transforms import Resample

        self.noise = [n for n in (noise or []) if n.numel() > 0]
        self.noise_probability, self.snr_db = noise_probability, snr_db
        self.max_shift = int(time_shift_s * sample_rate)
        self.speed_probability = speed_probability
        self.speed_factors = [f for f in speed_factors if f > 0]
        self.room = room if room is not None and room.active else None
        # kernels built once: orig/new rates with a large common divisor keep them short
        self.resamplers = {f: Resample(int(round(sample_rate * f / 100)) * 100, sample_rate)
                           for f in self.speed_factors if abs(f - 1.0) > 1e-6}

    def __call__(self, wave: torch.Tensor, span: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        length = wave.shape[0]
        start, end = span
        if self.resamplers and float(torch.rand(())) < self.speed_probability:
            factor = self.speed_factors[int(torch.randint(len(self.speed_factors), ()))]
            if factor in self.resamplers:
                wave = self.resamplers[factor](wave[None])[0]
                start, end = int(start / factor), int(end / factor)
                wave, start, end = _fit(wave, length, start, end)
        if self.max_shift > 0 and end > start:
            low, high = max(-self.max_shift, -start), min(self.max_shift, length - end)
            if high > low:
                shift = int(torch.randint(low, high + 1, ()))
                wave = torch.roll(wave, shift)
                if shift > 0:
                    wave[:shift] = 0
                elif shift < 0:
                    wave[shift:] = 0
                start, end = start + shift, end + shift
        if self.room is not None:
            wave = self.room.reverb(wave)
        if self.noise and float(torch.rand(())) < self.noise_probability:
            snr = float(torch.empty(()).uniform_(*self.snr_db))
            wave = add_noise(wave, self.noise[int(torch.randint(len(self.noise), ()))], snr, (start, end))
        if self.room is not None:
            wave = self.room.channel(wave)
        return wave, (start, end)


def _fit(wave: torch.Tensor, length: int, start: int, end: int) -> tuple[torch.Tensor, int, int]:
    """Pad or crop to ``length``, cropping around the word so it stays whole where it can."""
    if wave.shape[0] < length:
        return torch.nn.functional.pad(wave, (0, length - wave.shape[0])), start, end
    if wave.shape[0] == length:
        return wave, start, end
    low, high = max(0, end - length), min(start, wave.shape[0] - length)
    offset = int(torch.randint(low, high + 1, ())) if high > low else max(0, min(low, wave.shape[0] - length))
    return wave[offset: offset + length], max(0, start - offset), min(length, end - offset)


def noise_segment(noise: torch.Tensor, length: int, offset: int | None = None) -> torch.Tensor:
    """``length`` samples of ``noise`` from ``offset`` (random if None), looped if it is shorter."""
    if noise.shape[0] < length:
        noise = noise.repeat(length // noise.shape[0] + 1)
    if offset is None:
        offset = int(torch.randint(0, noise.shape[0] - length + 1, ()))
    return noise[offset: offset + length]


def add_noise(wave: torch.Tensor, noise: torch.Tensor, snr_db: float, span: tuple[int, int] | None = None,
              offset: int | None = None) -> torch.Tensor:
    """``wave`` plus a stretch of ``noise`` at ``snr_db``, speech power measured over ``span``."""
    segment = noise_segment(noise, wave.shape[0], offset)
    start, end = span if span is not None and span[1] > span[0] else (0, wave.shape[0])
    p_speech = wave[start:end].pow(2).mean()
    p_noise = segment.pow(2).mean()
    if p_speech <= 0 or p_noise <= 0:
        return wave
    gain = torch.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    return wave + gain * segment


class SpecAugment(nn.Module):
    """Frequency and time masks on ``(B, n_mels, T)`` log-mel, independent per example.

    Masked cells take the batch's mean log energy rather than zero (zero is a loud value in the
    log domain).
    """

    def __init__(self, freq_masks: int = 2, freq_width: int = 7, time_masks: int = 2, time_width: int = 10) -> None:
        super().__init__()
        from torchaudio.transforms import FrequencyMasking, TimeMasking

        self.freq = nn.ModuleList(FrequencyMasking(freq_width, iid_masks=True) for _ in range(freq_masks))
        self.time = nn.ModuleList(TimeMasking(time_width, iid_masks=True) for _ in range(time_masks))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features[:, None]  # iid masks need (B, channel, freq, time)
        fill = float(features.mean())
        for mask in [*self.freq, *self.time]:
            x = mask(x, fill)
        return x[:, 0]


def warp_mel(features: torch.Tensor, max_warp: float) -> torch.Tensor:
    """``(B, n_mels, T)`` features with the mel axis stretched by a factor per example in ``1 ± max_warp``.

    Band ``m`` takes the value at ``m / α`` (linear interpolation, the top band repeated): α > 1
    moves energy up, as a shorter vocal tract does.
    """
    if max_warp <= 0:
        return features
    batch, bands, _ = features.shape
    alpha = 1.0 + (torch.rand(batch, 1, device=features.device) * 2 - 1) * max_warp
    source = (torch.arange(bands, device=features.device, dtype=features.dtype)[None] / alpha).clamp(0, bands - 1)
    low = source.floor().long()
    high = (low + 1).clamp(max=bands - 1)
    frac = (source - low)[:, :, None]
    take = lambda index: torch.gather(features, 1, index[:, :, None].expand(-1, -1, features.shape[2]))  # noqa: E731
    return take(low) * (1 - frac) + take(high) * frac
