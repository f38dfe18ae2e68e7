"""The Speech Commands reader: splits, labels, damaged files reported, caching of prepared arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sciarch
from sciarch_datasets.audio import COMMANDS, SAMPLE_RATE, SILENCE, UNKNOWN
from sciarch_datasets.audio import speech_commands as sc
from sciarch_datasets.audio.fake import write_speech_commands

WORDS = ("yes", "no", "cat")


@pytest.fixture(scope="module")
def damaged_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("sc") / "speech_commands"
    return write_speech_commands(root, WORDS, speakers=5, corrupt=True, empty=True, wrong_rate=True,
                                 missing_listed=True)


def test_lists_decide_validation_and_test_splits(damaged_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path))
    splits = sc.scan(damaged_copy)
    listed_val = set((damaged_copy / "validation_list.txt").read_text().split())
    listed_test = set((damaged_copy / "testing_list.txt").read_text().split())
    assert {f for f, _ in splits["validation"]} == listed_val
    assert {f for f, _ in splits["testing"]} == listed_test - {"yes/notthere_nohash_0.wav"}
    # 5 speakers × 3 words, plus the three damaged files, which are in no list: training
    assert len(splits["train"]) == 2 * 3 + 3
    assert all(word == f.split("/")[0] for f, word in splits["train"])


def test_without_lists_the_speaker_hash_rule_keeps_speakers_in_one_split(tmp_path):
    root = write_speech_commands(tmp_path / "nolists", ("up", "down"), speakers=12, lists=False)
    splits = sc.scan(root)
    owner: dict[str, str] = {}
    for split, items in splits.items():
        for relative, _ in items:
            speaker = relative.split("/")[1].split("_nohash_")[0]
            assert owner.setdefault(speaker, split) == split
    assert sum(len(v) for v in splits.values()) == 24
    # the rule is the published one: stable for a given name
    assert sc.which_set("yes/0a7c2a8d_nohash_0.wav") == sc.which_set("no/0a7c2a8d_nohash_3.wav")


def test_damaged_files_are_skipped_and_reported_and_a_wrong_rate_resampled(damaged_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path))
    folder, report = sc.prepare(damaged_copy, quiet=True)
    bad = report["bad_records"]
    assert bad["skipped"] == 3  # corrupt, empty, and a listed file that does not exist
    assert bad["reasons"] == {"unreadable audio": 1, "empty audio": 1, "listed file missing": 1}
    named = {r["record"] for r in bad["records"]}
    assert {"yes/deadbeef_nohash_0.wav", "yes/0badc0de_nohash_0.wav"} <= named
    assert report["resampled"] == 1 and "8000 Hz" in report["resampled_examples"][0]
    train = sc.load_split(folder, "train")
    assert len(train) == 2 * 3 + 1  # the resampled 8 kHz file is kept
    row = train.files.index("yes/8000hz00_nohash_0.wav")
    assert train.audio.shape[1] == SAMPLE_RATE
    # half a second at 8 kHz is half a second at 16 kHz, padded with zeros to 1 s
    assert np.abs(train.audio[row, 8100:]).max() == 0
    assert np.abs(train.audio[row, 1000:7000].astype(np.float32)).mean() > 4000


def test_strict_mode_stops_at_the_first_bad_file_naming_it(damaged_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path))
    with pytest.raises(sciarch.DataError, match="notthere_nohash_0.wav|deadbeef|0badc0de"):
        sc.prepare(damaged_copy, strict=True, quiet=True)


def test_prepared_arrays_are_cached_and_rebuilt_when_a_file_changes(damaged_copy, tmp_path, monkeypatch):
    from sciarch_datasets.audio import wav

    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path))
    first, _ = sc.prepare(damaged_copy, quiet=True)
    calls = []
    monkeypatch.setattr(wav, "read_clip", lambda *a, **k: calls.append(a) or np.zeros(SAMPLE_RATE, np.float32))
    again, _ = sc.prepare(damaged_copy, quiet=True)
    assert again == first and calls == []
    target = damaged_copy / "no" / sorted(p.name for p in (damaged_copy / "no").iterdir())[0]
    target.write_bytes(target.read_bytes())  # same content, new modification time
    import os

    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    changed, _ = sc.prepare(damaged_copy, quiet=True)
    assert changed != first and len(calls) > 0


def test_word_spans_come_from_the_energy_when_there_are_no_alignments(damaged_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path))
    folder, report = sc.prepare(damaged_copy, quiet=True)
    assert report["aligned"] is False
    split = sc.load_split(folder, "validation")
    for audio, (start, end) in zip(split.audio, split.spans, strict=True):
        assert 0 <= start < end <= SAMPLE_RATE
        loud = np.nonzero(np.abs(audio.astype(np.int32)) > 500)[0]
        assert start <= loud[0] + 160 and end >= loud[-1] - 160


def test_class_names_of_the_two_tasks():
    words = sorted((*COMMANDS, "bed", "cat"))
    assert sc.class_names(words, "12") == [*COMMANDS, UNKNOWN, SILENCE]
    assert sc.class_names(words, "all", silence=False) == words
    with pytest.raises(sciarch.UsageError, match="needs folders for"):
        sc.class_names(["yes", "no"], "12")


def test_not_a_speech_commands_folder_is_a_data_error(tmp_path):
    with pytest.raises(sciarch.DataError, match="no word folders"):
        sc.word_folders(tmp_path)
    with pytest.raises(sciarch.DataError, match="not a folder"):
        sc.word_folders(tmp_path / "missing")


def test_prepare_report_is_json_beside_the_arrays(damaged_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path))
    folder, report = sc.prepare(damaged_copy, quiet=True)
    assert json.loads((folder / "report.json").read_text())["clips"] == report["clips"]
    assert report["clips"] == {"train": 7, "validation": 3, "testing": 6}
