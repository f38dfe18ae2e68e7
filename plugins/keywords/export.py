"""Export for devices: the whole path from waveform to scores, as ONNX and as TorchScript.

:class:`WaveformToPosteriors` puts the front end, the network and the softmax in one module, so a
device feeds 16 kHz samples and reads posteriors, with no feature code of its own. The front end is
a strided convolution with windowed-DFT kernels (no STFT operator), which every ONNX runtime runs.
Both exports are checked against the PyTorch model on the same audio before they are reported
(ONNX through ``onnxruntime``).

:func:`export_streaming_onnx` exports the one-hop streaming step with its caches as inputs and
outputs, for devices that listen continuously.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import sciarch
import torch
from torch import nn


class WaveformToPosteriors(nn.Module):
    """``(B, T)`` samples → ``(B, T // hop, classes)`` posteriors (frame models) or ``(B, 1, classes)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.eval()

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(wave), dim=1).transpose(1, 2)


def _check_exportable(model: nn.Module, what: str) -> None:
    """A clear error for the front ends a graph cannot hold: the frozen speech embedding (run by
    onnxruntime, outside PyTorch) for every export, PCEN (a recursive filter over the whole clip) for
    the whole-clip ones; PCEN's streaming step exports."""
    name = getattr(model, "frontend_name", "log-mel")
    if name == "speech-embedding" or (name == "pcen" and what != "streaming ONNX"):
        hint = ("use the streaming ONNX export (--streaming-onnx)" if name == "pcen"
                else "listen in Python (sciarch keywords listen, --stream works)")
        raise sciarch.UsageError(f"the {name} front end cannot be exported as {what}; {hint}")


def _example(model: nn.Module, seconds: float = 1.5, seed: int = 0, batch: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    samples = int(seconds * model.frontend.sample_rate)
    return 0.1 * torch.randn(batch, samples, generator=generator)


def export_onnx(model: nn.Module, path: str | Path, *, check_audio: torch.Tensor | None = None,
                opset: int = 18, exporter: Literal["dynamo", "torchscript"] = "dynamo") -> dict[str, Any]:
    """Write ``path`` (.onnx) with a dynamic batch and length; return the check against PyTorch.

    ``exporter="dynamo"`` is PyTorch's ``torch.export``-based exporter (the supported one);
    ``"torchscript"`` the older tracing exporter, several times faster to run.
    """
    import warnings

    _check_exportable(model, "ONNX")
    ort = sciarch.require("onnxruntime", "audio")
    wrapped = WaveformToPosteriors(model)
    # a batch of 2: torch.export would fix a dimension of size 1 as a constant
    example = _example(model, batch=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if exporter == "dynamo":
                batch = torch.export.Dim("batch", min=1, max=1024)
                samples = torch.export.Dim("samples", min=2000, max=16000 * 3600)
                program = torch.onnx.export(wrapped, (example,), dynamo=True, opset_version=opset,
                                            input_names=["waveform"], output_names=["posteriors"],
                                            dynamic_shapes=({0: batch, 1: samples},), verbose=False,
                                            external_data=False)
                program.save(str(tmp))
            else:
                torch.onnx.export(wrapped, (example,), str(tmp), dynamo=False, opset_version=opset,
                                  input_names=["waveform"], output_names=["posteriors"],
                                  dynamic_axes={"waveform": {0: "batch", 1: "samples"},
                                                "posteriors": {0: "batch", 1: "frames"}})
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    audio = check_audio if check_audio is not None else _example(model, seconds=3.2, seed=1)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"waveform": audio.numpy().astype(np.float32)})[0]
    with torch.inference_mode():
        want = wrapped(audio).numpy()
    return {"path": str(path), "max_abs_diff": float(np.abs(got - want).max()), "frames": int(want.shape[1]),
            "opset": opset, "exporter": exporter}


def export_torchscript(model: nn.Module, path: str | Path, *, check_audio: torch.Tensor | None = None) -> dict[str, Any]:
    """Write ``path`` (.pt, TorchScript by tracing; the model has no data-dependent control flow)."""
    import warnings

    _check_exportable(model, "TorchScript")
    wrapped = WaveformToPosteriors(model)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapped, (_example(model),), check_trace=False)
    path = Path(path)
    with sciarch.atomic_write(path, "wb") as handle:
        torch.jit.save(traced, handle)
    audio = check_audio if check_audio is not None else _example(model, seconds=3.2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(path))
    with torch.inference_mode():
        got, want = loaded(audio), wrapped(audio)
    return {"path": str(path), "max_abs_diff": float((got - want).abs().max()), "frames": int(want.shape[1])}


def export_streaming_onnx(model: nn.Module, path: str | Path, *, hops: int = 300) -> dict[str, Any]:
    """The streaming step as ONNX: inputs ``samples`` (1, hop) and ``state_i``, outputs ``logits`` and
    ``new_state_i``; checked by streaming ``hops`` hops through onnxruntime against PyTorch."""
    import warnings

    from .streaming import StreamingWaveNet

    _check_exportable(model, "streaming ONNX")
    ort = sciarch.require("onnxruntime", "audio")
    step = StreamingWaveNet(model).eval()
    state = step.initial_state(1)
    names = [f"state_{i}" for i in range(len(state))]

    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.step = step

        def forward(self, samples: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
            logits, new_state = self.step(samples, list(state))
            return (logits, *new_state)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    samples = torch.zeros(1, step.hop_length)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(Flat(), (samples, *state), dynamo=True, input_names=["samples", *names],
                                        output_names=["logits", *[f"new_{n}" for n in names]], verbose=False,
                                        external_data=False)
        program.save(str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    audio = _example(model, seconds=hops * step.hop_length / model.frontend.sample_rate, seed=2)
    onnx_state = [s.numpy() for s in state]
    torch_state = state
    worst = 0.0
    with torch.inference_mode():
        for i in range(hops):
            chunk = audio[:, i * step.hop_length: (i + 1) * step.hop_length]
            outputs = session.run(None, {"samples": chunk.numpy(), **dict(zip(names, onnx_state, strict=True))})
            onnx_state = outputs[1:]
            logits, torch_state = step(chunk, torch_state)
            worst = max(worst, float(np.abs(outputs[0] - logits.numpy()).max()))
    return {"path": str(path), "max_abs_diff": worst, "hops": hops}
