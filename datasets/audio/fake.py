"""A tiny Speech Commands-layout folder written on the spot, for tests and examples.

:func:`write_speech_commands` speaks the given words with a few eSpeak NG voices (each voice a
"speaker" with a Speech Commands-style hashed name) and writes them as a v0.01/v0.02-layout copy:
word folders, ``validation_list.txt`` / ``testing_list.txt`` (or none, to exercise the hash rule)
and ``_background_noise_``. It can also plant the damage real copies have: an unreadable file, an
empty file, a file at another sample rate, a list line naming a missing file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from . import BACKGROUND_NOISE_DIR, SAMPLE_RATE


def write_speech_commands(root: str | Path, words: tuple[str, ...], *, speakers: int = 6, lists: bool = True,
                          corrupt: bool = False, empty: bool = False, wrong_rate: bool = False,
                          missing_listed: bool = False, noise_seconds: float = 3.0, seed: int = 0) -> Path:
    """Write the folder and return it. Speakers ``0 … speakers-1``: the last two are the test
    split, the one before validation (when ``lists``)."""
    from .espeak import ENGLISH_ACCENTS, Voice, speak, variants
    from .noise import coloured_noise
    from .wav import write_wav

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pool = variants()
    validation, testing = [], []
    for s in range(speakers):
        voice = Voice(ENGLISH_ACCENTS[s % len(ENGLISH_ACCENTS)], pool[(7 * s + seed) % len(pool)])
        speaker = hashlib.sha1(f"{seed}:{voice.name}".encode()).hexdigest()[:8]
        for word in words:
            wave = speak(word, voice, rate=int(rng.integers(140, 200)))[: SAMPLE_RATE - 800]
            clip = np.zeros(SAMPLE_RATE, dtype=np.float32)
            offset = int(rng.integers(0, SAMPLE_RATE - wave.shape[0]))
            clip[offset: offset + wave.shape[0]] = 0.5 * wave / max(float(np.abs(wave).max()), 1e-6)
            name = f"{word}/{speaker}_nohash_0.wav"
            write_wav(root / name, clip)
            if s == speakers - 3:
                validation.append(name)
            elif s >= speakers - 2:
                testing.append(name)
    noise = root / BACKGROUND_NOISE_DIR
    for i, colour in enumerate(("white", "pink")):
        write_wav(noise / f"{colour}_noise.wav", coloured_noise(colour, noise_seconds, seed=seed + i))
    damaged = []
    if corrupt:
        (root / words[0] / "deadbeef_nohash_0.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(40))
        damaged.append(f"{words[0]}/deadbeef_nohash_0.wav")
    if empty:
        write_wav(root / words[0] / "0badc0de_nohash_0.wav", np.zeros(0, dtype=np.float32))
        damaged.append(f"{words[0]}/0badc0de_nohash_0.wav")
    if wrong_rate:
        import soundfile

        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(4000) / 8000).astype(np.float32)  # 0.5 s
        soundfile.write(str(root / words[0] / "8000hz00_nohash_0.wav"), tone, 8000, subtype="PCM_16")
    if lists:
        if missing_listed:
            testing.append(f"{words[0]}/notthere_nohash_0.wav")
        (root / "validation_list.txt").write_text("".join(f"{n}\n" for n in validation))
        (root / "testing_list.txt").write_text("".join(f"{n}\n" for n in testing))
    return root
