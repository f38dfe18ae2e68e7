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

    memory_frames = 0  # past frames, beyond the window, that a frame depends on (PCEN: its smoother)

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


FRONT_ENDS = ("log-mel", "pcen", "speech-embedding")


def build_frontend(name: str, *, sample_rate: int = 16000, win_length: int = 400, hop_length: int = 160,
                   n_mels: int = 40, f_min: float = 20.0, f_max: float = 7600.0,
                   embedding_models: str | None = None) -> nn.Module:
    """The front end called ``name``: ``log-mel`` (default), ``pcen`` (:class:`PCENFrontEnd`) or
    ``speech-embedding`` (the frozen openWakeWord encoder, :mod:`sciarch_keywords.embedding`)."""
    if name == "log-mel":
        return LogMelFrontEnd(sample_rate, win_length, hop_length, n_mels, f_min, f_max)
    if name == "pcen":
        return PCENFrontEnd(sample_rate, win_length, hop_length, n_mels, f_min, f_max)
    if name == "speech-embedding":
        from .embedding import SpeechEmbeddingFrontEnd

        return SpeechEmbeddingFrontEnd(embedding_models, sample_rate=sample_rate)
    import sciarch

    raise sciarch.ConfigError(f"unknown front end {name!r}; one of {', '.join(FRONT_ENDS)}", key="model.args.frontend")

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, win_length={self.win_length}, hop_length={self.hop_length}, "
                f"n_mels={self.n_mels}, f_min={self.f_min:g}, f_max={self.f_max:g}")


class PCENFrontEnd(LogMelFrontEnd):
    """Per-channel energy normalisation (Wang et al. 2017, arXiv:1607.05666) of the mel energies.

    .. math::

        M_t = (1 - s) M_{t-1} + s E_t, \\qquad
        P_t = \\big(E_t / (\\epsilon + M_t)^{\\alpha} + \\delta\\big)^{r} - \\delta^{r}

    on the mel energies :math:`E_t` of :class:`LogMelFrontEnd` (before the log), with the smoother
    started at its steady state for the first frame (:math:`M_{-1} = E_0`). Dividing by a running
    average of each band's own energy removes a fixed gain (a quieter microphone, a closer speaker)
    almost entirely (:math:`\\alpha` near 1) and slowly varying background noise largely, where the
    log only turns them into offsets. Fixed parameters (the paper's defaults, :math:`s` = 0.025,
    a time constant of 0.4 s at 10 ms hops); causal, so it streams with :math:`M` as the state.
    ``memory_frames`` is how far back an input still counts (to 1e-6): chunked scoring adds that much
    past audio.
    """

    def __init__(self, sample_rate: int = 16000, win_length: int = 400, hop_length: int = 160, n_mels: int = 40,
                 f_min: float = 20.0, f_max: float = 7600.0, smoothing: float = 0.025, alpha: float = 0.98,
                 delta: float = 2.0, power: float = 0.5, eps: float = 1e-6) -> None:
        super().__init__(sample_rate, win_length, hop_length, n_mels, f_min, f_max)
        if not 0 < smoothing <= 1:
            raise ValueError(f"smoothing must be in (0, 1], not {smoothing}")
        self.smoothing, self.alpha, self.delta, self.power, self.eps = smoothing, alpha, delta, power, eps
        self.memory_frames = 0 if smoothing >= 1 else int(math.ceil(math.log(1e-6) / math.log(1 - smoothing)))

    def energies(self, wave: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` waveform → ``(B, n_mels, T // hop)`` mel energies (no log)."""
        spectrum = F.conv1d(F.pad(wave[:, None, :], (self.pad, 0)), self.basis, stride=self.hop_length)
        real, imag = spectrum[:, : self.n_freq], spectrum[:, self.n_freq:]
        return torch.matmul(self.fbank, real * real + imag * imag)

    def normalise(self, energy: torch.Tensor, smooth: torch.Tensor) -> torch.Tensor:
        """PCEN of energies given their smoothed values (same shapes)."""
        gain = energy / (self.eps + smooth).pow(self.alpha)
        return (gain + self.delta).pow(self.power) - self.delta ** self.power

    def smoothed(self, energy: torch.Tensor) -> torch.Tensor:
        """The causal first-order smoother :math:`M` over frames, started at the first frame's energy."""
        from torchaudio.functional import lfilter

        frames = energy.shape[-1]
        if frames == 0:
            return energy
        s = self.smoothing
        # lfilter from rest, plus the decaying steady-state start (1 - s)^(t+1) · E_0; in float64, an IIR
        e64 = energy.double()
        a = torch.tensor([1.0, -(1.0 - s)], dtype=torch.float64, device=energy.device)
        b = torch.tensor([s, 0.0], dtype=torch.float64, device=energy.device)
        rest = lfilter(e64, a, b, clamp=False)
        decay = (1.0 - s) ** torch.arange(1, frames + 1, dtype=torch.float64, device=energy.device)
        return (rest + decay * e64[..., :1]).to(energy.dtype)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        energy = self.energies(wave)
        return self.normalise(energy, self.smoothed(energy))

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", pcen(s={self.smoothing:g}, alpha={self.alpha:g}, delta={self.delta:g}, "
                f"r={self.power:g})")
