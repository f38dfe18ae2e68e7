"""The log-mel front end, the WaveNet keyword spotter and the TC-ResNet baseline."""

from __future__ import annotations

import pytest
import torch
from sciarch_datasets.audio.features import LogMelSettings, log_mel
from sciarch_keywords.frontend import LogMelFrontEnd
from sciarch_keywords.tc_resnet import tc_resnet
from sciarch_keywords.wavenet import GatedResidualLayer, wavenet_kws
from torch.nn import functional as F


def test_front_end_equals_torchaudio_mel_spectrogram_on_the_padded_waveform():
    torch.manual_seed(0)
    wave = 0.1 * torch.randn(2, 16000)
    ours = LogMelFrontEnd()(wave)
    reference = log_mel(F.pad(wave, (240, 0)), LogMelSettings())
    assert ours.shape == reference.shape == (2, 40, 100)
    assert (ours - reference).abs().max() < 1e-3
    # one frame per 10 ms hop, available as soon as the hop is heard
    assert LogMelFrontEnd().frames(16000) == 100


def test_front_end_frame_depends_only_on_the_past_25_ms():
    fe = LogMelFrontEnd()
    wave = 0.1 * torch.randn(1, 4000)
    changed = wave.clone()
    changed[0, 2010] += 1.0  # frame t covers samples [160t - 240, 160t + 160)
    diff = (fe(wave) - fe(changed)).abs().amax(dim=1)[0]
    touched = torch.nonzero(diff > 1e-6).flatten().tolist()
    assert touched == [12, 13, 14]


def test_receptive_field_of_the_default_model():
    model = wavenet_kws(12)
    assert len(model.layers) == 24
    assert [layer.dilation for layer in model.layers[:8]] == [1, 2, 4, 8, 1, 2, 4, 8]
    # 1 + (3-1) for the input conv + 6 cycles × (3-1) × (1+2+4+8)
    assert model.receptive_field == 1 + 2 + 6 * 2 * 15 == 183
    assert model.receptive_field_seconds == pytest.approx((182 * 160 + 400) / 16000)
    text = model.describe()
    assert "183 frames" in text and "1.845 s" in text and "24 gated layers" in text


def test_receptive_field_matches_the_gradient_and_the_model_is_causal():
    torch.manual_seed(0)
    model = wavenet_kws(5, layers=6, dilations=[1, 2, 4]).eval()
    frames = 60
    features = torch.randn(1, 40, frames, requires_grad=True)
    model.forward_features(features)[0, :, -1].sum().backward()
    reached = torch.nonzero(features.grad[0].abs().sum(dim=0) > 0).flatten()
    assert frames - int(reached.min()) == model.receptive_field == 1 + 2 + 2 * 2 * 7
    assert int(reached.max()) == frames - 1
    # changing the future never changes the past
    x = torch.randn(1, 40, frames)
    y = x.clone()
    y[:, :, 40:] += 1.0
    with torch.no_grad():
        assert torch.equal(model.forward_features(x)[:, :, :40], model.forward_features(y)[:, :, :40])


def test_gated_layer_is_tanh_times_sigmoid_with_residual_and_skip():
    torch.manual_seed(0)
    layer = GatedResidualLayer(4, 3, 5, kernel_size=2, dilation=2)
    x = torch.randn(1, 4, 10)
    residual, skip = layer(x)
    h = F.conv1d(F.pad(x, (2, 0)), layer.dilated.weight, layer.dilated.bias, dilation=2)
    z = torch.tanh(h[:, :3]) * torch.sigmoid(h[:, 3:])
    torch.testing.assert_close(residual, x + layer.residual(z))
    torch.testing.assert_close(skip, layer.skip(z))
    assert layer.cache_length == 2


def test_models_score_a_batch_of_clips():
    wave = 0.1 * torch.randn(3, 16000)
    wavenet = wavenet_kws(12, layers=4)
    assert wavenet(wave).shape == (3, 12, 100)
    baseline = tc_resnet(12)
    assert baseline(wave).shape == (3, 12, 1)
    assert 60_000 < sum(p.numel() for p in baseline.parameters()) < 80_000  # TC-ResNet8: ~66k
    assert not baseline.frame_level and wavenet.frame_level
