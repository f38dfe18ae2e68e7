"""Log-mel filterbank energies with ``torchaudio.transforms``, the features keyword spotters read.

The defaults are the usual ones for keyword spotting: 25 ms Hann windows every 10 ms, 40 mel bands
between 20 Hz and 7.6 kHz, power spectrum, natural log with a small floor. Frames are not centred
(``center=False``): frame ``t`` covers samples ``[t·hop, t·hop + win)``, so a frame depends only
on audio already heard and a streaming front end can produce exactly the same frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sciarch

from . import SAMPLE_RATE


@dataclass(frozen=True)
class LogMelSettings:
    sample_rate: int = SAMPLE_RATE
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float = 7600.0
    log_floor: float = 1e-6

    def frames(self, samples: int) -> int:
        """Frames in a clip of ``samples`` samples."""
        return 0 if samples < self.win_length else 1 + (samples - self.win_length) // self.hop_length


def mel_spectrogram(settings: LogMelSettings = LogMelSettings()) -> Any:
    """The ``torchaudio.transforms.MelSpectrogram`` for ``settings`` (power, not log)."""
    transforms = sciarch.require("torchaudio.transforms", "audio")
    s = settings
    return transforms.MelSpectrogram(sample_rate=s.sample_rate, n_fft=s.win_length, win_length=s.win_length,
                                     hop_length=s.hop_length, f_min=s.f_min, f_max=s.f_max, n_mels=s.n_mels,
                                     power=2.0, center=False, norm=None, mel_scale="htk")


def log_mel(wave: Any, settings: LogMelSettings = LogMelSettings()) -> Any:
    """``(..., samples)`` waveform tensor to ``(..., n_mels, frames)`` log-mel energies."""
    torch = sciarch.require("torch")
    return torch.log(mel_spectrogram(settings)(wave) + settings.log_floor)


def settings_dict(settings: LogMelSettings) -> dict[str, Any]:
    return asdict(settings)
