"""Speech from eSpeak NG, through the shared library the ``espeakng-loader`` wheel ships.

eSpeak NG is a formant synthesiser: a *voice* is a language (its pronunciation rules and accent,
``en-US``, ``en-GB-scotland``) combined with a *variant* (the speaker's formants, breathiness and
pitch, ``m3``, ``f2``, ``klatt``), written ``en-US+f2``. Rate (words per minute), pitch (0-100) and
pitch range (0-100) vary the prosody of each utterance.

The library keeps global state (one current voice, one callback), so :class:`ESpeakNG` loads it
once per process and serialises calls with a lock; to synthesise in parallel, use one process per
worker, each with its own copy of the library. Timing and pitch are deterministic, but the noise
sources of fricatives and aspiration draw from the library's own random state, so synthesising the
same utterance twice is not bit-identical: a generated corpus is cached, not re-synthesised.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import sciarch

from . import SAMPLE_RATE

# espeak_AUDIO_OUTPUT, espeak_PARAMETER, espeak_POSITION_TYPE and flags from speak_lib.h
AUDIO_OUTPUT_SYNCHRONOUS = 2
RATE, VOLUME, PITCH, RANGE = 1, 2, 3, 4
POS_CHARACTER = 1
CHARS_UTF8 = 1
EE_OK = 0

#: English accents eSpeak NG ships (``en-Shaw`` reads the Shavian alphabet, so it is left out).
ENGLISH_ACCENTS = ("en", "en-US", "en-029", "en-GB-scotland", "en-GB-x-gbclan", "en-GB-x-gbcwmd",
                   "en-GB-x-rp", "en-US-nyc")

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class Voice:
    """One eSpeak NG voice: an accent (language) and a speaker variant."""

    accent: str
    variant: str

    @property
    def name(self) -> str:
        """The name ``espeak_SetVoiceByName`` takes: ``en-US+f2``."""
        return f"{self.accent}+{self.variant}"

    @property
    def speaker_id(self) -> str:
        """A file-name-safe id, used where Speech Commands puts its speaker hash."""
        return f"{self.accent}.{self.variant}".lower().replace(" ", "-").replace("_", "-")


@lru_cache(maxsize=1)
def variants() -> tuple[str, ...]:
    """Every speaker variant in the shipped voice data (``voices/!v``), sorted."""
    loader = sciarch.require("espeakng_loader", "audio")
    folder = Path(loader.get_data_path()) / "voices" / "!v"
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_file()))


class ESpeakNG:
    """The eSpeak NG shared library of this process, set up for synchronous synthesis to memory."""

    _instance: ESpeakNG | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        loader = sciarch.require("espeakng_loader", "audio")
        self.lib = ctypes.CDLL(loader.get_library_path())
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                          ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, loader.get_data_path().encode(), 0)
        if rate <= 0:
            raise sciarch.SciarchError(f"espeak_Initialize failed (returned {rate}) with data at "
                                       f"{loader.get_data_path()}")
        self.sample_rate = int(rate)
        self._chunks: list[np.ndarray] = []
        # kept on the instance: ctypes must not free the callback while the library holds it
        self._callback = _CALLBACK(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)
        self._lock = threading.Lock()
        self._voice: str | None = None

    @classmethod
    def get(cls) -> ESpeakNG:
        """The process's one instance (the library's state is global)."""
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _collect(self, samples: ctypes.POINTER(ctypes.c_short), count: int, events: int) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0  # 0: go on synthesising

    def synthesize(self, text: str, voice: Voice | str, *, rate: int = 175, pitch: int = 50,
                   pitch_range: int = 50, volume: int = 60) -> np.ndarray:
        """``text`` spoken by ``voice`` as int16 samples at :attr:`sample_rate` (22 050 Hz).

        ``volume`` stays below eSpeak's default 100 because several variants clip at that level;
        loudness is varied afterwards by a gain.
        """
        name = voice.name if isinstance(voice, Voice) else voice
        with self._lock:
            if name != self._voice:
                if self.lib.espeak_SetVoiceByName(name.encode()) != EE_OK:
                    raise sciarch.UsageError(f"eSpeak NG has no voice {name!r}")
                self._voice = name
            for parameter, value in ((RATE, rate), (PITCH, pitch), (RANGE, pitch_range), (VOLUME, volume)):
                self.lib.espeak_SetParameter(parameter, int(value), 0)
            encoded = text.encode("utf-8") + b"\0"
            self._chunks = []
            status = self.lib.espeak_Synth(encoded, len(encoded), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
            if status != EE_OK:
                raise sciarch.SciarchError(f"espeak_Synth failed with status {status} for {text!r} ({name})")
            chunks, self._chunks = self._chunks, []
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


def speak(text: str, voice: Voice | str, *, rate: int = 175, pitch: int = 50, pitch_range: int = 50,
          sample_rate: int = SAMPLE_RATE, trim_db: float = 40.0) -> np.ndarray:
    """``text`` spoken by ``voice``, float32 at ``sample_rate``, leading and trailing silence removed.

    Silence is what lies more than ``trim_db`` below the loudest 10 ms frame.
    """
    from .wav import resample

    engine = ESpeakNG.get()
    pcm = engine.synthesize(text, voice, rate=rate, pitch=pitch, pitch_range=pitch_range)
    wave = resample(pcm.astype(np.float32) / 32768.0, engine.sample_rate, sample_rate)
    start, end = active_span(wave, sample_rate, threshold_db=trim_db)
    return wave[start:end]


def active_span(wave: np.ndarray, sample_rate: int = SAMPLE_RATE, *, threshold_db: float = 40.0,
                frame_seconds: float = 0.01) -> tuple[int, int]:
    """First and one-past-last sample of the frames within ``threshold_db`` of the loudest frame.

    The energy end point of a word, used where no alignment is known; ``(0, 0)`` for silence.
    """
    frame = max(1, int(frame_seconds * sample_rate))
    n = wave.shape[-1] // frame
    if n == 0:
        return 0, 0
    energy = (wave[: n * frame].reshape(n, frame).astype(np.float64) ** 2).mean(axis=1)
    peak = energy.max()
    if peak <= 1e-12:
        return 0, 0
    active = np.nonzero(energy >= peak * 10 ** (-threshold_db / 10))[0]
    return int(active[0] * frame), int(min(wave.shape[-1], (active[-1] + 1) * frame))
