"""Hostile audio: a Speech Commands folder with broken, empty, odd-rate and odd-channel WAVs.

Each case adds one file (or list line) to a small valid folder (two words, three speakers each)
and prepares it as ``sciarch train`` does: the bad one is named and counted, every valid clip is
kept, and a second preparation (a warm cache) reports the same skips; strict mode stops there.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import sciarch
from sciarch_datasets.audio.speech_commands import prepare

RATE = 16000
VALID = 6  # two words, three speakers


def _tone(seconds: float = 1.0, rate: int = RATE, channels: int = 1, frequency: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * math.pi * frequency * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def _wav(data: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, data, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A valid two-word Speech Commands folder with its own cache."""
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "speech"
    for w, word in enumerate(("yes", "no")):
        (root / word).mkdir(parents=True)
        for speaker in range(3):
            (root / word / f"s{speaker}_nohash_0.wav").write_bytes(_wav(_tone(frequency=300 + 100 * speaker + w)))
    return root


BAD_FILES = {
    "0-byte WAV": (b"", "empty file (0 bytes)"),
    "truncated header": (None, "cannot read audio"),
    "text named .wav": (b"these are words, not samples\n", "cannot read audio"),
    "NaN samples": ("nan", "NaN or infinite samples"),
    "infinite samples": ("inf", "NaN or infinite samples"),
    "no samples": ("empty", "empty audio (0 samples)"),
    "implausible sample rate": ("rate", "implausible sample rate 500 Hz"),
}


def _bad_bytes(kind: bytes | str | None) -> bytes:
    if kind is None:
        return _wav(_tone())[:30]
    if kind == "nan" or kind == "inf":
        wave = _tone()
        wave[100:200] = np.nan if kind == "nan" else np.inf
        return _wav(wave, subtype="FLOAT")
    if kind == "empty":
        return _wav(np.zeros(0, dtype=np.float32))
    if kind == "rate":
        return _wav(_tone(rate=500), rate=500)
    return kind


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_clip_is_named_counted_and_the_rest_kept(case, folder):
    content, reason = BAD_FILES[case]
    (folder / "yes" / "bad_nohash_0.wav").write_bytes(_bad_bytes(content))
    _, summary = prepare(folder, quiet=True)
    bad = summary["bad_records"]
    assert bad["skipped"] == 1
    [record] = bad["records"]
    assert record["record"] == "yes/bad_nohash_0.wav" and reason in record["reason"]
    assert record["file"].endswith("bad_nohash_0.wav")
    assert sum(summary["clips"].values()) == VALID


# 16001 Hz: a rate with no large common divisor with 16 kHz (a gigabyte-sized polyphase kernel; the
# damaged-header property test found it) is resampled in the frequency domain instead
@pytest.mark.parametrize("rate,channels", [(8000, 1), (44100, 1), (RATE, 2), (22050, 6), (16001, 1)])
def test_another_rate_or_channel_count_is_converted_and_kept(rate, channels, folder):
    (folder / "no" / "odd_nohash_0.wav").write_bytes(_wav(_tone(rate=rate, channels=channels), rate=rate))
    _, summary = prepare(folder, quiet=True)
    assert summary["bad_records"]["skipped"] == 0
    assert sum(summary["clips"].values()) == VALID + 1
    assert summary["resampled"] == (rate != RATE)


def test_a_list_line_naming_a_missing_file_is_named_and_counted(folder):
    (folder / "validation_list.txt").write_text("yes/s0_nohash_0.wav\nno/gone_nohash_0.wav\n")
    (folder / "testing_list.txt").write_text("no/s1_nohash_0.wav\n")
    _, summary = prepare(folder, quiet=True)
    [record] = summary["bad_records"]["records"]
    assert record["file"].endswith("validation_list.txt") and record["record"] == "line 2"
    assert "no/gone_nohash_0.wav" in record["reason"]
    assert summary["clips"] == {"train": VALID - 2, "validation": 1, "testing": 1}


def test_a_warm_cache_reports_the_skips_again_and_strict_stops_there(folder, capsys):
    (folder / "yes" / "zero_nohash_0.wav").write_bytes(b"")
    prepare(folder)
    first = capsys.readouterr().err
    prepare(folder)
    warm = capsys.readouterr().err
    for text in (first, warm):
        assert "skipped 1 bad record(s) (1 unreadable audio)" in text
    assert "yes/zero_nohash_0.wav: empty file (0 bytes)" in warm
    with pytest.raises(sciarch.DataError, match=r"zero_nohash_0.wav: yes/zero_nohash_0.wav: empty file") as caught:
        prepare(folder, strict=True)
    assert caught.value.exit_code == 2


def test_a_bad_background_noise_file_is_named_and_counted(folder):
    from sciarch_datasets.audio.noise import read_noise_folder

    noise = folder / "_background_noise_"
    noise.mkdir()
    (noise / "rain.wav").write_bytes(_wav(_tone(seconds=2.0)))
    (noise / "broken.wav").write_bytes(b"RIFF\x00\x00")
    (noise / "short.wav").write_bytes(_wav(_tone(seconds=0.2)))
    report = sciarch.BadRecords(source=str(noise))
    found = read_noise_folder(noise, report)
    assert list(found) == ["rain.wav"]
    assert report.count == 2 and {r.record for r in report.records} == {"broken.wav", "short.wav"}


def test_train_names_the_skipped_clips(folder, tmp_path, sciarch):
    (folder / "yes" / "zero_nohash_0.wav").write_bytes(b"")
    (folder / "no" / "text_nohash_0.wav").write_text("not audio")
    (folder / "_background_noise_").mkdir()
    (folder / "_background_noise_" / "hum.wav").write_bytes(_wav(_tone(seconds=3.0, frequency=50.0)))
    sciarch("train", "keywords/speech-commands-12", "--smoke", "--run-dir", tmp_path / "run",
            "--set", f"data.args.path={folder}", "--set", "data.args.labels=all",
            "--set", "trainer.limit_val_batches=1", "--set", "trainer.limit_test_batches=1").check(
        0, "skipped 2 bad record(s) (2 unreadable audio)", "yes/zero_nohash_0.wav", "no/text_nohash_0.wav")
