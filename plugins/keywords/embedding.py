"""A frozen speech-embedding front end: the openWakeWord ONNX files, loaded from the user's install.

openWakeWord (Apache-2.0 code; pip package ``openwakeword``) ships in its 0.4/0.5 wheels two ONNX
files that turn 16 kHz audio into general-purpose speech features:

- ``melspectrogram.onnx``: 32 log-mel bands, a 512-sample window every 160 samples (10 ms),
  no centring; the package rescales its output as ``x / 10 + 2``;
- ``embedding_model.onnx``: a stack of convolutions from 76 such frames (0.76 s) to 96 numbers,
  re-implemented by openWakeWord from Google's ``speech_embedding`` TF-Hub module (Lin et al. 2020,
  "Training keyword spotters with limited and synthesized speech data", arXiv:2002.01322), which
  was trained on large amounts of real speech.

Licence of the two files: the package's README says the code is Apache-2.0 and "all of the included
pre-trained models are licensed under CC BY-NC-SA 4.0"; it also says Google's original
``speech_embedding`` module is Apache-2.0. The files are therefore treated here as CC BY-NC-SA 4.0
(non-commercial): they are never shipped in this repository nor downloaded; this module reads them
from an installed ``openwakeword`` wheel (``pip install --no-deps openwakeword==0.5.1``; its other
dependencies are not needed) or from a folder the user names.

The frame of this front end is the embedding: one 96-vector every 8 mel frames (80 ms), frame
:math:`t` computed from the 12,512 samples ending at sample :math:`(t+1)·1280` (zeros before the
start, as the log-mel front end pads), so a causal head on top streams: keep the last
11,232 samples, add 1,280, compute one embedding (:meth:`SpeechEmbeddingFrontEnd.frame`). The
ONNX models run in onnxruntime, outside autograd: the front end is frozen and cannot be exported
inside a PyTorch graph (export the head, or stream in Python).

Embeddings are cached by content (a BLAKE2 hash of each waveform row): a clip seen again, such as an
evaluation clip or a training clip whose augmentation is drawn from a fixed set of variants
(``data.args.augment_variants``), is not recomputed.

Shapes: waveform ``(B, T)`` → embeddings ``(B, 96, T // 1280)``.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import sciarch
import torch
from torch import nn

MEL_FILE, EMBEDDING_FILE = "melspectrogram.onnx", "embedding_model.onnx"
INSTALL = "pip install --no-deps openwakeword==0.5.1"
CHUNK_SAMPLES, CHUNK_WINDOWS = 64 * 32000, 256  # per onnxruntime call
MEL_HOP, MEL_WINDOW, WINDOW_FRAMES, STEP_FRAMES, DIM, TOP_DB = 160, 512, 76, 8, 96, 80.0


def find_models(path: str | Path | None = None) -> tuple[Path, Path]:
    """The two ONNX files: in ``path`` (a folder holding them) or in the installed openwakeword package."""
    if path:
        folder = Path(path).expanduser()
    else:
        spec = importlib.util.find_spec("openwakeword")  # finds the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise sciarch.UsageError(
                "the speech-embedding front end reads melspectrogram.onnx and embedding_model.onnx from the "
                f"openwakeword wheel, which is not installed: run `{INSTALL}` (the files are CC BY-NC-SA 4.0, "
                "see docs/keywords.md), or pass model.args.embedding_models=FOLDER holding the two files")
        folder = Path(list(spec.submodule_search_locations)[0]) / "resources" / "models"
    files = folder / MEL_FILE, folder / EMBEDDING_FILE
    for file in files:
        if not file.is_file():
            raise sciarch.UsageError(f"{file} not found: the speech-embedding front end needs {MEL_FILE} and "
                                     f"{EMBEDDING_FILE} (openwakeword 0.4/0.5 wheels ship them; `{INSTALL}`; "
                                     "0.6 and later download them at run time and are not read here)")
    return files


def decibel_graph(path: Path) -> bytes:
    """``melspectrogram.onnx`` cut before its 80 dB floor, which takes the maximum over the whole input
    tensor (every clip of a batch, every frame: neither causal nor independent of the batch); the
    floor is applied per embedding window instead (:meth:`SpeechEmbeddingFrontEnd._compute`)."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    reduce = [n for n in graph.node if n.op_type == "ReduceMax"]
    if len(reduce) != 1 or len(graph.output) != 1:
        raise sciarch.DataError("not the melspectrogram graph this front end knows (one ReduceMax for the "
                                "80 dB floor)", file=path)
    decibels = reduce[0].input[0]
    out = graph.output[0]
    graph.output.remove(out)
    graph.output.append(onnx.helper.make_tensor_value_info(decibels, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class SpeechEmbeddingFrontEnd(nn.Module):
    """Waveform to frozen speech embeddings, one 96-vector per 80 ms hop (see the module docstring).

    Args:
        models: a folder holding the two ONNX files (default: the installed openwakeword package).
        cache_mb: memory for the content cache of embeddings (0: no cache).
        sample_rate: must be 16000.
    """

    sample_rate = 16000
    hop_length = MEL_HOP * STEP_FRAMES  # 1280 samples, 80 ms
    win_length = MEL_HOP * (WINDOW_FRAMES - 1) + MEL_WINDOW  # 12,512 samples
    n_mels = DIM  # the channel count the head sees
    memory_frames = 0
    frozen = True  # no gradient, features cached by content (the task joins training context as features)

    def __init__(self, models: str | None = None, cache_mb: float = 512.0, sample_rate: int = 16000) -> None:
        super().__init__()
        if sample_rate != 16000:
            raise sciarch.ConfigError("the speech-embedding front end works at 16 kHz only", key="model.args")
        self.models = models
        self.pad = self.win_length - self.hop_length
        self.mel_path, self.embedding_path = find_models(models)
        self.digests = {p.name: file_digest(p) for p in (self.mel_path, self.embedding_path)}
        self.cache_bytes = int(cache_mb * 2**20)
        self._sessions: tuple[Any, Any] | None = None
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._cached_bytes = 0
        self.hits = self.misses = 0

    # onnxruntime sessions are neither picklable nor worth copying
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_sessions"], state["_cache"], state["_cached_bytes"] = None, OrderedDict(), 0
        return state

    def sessions(self) -> tuple[Any, Any]:
        if self._sessions is None:
            ort = sciarch.require("onnxruntime", "audio")
            options = ort.SessionOptions()
            options.intra_op_num_threads = max(1, torch.get_num_threads())
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            options.enable_cpu_mem_arena = False  # batches vary in size; an arena would keep the largest
            self._sessions = (ort.InferenceSession(decibel_graph(self.mel_path), options,
                                                   providers=["CPUExecutionProvider"]),
                              ort.InferenceSession(str(self.embedding_path), options, providers=["CPUExecutionProvider"]))
        return self._sessions

    def frames(self, samples: int) -> int:
        """Frames produced from ``samples`` samples."""
        return samples // self.hop_length

    def _compute(self, padded: np.ndarray) -> np.ndarray:
        """``(B, pad + F·hop)`` float32 samples (scale ±1) → ``(B, F, 96)`` embeddings."""
        mel_session, embedding_session = self.sessions()
        frames = (padded.shape[1] - self.pad) // self.hop_length
        rows = max(1, CHUNK_SAMPLES // padded.shape[1])  # bounded memory per call
        decibels = np.concatenate([mel_session.run(None, {"input": padded[i: i + rows] * 32768.0})[0][:, 0]
                                   for i in range(0, padded.shape[0], rows)])  # (B, M, 32)
        windows = np.lib.stride_tricks.sliding_window_view(decibels, WINDOW_FRAMES, axis=1)[:, ::STEP_FRAMES][:, :frames]
        batch = windows.transpose(0, 1, 3, 2).reshape(-1, WINDOW_FRAMES, decibels.shape[2], 1)  # (B·F, 76, 32, 1)
        # the 80 dB floor below the loudest value, per window (causal), then the package's x / 10 + 2
        floor = batch.max(axis=(1, 2, 3), keepdims=True) - TOP_DB
        batch = np.maximum(batch, floor) / 10.0 + 2.0
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        out = np.concatenate([embedding_session.run(None, {"input_1": batch[i: i + CHUNK_WINDOWS]})[0]
                              for i in range(0, batch.shape[0], CHUNK_WINDOWS)])
        return out.reshape(padded.shape[0], frames, DIM)

    def frame(self, window: torch.Tensor) -> torch.Tensor:
        """One embedding per row from exactly ``win_length`` samples ``(B, win_length)`` → ``(B, 96)``."""
        if window.shape[1] != self.win_length:
            raise ValueError(f"a streaming window is {self.win_length} samples, not {window.shape[1]}")
        out = self._compute(window.detach().cpu().float().numpy())
        return torch.from_numpy(out[:, 0]).to(window.device)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        batch, length = wave.shape
        frames = length // self.hop_length
        if frames == 0:
            return wave.new_zeros(batch, DIM, 0)
        rows = wave[:, : frames * self.hop_length].detach().cpu().float().numpy()
        keys = [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows] if self.cache_bytes else []
        found: list[np.ndarray | None] = [self._cache.get(k) for k in keys] if keys else [None] * batch
        missing = [i for i, f in enumerate(found) if f is None]
        self.hits += batch - len(missing)
        self.misses += len(missing)
        if missing:
            padded = np.concatenate([np.zeros((len(missing), self.pad), np.float32), rows[missing]], axis=1)
            computed = self._compute(padded)
            for j, i in enumerate(missing):
                found[i] = computed[j]
                if keys:
                    self._remember(keys[i], computed[j])
        for k in keys:
            if k in self._cache:
                self._cache.move_to_end(k)
        out = torch.from_numpy(np.stack(found)).transpose(1, 2)  # (B, 96, F)
        return out.to(device=wave.device, dtype=wave.dtype)

    def _remember(self, key: bytes, value: np.ndarray) -> None:
        value = value.copy()  # not a view that would keep its whole batch alive
        self._cache[key] = value
        self._cached_bytes += value.nbytes
        while self._cached_bytes > self.cache_bytes and self._cache:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= old.nbytes

    def extra_repr(self) -> str:
        return (f"hop_length={self.hop_length}, win_length={self.win_length}, dim={DIM}, "
                f"files={self.mel_path.parent}, sha256={{{', '.join(f'{k}: {v[:12]}' for k, v in self.digests.items())}}}")
