"""Data modules: a Speech Commands copy, or the synthesised corpus written in the same layout.

Both give batches ``(waveform (B, 16000) float32, label (B,) int64, word span (B, 2) int64)``;
the span (first sample, one past the last) is what end-of-keyword labels are placed from, and is
``(0, 0)`` for silence. Classes follow the 12-class convention of the Speech Commands paper
(Warden 2018): the keywords, ``_unknown_`` for every other word (``unknown_fraction`` of the
keyword clip count, a fixed random choice) and ``_silence_`` (``silence_fraction`` as many
clips cut from the background noise); ``labels: all`` scores every word instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import numpy as np
import sciarch
import torch
from sciarch_datasets.audio import COMMANDS, OTHER_WORDS, SAMPLE_RATE, SILENCE, UNKNOWN
from torch.utils.data import Dataset

from .augment import WaveAugment, add_noise, noise_segment
from .rooms import RoomAndChannel

SPLIT_NAMES = {"train": "train", "val": "validation", "test": "testing"}


class KeywordClips(Dataset):
    """One split's clips and silence, with training-time augmentation if ``augment`` is given.

    Word clips come first (``audio`` rows), then ``silence`` clips cut from ``noise``. Evaluation
    silence and evaluation noise (``eval_snr_db``) are fixed by the item's index.
    """

    def __init__(self, audio: np.ndarray, labels: np.ndarray, spans: np.ndarray, *, silence: int, silence_label: int,
                 noise: list[torch.Tensor], augment: WaveAugment | None = None, eval_snr_db: float | None = None,
                 seed: int = 0, augment_variants: int = 0) -> None:
        self.audio, self.labels, self.spans = audio, labels, spans
        # > 0: each item's augmentation is one of this many fixed draws, taken in turn (draw k of item i
        # is seeded by (seed, i, k)), so a front end that caches by content sees each variant again
        self.augment_variants = augment_variants
        self._draws = np.zeros(len(labels) + silence, dtype=np.int64)
        self.silence, self.silence_label = silence, silence_label
        self.noise, self.augment, self.eval_snr_db = noise, augment, eval_snr_db
        self.clip = audio.shape[1] if audio.ndim == 2 and audio.shape[0] else SAMPLE_RATE
        if silence and not noise:
            raise sciarch.UsageError("silence clips need background noise (a _background_noise_ folder)")
        self.seed = seed
        rng = np.random.default_rng(seed)
        # evaluation draws, fixed per index: noise file, offset fraction, level (dBFS) or SNR noise
        self._fixed = rng.random((len(labels) + silence, 3))

    def __len__(self) -> int:
        return len(self.labels) + self.silence

    def _silence(self, index: int) -> torch.Tensor:
        if self.augment is not None:
            noise = self.noise[int(torch.randint(len(self.noise), ()))]
            level_db = float(torch.empty(()).uniform_(-65.0, -15.0))
            segment = noise_segment(noise, self.clip)
        else:
            file, where, level = self._fixed[index]
            noise = self.noise[int(file * len(self.noise))]
            offset = int(where * max(0, noise.shape[0] - self.clip))
            level_db = -65.0 + 50.0 * float(level)
            segment = noise_segment(noise, self.clip, offset if noise.shape[0] >= self.clip else 0)
        rms = segment.pow(2).mean().sqrt().clamp_min(1e-8)
        return segment * (10 ** (level_db / 20) / rms)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.augment is not None and self.augment_variants > 0:
            draw = int(self._draws[index] % self.augment_variants)
            self._draws[index] += 1
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed((self.seed * 1_000_003 + index) * self.augment_variants + draw)
                return self._item(index)
        return self._item(index)

    def _item(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if index >= len(self.labels):
            wave = self._silence(index).float()
            return wave, torch.tensor(self.silence_label), torch.zeros(2, dtype=torch.long)
        wave = torch.from_numpy(np.asarray(self.audio[index], dtype=np.float32) / 32768.0)
        span = (int(self.spans[index, 0]), int(self.spans[index, 1]))
        if self.augment is not None:
            wave, span = self.augment(wave, span)
        elif self.eval_snr_db is not None and self.noise:
            file, where, _ = self._fixed[index]
            noise = self.noise[int(file * len(self.noise))]
            offset = int(where * max(0, noise.shape[0] - wave.shape[0]))
            wave = add_noise(wave, noise, self.eval_snr_db, span, offset if noise.shape[0] >= wave.shape[0] else 0)
        return wave.float(), torch.tensor(int(self.labels[index])), torch.tensor(span, dtype=torch.long)


class SpeechCommandsData(pl.LightningDataModule):
    """A Speech Commands copy (v0.01/v0.02 layout) for keyword classification.

    Args:
        path: the folder holding ``yes/``, ``no/``, …, ``validation_list.txt``, ``testing_list.txt``.
        labels: ``keywords`` (the keywords + unknown + silence: the 12-class task) or ``all`` (every
            word folder is a class: 35 in v0.02, 30 in v0.01).
        keywords: the keywords of ``labels: keywords`` (default: the ten commands).
        unknown_fraction: other-word clips per keyword clip, in each split.
        train_unknown_fraction: the same for the training split only, if set (more negatives to
            learn from without changing what the test measures).
        silence_fraction: silence clips per keyword clip (0 with ``labels: all`` leaves silence out).
        batch_size: clips per batch.
        noise_probability, snr_db, time_shift_s, speed_factors, speed_probability: augmentation of
            training clips (see :class:`~sciarch_keywords.augment.WaveAugment`).
        eval_snr_db: if set, validation and test clips get background noise at this SNR (fixed
            per clip), a harder test than clean clips.
        augment_variants: if above 0, each training clip's augmentation is one of this many fixed
            draws, used in turn epoch after epoch (a frozen front end that caches features by content,
            such as the speech embedding, then computes each variant once); 0 draws afresh every time.
        rir_probability, channel_probability, codec_probability: rooms and microphones for training
            clips (simulated reverberation; band limit, gain and clipping, codecs: see
            :mod:`~sciarch_keywords.rooms`); 0 leaves them out.
        noise_dir: a folder of real noise recordings to use besides ``_background_noise_``.
        max_clips: at most this many word clips per split (tiny runs).
        continuous_dir: a folder of long recordings (``x.wav`` with labels ``x.csv``) scored for
            false rejects against false alarms per hour in the test.
        strict: stop at the first unreadable clip instead of skipping and reporting it.
        num_workers: loader worker processes.
        seed: the run's seed (shuffling); the choice of unknown and silence clips does not change with it.
    """

    provides = ("num_classes", "class_names")

    def __init__(self, path: str | None = None, labels: Literal["keywords", "all"] = "keywords",
                 keywords: list[str] | None = None, unknown_fraction: float = 0.1,
                 train_unknown_fraction: float | None = None, silence_fraction: float = 0.1, batch_size: int = 128, noise_probability: float = 0.8, snr_db: tuple[float, float] = (0.0, 20.0),
                 time_shift_s: float = 0.1, speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1),
                 speed_probability: float = 0.5, rir_probability: float = 0.0, channel_probability: float = 0.0,
                 codec_probability: float = 0.3, eval_snr_db: float | None = None, noise_dir: str | None = None,
                 augment_variants: int = 0,
                 max_clips: int | None = None, continuous_dir: str | None = None, strict: bool = False,
                 num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.path = path
        self.labels = labels
        self.keywords = list(keywords) if keywords else list(COMMANDS)
        self.unknown_fraction, self.silence_fraction = unknown_fraction, silence_fraction
        self.train_unknown_fraction = train_unknown_fraction
        self.batch_size = batch_size
        self.augment_args = {"noise_probability": noise_probability, "snr_db": tuple(snr_db),
                             "time_shift_s": time_shift_s, "speed_factors": tuple(speed_factors),
                             "speed_probability": speed_probability}
        self.room_args = {"rir_probability": rir_probability, "channel_probability": channel_probability,
                          "codec_probability": codec_probability}
        self.eval_snr_db = eval_snr_db
        self.augment_variants = augment_variants
        self.noise_dir = noise_dir
        self.max_clips = max_clips
        self.continuous_dir = continuous_dir
        self.strict = strict
        self.num_workers = num_workers
        self.seed = seed
        self.datasets: dict[str, KeywordClips] = {}
        self.report: dict[str, Any] = {}

    # -- where the clips are -------------------------------------------------------------------

    def root(self) -> Path:
        """The Speech Commands folder to read."""
        if not self.path:
            raise sciarch.UsageError("this recipe reads your copy of Speech Commands: add "
                                     "--set data.args.path=/path/to/speech_commands_v0.02 (download it from "
                                     "https://storage.googleapis.com/download.tensorflow.org/data/"
                                     "speech_commands_v0.02.tar.gz and unpack it)")
        root = Path(self.path).expanduser()
        if not root.is_dir():
            raise sciarch.DataError("not a folder (expected a Speech Commands copy)", file=root)
        return root

    def words(self) -> list[str]:
        from sciarch_datasets.audio.speech_commands import word_folders

        return word_folders(self.root())

    def class_names(self) -> list[str]:
        if self.labels == "keywords":
            return [*self.keywords, UNKNOWN, SILENCE]
        words = self.words()
        return [*words, SILENCE] if self.silence_fraction > 0 else words

    def hints(self) -> dict[str, Any]:
        names = self.class_names()
        return {"num_classes": len(names), "class_names": names}

    # -- preparing -------------------------------------------------------------------------------

    def prepare_data(self) -> None:
        from sciarch_datasets.audio.speech_commands import prepare

        _, self.report = prepare(self.root(), strict=self.strict)

    def _noise(self) -> list[torch.Tensor]:
        from sciarch_datasets.audio.noise import read_noise_folder
        from sciarch_datasets.audio.speech_commands import background_noise

        report = sciarch.BadRecords(source="background noise", strict=self.strict)
        found = dict(background_noise(self.root(), report))
        if self.noise_dir:
            found.update({f"extra/{k}": v for k, v in read_noise_folder(self.noise_dir, report).items()})
        if report.count:
            sciarch.console.print(report.summary())
        return [torch.from_numpy(found[k]) for k in sorted(found)]

    def _split_dataset(self, folder: Path, split: str, noise: list[torch.Tensor], train: bool) -> KeywordClips:
        from sciarch_datasets.audio.speech_commands import load_split

        prepared = load_split(folder, SPLIT_NAMES[split])
        names = self.class_names()
        index = {name: i for i, name in enumerate(names)}
        words = np.asarray(prepared.words, dtype=object)
        # the choice of unknown clips is part of the data set, not of the run: fixed seed per split
        rng = np.random.default_rng(list(SPLIT_NAMES).index(split) + 101)
        if self.labels == "keywords":
            known = np.nonzero(np.isin(words, self.keywords))[0]
            others = np.nonzero(~np.isin(words, self.keywords))[0]
            fraction = self.unknown_fraction
            if split == "train" and self.train_unknown_fraction is not None:
                fraction = self.train_unknown_fraction
            n_unknown = min(len(others), int(np.ceil(fraction * len(known))))
            chosen = np.sort(np.concatenate([known, rng.choice(others, n_unknown, replace=False)])).astype(np.int64)
            labels = np.asarray([index.get(w, index[UNKNOWN]) for w in words[chosen]], dtype=np.int64)
            n_known = len(known)
        else:
            chosen = np.arange(len(words))
            labels = np.asarray([index[w] for w in words], dtype=np.int64)
            n_known = len(chosen)
        if self.max_clips is not None and len(chosen) > self.max_clips:
            keep = np.sort(rng.choice(len(chosen), self.max_clips, replace=False))
            chosen, labels = chosen[keep], labels[keep]
            n_known = len(chosen)
        silence = int(np.ceil(self.silence_fraction * n_known)) if SILENCE in index else 0
        augment = WaveAugment(noise, **self.augment_args, room=RoomAndChannel(**self.room_args)) if train else None
        audio = prepared.audio[chosen] if len(chosen) else np.zeros((0, SAMPLE_RATE), dtype=np.int16)
        return KeywordClips(audio, labels, prepared.spans[chosen], silence=silence,
                            silence_label=index.get(SILENCE, -1), noise=noise, augment=augment,
                            eval_snr_db=None if train else self.eval_snr_db,
                            seed=1000 + list(SPLIT_NAMES).index(split),
                            augment_variants=self.augment_variants if train else 0)

    def setup(self, stage: str | None = None) -> None:
        from sciarch_datasets.audio.speech_commands import prepare

        if self.datasets:
            return
        folder, self.report = prepare(self.root(), strict=self.strict, quiet=True)
        noise = self._noise()
        self.datasets = {split: self._split_dataset(folder, split, noise, split == "train") for split in SPLIT_NAMES}

    def describe(self) -> str:
        names = self.class_names()
        sizes = ", ".join(f"{s} {len(d)}" for s, d in self.datasets.items())
        return f"{len(names)} classes ({', '.join(names)}); clips: {sizes}"

    # -- loaders -----------------------------------------------------------------------------------

    def train_dataloader(self) -> Any:
        return sciarch.loader(self.datasets["train"], batch_size=self.batch_size, train=True, seed=self.seed,
                              num_workers=self.num_workers, drop_last=len(self.datasets["train"]) > self.batch_size)

    def val_dataloader(self) -> Any:
        return sciarch.loader(self.datasets["val"], batch_size=256, train=False, num_workers=self.num_workers)

    def test_dataloader(self) -> Any:
        return sciarch.loader(self.datasets["test"], batch_size=256, train=False, num_workers=self.num_workers)

    def continuous_recordings(self) -> list[tuple[Path, Path]]:
        """Long recordings and their labels for the continuous test (empty if none)."""
        if not self.continuous_dir:
            return []
        folder = Path(self.continuous_dir)
        pairs = [(wav, wav.with_suffix(".csv")) for wav in sorted(folder.glob("*.wav"))]
        missing = [str(w) for w, c in pairs if not c.is_file()]
        if missing:
            raise sciarch.DataError(f"no labels (.csv beside it) for {', '.join(missing)}", file=folder)
        return pairs


class TTSCommandsData(SpeechCommandsData):
    """The synthesised corpus (eSpeak NG voices, split by voice), read as a Speech Commands copy.

    Generated on first use and cached (see ``sciarch_datasets.audio.tts``). Besides the arguments
    of :class:`SpeechCommandsData` (``path`` excepted):

    Args:
        accents: eSpeak NG English accents to speak with (default: all eight).
        train_accents: other eSpeak NG languages whose voices read the English words in training only
            (foreign-accented English; validation and test keep to ``accents``).
        train_accent_voices: at most this many such voices.
        val_variants, test_variants: speaker variants held out for validation and for test; the
            rest train, so test voices are never heard in training.
        max_voices: at most this many voices in (train, validation, test); null for all.
        takes: utterances of each keyword per voice.
        fillers_per_voice: other words each voice speaks (the unknown class).
        noise_seconds: length of each generated noise recording.
        corpus_seed: the seed of the corpus (voices, prosody, split).
        generator_workers: processes synthesising in parallel (each loads its own eSpeak NG).
        continuous_minutes: minutes of continuous test audio (test voices, keywords among other
            words and noise) scored for false rejects per false alarm rate; 0 for none.
        continuous_recordings: how many such recordings (each of ``continuous_minutes``).
    """

    def __init__(self, accents: list[str] | None = None, train_accents: list[str] | None = None,
                 train_accent_voices: int | None = None, val_variants: int = 10, test_variants: int = 15,
                 max_voices: tuple[int | None, int | None, int | None] = (None, None, None), takes: int = 1,
                 fillers_per_voice: int = 4, noise_seconds: float = 60.0, corpus_seed: int = 0,
                 generator_workers: int = 1, continuous_minutes: float = 0.0, continuous_recordings: int = 1,
                 **kwargs: Any) -> None:
        if kwargs.get("path"):
            raise sciarch.UsageError("the synthesised corpus is generated, not read: remove data.args.path")
        kwargs.pop("path", None)
        super().__init__(path=None, **kwargs)
        from sciarch_datasets.audio.espeak import ENGLISH_ACCENTS

        self.generator_args = {"accents": tuple(accents or ENGLISH_ACCENTS), "train_accents": tuple(train_accents or ()),
                               "train_accent_voices": train_accent_voices, "val_variants": val_variants,
                               "test_variants": test_variants, "max_voices": tuple(max_voices), "takes": takes,
                               "fillers_per_voice": fillers_per_voice, "noise_seconds": noise_seconds,
                               "seed": corpus_seed}
        self.generator_workers = generator_workers
        self.continuous_minutes = continuous_minutes
        self.continuous_count = continuous_recordings

    def settings(self) -> Any:
        from sciarch_datasets.audio.tts import TTSSettings

        fillers = tuple(w for w in OTHER_WORDS if w not in self.keywords)
        return TTSSettings(keywords=tuple(self.keywords), fillers=fillers, **self.generator_args)

    def words(self) -> list[str]:
        settings = self.settings()
        return sorted({*settings.keywords, *settings.fillers})

    def root(self) -> Path:
        from sciarch_datasets.audio.tts import tts_corpus

        return tts_corpus(self.settings(), noise_dir=self.noise_dir, workers=self.generator_workers)

    def _noise(self) -> list[torch.Tensor]:
        # the generator already copied noise_dir into _background_noise_
        saved, self.noise_dir = self.noise_dir, None
        try:
            return super()._noise()
        finally:
            self.noise_dir = saved

    def prepare_data(self) -> None:
        super().prepare_data()
        self.continuous_recordings()

    def continuous_recordings(self) -> list[tuple[Path, Path]]:
        from sciarch_datasets.audio.continuous import continuous_test_set

        if self.continuous_minutes <= 0:
            return super().continuous_recordings()
        return continuous_test_set(self.root(), self.continuous_minutes, recordings=self.continuous_count)

    def setup(self, stage: str | None = None) -> None:
        fresh = not self.datasets
        super().setup(stage)
        if fresh:
            meta = self.corpus()
            sciarch.console.print(
                f"held-out voices: the test split ({len(self.datasets['test'])} clips) is spoken by "
                f"{len(meta['voices']['testing'])} voices whose speaker variants "
                f"({', '.join(meta['variants']['testing'])}) are never heard in training "
                f"({len(meta['voices']['train'])} training voices)")

    def corpus(self) -> dict[str, Any]:
        """The generated corpus's ``corpus.json`` (settings, voices per split, counts)."""
        return json.loads((self.root() / "corpus.json").read_text())
