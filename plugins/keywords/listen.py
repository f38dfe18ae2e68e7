"""Listening with a trained run: detections in a recording, or live from a stream of raw PCM.

``sciarch keywords listen AUDIO.wav --run RUN`` scores the whole recording with the offline model
(exactly what streaming would give, the model being causal) and prints one line per detection;
``--stream`` reads raw 16-bit little-endian mono PCM at 16 kHz from standard input and runs the
streaming model one 10 ms hop at a time, printing each detection as soon as it is made. The same
detector (:class:`~sciarch_keywords.detection.OnlineDetector`) decides in both.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import sciarch
import torch
from sciarch_datasets.audio import SILENCE, UNKNOWN

from .detection import Detection, OnlineDetector, detect, frame_posteriors


def load_model(run: Any) -> tuple[torch.nn.Module, list[str], int]:
    """The trained model of a run (eval mode, CPU), its class names and its posterior smoothing (frames)."""
    if not isinstance(run, sciarch.Run):
        run = sciarch.Run(run)
    task = run.load_task()
    model = task.model.cpu().eval()
    if not getattr(model, "frame_level", False):
        raise sciarch.UsageError(f"{type(model).__name__} classifies whole clips; listening needs a frame-level "
                                 "model (keywords/wavenet)")
    return model, list(task.class_names), int(getattr(task, "smooth_frames", 1))


def keywords_of(class_names: list[str]) -> list[str]:
    return [c for c in class_names if c not in (SILENCE, UNKNOWN)]


def listen_file(model: torch.nn.Module, class_names: list[str], audio: str | Path, *, threshold: float = 0.5,
                refractory_s: float = 0.5, smooth_frames: int = 1) -> tuple[list[Detection], float]:
    """Detections in a WAV file (resampled to the model's rate if needed) and its duration in seconds."""
    from sciarch_datasets.audio.wav import read_clip

    report = sciarch.BadRecords(source=str(audio), strict=True)
    wave = read_clip(audio, report, rate=model.frontend.sample_rate)
    assert wave is not None  # strict: an unreadable file has raised DataError
    posteriors = frame_posteriors(model, wave)
    hop_s = model.frontend.hop_length / model.frontend.sample_rate
    found = detect(posteriors, class_names, keywords_of(class_names), threshold=threshold,
                   refractory_s=refractory_s, hop_s=hop_s, smooth_frames=smooth_frames)
    return found, wave.shape[0] / model.frontend.sample_rate


def pcm_chunks(stream: IO[bytes], samples: int = 1600) -> Iterator[np.ndarray]:
    """Float32 chunks of raw 16-bit little-endian PCM read from ``stream`` until it ends."""
    carry = b""
    while True:
        data = stream.read(samples * 2)
        if not data:
            break
        data = carry + data
        usable = len(data) - len(data) % 2
        carry = data[usable:]
        if usable:
            yield np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0


def listen_stream(model: torch.nn.Module, class_names: list[str], stream: IO[bytes], *,
                  on_detection: Callable[[Detection], None], threshold: float = 0.5, refractory_s: float = 0.5,
                  smooth_frames: int = 1, chunk_samples: int = 160) -> int:
    """Run the streaming model over PCM from ``stream``; call ``on_detection`` as detections happen.

    Returns the number of 10 ms hops processed.
    """
    from .streaming import StreamingSpotter

    spotter = StreamingSpotter(model, trace=True)
    hop_s = model.frontend.hop_length / model.frontend.sample_rate
    detector = OnlineDetector(class_names, keywords_of(class_names), threshold=threshold,
                              refractory_s=refractory_s, hop_s=hop_s, smooth_frames=smooth_frames)
    for chunk in pcm_chunks(stream, chunk_samples):
        logits = spotter.push(torch.from_numpy(chunk))
        if logits.shape[0]:
            for detection in detector.push(torch.softmax(logits, dim=1).numpy()):
                on_detection(detection)
    return spotter.frames


def predict(run: Any, input: Path, output: Path, threshold: float = 0.5, refractory_s: float = 0.5) -> dict[str, Any]:
    """``sciarch predict`` for keyword runs: detections in a WAV file written as CSV (time_s, word, score)."""
    model, class_names, smooth_frames = load_model(run)
    found, seconds = listen_file(model, class_names, input, threshold=float(threshold),
                                 refractory_s=float(refractory_s), smooth_frames=smooth_frames)
    with sciarch.atomic_write(output, "w") as handle:
        handle.write("time_s,word,score\n")
        handle.writelines(f"{d.time_s:.2f},{d.word},{d.score:.4f}\n" for d in found)
    return {"detections": len(found), "seconds": round(seconds, 2)}


def print_detection(detection: Detection, out: IO[str] = sys.stdout) -> None:
    out.write(f"{detection.time_s:9.2f}s  {detection.word:<10s} {detection.score:.3f}\n")
    out.flush()
