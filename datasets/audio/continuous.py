"""Long recordings with keywords at known times among other words and noise.

A keyword spotter that listens all day is judged by how many keywords it misses (false rejects)
at a fixed rate of false alarms per hour, which needs long audio where every keyword's time is
known. :func:`generate_recording` lays utterances end to end with random pauses: with probability
``keyword_rate`` a keyword, otherwise another word, each spoken by a random voice (by default the
test voices of a synthesised corpus, never heard in training), then mixes background noise at a
random SNR over the whole recording. The labels are written beside it as CSV::

    word,start_s,end_s,voice,keyword
    left,3.214,3.602,en-US+f2,1
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sciarch

from . import COMMANDS, OTHER_WORDS, SAMPLE_RATE


@dataclass
class Event:
    word: str
    start_s: float
    end_s: float
    voice: str
    keyword: bool


def generate_recording(minutes: float, voices: list, *, keywords: tuple[str, ...] = COMMANDS,
                       others: tuple[str, ...] = OTHER_WORDS, keyword_rate: float = 0.35,
                       pause_s: tuple[float, float] = (0.4, 2.5), snr_db: tuple[float, float] = (5.0, 20.0),
                       noise: list[np.ndarray] | None = None, peak_db: tuple[float, float] = (-20.0, -2.0),
                       rate_wpm: tuple[int, int] = (130, 220), seed: int = 0) -> tuple[np.ndarray, list[Event]]:
    """``minutes`` of 16 kHz audio and its events (every word spoken, with its time span).

    ``voices`` are :class:`~sciarch_datasets.audio.espeak.Voice` objects (or names); ``noise`` a
    list of noise recordings cut into the background (default: pink noise), re-drawn every
    10 s at an SNR from ``snr_db`` measured against the average speech level.
    """
    from .espeak import speak
    from .noise import coloured_noise

    if not voices:
        raise sciarch.UsageError("a continuous recording needs at least one voice")
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * SAMPLE_RATE)
    audio = np.zeros(total, dtype=np.float32)
    events: list[Event] = []
    position = int(rng.uniform(*pause_s) * SAMPLE_RATE)
    while True:
        is_keyword = bool(rng.random() < keyword_rate)
        pool = keywords if is_keyword else others
        word = pool[int(rng.integers(len(pool)))]
        voice = voices[int(rng.integers(len(voices)))]
        wave = speak(word, voice, rate=int(rng.integers(*rate_wpm)), pitch=int(rng.integers(20, 80)),
                     pitch_range=int(rng.integers(20, 90)))
        if wave.size == 0:
            continue
        if position + wave.shape[0] >= total - SAMPLE_RATE // 2:
            break
        wave = wave * (10 ** (rng.uniform(*peak_db) / 20) / max(float(np.abs(wave).max()), 1e-8))
        audio[position: position + wave.shape[0]] += wave
        name = getattr(voice, "name", str(voice))
        events.append(Event(word, position / SAMPLE_RATE, (position + wave.shape[0]) / SAMPLE_RATE, name,
                            is_keyword))
        position += wave.shape[0] + int(rng.uniform(*pause_s) * SAMPLE_RATE)
    speech_power = float(np.mean(np.concatenate([audio[int(e.start_s * SAMPLE_RATE): int(e.end_s * SAMPLE_RATE)]
                                                 for e in events]) ** 2)) if events else 1e-4
    segment = 10 * SAMPLE_RATE
    sources = noise or [coloured_noise("pink", 60.0, seed=seed)]
    for begin in range(0, total, segment):
        end = min(total, begin + segment)
        source = sources[int(rng.integers(len(sources)))]
        if source.shape[0] < end - begin:
            source = np.tile(source, (end - begin) // source.shape[0] + 1)
        offset = int(rng.integers(0, source.shape[0] - (end - begin) + 1))
        piece = source[offset: offset + end - begin].astype(np.float64)
        power = float(np.mean(piece ** 2))
        if power > 0:
            snr = rng.uniform(*snr_db)
            audio[begin:end] += (piece * np.sqrt(speech_power / (power * 10 ** (snr / 10)))).astype(np.float32)
    peak = float(np.abs(audio).max())
    if peak > 0.99:  # keep the mixture inside 16-bit range without clipping
        audio *= 0.99 / peak
    return audio, events


def write_events(path: str | Path, events: list[Event]) -> None:
    """The labels of a recording as CSV (``word,start_s,end_s,voice,keyword``), atomically."""
    with sciarch.atomic_write(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["word", "start_s", "end_s", "voice", "keyword"])
        for e in events:
            writer.writerow([e.word, f"{e.start_s:.4f}", f"{e.end_s:.4f}", e.voice, int(e.keyword)])


def read_events(path: str | Path) -> list[Event]:
    """Labels written by :func:`write_events`; a malformed row is a :class:`sciarch.DataError`."""
    out = []
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                out.append(Event(row["word"], float(row["start_s"]), float(row["end_s"]), row.get("voice", ""),
                                 str(row.get("keyword", "1")).strip() in ("1", "true", "True")))
            except (KeyError, TypeError, ValueError) as exc:
                raise sciarch.DataError(f"malformed label row ({exc})", file=path, record=f"line {number}") from None
    return out


def continuous_test_set(corpus_root: str | Path, minutes: float, *, recordings: int = 1, seed: int = 1234,
                        keyword_rate: float = 0.35) -> list[tuple[Path, Path]]:
    """Recordings spoken by the test voices of a synthesised corpus, with its noise; cached beside it.

    Returns ``[(wav, labels csv), ...]``; a second call with the same arguments synthesises nothing.
    """
    import json

    from .espeak import Voice
    from .speech_commands import background_noise
    from .wav import write_wav

    corpus_root = Path(corpus_root)
    meta = json.loads((corpus_root / "corpus.json").read_text())
    voices = [Voice(*name.split("+", 1)) for name in meta["voices"]["testing"]]
    settings = meta["settings"]
    keywords = tuple(settings["keywords"])
    others = tuple(settings["fillers"])
    folder = corpus_root / "continuous"
    out = []
    for i in range(recordings):
        stem = f"test-{minutes:g}min-{keyword_rate:g}-seed{seed + i}"
        wav, labels = folder / f"{stem}.wav", folder / f"{stem}.csv"
        if not (wav.is_file() and labels.is_file()):
            noise = list(background_noise(corpus_root).values()) or None
            audio, events = generate_recording(minutes, voices, keywords=keywords, others=others,
                                               keyword_rate=keyword_rate, noise=noise, seed=seed + i)
            write_wav(wav, audio)
            write_events(labels, events)
        out.append((wav, labels))
    return out
