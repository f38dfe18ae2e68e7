"""SpliceAI: deep dilated residual convolutional networks that mark splice sites base by base.

Jaganathan et al., "Predicting Splicing from Primary Sequence with Deep Learning", Cell 176 (2019).

A window of ``SL + CL`` one-hot bases ``x ∈ R^{4×(SL+CL)}`` (N = all zeros) goes through::

    h_0 = W_in x                                          (1×1 convolution, 4 → C channels)
    s   = W_s h_0                                         (1×1 skip convolution)
    h_i = h_{i-1} + conv_{w_i,d_i}(ReLU(BN(conv_{w_i,d_i}(ReLU(BN(h_{i-1}))))))   (residual unit i)
    s   = s + W_i h_i        after every 4th unit and after the last
    y   = softmax(W_out crop_{CL/2}(s)) ∈ R^{3×SL}          (none, acceptor, donor)

where ``conv_{w,d}`` has kernel size ``w`` and dilation ``d`` (zero "same" padding). The context is
``CL = 2 Σ_i d_i (w_i − 1)``: every output sees ``CL/2`` bases on each side. The published
variants, all with ``C = 32`` channels:

============  =====  ==========================================================
model         CL     residual units (kernel / dilation)
============  =====  ==========================================================
SpliceAI-80   80     11/1 ×4
SpliceAI-400  400    11/1 ×4, 11/4 ×4
SpliceAI-2k   2000   11/1 ×4, 11/4 ×4, 21/10 ×4
SpliceAI-10k  10000  11/1 ×4, 11/4 ×4, 21/10 ×4, 41/25 ×4
============  =====  ==========================================================

Shapes: input ``(N, 4, SL + CL)`` float, output ``(N, 3, SL)`` logits (the softmax is applied by the
loss and by :meth:`SpliceAI.probabilities`).

Two arguments exist so that published weights run exactly as they were trained: ``eps``, the
BatchNorm epsilon (torch's 1e-5 by default, which every sciarch-trained checkpoint used; Keras,
hence Illumina's SpliceAI models, uses 1e-3, and using the wrong one moves probabilities by up to
0.04), and ``negative_slope``, the slope of a leaky ReLU (0: ReLU as published; OpenSpliceAI uses
0.1). ``temperature`` divides the logits per class (OpenSpliceAI's calibrated checkpoints).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

SPLICEAI_UNITS: dict[str, tuple[tuple[int, int], ...]] = {
    "80": ((11, 1),) * 4,
    "400": ((11, 1),) * 4 + ((11, 4),) * 4,
    "2k": ((11, 1),) * 4 + ((11, 4),) * 4 + ((21, 10),) * 4,
    "10k": ((11, 1),) * 4 + ((11, 4),) * 4 + ((21, 10),) * 4 + ((41, 25),) * 4,
}


class DilatedConv1d(nn.Conv1d):
    """``nn.Conv1d`` with odd kernel, "same" padding and dilation ``d``; when training on the CPU,
    computed as an undilated convolution of the ``d`` interleaved sub-sequences (space-to-batch).

    A dilated convolution only ever mixes positions ``d`` apart, so splitting the sequence into its
    ``d`` residue classes and convolving each without dilation gives the same result; on the CPU
    this is about twice as fast forward and backward as the dilated kernels (measured for
    SpliceAI's 41/25 units). Without gradients the plain dilated ``nn.Conv1d`` is the faster one
    (SpliceAI-10k, one thread, batch 4 × 5,000: 18.0–19.6k against 14.0–16.3k positions per
    CPU-second), so it runs there, as on other devices and without dilation. (In eval mode
    :class:`SpliceAI` skips this module's forward altogether: see ``SpliceAI._forward_trimmed``.)
    The parameters are ``nn.Conv1d``'s, so checkpoints do not depend on which path ran.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dilation[0]
        if d == 1 or x.device.type != "cpu" or not torch.is_grad_enabled():
            return super().forward(x)
        batch, channels, length = x.shape
        padded = -(-length // d) * d
        if padded != length:
            x = nn.functional.pad(x, (0, padded - length))
        folded = x.reshape(batch, channels, padded // d, d).permute(0, 3, 1, 2).reshape(batch * d, channels, -1)
        y = nn.functional.conv1d(folded, self.weight, self.bias, padding=(self.kernel_size[0] - 1) // 2)
        y = y.reshape(batch, d, self.out_channels, padded // d).permute(0, 2, 3, 1).reshape(batch, -1, padded)
        return y[..., :length]


def _conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int = 1) -> torch.Tensor:
    """A 1-D convolution's ``weight (out, in, k)`` without padding on ``(N, C, 1, L)``, as a channels-last 2-D one,
    which oneDNN runs 1.4–2.2× faster on the CPU than ``conv1d``'s (N, C, L) layout (measured, one
    thread, SpliceAI's 11/1 … 41/25 shapes)."""
    if weight.shape[-1] == 1:  # 1×1: a matrix product over the (N·L, C) rows of the channels-last tensor
        n, c, _, length = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n * length, c)
        y = torch.addmm(bias, rows, weight[..., 0].t()) if bias is not None else rows @ weight[..., 0].t()
        return y.view(n, 1, length, -1).permute(0, 3, 1, 2)
    weight = weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)  # slices of the trunk: oneDNN wants them dense
    return nn.functional.conv2d(x, weight, bias, dilation=(1, dilation))


def _norm2d(norm: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    return nn.functional.batch_norm(x, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0,
                                    norm.eps)


class ResidualUnit(nn.Module):
    """(BatchNorm → ReLU → dilated convolution) × 2, added to its input; length preserved.

    Args:
        channels (int): input and output channels.
        kernel_size (int): odd kernel size ``w``.
        dilation (int): dilation ``d``; the unit sees ``d (w − 1)`` bases on each side.
        eps (float, optional): BatchNorm epsilon (default torch's 1e-5; Keras SpliceAI: 1e-3).
        negative_slope (float, optional): leaky ReLU slope (default 0: ReLU; OpenSpliceAI: 0.1).

    Shapes: ``(N, C, L)`` → ``(N, C, L)``.
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int, *, eps: float = 1e-5,
                 negative_slope: float = 0.0) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        self.channels, self.kernel_size, self.dilation = channels, kernel_size, dilation
        self.negative_slope = float(negative_slope)
        padding = dilation * (kernel_size - 1) // 2
        self.norm1 = nn.BatchNorm1d(channels, eps=eps)
        self.conv1 = DilatedConv1d(channels, channels, kernel_size, dilation=dilation, padding=padding)
        self.norm2 = nn.BatchNorm1d(channels, eps=eps)
        self.conv2 = DilatedConv1d(channels, channels, kernel_size, dilation=dilation, padding=padding)

    @property
    def reach(self) -> int:
        """Bases seen on each side: two convolutions of ``d (w − 1) / 2`` each."""
        return self.dilation * (self.kernel_size - 1)

    def reset_parameters(self) -> None:
        for module in (self.norm1, self.conv1, self.norm2, self.conv2):
            module.reset_parameters()

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x) if not self.negative_slope else nn.functional.leaky_relu(x, self.negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self._act(self.norm1(x)))
        h = self.conv2(self._act(self.norm2(h)))
        return x + h

    def forward_valid(self, x: torch.Tensor) -> torch.Tensor:
        """The unit without padding on a ``(N, C, 1, L)`` channels-last tensor: → ``(N, C, 1, L − 2·reach)``,
        equal to :meth:`forward` on the positions whose view lies inside ``x`` (BatchNorm in eval mode)."""
        d = self.dilation
        # BatchNorm 2 is affine in eval mode and follows conv 1 directly: fold it into conv 1's weights
        scale = self.norm2.weight / torch.sqrt(self.norm2.running_var + self.norm2.eps)
        weight = self.conv1.weight * scale[:, None, None]
        bias = (self.conv1.bias - self.norm2.running_mean) * scale + self.norm2.bias
        h = _conv2d(self._act_(_norm2d(self.norm1, x)), weight, bias, d)
        h = _conv2d(self._act_(h), self.conv2.weight, self.conv2.bias, d)
        r = self.reach
        return h.add_(x[..., r:x.shape[-1] - r])

    def _act_(self, x: torch.Tensor) -> torch.Tensor:
        return x.relu_() if not self.negative_slope else nn.functional.leaky_relu_(x, self.negative_slope)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels}, kernel_size={self.kernel_size}, dilation={self.dilation})"


def skip_taps(units: int, every: int = 4) -> list[int]:
    """The units whose output a 1×1 skip convolution adds to SpliceAI's skip sum: every
    ``every``-th and the last."""
    return [i for i in range(units) if (i + 1) % every == 0 or i + 1 == units]


class SpliceAI(nn.Module):
    """A SpliceAI network from its residual units' ``(kernel size, dilation)`` pairs.

    Args:
        units (sequence of (int, int)): ``(w_i, d_i)`` of each residual unit.
        channels (int, optional): channels ``C`` throughout (default 32, as published).
        skip_every (int, optional): a 1×1 skip connection after every ``skip_every`` units (default 4).
        eps (float, optional): BatchNorm epsilon (default 1e-5, torch's; Keras SpliceAI: 1e-3).
        negative_slope (float, optional): leaky ReLU slope in the residual units (default 0: ReLU).
        temperature (sequence of 3 floats, optional): divide the logits by these, per class.

    Attributes:
        context (int): ``CL``, the bases of context consumed: input length = output length + CL.
    """

    def __init__(self, units: Sequence[tuple[int, int]], *, channels: int = 32, skip_every: int = 4,
                 name: str = "SpliceAI", eps: float = 1e-5, negative_slope: float = 0.0,
                 temperature: Sequence[float] | None = None) -> None:
        super().__init__()
        self.name = name
        self.channels = channels
        self.input = nn.Conv1d(4, channels, 1)
        self.skip_in = nn.Conv1d(channels, channels, 1)
        self.units = nn.ModuleList(ResidualUnit(channels, w, d, eps=eps, negative_slope=negative_slope)
                                   for w, d in units)
        if temperature is not None and len(temperature) != 3:
            raise ValueError(f"temperature needs one value per class (3), got {list(temperature)}")
        self.temperature = None if temperature is None else tuple(float(t) for t in temperature)
        self.skip_taps = taps = skip_taps(len(self.units), skip_every)
        self.skips = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in taps)
        self.output = nn.Conv1d(channels, 3, 1)
        self.context = 2 * sum(u.reach for u in self.units)

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] <= self.context:
            raise ValueError(f"{self.name} needs more than {self.context} bases (its context), got {x.shape[-1]}")
        if not self.training:
            return self._forward_trimmed(x)
        h = self.input(x)
        skip = self.skip_in(h)
        tap = iter(zip(self.skip_taps, self.skips, strict=True))
        next_tap = next(tap, None)
        for i, unit in enumerate(self.units):
            h = unit(h)
            if next_tap is not None and next_tap[0] == i:
                skip = skip + next_tap[1](h)
                next_tap = next(tap, None)
        half = self.context // 2
        if half:
            skip = skip[..., half:-half]
        logits = self.output(skip)
        if self.temperature is not None:
            logits = logits / logits.new_tensor(self.temperature).view(1, 3, 1)
        return logits

    def _forward_trimmed(self, x: torch.Tensor) -> torch.Tensor:
        """Inference computing only what the output sees: each unit runs unpadded ("valid") on the
        positions still within reach of the output, and the skip sum only on the output positions,
        in a channels-last ``(N, C, 1, L)`` layout. The same numbers as the padded graph (whose
        padded edges the output never sees), with about a quarter less work for SpliceAI-10k on
        SL = 5000 (its 41/25 units see 5–12k positions, not 15k). Only in eval mode: in training,
        BatchNorm's batch statistics would change."""
        half = self.context // 2
        out = x.shape[-1] - self.context
        h = _conv2d(x.unsqueeze(2).contiguous(memory_format=torch.channels_last), self.input.weight, self.input.bias)
        skip = _conv2d(h[..., half:half + out], self.skip_in.weight, self.skip_in.bias)
        taps = dict(zip(self.skip_taps, self.skips, strict=True))
        used = 0
        for i, unit in enumerate(self.units):
            h = unit.forward_valid(h)
            used += unit.reach
            if i in taps:
                skip = skip + _conv2d(h[..., half - used:half - used + out], taps[i].weight, taps[i].bias)
        logits = _conv2d(skip, self.output.weight, self.output.bias).squeeze(2).contiguous()
        if self.temperature is not None:
            logits = logits / logits.new_tensor(self.temperature).view(1, 3, 1)
        return logits

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax over (none, acceptor, donor): ``(N, 3, L − CL)``."""
        return torch.softmax(self(x), dim=1)

    def describe(self) -> str:
        params = sum(p.numel() for p in self.parameters())
        return f"{self.name}: {len(self.units)} residual units, {self.channels} channels, context {self.context}, " \
               f"{params:,} parameters"

    def __repr__(self) -> str:
        return f"{self.name}(channels={self.channels}, units={len(self.units)}, context={self.context})"


def _variant(size: str, channels: int, eps: float, negative_slope: float,
             temperature: Sequence[float] | None) -> SpliceAI:
    return SpliceAI(SPLICEAI_UNITS[size], channels=channels, name=f"SpliceAI-{size}", eps=eps,
                    negative_slope=negative_slope, temperature=temperature)


def spliceai_80(*, channels: int = 32, eps: float = 1e-5, negative_slope: float = 0.0,
                temperature: Sequence[float] | None = None) -> SpliceAI:
    """SpliceAI-80: 4 residual units (11/1), 80 bases of context."""
    return _variant("80", channels, eps, negative_slope, temperature)


def spliceai_400(*, channels: int = 32, eps: float = 1e-5, negative_slope: float = 0.0,
                 temperature: Sequence[float] | None = None) -> SpliceAI:
    """SpliceAI-400: 8 residual units (11/1 ×4, 11/4 ×4), 400 bases of context."""
    return _variant("400", channels, eps, negative_slope, temperature)


def spliceai_2k(*, channels: int = 32, eps: float = 1e-5, negative_slope: float = 0.0,
                temperature: Sequence[float] | None = None) -> SpliceAI:
    """SpliceAI-2k: 12 residual units (… 21/10 ×4), 2,000 bases of context."""
    return _variant("2k", channels, eps, negative_slope, temperature)


def spliceai_10k(*, channels: int = 32, eps: float = 1e-5, negative_slope: float = 0.0,
                 temperature: Sequence[float] | None = None) -> SpliceAI:
    """SpliceAI-10k: 16 residual units (… 41/25 ×4), 10,000 bases of context."""
    return _variant("10k", channels, eps, negative_slope, temperature)
