"""Your own voice in minutes: fine-tune a trained run on a handful of your recordings, and pick its
threshold for a false-alarm rate from them.

Recordings are a folder in the Speech Commands layout::

    my-voice/
      yes/take1.wav  yes/take2.wav ...     5–20 takes of each keyword (any rate: resampled to 16 kHz)
      no/...
      _unknown_/*.wav                      optional: other words you say (any folder not named after a
                                           keyword counts as other words)
      _background_/*.wav                   optional: minutes of your room, TV, talk without keywords

- :func:`enroll` trains the run's model further (its recipe's augmentation on every clip) on batches
  of which ``user_share`` are your clips and the rest the run's own synthesised training clips, so
  the model learns your voice without forgetting the corpus; it writes a new run (same recipe,
  ``checkpoints/best.ckpt``, ``enroll.json``) that every command takes.
- :func:`calibrate` finds the lowest threshold at which detection on your recordings makes at most
  the target false alarms per hour (every detection in ``_background_`` or other-word audio is a
  false alarm, and so is a wrong keyword on a keyword take), reports the false-reject rate of your
  keyword takes at it, and saves both in ``RUN/calibration.json``; ``listen`` and ``predict`` use
  that threshold unless given one. With little negative audio the target cannot be resolved (one
  false alarm in 5 minutes is 12 per hour): the threshold is then the one that makes no false alarm
  at all, and the file says so.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sciarch
import torch
from sciarch_datasets.audio import SAMPLE_RATE, SILENCE, UNKNOWN

BACKGROUND = "_background_"
CALIBRATION = "calibration.json"


@dataclass
class UserClip:
    word: str  # a keyword, or UNKNOWN
    wave: np.ndarray  # float32 at 16 kHz, as recorded
    path: Path


def read_recordings(folder: str | Path, keywords: list[str]) -> tuple[list[UserClip], list[UserClip]]:
    """Word takes (keywords and other words) and background recordings from ``folder``.

    Unreadable or empty files are skipped and reported; a folder with no keyword take at all is a
    :class:`sciarch.DataError`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise sciarch.DataError("not a folder of recordings (expected word/*.wav)", file=folder)
    from sciarch_datasets.audio.wav import read_clip

    report = sciarch.BadRecords(source=str(folder))
    takes, background = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        for wav in sorted(sub.glob("*.wav")):
            wave = read_clip(wav, report, record=f"{sub.name}/{wav.name}")
            if wave is None:
                continue
            if sub.name == BACKGROUND:
                background.append(UserClip(UNKNOWN, wave, wav))
            else:
                takes.append(UserClip(sub.name if sub.name in keywords else UNKNOWN, wave, wav))
    if report.count:
        sciarch.console.print(report.summary())
    if not any(t.word != UNKNOWN for t in takes):
        raise sciarch.DataError(f"no recordings of the run's keywords ({', '.join(keywords)}): expected "
                                "folders named after them holding WAV files", file=folder)
    return takes, background


def _word_span(wave: np.ndarray) -> tuple[int, int]:
    from sciarch_datasets.audio.espeak import active_span

    start, end = active_span(wave, SAMPLE_RATE, threshold_db=30.0)
    return (int(start), int(end)) if end > start else (0, wave.shape[0])


def clip_of(wave: np.ndarray, length: int = SAMPLE_RATE) -> tuple[np.ndarray, tuple[int, int]]:
    """A 1 s clip holding the spoken word (centred; a longer take keeps the second ending with the word)."""
    start, end = _word_span(wave)
    word = wave[start:end][-length:]
    out = np.zeros(length, dtype=np.float32)
    offset = (length - word.shape[0]) // 2
    out[offset: offset + word.shape[0]] = word
    return out, (offset, offset + word.shape[0])


def _keyword_counts(takes: list[UserClip]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in takes:
        counts[t.word] = counts.get(t.word, 0) + 1
    return counts


def enroll(run: str | Path, recordings: str | Path, out: str | Path, *, steps: int = 300, batch_size: int = 32,
           user_share: float = 0.5, lr: float = 5e-4, seed: int = 0) -> dict[str, Any]:
    """Fine-tune ``run`` on ``recordings`` (plus its synthesised corpus) and write the result to ``out``."""
    source = sciarch.Run(run)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise sciarch.UsageError(f"{out} exists and is not empty: choose a new folder for the enrolled run")
    if not 0 < user_share <= 1:
        raise sciarch.UsageError(f"--user-share must be in (0, 1], not {user_share}")
    datamodule, task = source.build()
    if not getattr(task.model, "frame_level", False):
        raise sciarch.UsageError("enroll fine-tunes frame-level runs (keywords/wavenet)")
    names = list(task.class_names)
    takes, background = read_recordings(recordings, task.keywords)
    datamodule.setup()
    corpus = datamodule.datasets["train"]
    augment = corpus.augment
    index = {n: i for i, n in enumerate(names)}
    clips = [clip_of(t.wave) for t in takes]
    # background recordings give silence-labelled 1 s stretches: the room with no word in it
    for b in background:
        for first in range(0, max(1, b.wave.shape[0] - SAMPLE_RATE + 1), SAMPLE_RATE):
            piece = np.zeros(SAMPLE_RATE, dtype=np.float32)
            chunk = b.wave[first: first + SAMPLE_RATE]
            piece[: chunk.shape[0]] = chunk
            clips.append((piece, (0, 0)))
    labels = [index[t.word] for t in takes] + [index[SILENCE]] * (len(clips) - len(takes))

    torch.manual_seed(seed)
    generator = np.random.default_rng(seed)
    n_user = max(1, int(round(batch_size * user_share)))
    n_corpus = batch_size - n_user
    optimizer = torch.optim.AdamW(task.model.parameters(), lr=lr, weight_decay=1e-4)
    task.train()
    losses = []
    started, started_cpu = time.time(), time.process_time()
    for _ in range(steps):
        waves, ys, spans = [], [], []
        for i in generator.integers(0, len(clips), n_user):
            wave, span = torch.from_numpy(clips[i][0].copy()), clips[i][1]
            if augment is not None and labels[i] != index[SILENCE]:
                wave, span = augment(wave, span)
            waves.append(wave.float())
            ys.append(labels[i])
            spans.append(span)
        for i in generator.integers(0, len(corpus), n_corpus):
            wave, y, span = corpus[int(i)]
            waves.append(wave)
            ys.append(int(y))
            spans.append(tuple(int(s) for s in span))
        wave = torch.stack(waves)
        y = torch.tensor(ys)
        span = torch.tensor(spans, dtype=torch.long)
        if task.context_probability > 0:
            wave, y, span = task.with_context(wave, y, span)
        loss = task._loss(task._logits(wave, augment=True), y, span)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(task.model.parameters(), 5.0)
        optimizer.step()
        losses.append(float(loss.detach()))
    task.eval()

    out.mkdir(parents=True, exist_ok=True)
    (out / "checkpoints").mkdir(exist_ok=True)
    shutil.copy(source.path / "config.yaml", out / "config.yaml")
    torch.save({"state_dict": task.state_dict(), "enrolled_from": str(source.path)}, out / "checkpoints" / "best.ckpt")
    window = max(1, min(20, steps // 5))
    result = {
        "enrolled_from": str(source.path), "recordings": str(recordings), "takes": _keyword_counts(takes),
        "background_seconds": round(sum(b.wave.shape[0] for b in background) / SAMPLE_RATE, 1),
        "steps": steps, "batch_size": batch_size, "user_share": n_user / batch_size, "lr": lr, "seed": seed,
        "loss_first": float(np.mean(losses[:window])), "loss_last": float(np.mean(losses[-window:])),
        "seconds": round(time.time() - started, 1), "cpu_seconds": round(time.process_time() - started_cpu, 1),
    }
    sciarch.write_json(out / "enroll.json", result)
    summary = {**source.summary, "enrolled_from": str(source.path), "status": "completed"}
    sciarch.write_json(out / "summary.json", summary)
    return result


def _keyword_scores(task: Any, wave: np.ndarray) -> np.ndarray:
    from .detection import frame_posteriors, smooth

    posteriors = frame_posteriors(task.model, wave)
    ids = [list(task.class_names).index(k) for k in task.keywords]
    return smooth(posteriors[:, ids].astype(np.float64), task.smooth_frames)


def calibrate(run: str | Path, recordings: str | Path, *, false_alarms_per_hour: float = 1.0,
              save: bool = True) -> dict[str, Any]:
    """The lowest threshold making at most ``false_alarms_per_hour`` on the user's recordings (saved in the run)."""
    from .detection import detect

    source = sciarch.Run(run)
    task = source.load_task()
    task.model.cpu().eval()
    keywords = list(task.keywords)
    takes, background = read_recordings(recordings, keywords)
    hop_s = task.model.frontend.hop_length / task.model.frontend.sample_rate
    pad = np.zeros(int(0.5 * SAMPLE_RATE), dtype=np.float32)
    positives, negatives = [], []  # (scores, keyword or None)
    seconds = 0.0
    for t in takes + background:
        wave = np.concatenate([pad, t.wave, pad])
        seconds += wave.shape[0] / SAMPLE_RATE
        (positives if t.word in keywords else negatives).append((_keyword_scores(task, wave), t.word))
    thresholds = np.round(np.arange(0.05, 1.0, 0.005), 3)

    def counts(threshold: float) -> tuple[int, int]:
        false_alarms = missed = 0
        for scores, word in positives + negatives:
            # the scores are already smoothed: detect() takes them as posteriors of the keywords alone
            found = detect(scores, keywords, keywords, threshold=threshold, refractory_s=task.refractory_s,
                           hop_s=hop_s)
            hit = any(d.word == word for d in found)
            false_alarms += sum(d.word != word for d in found) if word in keywords else len(found)
            missed += int(word in keywords and not hit)
        return false_alarms, missed

    hours = seconds / 3600
    allowed = int(np.floor(false_alarms_per_hour * hours + 1e-9))
    chosen = None
    table = []
    for th in thresholds:
        fa, missed = counts(float(th))
        table.append((float(th), fa, missed))
        if fa <= allowed:
            chosen = (float(th), fa, missed)
            break
    if chosen is None:
        chosen = (float(thresholds[-1]), *counts(float(thresholds[-1])))
    threshold, fa, missed = chosen
    result = {
        "threshold": threshold, "target_false_alarms_per_hour": false_alarms_per_hour,
        "false_alarms": fa, "false_alarms_per_hour": fa / hours if hours else 0.0,
        "audio_seconds": round(seconds, 1), "allowed_false_alarms": allowed,
        "resolved": allowed >= 1,
        "keyword_takes": len(positives), "missed_takes": missed,
        "false_reject_rate": missed / len(positives) if positives else None,
        "other_recordings": len(negatives), "smooth_frames": task.smooth_frames, "recordings": str(recordings),
        "note": ("" if allowed >= 1 else
                 f"{seconds / 60:.1f} min of recordings cannot show {false_alarms_per_hour:g} false alarm(s) per hour "
                 "(one false alarm would exceed it): the threshold is the lowest with no false alarm at all; record "
                 "more background audio for a finer figure"),
    }
    if save:
        sciarch.write_json(source.path / CALIBRATION, result)
    return result


def calibrated_threshold(run: str | Path) -> float | None:
    """The threshold ``calibrate`` saved in the run, if any."""
    path = Path(run)
    if path.is_file():
        path = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    file = path / CALIBRATION
    if not file.is_file():
        return None
    try:
        return float(json.loads(file.read_text())["threshold"])
    except (ValueError, KeyError, TypeError):
        raise sciarch.DataError("unreadable calibration (expected JSON with a threshold)", file=file) from None
