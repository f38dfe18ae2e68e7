"""A bidirectional diagonal state-space model (S4D) for splice sites at long context.

Gu, Gupta, Goel and Ré, "On the Parameterization and Initialization of Diagonal State Space
Models" (S4D), NeurIPS 2022; the bidirectional layer of Gu, Goel and Ré, "Efficiently Modeling
Long Sequences with Structured State Spaces" (S4), ICLR 2022.

Each channel ``h`` of a layer is a linear time-invariant system ``x'(t) = A x(t) + B u(t)``,
``y(t) = Re(C x(t)) + D u(t)`` with diagonal complex ``A = diag(−exp(a) + iθ)`` (S4D-Lin
initialisation: ``−1/2 + iπn``), discretised by zero-order hold with a learned step ``Δ_h``. Unrolled
over a sequence it is a convolution with the kernel

    K_h[l] = 2 Re( Σ_n C_n (exp(Δ A_n) − 1) / A_n · exp(Δ A_n · l) ),   l = 0 … L−1

— an infinite-impulse-response filter whose modes decay slowly, where a CNN is a finite one. The
bidirectional layer adds a second kernel run backwards along the sequence, and both are applied
at once by FFT convolution in ``O(L log L)``: no context limit but memory. The kernel is built from
one block of ``kernel_chunk`` powers ``λ^l`` shared by every chunk of the sequence, so a
layer at 100 kb+ of context needs ``O(H·L + H·N·chunk)`` memory, not ``O(H·N·L)``.

A block is ``x + Dropout(GLU(W · Dropout(GELU(S4D(LayerNorm(x))))))``. The model embeds one-hot
bases with a 1×1 convolution, optionally passes them through a front of SpliceAI residual units
(the hybrid: local motifs from the CNN, long range from the SSM), stacks ``n_layers`` blocks,
crops ``context/2`` from each end and scores (none, acceptor, donor) per base.

The front is either ``front_units`` undilated units (11/1, SpliceAI-80's: ±40 bases) or, with
``front="400"``, SpliceAI-400's dilated stack (11/1 ×4 then 11/4 ×4, Jaganathan et al. 2019: ±200
bases), so that the convolutions resolve what splicing reads within a couple of hundred bases
(branch point and tract, the exon-definition partner of a site 50–300 nt across the exon) and the
S4D layers are left the long range: the division of labour of the convolution + SSM hybrids for
DNA (Caduceus's and HyenaDNA's short convolutions before the long-range operator, Schiff et al.
2024, Nguyen et al. 2023; H3's shift SSM before its diagonal one, Fu et al. 2023), where the local
filters here are SpliceAI's own.

Shapes: input ``(N, 4, SL + context)``, output ``(N, 3, SL)`` logits.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .spliceai import SPLICEAI_UNITS, ResidualUnit, skip_taps


def front_units_of(front: str | int | list | None, units: int, kernel: int) -> list[tuple[int, int]]:
    """``(kernel, dilation)`` of the hybrid's residual front: a SpliceAI variant's units (``"80"``,
    ``"400"``, …), an explicit list of pairs, or (``front`` None) ``units`` undilated ``kernel``-wide ones."""
    if front is None:
        return [(kernel, 1)] * units
    if isinstance(front, (str, int)):  # `--set model.args.front=400` arrives as a number
        front = str(front)
        if front not in SPLICEAI_UNITS:
            raise ValueError(f"front must be one of {sorted(SPLICEAI_UNITS)} or a list of [kernel, dilation], "
                             f"got {front!r}")
        return list(SPLICEAI_UNITS[front])
    return [(int(k), int(d)) for k, d in front]


def next_fast_length(n: int) -> int:
    """The smallest 2^a·3^b·5^c ≥ n (FFT sizes that pocketfft and cuFFT handle fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p2 = p35
            while p2 < n:
                p2 *= 2
            best = min(best, p2)
            p35 *= 3
        p5 *= 5
    return best


class S4DKernel(nn.Module):
    """Convolution kernels of a diagonal SSM, one per channel (and per direction).

    Args:
        channels (int): ``H``, independent SSMs.
        state (int): ``N``, state size; ``N/2`` complex-conjugate modes are kept.
        directions (int): 1 (causal) or 2 (bidirectional: a second kernel for the reverse direction).
        dt_min (float), dt_max (float): range of the log-uniform initial step ``Δ``; a smaller step
            decays more slowly (``1/Δ`` positions), so ``dt_min`` sets the longest initial memory.
        kernel_chunk (int): length of the block of powers ``λ^l`` shared by all chunks of the kernel.
        ssm_lr (float | None): learning rate of ``Δ`` and ``A`` with no weight decay, in their own
            optimizer group (S4 and S4D practice: Gu et al. 2022 train these at 1e-3 and without weight
            decay whatever the rest of the network uses, as a large step on ``Δ`` or ``A`` moves every
            kernel at once); None: the recipe's optimizer settings, like every other parameter.
        unit_energy (bool): divide each channel's kernel by ``sqrt(Δ)``. Under zero-order hold the
            kernel's energy ``Σ_l K[l]²`` is proportional to ``Δ`` (``B̄ ≈ Δ`` over ``~1/Δ`` positions), so a
            channel that remembers 5,000 bases answers a 60-base motif ~1,000× more weakly than one that
            remembers 5; with the division every channel starts with energy of order one whatever its
            reach, and white input of unit variance gives output of unit variance on every channel.

    Shapes: ``forward(L)`` → ``(directions, H, L)``.
    """

    def __init__(self, channels: int, state: int = 64, *, directions: int = 2, dt_min: float = 1e-4,
                 dt_max: float = 1e-1, kernel_chunk: int = 2048, ssm_lr: float | None = None,
                 unit_energy: bool = False) -> None:
        super().__init__()
        if state % 2:
            raise ValueError(f"state must be even (complex-conjugate pairs), got {state}")
        self.channels, self.state, self.directions = channels, state, directions
        self.dt_min, self.dt_max, self.kernel_chunk = dt_min, dt_max, kernel_chunk
        self.unit_energy = unit_energy
        modes = state // 2
        self.log_dt = nn.Parameter(torch.empty(channels))
        self.log_a_real = nn.Parameter(torch.empty(channels, modes))
        self.a_imag = nn.Parameter(torch.empty(channels, modes))
        self.c = nn.Parameter(torch.empty(directions, channels, modes, 2))
        if ssm_lr is not None:  # read by sciarch's optimizer set-up (core/optim.py, param_groups)
            for p in (self.log_dt, self.log_a_real, self.a_imag):
                p._optim = {"lr": ssm_lr, "weight_decay": 0.0}
        self.reset_parameters()

    def reset_parameters(self) -> None:
        modes = self.state // 2
        with torch.no_grad():
            self.log_dt.copy_(torch.rand(self.channels) * (math.log(self.dt_max) - math.log(self.dt_min))
                              + math.log(self.dt_min))
            self.log_a_real.fill_(math.log(0.5))
            self.a_imag.copy_(math.pi * torch.arange(modes).float().expand(self.channels, modes))
            self.c.normal_(0.0, 0.5 ** 0.5)

    def forward(self, length: int) -> torch.Tensor:
        # K_h[jc + l] = 2 Re( Σ_n (C_n B̄_n λ_n^{jc}) λ_n^l ): one Vandermonde block λ^l (l < c), shared by
        # every chunk j, with the chunk's offset λ^{jc} folded into the small coefficient tensor; then the
        # whole kernel is a single real batched matmul and complex exponentials are taken only on (H, N/2)
        chunk = min(self.kernel_chunk, length)
        chunks = -(-length // chunk)
        dt = torch.exp(self.log_dt.double()).unsqueeze(-1)  # (H, 1)
        a = torch.complex(-torch.exp(self.log_a_real.double()), self.a_imag.double())  # (H, M)
        dta = dt * a
        c = torch.view_as_complex(self.c.double().contiguous())  # (D, H, M)
        coef = c * (torch.exp(dta) - 1) / a  # zero-order hold with B = 1
        if self.unit_energy:  # energy Σ K² ∝ Δ under zero-order hold: make it O(1) on every channel
            coef = coef / dt.sqrt()
        offsets = torch.arange(chunks, device=a.device, dtype=torch.float64) * chunk
        shifted = coef.unsqueeze(-1) * torch.exp(dta.unsqueeze(-1) * offsets)  # (D, H, M, J)
        positions = torch.arange(chunk, device=a.device, dtype=torch.float32)
        decay = torch.exp(dta.real.float().unsqueeze(-1) * positions)  # (H, M, c)
        angle = dta.imag.float().unsqueeze(-1) * positions
        base_re, base_im = decay * torch.cos(angle), decay * torch.sin(angle)
        d, h, m, j = shifted.shape
        coef_re = shifted.real.float().permute(1, 0, 3, 2).reshape(h, d * j, m)
        coef_im = shifted.imag.float().permute(1, 0, 3, 2).reshape(h, d * j, m)
        kernel = 2 * (torch.bmm(coef_re, base_re) - torch.bmm(coef_im, base_im))  # (H, D·J, c)
        return kernel.reshape(h, d, j * chunk)[..., :length].permute(1, 0, 2)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(channels={self.channels}, state={self.state}, directions={self.directions})"


def fft_convolution(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``y[t] = Σ_s K_f[t−s] u[s] + Σ_{s>t} K_b[s−t−1] u[s]`` by FFT; ``u (B, H, L)``, ``kernel (D, H, L)``."""
    length = u.shape[-1]
    n = next_fast_length(2 * length)
    full = u.new_zeros(kernel.shape[1], n)
    full[:, :length] = kernel[0]
    if kernel.shape[0] == 2:  # the backward kernel sits at the end, wrapping round to negative lags
        full[:, n - length:] = full[:, n - length:] + kernel[1].flip(-1)
    spectrum = torch.fft.rfft(u.float(), n=n) * torch.fft.rfft(full.float(), n=n)
    return torch.fft.irfft(spectrum, n=n)[..., :length].to(u.dtype)


class S4DBlock(nn.Module):
    """Pre-norm residual block around a (bidirectional) S4D layer with a gated output.

    Args:
        d_model (int): channels ``H``.
        state (int): SSM state size ``N``.
        dropout (float): dropout after the activation and after the gated projection.
        bidirectional (bool): two kernels, forwards and backwards along the sequence.
        zero_init (bool): the gated output projection starts at zero, so the block starts as the identity
            (the zero-initialised last layer of a residual branch: Goyal et al. 2017, Bachlechner et al.
            2021's ReZero); the hybrid then starts as its convolutional front with a head.

    Shapes: ``(B, H, L)`` → ``(B, H, L)``.
    """

    def __init__(self, d_model: int, state: int = 64, *, dropout: float = 0.1, bidirectional: bool = True,
                 dt_min: float = 1e-4, dt_max: float = 1e-1, kernel_chunk: int = 2048,
                 ssm_lr: float | None = None, zero_init: bool = False, unit_energy: bool = False) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.kernel = S4DKernel(d_model, state, directions=2 if bidirectional else 1, dt_min=dt_min,
                                dt_max=dt_max, kernel_chunk=kernel_chunk, ssm_lr=ssm_lr, unit_energy=unit_energy)
        self.skip = nn.Parameter(torch.randn(d_model))
        self.output = nn.Conv1d(d_model, 2 * d_model, 1)
        if zero_init:  # the block starts as the identity (GLU(0) = 0); its output weights still get gradient
            nn.init.zeros_(self.output.weight)
            nn.init.zeros_(self.output.bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.norm(x.transpose(1, 2)).transpose(1, 2)
        y = fft_convolution(z, self.kernel(z.shape[-1])) + z * self.skip.unsqueeze(-1)
        y = self.dropout(F.gelu(y))
        y = F.glu(self.output(y), dim=1)
        return x + self.dropout(y)


class SpliceSSM(nn.Module):
    """Bidirectional S4D network for splice sites (optionally with a SpliceAI residual front).

    Args:
        context (int): bases of context cropped from the output (``context/2`` each side); unlike a
            CNN's, an SSM's reach is not fixed by its layers, so this follows the data.
        d_model (int): channels ``H``.
        n_layers (int): S4D blocks.
        state (int): SSM state size ``N`` per channel.
        front_units (int): SpliceAI residual units (kernel ``front_kernel``, dilation 1) before the
            SSM blocks; 0 for a pure SSM.
        front (str | int | list | None): instead of ``front_units``, the front's units by SpliceAI variant
            (``"400"``: 11/1 ×4, 11/4 ×4, ±200 bases) or as ``[[kernel, dilation], …]``.
        dropout (float): dropout inside the blocks.
        dt_min, dt_max, kernel_chunk, ssm_lr, unit_energy: as :class:`S4DKernel`.
        zero_init (bool): as :class:`S4DBlock`.
        skip_sum (bool): SpliceAI's own output path instead of LayerNorm + head: 1×1 skip
            convolutions from the embedding and every 4th front unit (and the last) summed, the S4D
            blocks' output added to that sum through a 1×1 convolution that starts at zero, and a
            1×1 output. At initialisation the network is then exactly a SpliceAI network with the
            front's units, which the S4D blocks can only add to.
        skip_delta (bool): with ``skip_sum``, the zero-initialised 1×1 reads only what the S4D blocks
            added to the front's output (``h − front(h)``), not ``h`` itself: the front's last unit is
            already read by the last skip tap, and through ``h`` that 1×1 would learn a second copy of
            it rather than what the blocks bring.
        ssm_out_init (str): with ``skip_sum``, the initial weights of the 1×1 that adds the S4D blocks to
            the skip sum: ``"zero"`` (the network starts as SpliceAI with the front's units) or
            ``"default"`` (PyTorch's, as the skip 1×1s). At 3 epochs on the simulated genome the
            weights move little from their start (Adam at 2e-3: the skip 1×1s go from a mean |w| of
            0.125 to 0.115), and a zero start stays near zero (0.006–0.010 after training), so the
            blocks then add almost nothing.
        block_lr (float | None): learning rate (in an optimizer group of its own) of every other parameter
            of the S4D blocks and, with ``skip_sum``, of the 1×1 that adds them to the skip sum; Δ and A
            keep ``ssm_lr`` where that is set. None: the recipe's settings.
        ssm_reads_skip (bool): with ``skip_sum``, the S4D blocks read the front's output plus the skip
            sum so far (the features the local site scores are a 1×1 of), so that a long-range rule
            about sites (a donor 50–300 bases downstream of an acceptor, exon definition) is a kernel
            over channels that already score sites, not over features still to be learnt.

    Shapes: input ``(N, 4, SL + context)``, output ``(N, 3, SL)`` logits.
    """

    def __init__(self, *, context: int = 10000, d_model: int = 64, n_layers: int = 6, state: int = 64,
                 front_units: int = 0, front_kernel: int = 11, front: str | int | list | None = None,
                 dropout: float = 0.1, bidirectional: bool = True, dt_min: float = 1e-4, dt_max: float = 1e-1,
                 kernel_chunk: int = 2048, ssm_lr: float | None = None, zero_init: bool = False,
                 skip_sum: bool = False, unit_energy: bool = False, skip_delta: bool = False,
                 ssm_reads_skip: bool = False, ssm_out_init: str = "zero", block_lr: float | None = None) -> None:
        super().__init__()
        if context % 2:
            raise ValueError(f"context must be even, got {context}")
        units = front_units_of(front, front_units, front_kernel)
        self.context, self.d_model, self.n_layers, self.front_units = context, d_model, n_layers, len(units)
        self.embed = nn.Conv1d(4, d_model, 1)
        self.front = nn.Sequential(*(ResidualUnit(d_model, k, d) for k, d in units))
        #: bases each side that the convolutional front sees (the S4D blocks reach the whole window)
        self.front_reach = sum(u.reach for u in self.front)
        self.blocks = nn.ModuleList(S4DBlock(d_model, state, dropout=dropout, bidirectional=bidirectional,
                                             dt_min=dt_min, dt_max=dt_max, kernel_chunk=kernel_chunk,
                                             ssm_lr=ssm_lr, zero_init=zero_init, unit_energy=unit_energy)
                                    for _ in range(n_layers))
        self.skip_sum, self.skip_delta = skip_sum, skip_delta
        self.ssm_reads_skip = ssm_reads_skip
        if (skip_delta or ssm_reads_skip) and not skip_sum:
            raise ValueError("skip_delta and ssm_reads_skip are options of skip_sum")
        if ssm_out_init not in ("zero", "default"):
            raise ValueError(f"ssm_out_init must be 'zero' or 'default', got {ssm_out_init!r}")
        if skip_sum:
            if not units:
                raise ValueError("skip_sum needs a convolutional front (front or front_units)")
            self.skip_in = nn.Conv1d(d_model, d_model, 1)
            self.skip_taps = skip_taps(len(units))
            self.skips = nn.ModuleList(nn.Conv1d(d_model, d_model, 1) for _ in self.skip_taps)
            self.ssm_out = nn.Conv1d(d_model, d_model, 1)
            if ssm_out_init == "zero":
                nn.init.zeros_(self.ssm_out.weight)
                nn.init.zeros_(self.ssm_out.bias)
            self.output = nn.Conv1d(d_model, 3, 1)
        else:
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Conv1d(d_model, 3, 1)
        if block_lr is not None:  # read by sciarch's optimizer set-up (core/optim.py, param_groups)
            path = [*self.blocks.parameters(), *(self.ssm_out.parameters() if skip_sum else ())]
            for p in path:
                if not getattr(p, "_optim", None):
                    p._optim = {"lr": block_lr}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] <= self.context:
            raise ValueError(f"SpliceSSM with context {self.context} needs more bases than that, got {x.shape[-1]}")
        if self.skip_sum:
            return self._forward_skip_sum(x)
        h = self.front(self.embed(x))
        for block in self.blocks:
            h = block(h)
        half = self.context // 2
        if half:
            h = h[..., half:-half]
        h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        return self.head(h)

    def _forward_skip_sum(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        skip = self.skip_in(h)
        taps = dict(zip(self.skip_taps, self.skips, strict=True))
        for i, unit in enumerate(self.front):
            h = unit(h)
            if i in taps:
                skip = skip + taps[i](h)
        if self.ssm_reads_skip:
            h = h + skip
        front = h
        for block in self.blocks:
            h = block(h)
        skip = skip + self.ssm_out(h - front if self.skip_delta else h)
        half = self.context // 2
        if half:
            skip = skip[..., half:-half]
        return self.output(skip)

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(x), dim=1)

    def describe(self) -> str:
        params = sum(p.numel() for p in self.parameters())
        front = f"{self.front_units} residual units (±{self.front_reach}) + " if self.front_units else ""
        return f"SpliceSSM: {front}{self.n_layers} bidirectional S4D blocks, {self.d_model} channels, " \
               f"context {self.context}, {params:,} parameters"


def splice_ssm(*, context: int = 10000, d_model: int = 64, n_layers: int = 6, state: int = 64, dropout: float = 0.1,
               bidirectional: bool = True, dt_min: float = 1e-4, dt_max: float = 1e-1,
               kernel_chunk: int = 2048, ssm_lr: float | None = None, zero_init: bool = False,
               unit_energy: bool = False) -> SpliceSSM:
    """A pure bidirectional S4D network (1×1 embedding, no convolutional front)."""
    return SpliceSSM(context=context, d_model=d_model, n_layers=n_layers, state=state, dropout=dropout,
                     bidirectional=bidirectional, dt_min=dt_min, dt_max=dt_max, kernel_chunk=kernel_chunk,
                     ssm_lr=ssm_lr, zero_init=zero_init, unit_energy=unit_energy)


def splice_ssm_hybrid(*, context: int = 10000, d_model: int = 64, n_layers: int = 4, state: int = 64,
                      front_units: int = 4, front_kernel: int = 11, front: str | int | list | None = None,
                      dropout: float = 0.1, bidirectional: bool = True, dt_min: float = 1e-4, dt_max: float = 1e-1,
                      kernel_chunk: int = 2048, ssm_lr: float | None = None, zero_init: bool = False,
                      skip_sum: bool = False, unit_energy: bool = False, skip_delta: bool = False,
                      ssm_reads_skip: bool = False, ssm_out_init: str = "zero",
                      block_lr: float | None = None) -> SpliceSSM:
    """The hybrid: SpliceAI residual units (11/1, or ``front="400"``'s dilated stack) for local motifs,
    then bidirectional S4D blocks."""
    return SpliceSSM(context=context, d_model=d_model, n_layers=n_layers, state=state, front_units=front_units,
                     front_kernel=front_kernel, front=front, dropout=dropout, bidirectional=bidirectional, dt_min=dt_min,
                     dt_max=dt_max, kernel_chunk=kernel_chunk, ssm_lr=ssm_lr, zero_init=zero_init,
                     skip_sum=skip_sum, unit_energy=unit_energy, skip_delta=skip_delta,
                     ssm_reads_skip=ssm_reads_skip, ssm_out_init=ssm_out_init, block_lr=block_lr)
