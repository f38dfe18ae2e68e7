"""Export of the whole waveform → posteriors path: ONNX checked with onnxruntime, and TorchScript."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sciarch_keywords.export import export_onnx, export_streaming_onnx, export_torchscript
from sciarch_keywords.tc_resnet import tc_resnet
from sciarch_keywords.wavenet import wavenet_kws


def model_with_statistics(layers: int = 24):
    torch.manual_seed(0)
    model = wavenet_kws(12, layers=layers)
    model.input_norm.running_mean.uniform_(-12, -2)
    model.input_norm.running_var.uniform_(1, 20)
    return model.eval()


def test_onnx_equals_pytorch_on_audio_of_another_length_and_batch(tmp_path):
    import onnxruntime as ort

    model = model_with_statistics()
    result = export_onnx(model, tmp_path / "kws.onnx")
    assert result["max_abs_diff"] <= 1e-5
    # the exported graph takes any batch and length, not just the example's
    audio = 0.05 * torch.randn(3, 27_360, generator=torch.Generator().manual_seed(5))
    session = ort.InferenceSession(str(tmp_path / "kws.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"waveform": audio.numpy()})[0]
    with torch.no_grad():
        want = torch.softmax(model(audio), dim=1).transpose(1, 2).numpy()
    assert got.shape == want.shape == (3, 171, 12)
    assert float(np.abs(got - want).max()) <= 1e-5
    np.testing.assert_allclose(got.sum(axis=2), 1.0, atol=1e-5)


def test_torchscript_equals_pytorch(tmp_path):
    model = model_with_statistics(layers=8)
    result = export_torchscript(model, tmp_path / "kws.pt")
    assert result["max_abs_diff"] <= 1e-6
    loaded = torch.jit.load(str(tmp_path / "kws.pt"))
    audio = 0.05 * torch.randn(2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(loaded(audio), torch.softmax(model(audio), 1).transpose(1, 2))


def test_the_older_tracing_exporter_and_the_clip_baseline(tmp_path):
    model = tc_resnet(12).eval()
    result = export_onnx(model, tmp_path / "tc.onnx", exporter="torchscript")
    assert result["max_abs_diff"] <= 1e-5 and result["exporter"] == "torchscript"


@pytest.mark.slow
def test_streaming_step_exports_to_onnx_with_its_caches(tmp_path):
    model = model_with_statistics(layers=8)
    result = export_streaming_onnx(model, tmp_path / "step.onnx", hops=120)
    assert result["hops"] == 120 and result["max_abs_diff"] <= 1e-4  # logits, not posteriors
