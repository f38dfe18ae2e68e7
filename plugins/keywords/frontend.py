"""The log-mel front end every keyword model starts with, written so that it streams and exports.

.. math::

    X_t(k) = \\sum_{n=0}^{N-1} w(n)\\, x(tH + n - P)\\, e^{-2\\pi i k n / N}, \\qquad
    M_t(m) = \\log\\Big(\\epsilon + \\sum_k F_{mk} |X_t(k)|^2\\Big)

with a Hann window :math:`w` of :math:`N` = 400 samples (25 ms), hop :math:`H` = 160 (10 ms),
the HTK mel filterbank :math:`F` from ``torchaudio.functional.melscale_fbanks`` and a left padding
of :math:`P = N - H` zeros. The short-time Fourier transform is a strided convolution with the
windowed DFT basis as kernels, so the same module runs on a whole clip, one hop at a time, under
TorchScript and in ONNX (no STFT operator needed). The left padding makes frame :math:`t` end
exactly at sample :math:`(t+1)H`: one frame per hop, available as soon as the hop is heard.
It equals ``torchaudio.transforms.MelSpectrogram(center=False)`` on the padded waveform
(``sciarch_datasets.audio.features``; checked in the tests).

Shapes: waveform ``(B, T)`` → log-mel ``(B, n_mels, T // H)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class LogMelFrontEnd(nn.Module):
    """Waveform to log-mel energies; a causal framing with one frame per hop.

    Args:
        sample_rate (int): samples per second of the input (default 16000).
        win_length (int): window and FFT length in samples (default 400, 25 ms).
        hop_length (int): samples between frames (default 160, 10 ms).
        n_mels (int): mel bands (default 40).
        f_min (float), f_max (float): the filterbank's frequency range in Hz.
        log_floor (float): added before the log, so silence stays finite.
    """

    def __init__(self, sample_rate: int = 16000, win_length: int = 400, hop_length: int = 160, n_mels: int = 40,
                 f_min: float = 20.0, f_max: float = 7600.0, log_floor: float = 1e-6) -> None:
        super().__init__()
        from torchaudio.functional import melscale_fbanks

        if win_length < hop_length:
            raise ValueError(f"win_length ({win_length}) must be at least hop_length ({hop_length})")
        self.sample_rate, self.win_length, self.hop_length = sample_rate, win_length, hop_length
        self.n_mels, self.f_min, self.f_max, self.log_floor = n_mels, f_min, f_max, log_floor
        self.pad = win_length - hop_length
        n_freq = win_length // 2 + 1
        window = torch.hann_window(win_length, periodic=True, dtype=torch.float64)
        k = torch.arange(n_freq, dtype=torch.float64)[:, None]
        n = torch.arange(win_length, dtype=torch.float64)[None, :]
        angle = 2 * math.pi * k * n / win_length
        basis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])  # (2·n_freq, N)
        fbank = melscale_fbanks(n_freq, f_min, f_max, n_mels, sample_rate, norm=None, mel_scale="htk")
        # derived from the arguments, so not saved in checkpoints
        self.register_buffer("basis", basis.float()[:, None, :], persistent=False)
        self.register_buffer("fbank", fbank.T.contiguous().float(), persistent=False)  # (n_mels, n_freq)
        self.n_freq = n_freq

    def frames(self, samples: int) -> int:
        """Frames produced from ``samples`` samples."""
        return samples // self.hop_length

    def spectrum_to_log_mel(self, spectrum: torch.Tensor) -> torch.Tensor:
        """``(B, 2·n_freq, T)`` real and imaginary parts to ``(B, n_mels, T)`` log-mel."""
        real, imag = spectrum[:, : self.n_freq], spectrum[:, self.n_freq:]
        power = real * real + imag * imag
        return torch.log(torch.matmul(self.fbank, power) + self.log_floor)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spectrum = F.conv1d(F.pad(wave[:, None, :], (self.pad, 0)), self.basis, stride=self.hop_length)
        return self.spectrum_to_log_mel(spectrum)

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, win_length={self.win_length}, hop_length={self.hop_length}, "
                f"n_mels={self.n_mels}, f_min={self.f_min:g}, f_max={self.f_max:g}")
