"""Streaming: the same weights one 10 ms hop at a time give the offline model's scores."""

from __future__ import annotations

import numpy as np
import torch
from sciarch_keywords.streaming import StreamingSpotter, StreamingWaveNet
from sciarch_keywords.wavenet import wavenet_kws


def trained_looking_model(seed: int = 0, **kwargs):
    """Random weights with non-trivial input statistics, as after training."""
    torch.manual_seed(seed)
    model = wavenet_kws(12, **kwargs)
    model.input_norm.running_mean.uniform_(-12, -2)
    model.input_norm.running_var.uniform_(1, 20)
    return model.eval()


def test_streaming_equals_offline_on_speech():
    from sciarch_datasets.audio.espeak import Voice, speak

    model = trained_looking_model()
    words = [speak(w, Voice("en-US", "f2")) for w in ("left", "stop", "marvin")]
    wave = np.zeros(4 * 16000, dtype=np.float32)
    for i, w in enumerate(words):
        wave[12000 * i + 4000: 12000 * i + 4000 + w.shape[0]] += w
    wave += 0.003 * np.random.default_rng(0).standard_normal(wave.shape[0]).astype(np.float32)
    audio = torch.from_numpy(wave)
    with torch.no_grad():
        offline = model(audio[None])[0].T  # (frames, classes)
    spotter = StreamingSpotter(model)
    streamed = spotter.push(audio)
    assert streamed.shape == offline.shape == (400, 12)
    assert float((streamed - offline).abs().max()) <= 1e-5
    # the run covers more than the receptive field, so the caches really wrapped around
    assert streamed.shape[0] > model.receptive_field


def test_streaming_accepts_audio_in_pieces_of_any_size():
    model = trained_looking_model(1, layers=8)
    audio = 0.1 * torch.randn(2, 9000)
    with torch.no_grad():
        offline = model(audio).transpose(1, 2)  # (B, frames, classes)
    spotter = StreamingSpotter(model, batch_size=2)
    pieces = []
    start = 0
    for size in (37, 160, 1, 500, 3000, 5302):
        pieces.append(spotter.push(audio[:, start: start + size]))
        start += size
    streamed = torch.cat(pieces, dim=1)
    assert streamed.shape == offline.shape == (2, 56, 12)
    assert float((streamed - offline).abs().max()) <= 1e-5
    spotter.reset()
    assert spotter.frames == 0 and float((spotter.push(audio[:, :1600]) - offline[:, :10]).abs().max()) <= 1e-5
    traced = StreamingSpotter(model, batch_size=2, trace=True)
    assert float((traced.push(audio) - offline).abs().max()) <= 1e-5


def test_each_layer_caches_exactly_its_past_inputs():
    model = trained_looking_model(layers=24)
    step = StreamingWaveNet(model)
    state = step.initial_state(1)
    cache_lengths = [s.shape[-1] for s in state[2:]]
    assert cache_lengths == [(3 - 1) * d for d in [1, 2, 4, 8] * 6]
    assert state[0].shape == (1, 240)  # the front end keeps N - H samples
    assert state[1].shape == (1, 40, 2)  # the input convolution, k0 - 1 frames
