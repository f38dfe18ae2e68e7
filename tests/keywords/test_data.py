"""Data modules and augmentation: classes, unknown and silence shares, augmentation that keeps the word."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sciarch_datasets.audio import COMMANDS, SILENCE, UNKNOWN
from sciarch_keywords.augment import SpecAugment, WaveAugment, add_noise
from sciarch_keywords.data import SpeechCommandsData, TTSCommandsData


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    from sciarch_datasets.audio.fake import write_speech_commands

    return write_speech_commands(tmp_path_factory.mktemp("sc") / "sc", (*COMMANDS, "cat", "dog", "bird"), speakers=6)


def test_twelve_class_task_with_unknown_and_silence_shares(copy):
    data = SpeechCommandsData(path=str(copy), unknown_fraction=0.2, silence_fraction=0.1)
    assert data.hints() == {"num_classes": 12, "class_names": [*COMMANDS, UNKNOWN, SILENCE]}
    data.prepare_data()
    data.setup()
    train = data.datasets["train"]  # 3 training speakers × (10 keywords + 3 others)
    labels = train.labels.tolist()
    assert sum(label < 10 for label in labels) == 30
    assert labels.count(10) == 6  # ceil(0.2 × 30) unknown clips of the 9 available
    assert train.silence == 3 and len(train) == 39
    wave, label, span = train[len(train) - 1]
    assert wave.shape == (16000,) and label.item() == 11 and span.tolist() == [0, 0]
    batch = next(iter(data.train_dataloader()))
    assert batch[0].shape == (min(128, 39), 16000) and batch[1].dtype == torch.long


def test_all_words_task_has_one_class_per_folder(copy):
    data = SpeechCommandsData(path=str(copy), labels="all", silence_fraction=0.0)
    assert data.hints()["class_names"] == sorted((*COMMANDS, "cat", "dog", "bird"))
    data.setup()
    assert len(data.datasets["test"]) == 2 * 13 and data.datasets["test"].silence == 0


def test_evaluation_clips_are_the_same_every_time(copy):
    data = SpeechCommandsData(path=str(copy), eval_snr_db=5.0)
    data.setup()
    val = data.datasets["val"]
    for index in (0, len(val) - 1):  # a noisy word clip, a silence clip
        torch.testing.assert_close(val[index][0], val[index][0])


def test_time_shift_and_speed_perturbation_keep_the_word_inside_the_clip():
    torch.manual_seed(0)
    augment = WaveAugment([], time_shift_s=0.3, speed_factors=(0.9, 1.1), speed_probability=1.0,
                          noise_probability=0.0)
    wave = torch.zeros(16000)
    wave[9000:15000] = 1.0
    for _ in range(20):
        out, (start, end) = augment(wave.clone(), (9000, 15000))
        assert out.shape == (16000,) and 0 <= start < end <= 16000
        inside = out[start + 200: end - 200]
        before = out[: max(0, start - 200)]
        assert inside.abs().min() > 0.5 and (before.numel() == 0 or before.abs().max() < 0.2)
        # the span is the word's, rescaled by the speed factor
        assert min(abs((end - start) * f - 6000) for f in (1.0, 0.9, 1.1)) <= 12


def test_noise_is_mixed_at_the_requested_snr():
    torch.manual_seed(0)
    speech = torch.zeros(16000)
    speech[4000:8000] = 0.3 * torch.sin(torch.arange(4000) * 0.2)
    noise = torch.randn(40000)
    mixed = add_noise(speech, noise, 10.0, (4000, 8000))
    added = mixed - speech
    snr = 10 * torch.log10(speech[4000:8000].pow(2).mean() / added.pow(2).mean())
    assert snr.item() == pytest.approx(10.0, abs=0.01)


def test_spec_augment_masks_bands_and_frames_per_example():
    torch.manual_seed(0)
    features = torch.randn(8, 40, 100)
    masked = SpecAugment(freq_masks=1, freq_width=10, time_masks=1, time_width=20)(features)
    changed = masked != features
    assert changed.any()
    # a frequency mask covers whole bands over all frames; examples get different masks
    bands = changed.all(dim=2)
    assert bands.any() and not all(torch.equal(bands[0], bands[i]) for i in range(1, 8))


def test_tts_data_needs_no_path_and_refuses_one():
    import sciarch

    data = TTSCommandsData(max_voices=(2, 1, 1))
    assert data.hints()["num_classes"] == 12
    assert "cat" in data.words() and "yes" in data.words()
    with pytest.raises(sciarch.UsageError, match="generated"):
        TTSCommandsData(path="/somewhere")


def test_speed_factors_keep_clip_length_and_scale_the_span():
    augment = WaveAugment([], time_shift_s=0.0, speed_factors=(1.1,), speed_probability=1.0, noise_probability=0.0)
    wave = torch.zeros(16000)
    wave[2000:13000] = torch.from_numpy(np.sin(np.arange(11000) * 0.05).astype(np.float32))
    out, (start, end) = augment(wave, (2000, 13000))
    assert out.shape == (16000,)
    assert (start, end) == (int(2000 / 1.1), int(13000 / 1.1))
