"""eSpeak NG through its shared library: voices, prosody, trimming."""

from __future__ import annotations

import numpy as np
import pytest
import sciarch
import torch
from sciarch_datasets.audio import SAMPLE_RATE
from sciarch_datasets.audio.espeak import ENGLISH_ACCENTS, ESpeakNG, Voice, active_span, speak, variants
from sciarch_datasets.audio.features import log_mel


def test_speaks_a_word_as_16khz_audio_of_plausible_length():
    wave = speak("seven", Voice("en-US", "m3"))
    assert wave.dtype == np.float32
    # a two-syllable word at 175 words per minute: a few hundred milliseconds
    assert 0.2 * SAMPLE_RATE < wave.shape[0] < 0.9 * SAMPLE_RATE
    assert 0.05 < np.abs(wave).max() <= 1.0


def test_library_runs_at_its_native_rate_and_ships_many_variants():
    assert ESpeakNG.get().sample_rate == 22050
    assert len(variants()) >= 50
    assert {"m3", "f2", "klatt"} <= set(variants())


def test_voices_and_prosody_change_the_audio():
    base = speak("left", Voice("en", "m1"), rate=160, pitch=50)
    other_voice = speak("left", Voice("en-US", "f2"), rate=160, pitch=50)
    faster = speak("left", Voice("en", "m1"), rate=260, pitch=50)
    assert faster.shape[0] < 0.85 * base.shape[0]
    n = min(base.shape[0], other_voice.shape[0])
    assert np.abs(base[:n] - other_voice[:n]).mean() > 0.01
    # the same voice and prosody give the same timing and the same spectrum (not the same samples:
    # eSpeak NG's noise sources draw from the library's own random state)
    again = speak("left", Voice("en", "m1"), rate=160, pitch=50)
    assert abs(again.shape[0] - base.shape[0]) <= 320  # trimming may differ by a 10 ms frame at an edge
    m = min(base.shape[0], again.shape[0])
    same = np.corrcoef(log_mel(torch.from_numpy(base[:m])).flatten(),
                       log_mel(torch.from_numpy(again[:m])).flatten())[0, 1]
    other = np.corrcoef(log_mel(torch.from_numpy(base[:n])).flatten(),
                        log_mel(torch.from_numpy(other_voice[:n])).flatten())[0, 1]
    assert same > 0.95 and other < 0.8


def test_every_english_accent_is_a_voice_eSpeak_knows():
    for accent in ENGLISH_ACCENTS:
        assert speak("go", Voice(accent, "m2")).shape[0] > 1000


def test_unknown_voice_is_a_usage_error():
    with pytest.raises(sciarch.UsageError, match="no voice"):
        speak("yes", "xx-nowhere+nobody")


def test_active_span_finds_a_tone_between_silences():
    wave = np.zeros(SAMPLE_RATE, dtype=np.float32)
    wave[4000:9000] = np.sin(np.arange(5000) * 0.3)
    start, end = active_span(wave)
    assert abs(start - 4000) <= 160 and abs(end - 9000) <= 160
    assert active_span(np.zeros(1000, dtype=np.float32)) == (0, 0)
