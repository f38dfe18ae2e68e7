"""WaveNet-style keyword spotter: gated, dilated causal convolutions with residual and skip paths.

From Coucke et al. 2019, "Efficient keyword spotting using dilated convolutions and gating"
(ICASSP, arXiv:1811.07684), after WaveNet (van den Oord et al. 2016, arXiv:1609.03499). Each
layer :math:`l` with dilation :math:`d_l` computes, on the residual stream :math:`x`,

.. math::

    z = \\tanh(W_f *_{d_l} x) \\odot \\sigma(W_g *_{d_l} x), \\qquad
    x \\leftarrow x + W_r z, \\qquad s \\leftarrow s + W_s z

where :math:`*_d` is a causal convolution with dilation :math:`d` (kernel :math:`k`, so it sees
:math:`(k-1)d` past frames), and the summed skip outputs :math:`s` go through
ReLU → 1×1 convolution → ReLU → 1×1 convolution to one score per class per frame. Dilations cycle
1, 2, 4, 8 over 24 layers by default, so the receptive field is
:math:`1 + (k_0 - 1) + \\sum_l (k - 1) d_l` = 183 frames (1.85 s) with kernels of 3.

Shapes: waveform ``(B, T)`` → log-mel ``(B, n_mels, T/160)`` → scores ``(B, num_classes, T/160)``;
every output frame depends only on audio already heard, which is what lets
:mod:`sciarch_keywords.streaming` run the same weights one 10 ms hop at a time.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .frontend import build_frontend


class CausalConv1d(nn.Conv1d):
    """A 1-D convolution padded on the left only, so output frame t sees inputs t-(k-1)d … t."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left, 0)))


class GatedResidualLayer(nn.Module):
    """One WaveNet layer: dilated causal convolution, tanh ⊙ sigmoid gate, residual and skip 1×1s.

    Args:
        residual_channels (int): width of the residual stream :math:`x`.
        gate_channels (int): width of the gated activation :math:`z`.
        skip_channels (int): width of the skip sum :math:`s`.
        kernel_size (int): taps of the dilated convolution.
        dilation (int): spacing of the taps in frames.
        dropout (float): dropout on :math:`z` during training.

    Shapes: ``(B, residual, T)`` → ``(B, residual, T)`` and ``(B, skip, T)``.
    """

    def __init__(self, residual_channels: int, gate_channels: int, skip_channels: int, kernel_size: int,
                 dilation: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dilated = CausalConv1d(residual_channels, 2 * gate_channels, kernel_size, dilation)
        self.residual = nn.Conv1d(gate_channels, residual_channels, 1)
        self.skip = nn.Conv1d(gate_channels, skip_channels, 1)
        self.dropout = nn.Dropout(dropout)
        self.kernel_size, self.dilation = kernel_size, dilation

    @property
    def cache_length(self) -> int:
        """Past input frames a streaming step must keep: :math:`(k-1)d`."""
        return (self.kernel_size - 1) * self.dilation

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        filt, gate = self.dilated(x).chunk(2, dim=1)
        z = self.dropout(torch.tanh(filt) * torch.sigmoid(gate))
        return x + self.residual(z), self.skip(z)

    def extra_repr(self) -> str:
        return f"dilation={self.dilation}, kernel_size={self.kernel_size}"


class WaveNetKWS(nn.Module):
    """Gated dilated causal CNN over log-mel frames with one score per class per frame.

    Args:
        num_classes (int): classes scored per frame (filled from the data).
        n_mels (int): mel bands of the front end (default 40).
        residual_channels (int): residual stream width (default 16).
        gate_channels (int): gated activation width (default 32).
        skip_channels (int): skip sum width (default 32).
        head_channels (int): width of the 1×1 layer before the class scores (default 64).
        layers (int): gated layers (default 24).
        dilations (list[int]): dilations cycled over the layers (default 1, 2, 4, 8).
        kernel_size (int): taps of each dilated convolution (default 3).
        input_kernel_size (int): taps of the first causal convolution (default 3).
        dropout (float): dropout on gated activations during training.
        sample_rate, win_length, hop_length, f_min, f_max: the log-mel front end.
        frontend (str): ``log-mel`` (default), ``pcen`` (per-channel energy normalisation of the
            same mel energies) or ``speech-embedding`` (frozen openWakeWord encoder, 96 channels every
            80 ms, installed separately: :mod:`sciarch_keywords.embedding`; ``n_mels`` is then 96).
        embedding_models (str): folder of the speech-embedding ONNX files (default: the installed
            openwakeword package).
    """

    frame_level = True

    def __init__(self, num_classes: int, n_mels: int = 40, residual_channels: int = 16, gate_channels: int = 32,
                 skip_channels: int = 32, head_channels: int = 64, layers: int = 24,
                 dilations: tuple[int, ...] = (1, 2, 4, 8), kernel_size: int = 3, input_kernel_size: int = 3,
                 dropout: float = 0.0, sample_rate: int = 16000, win_length: int = 400, hop_length: int = 160,
                 f_min: float = 20.0, f_max: float = 7600.0, frontend: str = "log-mel",
                 embedding_models: str | None = None) -> None:
        super().__init__()
        if layers < 1 or not dilations or any(d < 1 for d in dilations):
            raise ValueError("need at least one layer and positive dilations")
        self.num_classes = num_classes
        self.frontend_name = frontend
        self.frontend = build_frontend(frontend, sample_rate=sample_rate, win_length=win_length,
                                       hop_length=hop_length, n_mels=n_mels, f_min=f_min, f_max=f_max,
                                       embedding_models=embedding_models)
        n_mels = self.frontend.n_mels
        # a fixed per-band affine at inference (BatchNorm in eval mode), so it streams frame by frame
        self.input_norm = nn.BatchNorm1d(n_mels)
        self.input_conv = CausalConv1d(n_mels, residual_channels, input_kernel_size)
        self.layers = nn.ModuleList(
            GatedResidualLayer(residual_channels, gate_channels, skip_channels, kernel_size,
                               dilations[i % len(dilations)], dropout) for i in range(layers))
        self.head_hidden = nn.Conv1d(skip_channels, head_channels, 1)
        self.head_out = nn.Conv1d(head_channels, num_classes, 1)

    @property
    def receptive_field(self) -> int:
        """Frames of log-mel input that one output frame depends on."""
        return 1 + self.input_conv.left + sum(layer.cache_length for layer in self.layers)

    @property
    def receptive_field_seconds(self) -> float:
        """The receptive field in seconds of audio (frames plus the window of the first frame)."""
        fe = self.frontend
        return ((self.receptive_field - 1) * fe.hop_length + fe.win_length) / fe.sample_rate

    def forward_features(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, T)`` log-mel to ``(B, num_classes, T)`` scores (logits)."""
        x = self.input_conv(self.input_norm(features))
        skip = torch.zeros((), dtype=x.dtype, device=x.device)
        for layer in self.layers:
            x, s = layer(x)
            skip = skip + s
        return self.head_out(F.relu(self.head_hidden(F.relu(skip))))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` waveform at 16 kHz to ``(B, num_classes, T // hop)`` logits."""
        return self.forward_features(self.frontend(wave))

    def macs_per_frame(self) -> int:
        """Multiply-accumulates per output frame, front end included."""
        fe = self.frontend
        total = fe.basis.shape[0] * fe.win_length + fe.fbank.numel() if hasattr(fe, "basis") else 0
        for module in self.modules():
            if isinstance(module, nn.Conv1d) and module is not self:
                total += module.in_channels * module.out_channels * module.kernel_size[0]
        return total

    def describe(self) -> str:
        """Layers, parameters, receptive field and cost, printed when training starts."""
        params = sum(p.numel() for p in self.parameters())
        dilations = [layer.dilation for layer in self.layers]
        cycle = dilations[: next((i for i in range(1, len(dilations)) if dilations[i] == dilations[0]), len(dilations))]
        front = ("" if self.frontend_name == "log-mel" else
                 f"{self.frontend_name} front end ({self.frontend.n_mels} channels every "
                 f"{1000 * self.frontend.hop_length / self.frontend.sample_rate:.0f} ms; "
                 f"{'frozen, MACs of the head only' if self.frontend_name == 'speech-embedding' else 'PCEN'}), ")
        return (f"WaveNetKWS: {front}{len(self.layers)} gated layers, dilations {cycle} cycled, "
                f"residual {self.input_conv.out_channels}, gate {self.layers[0].residual.in_channels}, "
                f"skip {self.layers[0].skip.out_channels}, {params:,} parameters; receptive field "
                f"{self.receptive_field} frames = {self.receptive_field_seconds:.3f} s; "
                f"{self.macs_per_frame() / 1e3:.0f}k MACs per "
                f"{1000 * self.frontend.hop_length / self.frontend.sample_rate:.0f} ms frame")


def wavenet_kws(num_classes: int, n_mels: int = 40, residual_channels: int = 16, gate_channels: int = 32,
                skip_channels: int = 32, head_channels: int = 64, layers: int = 24,
                dilations: list[int] | None = None, kernel_size: int = 3, input_kernel_size: int = 3,
                dropout: float = 0.0, frontend: str = "log-mel", embedding_models: str | None = None) -> WaveNetKWS:
    """The WaveNet keyword spotter (Coucke et al. 2019); ``num_classes`` comes from the data.

    ``layers`` gated layers with dilations cycling through ``dilations`` (default 1, 2, 4, 8; 24
    layers give a receptive field of 183 frames, 1.845 s), kernels of ``kernel_size`` taps, a
    residual stream of ``residual_channels``, gates of ``gate_channels`` and a skip sum of
    ``skip_channels`` feeding a 1×1 head of ``head_channels``; ``n_mels`` log-mel bands in.
    ``frontend``: ``log-mel``, ``pcen`` or ``speech-embedding`` (see :class:`WaveNetKWS`).
    """
    return WaveNetKWS(num_classes, n_mels, residual_channels, gate_channels, skip_channels, head_channels, layers,
                      tuple(dilations or (1, 2, 4, 8)), kernel_size, input_kernel_size, dropout,
                      frontend=frontend, embedding_models=embedding_models)
