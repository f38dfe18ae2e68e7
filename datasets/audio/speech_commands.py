"""The Speech Commands folder layout (Warden 2018, arXiv:1804.03209), v0.01 and v0.02.

Layout::

    root/<word>/<speaker>_nohash_<n>.wav    1 s (or shorter), 16 kHz, 16-bit mono
    root/validation_list.txt                 <word>/<file> lines: the validation split
    root/testing_list.txt                    the test split; everything else trains
    root/_background_noise_/*.wav            minutes of noise, for "silence" and augmentation

v0.01 has 30 words, v0.02 35; both are read the same way. Without the two list files (a folder of
one's own recordings) the split follows the dataset's published rule: a hash of the speaker id
(the part of the name before ``_nohash_``) puts each speaker in exactly one split, 10 % validation
and 10 % test.

:func:`prepare` reads every clip once into an int16 array per split, cached under
``sciarch.cache_dir("audio", "speech-commands", key)`` where ``key`` covers each file's name, size
and modification time. A corrupt or empty file is skipped and reported through
:class:`sciarch.BadRecords`; a file at another sample rate is resampled; a short clip is padded
with zeros, as in the dataset's own reader. Each clip also gets the sample span of its word: from
``alignments.csv`` when the folder has one (the synthesised corpus does), else from the energy of
the clip (the frames within 30 dB of its loudest 10 ms).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sciarch

from . import BACKGROUND_NOISE_DIR, COMMANDS, SAMPLE_RATE, SILENCE, UNKNOWN

SPLITS = ("train", "validation", "testing")
PREPARE_VERSION = 1
_MAX_PER_CLASS = 2 ** 27 - 1  # the published split rule's modulus


@dataclass
class PreparedSplit:
    """One split's clips: ``audio`` (N, clip) int16, word, file and word span (in samples) of each."""

    audio: np.ndarray
    words: list[str]
    files: list[str]
    spans: np.ndarray  # (N, 2) int32: first sample, one past the last sample of the word

    def __len__(self) -> int:
        return len(self.words)


def word_folders(root: str | Path) -> list[str]:
    """The word folders of a Speech Commands copy, sorted (``_background_noise_`` and hidden ones excluded)."""
    root = Path(root)
    if not root.is_dir():
        raise sciarch.DataError("not a folder (expected a Speech Commands copy: one folder per word)", file=root)
    words = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not words:
        raise sciarch.DataError("no word folders found (expected yes/, no/, ... with WAV files)", file=root)
    return words


def class_names(words: list[str], mode: str, *, silence: bool = True) -> list[str]:
    """Class names of a task: ``"12"`` (10 commands + unknown + silence) or ``"all"`` (every word)."""
    if mode == "12":
        missing = [w for w in COMMANDS if w not in words]
        if missing:
            raise sciarch.UsageError(f"the 12-class task needs folders for {', '.join(missing)}")
        return [*COMMANDS, UNKNOWN, SILENCE]
    if mode == "all":
        return [*words, SILENCE] if silence else list(words)
    raise sciarch.UsageError(f"unknown task {mode!r}: '12' or 'all'")


def which_set(filename: str, validation_percentage: float = 10.0, testing_percentage: float = 10.0) -> str:
    """The split of a file by the dataset's rule: a hash of its speaker id, so speakers never cross splits."""
    speaker = re.sub(r"_nohash_.*$", "", Path(filename).name)
    digest = hashlib.sha1(speaker.encode("utf-8")).hexdigest()
    percentage = (int(digest, 16) % (_MAX_PER_CLASS + 1)) * (100.0 / _MAX_PER_CLASS)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + testing_percentage:
        return "testing"
    return "train"


def _read_list(path: Path, known: set[str], report: sciarch.BadRecords) -> set[str]:
    out = set()
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        line = line.strip().replace("\\", "/")
        if not line:
            continue
        if line not in known:
            report.skip(f"listed file {line!r} is not in the folder", file=path, record=f"line {number}",
                        kind="listed file missing")
            continue
        out.add(line)
    return out


def scan(root: str | Path, report: sciarch.BadRecords | None = None) -> dict[str, list[tuple[str, str]]]:
    """``{split: [(relative path, word), ...]}`` for every WAV in the word folders."""
    root = Path(root)
    report = report if report is not None else sciarch.BadRecords(source=str(root))
    files = []
    for word in word_folders(root):
        for path in sorted((root / word).iterdir()):
            if path.is_file() and path.suffix.lower() == ".wav":
                files.append((f"{word}/{path.name}", word))
    known = {f for f, _ in files}
    lists = {split: root / f"{split}_list.txt" for split in ("validation", "testing")}
    splits: dict[str, list[tuple[str, str]]] = {s: [] for s in SPLITS}
    if all(p.is_file() for p in lists.values()):
        chosen = {split: _read_list(path, known, report) for split, path in lists.items()}
        for item in files:
            split = ("validation" if item[0] in chosen["validation"]
                     else "testing" if item[0] in chosen["testing"] else "train")
            splits[split].append(item)
    else:
        for item in files:
            splits[which_set(item[0])].append(item)
    return splits


def _read_alignments(root: Path) -> dict[str, tuple[int, int]]:
    path = root / "alignments.csv"
    if not path.is_file():
        return {}
    out = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                out[row["file"]] = (int(round(float(row["start_s"]) * SAMPLE_RATE)),
                                    int(round(float(row["end_s"]) * SAMPLE_RATE)))
            except (KeyError, TypeError, ValueError):
                continue  # an unusable row: the clip falls back to its energy span
    return out


def _listing(root: Path, splits: dict[str, list[tuple[str, str]]]) -> list[Any]:
    out = []
    for split in SPLITS:
        for relative, _ in splits[split]:
            stat = (root / relative).stat()
            out.append((split, relative, stat.st_size, stat.st_mtime_ns))
    alignments = root / "alignments.csv"
    if alignments.is_file():
        out.append(("alignments", alignments.stat().st_size, alignments.stat().st_mtime_ns))
    return out


def prepare(root: str | Path, *, clip_seconds: float = 1.0, strict: bool = False,
            quiet: bool = False) -> tuple[Path, dict[str, Any]]:
    """Read every clip of ``root`` once into cached arrays; return the cache folder and its report.

    A second call with an unchanged folder reads nothing but the cache.
    """
    from .espeak import active_span
    from .wav import fit_length, read_clip

    root = Path(root).resolve()
    report = sciarch.BadRecords(source=str(root), strict=strict)
    splits = scan(root, report)
    clip = int(round(clip_seconds * SAMPLE_RATE))
    key = sciarch.content_key({"version": PREPARE_VERSION, "root": str(root), "clip": clip},
                              _listing(root, splits))
    folder = sciarch.cache_dir("audio", "speech-commands") / key
    if (folder / "report.json").is_file():
        summary = json.loads((folder / "report.json").read_text())
        # the cache is keyed by the folder, not by strict: a strict run stops at the first bad clip
        # the first run skipped, and every run reports what was skipped, as the first one did
        cached = sciarch.BadRecords.from_dict(summary.get("bad_records") or {}, strict=strict)
        if not quiet:
            cached.show()
        return folder, summary
    alignments = _read_alignments(root)
    resampled: list[str] = []
    counts = {}
    with sciarch.atomic_dir(folder) as tmp:
        for split in SPLITS:
            items = splits[split]
            audio = np.lib.format.open_memmap(tmp / f"{split}.npy", mode="w+", dtype=np.int16,
                                              shape=(len(items), clip))
            kept_words, kept_files, spans = [], [], []
            for relative, word in sciarch.track(items, f"reading {split} clips"):
                wave = read_clip(root / relative, report, record=relative, resampled=resampled)
                if wave is None:
                    continue
                wave = fit_length(wave, clip)
                row = len(kept_words)
                audio[row] = np.clip(np.round(wave * 32767.0), -32768, 32767).astype(np.int16)
                span = alignments.get(relative) or active_span(wave, threshold_db=30.0)
                spans.append((min(span[0], clip), min(span[1], clip)))
                kept_words.append(word)
                kept_files.append(relative)
            audio.flush()
            del audio  # rows past len(kept_words) (files skipped) stay zero and are never read
            np.save(tmp / f"{split}_spans.npy", np.asarray(spans, dtype=np.int32).reshape(-1, 2))
            (tmp / f"{split}.json").write_text(json.dumps({"words": kept_words, "files": kept_files}))
            counts[split] = len(kept_words)
        summary = {"root": str(root), "clips": counts, "bad_records": report.to_dict(),
                   "resampled": len(resampled), "resampled_examples": resampled[:20],
                   "summary": report.summary(), "aligned": bool(alignments)}
        sciarch.write_json(tmp / "report.json", summary)
    if not quiet:
        sciarch.console.print(report.summary() + (f"; resampled {len(resampled)} file(s) to 16 kHz"
                                                  if resampled else ""))
    return folder, summary


def load_split(folder: str | Path, split: str) -> PreparedSplit:
    """One prepared split, its audio memory-mapped."""
    folder = Path(folder)
    meta = json.loads((folder / f"{split}.json").read_text())
    audio = np.load(folder / f"{split}.npy", mmap_mode="r")[: len(meta["words"])]
    return PreparedSplit(audio=audio, words=meta["words"],
                         files=meta["files"], spans=np.load(folder / f"{split}_spans.npy"))


def background_noise(root: str | Path, report: sciarch.BadRecords | None = None) -> dict[str, np.ndarray]:
    """The recordings in ``root/_background_noise_`` (empty if there is no such folder)."""
    from .noise import read_noise_folder

    folder = Path(root) / BACKGROUND_NOISE_DIR
    return read_noise_folder(folder, report) if folder.is_dir() else {}
