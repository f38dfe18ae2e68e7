"""The PCEN and speech-embedding front ends: what they compute, that they stay causal and stream."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import sciarch
import torch
from sciarch_keywords.frontend import LogMelFrontEnd, PCENFrontEnd, build_frontend
from sciarch_keywords.streaming import StreamingSpotter
from sciarch_keywords.wavenet import wavenet_kws

HAVE_OPENWAKEWORD = importlib.util.find_spec("openwakeword") is not None
needs_embedding = pytest.mark.skipif(not HAVE_OPENWAKEWORD, reason="openwakeword (its ONNX files) not installed")


def speechlike(seconds: float, seed: int = 0) -> torch.Tensor:
    """Noise bursts with a slowly varying envelope and a low tone: energy that changes per band."""
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * 16000)
    t = torch.arange(n) / 16000
    envelope = 0.5 + 0.5 * torch.sin(2 * np.pi * 1.3 * t) ** 2
    return (0.05 * torch.randn(n, generator=g) * envelope + 0.1 * torch.sin(2 * np.pi * 220 * t) * (t % 1 < 0.4))


def test_pcen_is_the_recursive_definition():
    fe = PCENFrontEnd()
    wave = speechlike(1.5)[None]
    energy = LogMelFrontEnd()(wave).exp() - 1e-6  # the same mel energies, through the log-mel module
    m = energy[..., 0].double()
    want = []
    for t in range(energy.shape[-1]):
        e = energy[..., t].double()
        m = (1 - fe.smoothing) * m + fe.smoothing * e
        want.append(((e / (fe.eps + m) ** fe.alpha + fe.delta) ** fe.power - fe.delta ** fe.power).float())
    want = torch.stack(want, dim=-1)
    got = fe(wave)
    assert got.shape == want.shape == (1, 40, 150)
    assert float((got - want).abs().max()) <= 1e-4 * float(want.abs().max())


def test_pcen_removes_a_fixed_gain_that_log_mel_keeps():
    wave = speechlike(2.0)[None]
    pcen, logmel = PCENFrontEnd(), LogMelFrontEnd()
    quiet = 0.1 * wave  # 20 dB quieter, as a microphone further away
    # log-mel shifts every value by log(0.01) = -4.6; PCEN (alpha 0.98) moves each value by a few per cent
    shift = (logmel(quiet) - logmel(wave)).mean()
    assert abs(float(shift) - np.log(0.01)) < 0.05
    a, b = pcen(wave), pcen(quiet)
    relative = float((a - b).abs().mean() / a.abs().mean())
    assert relative < 0.1


@pytest.mark.parametrize("frontend", ["pcen", pytest.param("speech-embedding", marks=needs_embedding)])
def test_streaming_equals_offline_for_each_front_end(frontend):
    torch.manual_seed(0)
    model = wavenet_kws(12, layers=6 if frontend == "pcen" else 4, frontend=frontend).eval()
    model.input_norm.running_mean.uniform_(-1, 1)
    model.input_norm.running_var.uniform_(0.5, 2)
    wave = speechlike(3.0, seed=1)[None]
    with torch.no_grad():
        offline = model(wave)[0].T
    streamed = StreamingSpotter(model, trace=True).push(wave[0])
    assert streamed.shape == offline.shape
    assert streamed.shape[0] == 3 * 16000 // model.frontend.hop_length
    assert float((streamed - offline).abs().max()) <= 1e-5


def test_chunked_scoring_covers_the_pcen_smoother():
    from sciarch_keywords.detection import frame_posteriors

    torch.manual_seed(0)
    model = wavenet_kws(12, layers=4, frontend="pcen").eval()
    wave = speechlike(12.0, seed=2)
    with torch.no_grad():
        whole = torch.softmax(model(wave[None])[0], dim=0).T.numpy()
    chunked = frame_posteriors(model, wave, chunk_seconds=2.0)
    assert np.abs(chunked - whole).max() <= 1e-5


def test_unknown_front_end_is_a_config_error():
    with pytest.raises(sciarch.ConfigError, match="unknown front end"):
        build_frontend("mfcc")


def test_missing_embedding_files_name_the_pip_command(tmp_path):
    from sciarch_keywords.embedding import SpeechEmbeddingFrontEnd

    with pytest.raises(sciarch.UsageError, match="pip install --no-deps openwakeword==0.5.1"):
        SpeechEmbeddingFrontEnd(str(tmp_path))


def test_without_the_package_the_model_says_what_to_install(monkeypatch):
    import sciarch_keywords.embedding as embedding

    monkeypatch.setattr(embedding.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(sciarch.UsageError, match="not installed: run `pip install --no-deps openwakeword==0.5.1`"):
        wavenet_kws(12, layers=2, frontend="speech-embedding")


@needs_embedding
def test_speech_embedding_is_causal_batch_independent_and_cached():
    from sciarch_keywords.embedding import SpeechEmbeddingFrontEnd

    fe = SpeechEmbeddingFrontEnd()
    wave = torch.stack([speechlike(2.0, seed=s) for s in range(3)])
    out = fe(wave)
    assert out.shape == (3, 96, 25)
    # frame t depends only on samples before (t+1)·1280: change everything after frame 10
    later = wave.clone()
    later[:, 11 * 1280:] = 0.3 * torch.randn(3, wave.shape[1] - 11 * 1280)
    changed = fe(later)
    assert float((changed[:, :, :11] - out[:, :, :11]).abs().max()) == 0.0
    assert float((changed[:, :, 11:] - out[:, :, 11:]).abs().max()) > 0.1
    # a clip's embedding does not depend on the other clips of its batch (the package's graph would)
    assert float((fe(wave[1:2] * 4.0)[0] - fe((wave * torch.tensor([[1.0], [4.0], [0.01]]))[1:2])[0]).abs().max()) == 0
    # the streaming frame is the offline column
    padded = torch.cat([torch.zeros(3, fe.pad), wave], dim=1)
    assert float((fe.frame(padded[:, 5 * 1280: 5 * 1280 + fe.win_length]) - out[:, :, 5]).abs().max()) == 0.0
    # seen again: served from the cache, the same numbers
    hits = fe.hits
    again = fe(wave)
    assert fe.hits == hits + 3 and torch.equal(again, out)
    # the model inside a copied module (Lightning, enrol) works after the copy
    import copy

    assert torch.equal(copy.deepcopy(fe)(wave), out)


@needs_embedding
def test_speech_embedding_separates_words_better_than_noise_does():
    """The encoder was trained on real speech: two eSpeak voices saying the same word land closer
    together than one voice saying two different words (a property random weights do not have)."""
    from sciarch_datasets.audio.espeak import Voice, speak
    from sciarch_keywords.embedding import SpeechEmbeddingFrontEnd

    fe = SpeechEmbeddingFrontEnd()

    def embed(word: str, voice: Voice) -> torch.Tensor:
        audio = speak(word, voice)[:16000]
        clip = np.zeros(24000, dtype=np.float32)
        clip[24000 - 4000 - audio.shape[0]: 24000 - 4000] = audio
        return fe(torch.from_numpy(clip)[None])[0, :, -4:].flatten()

    a, b = Voice("en-US", "f2"), Voice("en", "m3")
    same = [torch.cosine_similarity(embed(w, a), embed(w, b), dim=0) for w in ("yes", "stop", "left")]
    different = [torch.cosine_similarity(embed(w1, a), embed(w2, a), dim=0)
                 for w1, w2 in (("yes", "stop"), ("stop", "left"), ("left", "yes"))]
    assert float(torch.stack(same).mean()) > float(torch.stack(different).mean())


def test_augment_variants_repeat_per_clip():
    from sciarch_keywords.augment import WaveAugment
    from sciarch_keywords.data import KeywordClips

    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((4, 16000)) * 3000).astype(np.int16)
    spans = np.tile([[4000, 12000]], (4, 1))
    noise = [torch.randn(32000) * 0.1]
    clips = KeywordClips(audio, np.zeros(4, dtype=np.int64), spans, silence=1, silence_label=1, noise=noise,
                         augment=WaveAugment(noise), augment_variants=2)
    for index in (0, 4):  # a word clip and a silence clip
        first, second, third = (clips[index][0] for _ in range(3))
        assert torch.equal(first, third) and not torch.equal(first, second)
    fresh = KeywordClips(audio, np.zeros(4, dtype=np.int64), spans, silence=0, silence_label=1, noise=noise,
                         augment=WaveAugment(noise))
    assert not torch.equal(fresh[0][0], fresh[0][0])


@needs_embedding
def test_frozen_front_end_trains_the_head_with_context_joined_as_features():
    from sciarch_keywords.task import KeywordSpotting

    torch.manual_seed(0)
    model = wavenet_kws(4, layers=2, frontend="speech-embedding")
    task = KeywordSpotting(model, ["yes", "no", "_unknown_", "_silence_"], context_probability=1.0)
    wave = torch.stack([speechlike(1.0, seed=s) for s in range(4)])
    labels = torch.tensor([0, 1, 2, 3])
    spans = torch.tensor([[2000, 12000], [3000, 11000], [1000, 9000], [0, 0]])
    task.log = lambda *args, **kwargs: None  # outside a Trainer
    loss = task.training_step((wave, labels, spans), 0)
    loss.backward()
    assert torch.isfinite(loss) and model.head_out.weight.grad.abs().sum() > 0
    # each half was a clip already seen: one miss per distinct clip (and one for silence), hits after
    assert model.frontend.misses <= 5
    task.training_step((wave, labels, spans), 1)
    assert model.frontend.misses <= 5 and model.frontend.hits >= 8
    with pytest.raises(sciarch.ConfigError, match="frozen front end"):
        KeywordSpotting(model, ["yes", "no", "_unknown_", "_silence_"], vtl_warp=0.1).training_step(
            (wave, labels, spans), 0)


def test_exports_refuse_what_a_graph_cannot_hold(tmp_path):
    from sciarch_keywords.export import export_onnx, export_torchscript

    model = wavenet_kws(12, layers=4, frontend="pcen").eval()
    with pytest.raises(sciarch.UsageError, match="streaming ONNX"):
        export_onnx(model, tmp_path / "kws.onnx")
    with pytest.raises(sciarch.UsageError, match="TorchScript"):
        export_torchscript(model, tmp_path / "kws.pt")


@pytest.mark.slow
def test_pcen_streaming_step_exports_to_onnx(tmp_path):
    from sciarch_keywords.export import export_streaming_onnx

    model = wavenet_kws(12, layers=4, frontend="pcen").eval()
    result = export_streaming_onnx(model, tmp_path / "step.onnx", hops=120)
    assert result["max_abs_diff"] <= 1e-4
