"""A synthesised Speech Commands: keywords and other words spoken by eSpeak NG voices.

The embedded default of the keywords plugin (no download). Every voice (an English accent and a
speaker variant, see :mod:`.espeak`) speaks each keyword ``takes`` times and ``fillers_per_voice``
other words, each utterance with its own rate, pitch, pitch range and loudness, placed at a random
offset in a 1 s, 16 kHz clip. The result is written in the Speech Commands layout::

    root/
      yes/en-us.f2_nohash_0.wav ...        one folder per word
      validation_list.txt                  word/file lines, as in Speech Commands
      testing_list.txt
      _background_noise_/                  white, pink, brown noise, babble (+ a folder of real noise)
      alignments.csv                       file, word, voice, split, start_s, end_s, prosody
      corpus.json                          the settings, voices of each split, counts

The split is **by speaker variant**: the variants are shuffled once and the first
``test_variants`` go to the test split, the next ``val_variants`` to validation, the rest to
training, and a voice's split is its variant's. So no test voice (accent + variant) is heard in
training, and neither is any test speaker in another accent. Babble is made of other words (never
keywords) spoken by training voices only.

:func:`tts_corpus` caches the corpus under ``sciarch.cache_dir("audio", "tts-commands", key)``,
where ``key`` changes with every setting, so a second run with the same settings synthesises
nothing.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import sciarch

from . import BACKGROUND_NOISE_DIR, COMMANDS, OTHER_WORDS, SAMPLE_RATE
from .espeak import ENGLISH_ACCENTS, Voice, speak, variants

#: Bumped whenever the generator's output for the same settings changes, so caches are rebuilt.
GENERATOR_VERSION = 1

SPLITS = ("train", "validation", "testing")


@dataclass(frozen=True)
class TTSSettings:
    """Everything that decides a synthesised corpus (and its cache key)."""

    keywords: tuple[str, ...] = COMMANDS
    fillers: tuple[str, ...] = OTHER_WORDS
    accents: tuple[str, ...] = ENGLISH_ACCENTS
    #: other eSpeak NG languages reading the English words, for training voices only (foreign accents)
    train_accents: tuple[str, ...] = ()
    #: at most this many such voices (None: every train variant in every one of them)
    train_accent_voices: int | None = None
    #: speaker variants to use (None: every variant shipped with eSpeak NG)
    variants: tuple[str, ...] | None = None
    val_variants: int = 10
    test_variants: int = 15
    #: at most this many voices per split (None: every accent × variant of the split)
    max_voices: tuple[int | None, int | None, int | None] = (None, None, None)
    takes: int = 1
    fillers_per_voice: int = 4
    rate_wpm: tuple[int, int] = (120, 230)
    pitch: tuple[int, int] = (20, 80)
    pitch_range: tuple[int, int] = (20, 90)
    #: peak level of each utterance in dBFS
    peak_db: tuple[float, float] = (-24.0, -1.0)
    clip_seconds: float = 1.0
    noise_seconds: float = 60.0
    seed: int = 0

    def key(self, *extra: Any) -> str:
        fields = asdict(self)
        if not self.train_accents:  # settings added later leave the keys of earlier corpora as they were
            fields.pop("train_accents")
            fields.pop("train_accent_voices")
        return sciarch.content_key({"generator": GENERATOR_VERSION, **fields}, *extra)


@dataclass
class Utterance:
    word: str
    voice: Voice
    split: str
    file: str
    start_s: float
    end_s: float
    rate_wpm: int
    pitch: int
    pitch_range: int
    peak_db: float


@dataclass
class GenerationReport:
    clips: Counter = field(default_factory=Counter)
    skipped: sciarch.BadRecords = field(default_factory=lambda: sciarch.BadRecords(source="eSpeak NG"))


def split_voices(settings: TTSSettings) -> dict[str, list[Voice]]:
    """The voices of each split; variants never cross splits."""
    pool = sorted(settings.variants) if settings.variants is not None else list(variants())
    if settings.val_variants + settings.test_variants >= len(pool):
        raise sciarch.UsageError(f"{len(pool)} variants cannot give {settings.val_variants} validation and "
                                 f"{settings.test_variants} test variants and leave some for training")
    rng = np.random.default_rng(settings.seed)
    order = [pool[i] for i in rng.permutation(len(pool))]
    by_split = {"testing": order[: settings.test_variants],
                "validation": order[settings.test_variants: settings.test_variants + settings.val_variants],
                "train": order[settings.test_variants + settings.val_variants:]}
    out = {}
    for split, cap in zip(SPLITS, settings.max_voices, strict=True):
        voices = [Voice(accent, variant) for variant in by_split[split] for accent in settings.accents]
        if cap is not None and cap < len(voices):
            keep = np.sort(rng.choice(len(voices), size=cap, replace=False))
            voices = [voices[i] for i in keep]
        if split == "train" and settings.train_accents:
            foreign = [Voice(accent, variant) for variant in by_split[split] for accent in settings.train_accents]
            cap = settings.train_accent_voices
            if cap is not None and cap < len(foreign):
                foreign = [foreign[i] for i in np.sort(rng.choice(len(foreign), size=cap, replace=False))]
            voices = voices + foreign
        out[split] = voices
    return out


def _voice_seed(settings: TTSSettings, voice: Voice) -> int:
    # a voice's utterances depend on the settings and the voice only, not on the order of work
    digest = hashlib.sha256(f"{settings.seed}:{voice.name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _speak_fitting(word: str, voice: Voice, rng: np.random.Generator, settings: TTSSettings,
                   max_samples: int) -> tuple[np.ndarray, int, int, int] | None:
    """The word spoken with random prosody, faster if it does not fit; ``None`` if it never fits."""
    rate = int(rng.integers(settings.rate_wpm[0], settings.rate_wpm[1] + 1))
    pitch = int(rng.integers(settings.pitch[0], settings.pitch[1] + 1))
    pitch_range = int(rng.integers(settings.pitch_range[0], settings.pitch_range[1] + 1))
    for _ in range(4):
        wave = speak(word, voice, rate=rate, pitch=pitch, pitch_range=pitch_range)
        if 0 < wave.shape[0] <= max_samples:
            return wave, rate, pitch, pitch_range
        rate = int(rate * 1.25) + 10
    return None


def synthesize_voice(settings: TTSSettings, voice: Voice, split: str) -> tuple[list[tuple[Utterance, np.ndarray]],
                                                                                 list[tuple[str, str]]]:
    """Every clip one voice speaks: its keywords (``takes`` each) and its share of other words.

    Returns the clips and the (word, reason) of any utterance that could not be made.
    """
    rng = np.random.default_rng(_voice_seed(settings, voice))
    clip = int(round(settings.clip_seconds * SAMPLE_RATE))
    margin = int(0.02 * SAMPLE_RATE)
    words = [w for w in settings.keywords for _ in range(settings.takes)]
    if settings.fillers and settings.fillers_per_voice:
        pick = rng.choice(len(settings.fillers), size=min(settings.fillers_per_voice, len(settings.fillers)),
                          replace=False)
        words += [settings.fillers[i] for i in sorted(pick)]
    out, failed = [], []
    takes: Counter = Counter()
    for word in words:
        spoken = _speak_fitting(word, voice, rng, settings, clip - 2 * margin)
        if spoken is None:
            failed.append((word, f"longer than {settings.clip_seconds:g} s even when spoken faster"))
            continue
        wave, rate, pitch, pitch_range = spoken
        peak_db = float(rng.uniform(*settings.peak_db))
        wave = wave * (10 ** (peak_db / 20) / max(float(np.abs(wave).max()), 1e-8))
        offset = int(rng.integers(margin, clip - margin - wave.shape[0] + 1))
        audio = np.zeros(clip, dtype=np.float32)
        audio[offset: offset + wave.shape[0]] = wave
        take = takes[word]
        takes[word] += 1
        utterance = Utterance(word=word, voice=voice, split=split, file=f"{word}/{voice.speaker_id}_nohash_{take}.wav",
                              start_s=offset / SAMPLE_RATE, end_s=(offset + wave.shape[0]) / SAMPLE_RATE,
                              rate_wpm=rate, pitch=pitch, pitch_range=pitch_range, peak_db=round(peak_db, 2))
        out.append((utterance, audio))
    return out, failed


def _synthesize_job(job: tuple[TTSSettings, Voice, str]) -> tuple[list[tuple[Utterance, bytes]], list[tuple[str, str]]]:
    from .wav import wav_bytes

    settings, voice, split = job
    clips, failed = synthesize_voice(settings, voice, split)
    return [(utterance, wav_bytes(audio)) for utterance, audio in clips], failed


def generate_noise(settings: TTSSettings, voices: list[Voice], folder: Path,
                   noise_dir: str | Path | None = None, report: sciarch.BadRecords | None = None) -> list[str]:
    """Write coloured noise, babble from ``voices`` and any real noise into ``folder``; return names."""
    from .noise import babble, coloured_noise, read_noise_folder
    from .wav import write_wav

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, colour in enumerate(("white", "pink", "brown")):
        write_wav(folder / f"{colour}_noise.wav", coloured_noise(colour, settings.noise_seconds, seed=settings.seed + i))
        written.append(f"{colour}_noise.wav")
    if settings.fillers and voices:
        rng = np.random.default_rng(settings.seed + 17)
        utterances = []
        for _ in range(min(200, 8 * len(voices))):
            voice = voices[int(rng.integers(len(voices)))]
            word = settings.fillers[int(rng.integers(len(settings.fillers)))]
            wave = speak(word, voice, rate=int(rng.integers(140, 220)), pitch=int(rng.integers(20, 80)))
            if wave.size:
                utterances.append(wave)
        write_wav(folder / "babble.wav", babble(utterances, settings.noise_seconds, seed=settings.seed))
        written.append("babble.wav")
    if noise_dir is not None:
        for name, wave in read_noise_folder(noise_dir, report).items():
            target = f"real_{Path(name).stem}.wav"
            write_wav(folder / target, wave)
            written.append(target)
    return written


def generate_corpus(root: str | Path, settings: TTSSettings = TTSSettings(), *, noise_dir: str | Path | None = None,
                    workers: int = 1) -> dict[str, Any]:
    """Synthesise the corpus into ``root`` (written whole or not at all); return its ``corpus.json``.

    ``workers > 1`` synthesises voices in that many processes, each with its own copy of the
    eSpeak NG library (its state is global, so threads would not help).
    """
    root = Path(root)
    voices = split_voices(settings)
    jobs = [(settings, voice, split) for split in SPLITS for voice in voices[split]]
    report = GenerationReport()
    utterances: list[Utterance] = []
    with sciarch.atomic_dir(root) as tmp:
        for word in sorted(set(settings.keywords) | set(settings.fillers)):
            (tmp / word).mkdir()

        def consume(result: tuple[list[tuple[Utterance, bytes]], list[tuple[str, str]]], voice: Voice) -> None:
            encoded, failed = result
            for utterance, data in encoded:
                (tmp / utterance.file).write_bytes(data)
                utterances.append(utterance)
                report.clips[utterance.split] += 1
            for word, reason in failed:
                report.skipped.skip(reason, file=voice.name, record=word, kind="utterance too long")

        if workers > 1:
            import concurrent.futures
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                for (_, voice, _), result in zip(jobs, pool.map(_synthesize_job, jobs, chunksize=4), strict=True):
                    consume(result, voice)
        else:
            for job in sciarch.track(jobs, "synthesising voices"):
                consume(_synthesize_job(job), job[1])

        noise_report = sciarch.BadRecords(source=str(noise_dir) if noise_dir else "noise")
        noise_files = generate_noise(settings, voices["train"], tmp / BACKGROUND_NOISE_DIR, noise_dir, noise_report)
        for name, split in (("validation_list.txt", "validation"), ("testing_list.txt", "testing")):
            lines = sorted(u.file for u in utterances if u.split == split)
            (tmp / name).write_text("".join(f"{line}\n" for line in lines))
        with open(tmp / "alignments.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "word", "voice", "split", "start_s", "end_s", "rate_wpm", "pitch",
                             "pitch_range", "peak_db"])
            for u in sorted(utterances, key=lambda u: u.file):
                writer.writerow([u.file, u.word, u.voice.name, u.split, f"{u.start_s:.4f}", f"{u.end_s:.4f}",
                                 u.rate_wpm, u.pitch, u.pitch_range, u.peak_db])
        meta = {
            "generator": f"sciarch_datasets.audio.tts v{GENERATOR_VERSION} (eSpeak NG via espeakng-loader)",
            "settings": asdict(settings),
            "voices": {split: [v.name for v in vs] for split, vs in voices.items()},
            "variants": {split: sorted({v.variant for v in vs}) for split, vs in voices.items()},
            "clips": dict(report.clips),
            "skipped": report.skipped.to_dict(),
            "noise": noise_files,
            "noise_skipped": noise_report.to_dict(),
        }
        sciarch.write_json(tmp / "corpus.json", meta)
    if report.skipped.count:
        sciarch.console.print(report.skipped.summary())
    return meta


def tts_corpus(settings: TTSSettings = TTSSettings(), *, noise_dir: str | Path | None = None,
               workers: int = 1, quiet: bool = False) -> Path:
    """The corpus for ``settings``, synthesised on first use and cached; returns its folder."""
    extra = []
    if noise_dir is not None:
        folder = Path(noise_dir)
        if not folder.is_dir():
            raise sciarch.DataError("not a folder of noise recordings", file=folder)
        extra = [{"noise": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.glob("*"))]}]
    root = sciarch.cache_dir("audio", "tts-commands") / settings.key(*extra)
    if (root / "corpus.json").is_file():
        return root
    if not quiet:
        voices = split_voices(settings)
        sciarch.console.print(f"synthesising a keyword corpus with eSpeak NG into {root} "
                              f"({', '.join(f'{len(v)} {s} voices' for s, v in voices.items())})")
    generate_corpus(root, settings, noise_dir=noise_dir, workers=workers)
    return root


def smoke_settings(**changes: Any) -> TTSSettings:
    """A tiny corpus (a few voices per split) for tests and smoke runs."""
    base = TTSSettings(accents=("en", "en-US"), val_variants=1, test_variants=1, max_voices=(4, 1, 2),
                       fillers_per_voice=3, noise_seconds=5.0)
    return replace(base, **changes)
