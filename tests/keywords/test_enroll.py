"""``sciarch keywords enroll`` and ``calibrate`` end to end, on recordings the test makes.

The "user" is an eSpeak NG voice the smoke corpus never uses (a Scottish accent, speaker variant
m7), saying two keywords a few times each at different rates and pitches, plus a quarter of a minute of
their "room": other words, no keyword.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

USER = ("en-GB-scotland", "m7")
WORDS = ("yes", "no")


def invoke(args):
    from sciarch.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def say(folder, words, takes, seed):
    from sciarch_datasets.audio.espeak import Voice, speak
    from sciarch_datasets.audio.wav import write_wav

    rng = np.random.default_rng(seed)
    for word in words:
        (folder / word).mkdir(parents=True, exist_ok=True)
        for k in range(takes):
            wave = speak(word, Voice(*USER), rate=int(rng.integers(130, 220)), pitch=int(rng.integers(30, 70)))
            write_wav(folder / word / f"take{k}.wav", wave * 10 ** (rng.uniform(-12, -2) / 20) / np.abs(wave).max())


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    from sciarch.testing import check_smoke_run
    from sciarch_datasets.audio.continuous import generate_recording
    from sciarch_datasets.audio.espeak import Voice
    from sciarch_datasets.audio.wav import write_wav

    root = tmp_path_factory.mktemp("enroll")
    run = root / "base"
    check_smoke_run("keywords/tts-12", run, overrides=["data.args.continuous_minutes=0"])
    say(root / "takes", WORDS, takes=6, seed=0)
    say(root / "held-out", WORDS, takes=4, seed=1)
    audio, _ = generate_recording(0.25, [Voice(*USER)], keyword_rate=0.0, seed=3, snr_db=(20.0, 30.0))
    (root / "takes" / "_background_").mkdir()
    write_wav(root / "takes" / "_background_" / "room.wav", audio)
    return root, run


def true_class_loss(run, folder):
    """Mean end-of-keyword cross-entropy of RUN on the takes in FOLDER (lower: the words are better known)."""
    import sciarch
    import torch
    from sciarch_datasets.audio.wav import read_wav
    from sciarch_keywords.enroll import clip_of

    task = sciarch.Run(run).load_task()
    waves, labels, spans = [], [], []
    for wav in sorted(folder.glob("*/*.wav")):
        clip, span = clip_of(read_wav(wav)[0])
        waves.append(torch.from_numpy(clip))
        labels.append(task.class_names.index(wav.parent.name))
        spans.append(span)
    with torch.no_grad():
        logits = task._logits(torch.stack(waves), augment=False)
        return float(task._loss(logits, torch.tensor(labels), torch.tensor(spans)))


# 12 s on a quiet 2-core machine (a smoke run, 20 eSpeak takes, 30 steps of fine-tuning), 30-45 s under load
def test_enroll_learns_the_users_voice_and_calibrate_sets_the_threshold(user, tmp_path):
    root, base = user
    enrolled = tmp_path / "enrolled"
    result = invoke(["keywords", "enroll", base, root / "takes", "--out", enrolled, "--steps", 30,
                     "--batch-size", 8])
    assert result.exit_code == 0, result.output
    info = json.loads((enrolled / "enroll.json").read_text())
    assert info["takes"] == {"yes": 6, "no": 6} and info["background_seconds"] == 15.0
    # takes the fine-tuning never saw, by the same voice: better known after enrolling
    before, after = true_class_loss(base, root / "held-out"), true_class_loss(enrolled, root / "held-out")
    print("held-out loss before, after enrolling:", before, after)
    assert after < 0.9 * before, (before, after)

    result = invoke(["keywords", "calibrate", enrolled, root / "takes", "--fa-per-hour", 1])
    assert result.exit_code == 0, result.output
    saved = json.loads((enrolled / "calibration.json").read_text())
    assert 0.05 <= saved["threshold"] < 1.0
    # under a minute of recordings cannot resolve 1 false alarm per hour: the threshold must make none
    assert saved["allowed_false_alarms"] == 0 and not saved["resolved"] and saved["false_alarms"] == 0
    # checked independently: at the saved threshold, listening to the room finds nothing
    heard = invoke(["keywords", "listen", root / "takes" / "_background_" / "room.wav", "--run", enrolled, "--json"])
    assert heard.exit_code == 0 and "calibrated" in heard.output
    assert not [line for line in heard.stdout.splitlines() if line.startswith("{")]


def test_recordings_without_a_keyword_are_refused_and_bad_files_counted(tmp_path):
    import sciarch
    from sciarch_keywords.enroll import read_recordings

    (tmp_path / "rec" / "banana").mkdir(parents=True)
    (tmp_path / "rec" / "banana" / "a.wav").write_bytes(b"")
    with pytest.raises(sciarch.DataError, match="no recordings of the run's keywords"):
        read_recordings(tmp_path / "rec", ["yes", "no"])
    say(tmp_path / "rec", ("yes",), takes=2, seed=0)
    (tmp_path / "rec" / "yes" / "broken.wav").write_bytes(b"RIFF0000")
    takes, background = read_recordings(tmp_path / "rec", ["yes", "no"])
    assert [t.word for t in takes] == ["yes", "yes"]  # the empty and the broken file are skipped
    assert not background


@pytest.mark.slow
def test_enroll_and_calibrate_over_the_frozen_speech_embedding(user, tmp_path):
    """The same user and takes, on a smoke run of the speech-embedding recipe (80 ms frames, a frozen
    encoder run by onnxruntime): enrolling trains the head and calibration saves a threshold."""
    import importlib.util

    if importlib.util.find_spec("openwakeword") is None:
        pytest.skip("the speech-embedding front end reads the openwakeword wheel's ONNX files")
    from sciarch.testing import check_smoke_run

    root, _ = user
    base = tmp_path / "embedding"
    check_smoke_run("keywords/tts-12-embedding", base, overrides=["data.args.continuous_minutes=0"])
    enrolled = tmp_path / "enrolled"
    result = invoke(["keywords", "enroll", base, root / "takes", "--out", enrolled, "--steps", 30,
                     "--batch-size", 8])
    assert result.exit_code == 0, result.output
    before, after = true_class_loss(base, root / "held-out"), true_class_loss(enrolled, root / "held-out")
    assert after < 0.9 * before, (before, after)
    result = invoke(["keywords", "calibrate", enrolled, root / "takes", "--fa-per-hour", 1])
    assert result.exit_code == 0, result.output
    assert 0.0 < json.loads((enrolled / "calibration.json").read_text())["threshold"] < 1.0
