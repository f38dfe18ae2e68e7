"""Keyword spotting as a training objective: clip classification or end-of-keyword detection.

Two objectives over the same batches ``(waveform, label, word span)``:

- ``clip``: cross-entropy on the last frame's scores (a causal model's last frame has heard the
  whole clip; a clip classifier such as TC-ResNet has only that one frame).
- ``end_of_keyword`` (Coucke et al. 2019): every frame is a training example. Frames from
  ``label_before_s`` before to ``label_after_s`` after the end of the spoken word carry the word's
  class (a keyword, or ``_unknown_`` for another word); every other frame carries ``_silence_``,
  read as "no word has just ended". The model learns to fire once, right after a word, which is
  what a detector listening to a stream needs. A clip's prediction is the word whose posterior
  peaks highest over the clip if that peak reaches ``detection_threshold``, else silence. With
  probability ``context_probability`` a training clip is preceded by another clip of the batch
  (both words labelled), so the model learns to ignore what came before, as it must in a stream.

Tested on the test split: accuracy, the confusion matrix (PNG and CSV, in the run's
``evaluation/``), and, when the data module provides long recordings with known keyword times, the
false-reject rate at 0.5 and 1 false alarm per hour and the DET curve (PNG and CSV).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Literal

import sciarch
import torch
from sciarch_datasets.audio import SILENCE, UNKNOWN
from torch.nn import functional as F

from .augment import SpecAugment, warp_mel


class KeywordSpotting(sciarch.Task):
    """Trains a keyword model (``model(waveform) → (B, classes, frames)`` logits).

    Args:
        model: the network; built by the host from the recipe's ``model:`` section.
        class_names: class of each output (filled from the data).
        objective: ``end_of_keyword`` (frame labels near the end of each word) or ``clip``.
        label_before_s, label_after_s: the span of end-of-keyword labels around a word's end.
        spec_augment: mask mel bands and frames of training features (SpecAugment).
        connected_probability: chance a training example (end_of_keyword only) becomes connected
            speech: its word cut out of its clip and said right after another clip's word and right
            before a third's (gaps of 0–80 ms), all three labelled, so keywords are learnt in running
            speech ("go forward", "turn left now") and not only between silences (:meth:`connect`).
        vtl_warp: vocal-tract length perturbation of training features: the mel axis stretched by
            a factor in ``1 ± vtl_warp`` per clip (0: off; see :func:`~sciarch_keywords.augment.warp_mel`).
        freq_masks, freq_mask_width, time_masks, time_mask_width: the masks' number and widest size.
        label_smoothing: of the cross-entropy.
        detection_threshold: posterior peak a word must reach to be predicted (end_of_keyword).
        refractory_s: silence imposed after a detection in continuous audio.
        context_probability: chance a training clip is preceded by another clip of the batch
            (end_of_keyword only).
        smooth_s: posteriors are averaged over this much time before detection in continuous audio
            (default: the span of the end-of-keyword labels, over which the model is trained to fire).
    """

    def __init__(self, model: torch.nn.Module, class_names: list[str] | None = None,
                 objective: Literal["end_of_keyword", "clip"] = "end_of_keyword", label_before_s: float = 0.05,
                 label_after_s: float = 0.25, spec_augment: bool = True, freq_masks: int = 2,
                 freq_mask_width: int = 7, time_masks: int = 2, time_mask_width: int = 10,
                 label_smoothing: float = 0.0, detection_threshold: float = 0.5, refractory_s: float = 0.5,
                 context_probability: float = 0.5, smooth_s: float | None = None, vtl_warp: float = 0.0,
                 connected_probability: float = 0.0) -> None:
        super().__init__(model)
        from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

        num_classes = int(getattr(model, "num_classes", 0) or len(class_names or []))
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        if len(self.class_names) != num_classes:
            raise sciarch.ConfigError(f"{len(self.class_names)} class names for a model with {num_classes} outputs",
                                      key="task.args.class_names")
        if objective == "end_of_keyword":
            if not getattr(model, "frame_level", False):
                raise sciarch.ConfigError(f"{type(model).__name__} scores whole clips; use objective: clip",
                                          key="task.args.objective")
            if SILENCE not in self.class_names:
                raise sciarch.ConfigError("end_of_keyword needs a _silence_ class (set data.args.silence_fraction "
                                          "above 0)", key="task.args.objective")
        self.objective = objective
        self.silence = self.class_names.index(SILENCE) if SILENCE in self.class_names else -1
        self.label_before_s, self.label_after_s = label_before_s, label_after_s
        self.spec_augment = SpecAugment(freq_masks, freq_mask_width, time_masks, time_mask_width) if spec_augment else None
        self.label_smoothing = label_smoothing
        self.vtl_warp = vtl_warp
        self.connected_probability = connected_probability if objective == "end_of_keyword" else 0.0
        self.detection_threshold = detection_threshold
        self.refractory_s = refractory_s
        self.context_probability = context_probability if objective == "end_of_keyword" else 0.0
        self.smooth_s = label_before_s + label_after_s if smooth_s is None else smooth_s
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.test_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.test_confusion = MulticlassConfusionMatrix(num_classes)

    # -- labels and scores -----------------------------------------------------------------------

    @property
    def smooth_frames(self) -> int:
        """Frames of the posterior moving average used for detection."""
        fe = self.model.frontend
        return max(1, int(round(self.smooth_s * fe.sample_rate / fe.hop_length)))

    @property
    def keywords(self) -> list[str]:
        return [c for c in self.class_names if c not in (SILENCE, UNKNOWN)]

    def frame_targets(self, labels: torch.Tensor, spans: torch.Tensor, frames: int) -> torch.Tensor:
        """``(B, frames)`` end-of-keyword targets: each word near its end, silence elsewhere.

        ``labels`` is ``(B,)`` or ``(B, words)`` and ``spans`` ``(B, 2)`` or ``(B, words, 2)`` in
        samples; a later word's labels win where two overlap.
        """
        if labels.dim() == 1:
            labels, spans = labels[:, None], spans[:, None]
        fe = self.model.frontend
        hop, rate = fe.hop_length, fe.sample_rate
        t = torch.arange(frames, device=labels.device)[None]
        targets = torch.full((labels.shape[0], frames), self.silence, dtype=labels.dtype, device=labels.device)
        for k in range(labels.shape[1]):
            end = spans[:, k, 1]
            # frame t ends at sample (t+1)·hop, so the word's last sample falls in frame ceil(end/hop) - 1
            last = torch.div(end + hop - 1, hop, rounding_mode="floor") - 1
            first = (last - int(round(self.label_before_s * rate / hop))).clamp_min(0)
            stop = last + int(round(self.label_after_s * rate / hop))
            inside = (t >= first[:, None]) & (t <= stop[:, None]) & (end[:, None] > 0)
            inside &= labels[:, k: k + 1] != self.silence
            targets = torch.where(inside, labels[:, k: k + 1], targets)
        return targets

    def with_context(self, wave: torch.Tensor, labels: torch.Tensor,
                     spans: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Precede clips (with probability ``context_probability``) by another clip of the batch.

        Returns ``(B, 2T)`` audio, ``(B, 2)`` labels and ``(B, 2, 2)`` spans; a clip without
        context is preceded by silence, as in the offline model's zero padding.
        """
        batch, length = wave.shape
        use = torch.rand(batch, device=wave.device) < self.context_probability
        order = torch.randperm(batch, device=wave.device)
        prefix = wave[order] * use[:, None]
        prefix_labels = torch.where(use, labels[order], torch.full_like(labels, self.silence))
        prefix_spans = spans[order] * use[:, None]
        return (torch.cat([prefix, wave], dim=1), torch.stack([prefix_labels, labels], dim=1),
                torch.stack([prefix_spans, spans + length], dim=1))

    def connect(self, wave: torch.Tensor, labels: torch.Tensor,
                spans: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Turn examples (with probability ``connected_probability``) into three words of running speech.

        ``wave`` ``(B, T)``, ``labels`` ``(B, W)`` and ``spans`` ``(B, W, 2)`` (as :meth:`with_context`
        gives them, or ``(B,)``/``(B, 2)`` for plain clips) become ``(B, W')`` labels and
        ``(B, W', 2)`` spans with ``W' = max(W, 3)``. A chosen example keeps its last word, cut out of
        its clip (10 ms either side of its span), preceded by the word of another clip of the batch and
        followed by a third's, 0–80 ms apart, from a random start; the rest of the row is quiet
        Gaussian noise (−75 to −45 dBFS). Words that would not fit, and silence clips, are left out.
        """
        if labels.dim() == 1:
            labels, spans = labels[:, None], spans[:, None]
        batch, length = wave.shape
        words = max(labels.shape[1], 3)
        out_labels = torch.full((batch, words), self.silence, dtype=labels.dtype, device=labels.device)
        out_spans = torch.zeros((batch, words, 2), dtype=spans.dtype, device=spans.device)
        out_labels[:, : labels.shape[1]], out_spans[:, : labels.shape[1]] = labels, spans
        chosen = torch.nonzero(torch.rand(batch) < self.connected_probability).flatten().tolist()
        if not chosen:
            return wave, out_labels, out_spans
        wave = wave.clone()
        rate = self.model.frontend.sample_rate
        margin = int(0.01 * rate)
        last = labels[:, -1]
        last_spans = spans[:, -1]

        def piece(i: int) -> torch.Tensor | None:
            if int(last[i]) == self.silence or int(last_spans[i, 1]) <= int(last_spans[i, 0]):
                return None
            a = max(0, int(last_spans[i, 0]) - margin)
            b = min(length, int(last_spans[i, 1]) + margin)
            return wave[i, a:b].clone()

        pieces = {i: piece(i) for i in range(batch)}
        for i in chosen:
            if pieces[i] is None:
                continue
            before, after = int(torch.randint(batch, ())), int(torch.randint(batch, ()))
            parts = [j for j in (before, i, after) if pieces[j] is not None]
            gaps = int(0.08 * rate) * (len(parts) - 1)
            while sum(pieces[j].shape[0] for j in parts) + gaps > length and len(parts) > 1:
                parts.remove(parts[0] if parts[0] != i else parts[-1])  # context goes first, never the word
            total = sum(pieces[j].shape[0] for j in parts) + gaps
            row = torch.randn(length) * 10 ** (float(torch.empty(()).uniform_(-75.0, -45.0)) / 20)
            position = int(float(torch.rand(())) * max(1, length - total))
            out_labels[i] = self.silence
            out_spans[i] = 0
            for k, j in enumerate(parts):
                sound = pieces[j]
                row[position: position + sound.shape[0]] = sound
                out_labels[i, k] = last[j]
                out_spans[i, k, 0], out_spans[i, k, 1] = position + margin, position + sound.shape[0] - margin
                position += sound.shape[0] + int(float(torch.rand(())) * 0.08 * rate)
            wave[i] = row
        return wave, out_labels, out_spans

    def clip_scores(self, logits: torch.Tensor) -> torch.Tensor:
        """``(B, classes)`` clip scores from ``(B, classes, frames)`` logits; argmax is the prediction."""
        if self.objective == "clip":
            return torch.softmax(logits[:, :, -1], dim=1)
        probs = torch.softmax(logits, dim=1)
        peaks = probs.amax(dim=2)
        words = peaks.clone()
        words[:, self.silence] = -1.0
        best = words.max(dim=1).values
        # silence wins unless some word's peak reaches the threshold
        peaks[:, self.silence] = torch.where(best >= self.detection_threshold, best.new_zeros(()),
                                             best.new_ones(()) * 2.0)
        return peaks

    def _logits(self, wave: torch.Tensor, augment: bool) -> torch.Tensor:
        features = self.model.frontend(wave)
        if augment and self.vtl_warp > 0:
            features = warp_mel(features, self.vtl_warp)
        if augment and self.spec_augment is not None:
            features = self.spec_augment(features)
        return self.model.forward_features(features)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
        if self.objective == "clip":
            return F.cross_entropy(logits[:, :, -1], labels, label_smoothing=self.label_smoothing)
        targets = self.frame_targets(labels, spans, logits.shape[2])
        return F.cross_entropy(logits, targets, label_smoothing=self.label_smoothing)

    # -- steps ---------------------------------------------------------------------------------------

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        wave, labels, spans = batch
        if getattr(self.model.frontend, "frozen", False):
            return self._frozen_training_step(wave, labels, spans)
        if self.context_probability > 0:
            wave, labels, spans = self.with_context(wave, labels, spans)
        if self.connected_probability > 0:
            wave, labels, spans = self.connect(wave, labels, spans)
        logits = self._logits(wave, augment=True)
        loss = self._loss(logits, labels, spans)
        self.log("train/loss", loss, prog_bar=True, batch_size=labels.shape[0])
        return loss

    def _frozen_training_step(self, wave: torch.Tensor, labels: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
        """A training step over a frozen front end whose features are cached by content
        (:mod:`~sciarch_keywords.embedding`): the preceding clip of ``context_probability`` is joined
        as features, not as audio, so that both halves are clips already seen (cache hits). The clip's
        first frames then see zeros before it rather than the end of the other clip (within the
        encoder's window, 0.78 s); connected speech and vocal-tract warping need the audio and are
        not available here."""
        if self.connected_probability > 0 or self.vtl_warp > 0:
            raise sciarch.ConfigError("connected_probability and vtl_warp act on audio or log-mel bands; set them "
                                      "to 0 with a frozen front end", key="task.args")
        fe = self.model.frontend
        length = wave.shape[1] // fe.hop_length * fe.hop_length
        wave, spans = wave[:, :length], spans.clamp_max(length)
        if self.context_probability > 0:
            joined, labels, spans = self.with_context(wave, labels, spans)
            features = torch.cat([fe(joined[:, :length]), fe(joined[:, length:])], dim=2)
        else:
            features = fe(wave)
        if self.spec_augment is not None:
            features = self.spec_augment(features)
        logits = self.model.forward_features(features)
        loss = self._loss(logits, labels, spans)
        self.log("train/loss", loss, prog_bar=True, batch_size=labels.shape[0])
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        wave, labels, spans = batch
        logits = self._logits(wave, augment=False)
        self.log("val/loss", self._loss(logits, labels, spans), batch_size=len(labels))
        self.val_accuracy.update(self.clip_scores(logits).argmax(dim=1), labels)
        self.log("val/acc", self.val_accuracy, prog_bar=True, batch_size=len(labels))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        wave, labels, spans = batch
        logits = self._logits(wave, augment=False)
        predicted = self.clip_scores(logits).argmax(dim=1)
        self.log("test/loss", self._loss(logits, labels, spans), batch_size=len(labels))
        self.test_accuracy.update(predicted, labels)
        self.test_confusion.update(predicted, labels)
        self.log("test/acc", self.test_accuracy, batch_size=len(labels))

    def on_test_epoch_end(self) -> None:
        confusion = self.test_confusion.compute().cpu()
        self.test_confusion.reset()
        if self.artifact_dir is not None:
            write_confusion(confusion, self.class_names, Path(self.artifact_dir))
        datamodule = getattr(self.trainer, "datamodule", None)
        recordings = datamodule.continuous_recordings() if hasattr(datamodule, "continuous_recordings") else []
        if recordings and getattr(self.model, "frame_level", False):
            result = self.continuous_test(recordings, self.artifact_dir)
            for key in ("frr_at_0.5fa_per_h", "frr_at_1fa_per_h", "continuous_hours"):
                self.log(f"test/{key}", float(result[key]))

    def continuous_test(self, recordings: list[tuple[Path, Path]], out: Path | None) -> dict[str, Any]:
        """False rejects against false alarms per hour on long recordings with known keyword times."""
        from sciarch_datasets.audio.continuous import read_events
        from sciarch_datasets.audio.wav import read_wav

        from .detection import det_curve, frame_posteriors, frr_at, plot_det

        scored = []
        for wav, labels in recordings:
            wave, rate = read_wav(wav)
            if rate != self.model.frontend.sample_rate:
                raise sciarch.DataError(f"continuous test audio must be {self.model.frontend.sample_rate} Hz, "
                                        f"not {rate}", file=wav)
            posteriors = frame_posteriors(self.model, wave)
            scored.append((posteriors, read_events(labels), wave.shape[0] / rate / 3600))
        fe = self.model.frontend
        points = det_curve(scored, self.class_names, self.keywords, refractory_s=self.refractory_s,
                           smooth_frames=self.smooth_frames, hop_s=fe.hop_length / fe.sample_rate)
        frr_half, th_half = frr_at(points, 0.5)
        frr_one, th_one = frr_at(points, 1.0)
        result = {"frr_at_0.5fa_per_h": frr_half, "threshold_at_0.5fa_per_h": th_half,
                  "frr_at_1fa_per_h": frr_one, "threshold_at_1fa_per_h": th_one,
                  "continuous_hours": sum(h for _, _, h in scored), "smooth_frames": self.smooth_frames,
                  "keywords": points[0]["keywords"] if points else 0, "det": points}
        if out is not None:
            out = Path(out)
            plot_det(points, out / "det_curve.png",
                     title=f"DET, {result['continuous_hours'] * 60:.0f} min, {result['keywords']} keywords")
            with sciarch.atomic_write(out / "det_curve.csv", "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(points[0]))
                writer.writeheader()
                writer.writerows(points)
            sciarch.write_json(out / "continuous.json", {k: v for k, v in result.items() if k != "det"})
        return result


def write_confusion(confusion: torch.Tensor, class_names: list[str], out: Path) -> None:
    """The confusion matrix (rows: true class) as PNG and CSV, and per-class accuracy as CSV."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    counts = confusion.numpy()
    with sciarch.atomic_write(out / "confusion_matrix.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true \\ predicted", *class_names])
        for name, row in zip(class_names, counts, strict=True):
            writer.writerow([name, *row.tolist()])
    with sciarch.atomic_write(out / "per_class_accuracy.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class", "clips", "accuracy"])
        for i, name in enumerate(class_names):
            total = int(counts[i].sum())
            writer.writerow([name, total, f"{counts[i, i] / total:.4f}" if total else ""])
    size = max(4.0, 0.45 * len(class_names) + 1.5)
    fig, ax = plt.subplots(figsize=(size, size))
    rows = counts.sum(axis=1, keepdims=True)
    ax.imshow(counts / (rows + (rows == 0)), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=90)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(class_names) <= 20:
        for i in range(len(class_names)):
            for j in range(len(class_names)):
                if counts[i, j]:
                    ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=7,
                            color="white" if counts[i, j] > 0.5 * max(1, rows[i, 0]) else "black")
    total = counts.sum()
    ax.set_title(f"accuracy {counts.trace() / total:.4f} on {int(total)} clips" if total else "no clips")
    fig.tight_layout()
    with sciarch.atomic_write(out / "confusion_matrix.png", "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
