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
    """``nn.Conv1d`` with odd kernel, "same" padding and dilation ``d``, computed on the CPU as an
    undilated convolution of the ``d`` interleaved sub-sequences (space-to-batch).

    A dilated convolution only ever mixes positions ``d`` apart, so splitting the sequence into its
    ``d`` residue classes and convolving each without dilation gives the same result; on the CPU
    this is about twice as fast forward and backward as the dilated kernels (measured for
    SpliceAI's 41/25 units). On other devices, or without dilation, it is ``nn.Conv1d`` itself. The
    parameters are ``nn.Conv1d``'s, so checkpoints do not depend on which path ran.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dilation[0]
        if d == 1 or x.device.type != "cpu":
            return super().forward(x)
        batch, channels, length = x.shape
        padded = -(-length // d) * d
        if padded != length:
            x = nn.functional.pad(x, (0, padded - length))
        folded = x.reshape(batch, channels, padded // d, d).permute(0, 3, 1, 2).reshape(batch * d, channels, -1)
        y = nn.functional.conv1d(folded, self.weight, self.bias, padding=(self.kernel_size[0] - 1) // 2)
        y = y.reshape(batch, d, self.out_channels, padded // d).permute(0, 2, 3, 1).reshape(batch, -1, padded)
        return y[..., :length]


class ResidualUnit(nn.Module):
    """(BatchNorm → ReLU → dilated convolution) × 2, added to its input; length preserved.

    Args:
        channels (int): input and output channels.
        kernel_size (int): odd kernel size ``w``.
        dilation (int): dilation ``d``; the unit sees ``d (w − 1)`` bases on each side.

    Shapes: ``(N, C, L)`` → ``(N, C, L)``.
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        self.channels, self.kernel_size, self.dilation = channels, kernel_size, dilation
        padding = dilation * (kernel_size - 1) // 2
        self.norm1 = nn.BatchNorm1d(channels)
        self.conv1 = DilatedConv1d(channels, channels, kernel_size, dilation=dilation, padding=padding)
        self.norm2 = nn.BatchNorm1d(channels)
        self.conv2 = DilatedConv1d(channels, channels, kernel_size, dilation=dilation, padding=padding)

    @property
    def reach(self) -> int:
        """Bases seen on each side: two convolutions of ``d (w − 1) / 2`` each."""
        return self.dilation * (self.kernel_size - 1)

    def reset_parameters(self) -> None:
        for module in (self.norm1, self.conv1, self.norm2, self.conv2):
            module.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(torch.relu(self.norm1(x)))
        h = self.conv2(torch.relu(self.norm2(h)))
        return x + h

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels}, kernel_size={self.kernel_size}, dilation={self.dilation})"


class SpliceAI(nn.Module):
    """A SpliceAI network from its residual units' ``(kernel size, dilation)`` pairs.

    Args:
        units (sequence of (int, int)): ``(w_i, d_i)`` of each residual unit.
        channels (int, optional): channels ``C`` throughout (default 32, as published).
        skip_every (int, optional): a 1×1 skip connection after every ``skip_every`` units (default 4).

    Attributes:
        context (int): ``CL``, the bases of context consumed: input length = output length + CL.
    """

    def __init__(self, units: Sequence[tuple[int, int]], *, channels: int = 32, skip_every: int = 4,
                 name: str = "SpliceAI") -> None:
        super().__init__()
        self.name = name
        self.channels = channels
        self.input = nn.Conv1d(4, channels, 1)
        self.skip_in = nn.Conv1d(channels, channels, 1)
        self.units = nn.ModuleList(ResidualUnit(channels, w, d) for w, d in units)
        taps = [i for i in range(len(self.units)) if (i + 1) % skip_every == 0 or i + 1 == len(self.units)]
        self.skip_taps = taps
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
        return self.output(skip)

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


def spliceai_80(*, channels: int = 32) -> SpliceAI:
    """SpliceAI-80: 4 residual units (11/1), 80 bases of context."""
    return SpliceAI(SPLICEAI_UNITS["80"], channels=channels, name="SpliceAI-80")


def spliceai_400(*, channels: int = 32) -> SpliceAI:
    """SpliceAI-400: 8 residual units (11/1 ×4, 11/4 ×4), 400 bases of context."""
    return SpliceAI(SPLICEAI_UNITS["400"], channels=channels, name="SpliceAI-400")


def spliceai_2k(*, channels: int = 32) -> SpliceAI:
    """SpliceAI-2k: 12 residual units (… 21/10 ×4), 2,000 bases of context."""
    return SpliceAI(SPLICEAI_UNITS["2k"], channels=channels, name="SpliceAI-2k")


def spliceai_10k(*, channels: int = 32) -> SpliceAI:
    """SpliceAI-10k: 16 residual units (… 41/25 ×4), 10,000 bases of context."""
    return SpliceAI(SPLICEAI_UNITS["10k"], channels=channels, name="SpliceAI-10k")
