"""``sciarch keywords listen``: detections with times from a file, and live from raw PCM on stdin.

The default pass checks the command end to end on a smoke-trained run (file and ``--stream`` must
report the same detections); the slow test trains a small model for real and checks that it finds
the keywords spoken, by voices it never heard, in a generated recording.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sciarch_datasets.audio.continuous import generate_recording, write_events
from sciarch_datasets.audio.wav import to_pcm16, write_wav


def sciarch_cli(args, **kwargs) -> subprocess.CompletedProcess:
    """``sciarch ARGS`` in a subprocess, as a user runs it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "sciarch", *map(str, args)], capture_output=True, env=env,
                          timeout=600, **kwargs)


def sciarch_in_process(args, input: bytes | None = None):
    """``sciarch ARGS`` through click's runner in this process (no interpreter start-up)."""
    from click.testing import CliRunner
    from sciarch.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from sciarch.testing import check_smoke_run

    run_dir = tmp_path_factory.mktemp("runs") / "tts-12-smoke"
    check_smoke_run("keywords/tts-12", run_dir)
    return run_dir


def recording(path, voices, minutes=0.3, seed=0, keywords=("yes", "no", "up", "down", "left", "right", "on", "off",
                                                              "stop", "go")):
    audio, events = generate_recording(minutes, voices, keywords=keywords, keyword_rate=0.5, seed=seed,
                                       snr_db=(25.0, 30.0))
    write_wav(path, audio)
    write_events(path.with_suffix(".csv"), events)
    return audio, events


def test_listen_reports_the_same_detections_from_a_file_and_from_a_stream(smoke_run, tmp_path):
    from sciarch_datasets.audio.espeak import Voice

    audio, _ = recording(tmp_path / "talk.wav", [Voice("en", "m3")], minutes=0.1)
    # an untrained model's posteriors hover near 1/12: a low threshold makes it fire
    common = ["--run", smoke_run, "--threshold", "0.08", "--json"]
    from_file = sciarch_in_process(["keywords", "listen", tmp_path / "talk.wav", *common])
    assert from_file.exit_code == 0, from_file.output
    from_stream = sciarch_cli(["keywords", "listen", "-", "--stream", *common],
                              input=to_pcm16(audio).astype("<i2").tobytes())
    assert from_stream.returncode == 0, from_stream.stderr.decode()
    file_hits = [json.loads(line) for line in from_file.stdout.splitlines() if line.startswith("{")]
    stream_hits = [json.loads(line) for line in from_stream.stdout.decode().splitlines()]
    assert file_hits, "no detection at all: the comparison would prove nothing"
    assert [(d["time_s"], d["word"]) for d in stream_hits] == [(d["time_s"], d["word"]) for d in file_hits]
    assert all(abs(a["score"] - b["score"]) < 1e-3 for a, b in zip(stream_hits, file_hits, strict=True))
    assert "listened to 6.00 s" in from_stream.stderr.decode()


def test_predict_writes_the_detections_as_csv(smoke_run, tmp_path):
    from sciarch_datasets.audio.espeak import Voice
    from sciarch_keywords.listen import listen_file, load_model, predict

    recording(tmp_path / "talk.wav", [Voice("en-US", "f3")], minutes=0.05)
    summary = predict(smoke_run, tmp_path / "talk.wav", tmp_path / "out.csv", threshold=0.08)
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert rows[0] == "time_s,word,score" and len(rows) - 1 == summary["detections"]
    model, names, smooth = load_model(smoke_run)
    found, seconds = listen_file(model, names, tmp_path / "talk.wav", threshold=0.08, smooth_frames=smooth)
    assert seconds == summary["seconds"] == 3.0
    assert [r.split(",")[1] for r in rows[1:]] == [d.word for d in found]


def test_listen_explains_a_missing_run_and_a_bad_file(smoke_run, tmp_path):
    import sciarch

    with pytest.raises(sciarch.NotFoundError, match="not a run directory"):
        sciarch_in_process(["keywords", "listen", tmp_path / "x.wav", "--run", tmp_path / "nowhere"])
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(sciarch.DataError, match=r"bad\.wav.*cannot read audio"):
        sciarch_in_process(["keywords", "listen", tmp_path / "bad.wav", "--run", smoke_run])


@pytest.mark.slow
def test_listen_finds_the_keywords_in_a_recording_with_a_trained_model(tmp_path):
    """Train a 3-keyword WaveNet on synthesised speech (10-20 min on one CPU thread), then listen."""
    from sciarch.config import load
    from sciarch.training import train
    from sciarch_datasets.audio.continuous import read_events
    from sciarch_datasets.audio.espeak import Voice
    from sciarch_datasets.audio.tts import TTSSettings, split_voices
    from sciarch_keywords.detection import Detection, score_detections

    keywords = ["yes", "stop", "left"]
    overrides = [f"data.args.keywords={json.dumps(keywords)}", "data.args.accents=[en, en-US, en-GB-x-rp]",
                 "data.args.continuous_minutes=0.0", "data.args.takes=3", "data.args.max_voices=[240, 20, 20]",
                 "data.args.batch_size=32", "model.args.layers=12", "trainer.max_epochs=12"]
    resolved = load("keywords/tts-12", overrides=overrides)
    run_dir = tmp_path / "run"
    train(resolved, run_dir=run_dir, quiet=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["test"]["test/acc"] > 0.9

    held_out = split_voices(TTSSettings(accents=("en", "en-US", "en-GB-x-rp")))["testing"]
    assert all(isinstance(v, Voice) for v in held_out)
    # two minutes (about 20 keywords): with ten, one false alarm more or less decided the test
    recording(tmp_path / "talk.wav", held_out, minutes=2.0, seed=7, keywords=tuple(keywords))
    events = read_events(tmp_path / "talk.csv")
    result = sciarch_cli(["keywords", "listen", tmp_path / "talk.wav", "--run", run_dir, "--json"])
    assert result.returncode == 0, result.stderr.decode()
    found = [Detection(**json.loads(line)) for line in result.stdout.decode().splitlines()]
    scored = score_detections(found, events, hours=2.0 / 60, keywords=keywords)
    assert scored["keywords"] >= 15
    assert scored["false_reject_rate"] <= 0.2, (scored, found)
    assert scored["false_alarms"] <= 0.2 * scored["keywords"], (scored, found)


def test_generate_and_record_commands_write_corpora_and_labelled_recordings(tmp_path):
    import csv

    import soundfile

    result = sciarch_in_process(["keywords", "generate", tmp_path / "corpus", "--accents", "en,en-US",
                                 "--max-voices", "2,1,1", "--keywords", "yes,no", "--fillers-per-voice", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "corpus" / "yes").is_dir() and (tmp_path / "corpus" / "testing_list.txt").is_file()
    assert len(list((tmp_path / "corpus").glob("*/*_nohash_*.wav"))) == 4 * 3
    result = sciarch_in_process(["keywords", "record", tmp_path / "talk.wav", "--minutes", "0.2", "--snr", "10,20"])
    assert result.exit_code == 0, result.output
    info = soundfile.info(str(tmp_path / "talk.wav"))
    assert (info.samplerate, round(info.duration)) == (16000, 12)
    with open(tmp_path / "talk.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(0 <= float(r["start_s"]) < float(r["end_s"]) <= 12 for r in rows)
    with pytest.raises(Exception, match="LOW,HIGH"):
        sciarch_in_process(["keywords", "record", tmp_path / "x.wav", "--snr", "loud"])


def test_export_command_checks_what_it_writes(smoke_run, tmp_path):
    result = sciarch_in_process(["keywords", "export", smoke_run, "--torchscript", tmp_path / "kws.pt"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["torchscript"]["max_abs_diff"] <= 1e-6 and report["classes"][-1] == "_silence_"
    assert (tmp_path / "kws.pt").stat().st_size > 10_000
