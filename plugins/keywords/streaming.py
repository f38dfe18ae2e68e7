"""The WaveNet keyword spotter run one 10 ms hop at a time, with the trained weights unchanged.

A causal model needs, to produce frame :math:`t`, only what each layer saw in its last
:math:`(k-1)d` input frames; keeping those in a cache per layer turns the offline network into a
step function of cost independent of how long it has been listening:

- the front end keeps the last :math:`N - H` = 240 samples and, with the 160 new ones, computes one
  log-mel frame (the same windowed-DFT product as the offline front end);
- the input normalisation is a fixed per-band affine (BatchNorm in eval mode, folded);
- the first causal convolution keeps :math:`k_0 - 1` frames, each gated layer :math:`(k-1)d_l`;
- the skip sum and the head act on the new frame only.

The state is explicit (a list of tensors in, a list out), so the step exports to ONNX and
TorchScript with its caches as inputs and outputs; :class:`StreamingSpotter` keeps it between calls.
Starting from zero caches equals the offline model's zero padding, so streaming a recording hop by
hop gives the offline scores to float precision (tested: max abs diff ≤ 1e-5).

With the PCEN front end (:class:`~sciarch_keywords.frontend.PCENFrontEnd`) the state also holds
each band's smoothed energy :math:`M` (a negative value: not started, so the first frame sets it,
as offline). With the frozen speech-embedding front end (:mod:`sciarch_keywords.embedding`) a hop
is 1280 samples (80 ms), the audio tail 11,232 samples, and the embedding is computed by
onnxruntime inside the step: it streams in Python, but the step cannot be traced or exported.

Shapes: ``(B, hop)`` samples and state → ``(B, num_classes)`` logits and the new state.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .frontend import PCENFrontEnd
from .wavenet import WaveNetKWS


class StreamingWaveNet(nn.Module):
    """A functional streaming step built from a trained :class:`WaveNetKWS` (weights copied, fused)."""

    def __init__(self, model: WaveNetKWS) -> None:
        super().__init__()
        model = model.eval()
        fe = model.frontend
        self.hop_length, self.pad = fe.hop_length, fe.pad
        self.num_classes = model.num_classes
        self.pcen = fe if isinstance(fe, PCENFrontEnd) else None
        self.embedding = None if hasattr(fe, "basis") else fe  # the frozen encoder, run by onnxruntime
        self.traceable = self.embedding is None
        self.front_states = 1 if self.pcen is not None else 0
        if self.embedding is None:
            self.n_freq, self.log_floor = fe.n_freq, fe.log_floor
            self.register_buffer("basis", fe.basis[:, 0, :].T.contiguous().clone())  # (N, 2·n_freq)
            self.register_buffer("fbank_t", fe.fbank.T.contiguous().clone())  # (n_freq, n_mels)
        else:
            self.register_buffer("basis", torch.zeros(0))
        norm = model.input_norm
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        self.register_buffer("norm_scale", scale.detach().clone())
        self.register_buffer("norm_shift", (norm.bias - norm.running_mean * scale).detach().clone())
        self.n_mels = fe.n_mels
        conv = model.input_conv
        self.input_taps = conv.kernel_size[0]
        # (out, in, k) -> (in·k, out): a window flattened as (in, k) times this matrix is the convolution
        self.register_buffer("input_w", conv.weight.detach().reshape(conv.out_channels, -1).T.contiguous().clone())
        self.register_buffer("input_b", conv.bias.detach().clone())
        self.dilations: list[int] = []
        self.taps: list[int] = []
        dilated_w, dilated_b, out_w, out_b = [], [], [], []
        for layer in model.layers:
            d = layer.dilated
            self.dilations.append(layer.dilation)
            self.taps.append(layer.kernel_size)
            dilated_w.append(d.weight.detach().reshape(d.out_channels, -1).T.contiguous().clone())
            dilated_b.append(d.bias.detach().clone())
            # residual and skip 1×1s fused into one product
            out_w.append(torch.cat([layer.residual.weight[:, :, 0], layer.skip.weight[:, :, 0]]).detach().T
                         .contiguous().clone())
            out_b.append(torch.cat([layer.residual.bias, layer.skip.bias]).detach().clone())
        self.dilated_w = nn.ParameterList([nn.Parameter(w, requires_grad=False) for w in dilated_w])
        self.dilated_b = nn.ParameterList([nn.Parameter(b, requires_grad=False) for b in dilated_b])
        self.out_w = nn.ParameterList([nn.Parameter(w, requires_grad=False) for w in out_w])
        self.out_b = nn.ParameterList([nn.Parameter(b, requires_grad=False) for b in out_b])
        self.residual_channels = model.input_conv.out_channels
        self.gate_channels = model.layers[0].residual.in_channels
        self.register_buffer("head_w1", model.head_hidden.weight[:, :, 0].detach().T.contiguous().clone())
        self.register_buffer("head_b1", model.head_hidden.bias.detach().clone())
        self.register_buffer("head_w2", model.head_out.weight[:, :, 0].detach().T.contiguous().clone())
        self.register_buffer("head_b2", model.head_out.bias.detach().clone())

    def initial_state(self, batch_size: int = 1) -> list[torch.Tensor]:
        """Zero caches: the audio tail, then one (B, channels, frames) cache per convolution."""
        device = self.basis.device
        state = [torch.zeros(batch_size, self.pad, device=device)]
        if self.pcen is not None:
            state.append(torch.full((batch_size, self.n_mels), -1.0, device=device))  # M not started
        state.append(torch.zeros(batch_size, self.n_mels, self.input_taps - 1, device=device))
        for k, d in zip(self.taps, self.dilations, strict=True):
            state.append(torch.zeros(batch_size, self.residual_channels, (k - 1) * d, device=device))
        return state

    def forward(self, samples: torch.Tensor, state: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One hop: ``(B, hop)`` new samples → ``(B, num_classes)`` logits for the frame ending now."""
        audio = torch.cat([state[0], samples], dim=1)  # (B, N)
        new_state = [audio[:, self.hop_length:]]
        if self.embedding is not None:
            features = self.embedding.frame(audio)
        else:
            spectrum = torch.matmul(audio, self.basis)
            real, imag = spectrum[:, : self.n_freq], spectrum[:, self.n_freq:]
            energy = torch.matmul(real * real + imag * imag, self.fbank_t)
            if self.pcen is not None:
                s = self.pcen.smoothing
                previous = torch.where(state[1] < 0, energy, state[1])
                smooth = (1.0 - s) * previous + s * energy
                new_state.append(smooth)
                features = self.pcen.normalise(energy, smooth)
            else:
                features = torch.log(energy + self.log_floor)
        frame = features * self.norm_scale + self.norm_shift  # (B, n_mels)
        first = 1 + self.front_states  # index of the input convolution's cache

        window = torch.cat([state[first], frame[:, :, None]], dim=2)  # (B, n_mels, k0)
        new_state.append(window[:, :, 1:])
        x = torch.addmm(self.input_b, window.flatten(1), self.input_w)  # (B, residual)
        skip = torch.zeros((), dtype=x.dtype, device=x.device)
        for i, (w, b, ow, ob) in enumerate(zip(self.dilated_w, self.dilated_b, self.out_w, self.out_b, strict=True)):
            cache = state[first + 1 + i]
            d = self.dilations[i]
            window = torch.cat([cache, x[:, :, None]], dim=2)  # (B, residual, (k-1)d + 1)
            new_state.append(window[:, :, 1:])
            h = torch.addmm(b, window[:, :, ::d].flatten(1), w)  # taps t-(k-1)d, …, t-d, t
            z = torch.tanh(h[:, : self.gate_channels]) * torch.sigmoid(h[:, self.gate_channels:])
            out = torch.addmm(ob, z, ow)
            x = x + out[:, : self.residual_channels]
            skip = skip + out[:, self.residual_channels:]
        hidden = F.relu(torch.addmm(self.head_b1, F.relu(skip), self.head_w1))
        return torch.addmm(self.head_b2, hidden, self.head_w2), new_state


class StreamingSpotter:
    """Keeps a :class:`StreamingWaveNet`'s state between hops; feed it audio of any length.

    ``push(samples)`` buffers incoming samples and returns the logits of every complete hop,
    ``(hops, num_classes)``; ``reset()`` starts listening afresh. With ``trace=True`` the step is
    traced with TorchScript first, which removes most of Python's per-operation overhead (the
    step has no data-dependent control flow, so the trace is exact).
    """

    def __init__(self, model: WaveNetKWS | StreamingWaveNet, batch_size: int = 1, *, trace: bool = False) -> None:
        self.step = model if isinstance(model, StreamingWaveNet) else StreamingWaveNet(model)
        self.step.eval()
        self.batch_size = batch_size
        self.run = self.step
        if trace and getattr(self.step, "traceable", True):
            import warnings

            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                example = torch.zeros(batch_size, self.step.hop_length)
                self.run = torch.jit.trace(self.step, (example, self.step.initial_state(batch_size)),
                                           check_trace=False)
        self.reset()

    def reset(self) -> None:
        self.state = self.step.initial_state(self.batch_size)
        self.pending = torch.zeros(self.batch_size, 0)
        self.frames = 0

    @torch.inference_mode()
    def push(self, samples: torch.Tensor) -> torch.Tensor:
        """``(B, n)`` or ``(n,)`` float samples → ``(B, hops, num_classes)`` logits (or ``(hops, C)``)."""
        squeeze = samples.dim() == 1
        if squeeze:
            samples = samples[None]
        hop = self.step.hop_length
        self.pending = torch.cat([self.pending, samples.float()], dim=1)
        outputs = []
        while self.pending.shape[1] >= hop:
            chunk, self.pending = self.pending[:, :hop], self.pending[:, hop:]
            logits, self.state = self.run(chunk, self.state)
            outputs.append(logits)
            self.frames += 1
        if not outputs:
            out = torch.zeros(self.batch_size, 0, self.step.num_classes)
        else:
            out = torch.stack(outputs, dim=1)
        return out[0] if squeeze else out
