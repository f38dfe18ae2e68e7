"""The synthesised corpus: Speech Commands layout, split by voice, noise, caching by settings."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile
from sciarch_datasets.audio import BACKGROUND_NOISE_DIR, SAMPLE_RATE
from sciarch_datasets.audio import tts as tts_module
from sciarch_datasets.audio.tts import TTSSettings, generate_corpus, smoke_settings, split_voices, tts_corpus

KEYWORDS = ("yes", "no", "stop")
FILLERS = ("cat", "house", "marvin")


def alignment_rows(root):
    with open(root / "alignments.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    settings = smoke_settings(keywords=KEYWORDS, fillers=FILLERS, fillers_per_voice=2, noise_seconds=3.0)
    root = tmp_path_factory.mktemp("tts") / "corpus"
    meta = generate_corpus(root, settings)
    return root, settings, meta


def test_writes_the_speech_commands_layout(corpus):
    root, settings, meta = corpus
    for word in KEYWORDS + FILLERS:
        assert (root / word).is_dir()
    assert (root / "validation_list.txt").is_file() and (root / "testing_list.txt").is_file()
    wavs = sorted(root.glob("*/*.wav"))
    clips = [p for p in wavs if p.parent.name != BACKGROUND_NOISE_DIR]
    assert len(clips) == sum(meta["clips"].values())
    # every voice says every keyword once (takes=1) and two fillers
    voices = split_voices(settings)
    assert len(clips) == sum(len(v) for v in voices.values()) * (len(KEYWORDS) + 2)
    info = soundfile.info(str(clips[0]))
    assert (info.samplerate, info.frames, info.channels, info.subtype) == (SAMPLE_RATE, SAMPLE_RATE, 1, "PCM_16")


def test_split_is_by_voice_and_by_speaker_variant(corpus):
    root, settings, meta = corpus
    testing = set((root / "testing_list.txt").read_text().split())
    validation = set((root / "validation_list.txt").read_text().split())
    rows = alignment_rows(root)
    by_split: dict[str, set[str]] = {}
    variants: dict[str, set[str]] = {}
    for row in rows:
        listed = "testing" if row["file"] in testing else "validation" if row["file"] in validation else "train"
        assert listed == row["split"]
        by_split.setdefault(listed, set()).add(row["voice"])
        variants.setdefault(listed, set()).add(row["voice"].split("+")[1])
    assert set(by_split) == {"train", "validation", "testing"}
    assert not by_split["testing"] & by_split["train"]
    assert not variants["testing"] & variants["train"]
    assert not variants["validation"] & variants["train"]
    assert meta["variants"]["testing"] == sorted(variants["testing"])


def test_alignments_locate_the_spoken_word(corpus):
    root, _, _ = corpus
    rows = alignment_rows(root)
    for row in rows[:10]:
        audio, _ = soundfile.read(str(root / row["file"]), dtype="float32")
        # times are written to 0.1 ms, so allow two samples of rounding at each edge
        start = int(round(float(row["start_s"]) * SAMPLE_RATE)) - 2
        end = int(round(float(row["end_s"]) * SAMPLE_RATE)) + 2
        inside = np.abs(audio[start:end]).max()
        outside = max(np.abs(audio[:start]).max(initial=0), np.abs(audio[end:]).max(initial=0))
        assert inside > 0.01 and outside == 0.0
        assert -24.5 <= 20 * np.log10(inside) <= -0.5  # peak level drawn from the settings' range


def test_prosody_varies_between_utterances(corpus):
    root, _, _ = corpus
    rows = alignment_rows(root)
    rates = {int(r["rate_wpm"]) for r in rows}
    pitches = {int(r["pitch"]) for r in rows}
    assert len(rates) > 5 and len(pitches) > 5
    assert min(rates) >= 120


def test_noise_folder_has_coloured_noise_and_babble(corpus):
    root, _, meta = corpus
    names = sorted(p.name for p in (root / BACKGROUND_NOISE_DIR).glob("*.wav"))
    assert names == ["babble.wav", "brown_noise.wav", "pink_noise.wav", "white_noise.wav"]
    white, _ = soundfile.read(str(root / BACKGROUND_NOISE_DIR / "white_noise.wav"))
    brown, _ = soundfile.read(str(root / BACKGROUND_NOISE_DIR / "brown_noise.wav"))
    assert white.shape[0] == 3 * SAMPLE_RATE

    def high_share(x):
        power = np.abs(np.fft.rfft(x)) ** 2
        return power[len(power) // 2:].sum() / power.sum()

    # white noise has half its power in the upper half of the band, brown almost none
    assert 0.4 < high_share(white) < 0.6 and high_share(brown) < 0.01


def test_real_noise_folder_is_copied_in(tmp_path):
    from sciarch_datasets.audio.wav import write_wav

    real = tmp_path / "real"
    write_wav(real / "fan.wav", 0.1 * np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE))
    (real / "broken.wav").write_bytes(b"not audio")
    settings = smoke_settings(keywords=("yes",), fillers=("cat",), max_voices=(1, 1, 1), noise_seconds=1.0)
    meta = generate_corpus(tmp_path / "corpus", settings, noise_dir=real)
    assert "real_fan.wav" in meta["noise"]
    assert meta["noise_skipped"]["skipped"] == 1  # the unreadable one, reported
    assert (tmp_path / "corpus" / BACKGROUND_NOISE_DIR / "real_fan.wav").is_file()


def test_second_call_reuses_the_cache_and_new_settings_make_a_new_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    settings = smoke_settings(keywords=("up",), fillers=("dog",), max_voices=(1, 1, 1), noise_seconds=1.0)
    first = tts_corpus(settings, quiet=True)
    assert json.loads((first / "corpus.json").read_text())["settings"]["keywords"] == ["up"]

    def no_synthesis(*args, **kwargs):
        raise AssertionError("synthesised again")

    monkeypatch.setattr(tts_module, "generate_corpus", no_synthesis)
    assert tts_corpus(settings, quiet=True) == first
    other = TTSSettings(**{**settings.__dict__, "seed": 1})
    assert other.key() != settings.key()
    with pytest.raises(AssertionError, match="synthesised again"):
        tts_corpus(other, quiet=True)


def test_too_few_variants_for_the_split_is_a_usage_error():
    import sciarch

    with pytest.raises(sciarch.UsageError, match="variants"):
        split_voices(TTSSettings(variants=("m1", "m2"), val_variants=1, test_variants=1))
