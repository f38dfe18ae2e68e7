"""Track finding as detection: train a torchvision detector, score it as a tracker.

Training minimises the detector's own losses (RPN + box head (+ mask head) for the R-CNNs, focal +
box loss for RetinaNet). Validation and test turn detections into tracks (:mod:`.reconstruction`)
and report, under ``val/`` and ``test/``:

* ``efficiency``, ``fake_rate``, ``duplicate_rate`` (TrackML double-majority matching);
* ``momentum_resolution``: σ(Δp_T/p_T) of matched tracks from a circle fit, p_T = 0.3 B R;
* ``class_accuracy`` and ``charge_accuracy`` of matched tracks;
* ``box_ap``/``box_ap50`` (per class) and ``box_ap_track`` (class-agnostic), the same for masks,
  with pycocotools and the detection cap at ``max_dets``;
* ``track_score`` = efficiency × (1 − fake rate), and ``score_threshold``, the operating point.

The operating point: a detection is a track if its score reaches a threshold. With
``choose_threshold`` (the default) each validation picks, among a few thresholds, the one with the
best ``track_score`` on the validation pictures; it is stored with the weights, so the test, and
``sciarch tracks detect``, use the threshold chosen with the checkpoint, never one tuned on the
test pictures. A detector trained from scratch for a short time scores its tracks well below
0.5, so a fixed threshold would report nothing while its ranking is already useful.

When tested after training (or by ``sciarch evaluate``) it writes to the run's ``evaluation/``:
``tracks_metrics.json``, ``efficiency_by_multiplicity.md``, ``momentum_resolution.png`` and a few
``picture_<n>.png`` with the found tracks drawn.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import sciarch
import torch

from .metrics import CocoScore, TrackScore
from .reconstruction import reconstruct_at_thresholds, score_picture, to_numpy


def _has_masks(model: torch.nn.Module) -> bool:
    heads = getattr(model, "roi_heads", None)
    return bool(heads is not None and heads.has_mask())


class TrackDetection(sciarch.Task):
    """A detector trained on track pictures and scored by track efficiency, fake rate and momentum.

    ``field_tesla`` and ``pixel_size_m`` (filled in by the data) turn radii into momenta;
    ``score_threshold``: detections below it are not tracks (COCO AP uses them all); the starting
    value when ``choose_threshold`` picks one on each validation among ``THRESHOLDS``;
    ``mask_threshold``: mask probability for a hit to join a track; ``hit_tolerance_px``: arc
    distance for box-only detectors; ``min_hits``: fewest hits a found track needs;
    ``max_dets``: COCO's detection cap; ``draw_pictures``: pictures drawn when tested;
    ``member_threshold``: membership probability for a hit to join a track (Hit R-CNN, whose
    tracks come from :mod:`.curves`, with the charge from their curvature); ``direction``: how
    Hit R-CNN tells which way a track runs, for its charge (``geometry``, the default, or
    ``learned``, see :func:`.curves.tracks_from_members`; after CPU-length training the learned
    order tells a track's ends from its middle but not yet its start from its end).

    The field and pixel size used for momenta are the data's (its ``hints()``) whenever the task
    is validated or tested, so ``sciarch evaluate RUN --data field_tesla=…`` scores with them.
    """

    def __init__(self, model: torch.nn.Module, *, field_tesla: float = 1.5, pixel_size_m: float = 1.0 / 256,
                 class_names: list[str] | None = None, score_threshold: float = 0.5, mask_threshold: float = 0.3,
                 hit_tolerance_px: float = 1.5, min_hits: int = 5, max_dets: int = 300, coco_ap: bool = True,
                 draw_pictures: int = 4, choose_threshold: bool = True, member_threshold: float = 0.5,
                 direction: str = "geometry") -> None:
        super().__init__(model)
        self.field_tesla, self.pixel_size_m = field_tesla, pixel_size_m
        self.class_names = list(class_names) if class_names else ["track"]
        self.mask_threshold, self.choose_threshold = mask_threshold, choose_threshold
        # a buffer, so the threshold chosen on validation travels with the weights in checkpoints
        self.register_buffer("operating_threshold", torch.tensor(float(score_threshold)))
        self.hit_tolerance_px, self.min_hits, self.max_dets = hit_tolerance_px, min_hits, max_dets
        self.coco_ap, self.draw_pictures = coco_ap, draw_pictures
        self.masks = _has_masks(model)
        self.takes_hits = bool(getattr(model, "takes_hits", False))
        self.member_threshold, self.direction = member_threshold, direction
        self._scores: dict[str, tuple[TrackScore, CocoScore | None]] = {}
        self._drawn = 0

    THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

    @property
    def score_threshold(self) -> float:
        return float(self.operating_threshold)

    # -- training --------------------------------------------------------------------------------

    def on_train_epoch_start(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        sets = getattr(datamodule, "sets", {})
        if "train" in sets:
            sets["train"].epoch = self.current_epoch  # new quarter-turns every epoch

    def _model_targets(self, targets: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        keys = ("boxes", "labels", "masks") if self.masks else ("boxes", "labels")
        return [{k: t[k] for k in keys if k in t} for t in targets]

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        images, targets = batch
        if self.takes_hits:
            keys = ("boxes", "labels", "hit_owner", "hit_order")
            losses = self.model(images, [t["hits"] for t in targets], [{k: t[k] for k in keys} for t in targets])
        else:
            losses = self.model(images, self._model_targets(targets))
        loss = sum(losses.values())
        self.log("train/loss", loss, prog_bar=True, batch_size=len(images))
        for name, value in losses.items():
            self.log(f"train/{name}", value, batch_size=len(images))
        return loss

    # -- evaluation ------------------------------------------------------------------------------

    def _thresholds(self, stage: str) -> list[float]:
        if stage == "val" and self.choose_threshold:
            return sorted(set(self.THRESHOLDS) | {self.score_threshold})
        return [self.score_threshold]

    def _start(self, stage: str) -> None:
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is not None and hasattr(datamodule, "hints"):
            # momenta in the field and pixel size of the data scored, not of the training data
            hints = datamodule.hints()
            self.field_tesla = float(hints.get("field_tesla", self.field_tesla))
            self.pixel_size_m = float(hints.get("pixel_size_m", self.pixel_size_m))
        coco = CocoScore(self.class_names, max_dets=self.max_dets, masks=self.masks) if self.coco_ap else None
        self._scores[stage] = ({t: TrackScore() for t in self._thresholds(stage)}, coco)
        self._drawn = 0

    def on_validation_epoch_start(self) -> None:
        self._start("val")

    def on_test_epoch_start(self) -> None:
        self._start("test")

    def _evaluate_hits(self, images: list, targets: list, stage: str) -> None:
        from .curves import score_tracks, tracks_from_members

        with torch.no_grad():
            outputs = self.model(images, [t["hits"] for t in targets])
        by_threshold, coco = self._scores[stage]
        for image, output, target in zip(images, outputs, targets, strict=True):
            hits = target["hits"].numpy().astype(np.float64)
            _, found = tracks_from_members(output, hits, field_tesla=self.field_tesla, pixel_size_m=self.pixel_size_m,
                                           min_hits=self.min_hits, member_threshold=self.member_threshold,
                                           score_threshold=min(by_threshold), direction=self.direction,
                                           picture_size=(image.shape[-1], image.shape[-2]))
            # detections claim hits best first: a higher threshold keeps a prefix of the same tracks
            for threshold, score in by_threshold.items():
                score_tracks([t for t in found if t.score >= threshold], target, score, self.class_names,
                             min_hits=self.min_hits)
            if coco is not None:
                coco.add_picture(to_numpy({k: output[k] for k in ("boxes", "scores", "labels")}), target)
            if stage == "test" and self.artifact_dir is not None and self._drawn < self.draw_pictures:
                from .draw import draw_tracks

                kept = [t for t in found if t.score >= self.score_threshold]
                picture = (image[0].cpu().numpy() * 255).round().astype(np.uint8)
                draw_tracks(picture, target["hits"].numpy(), kept, self.class_names,
                            Path(self.artifact_dir) / f"picture_{self._drawn}.png",
                            title=f"{len(kept)} found / {len(target['labels'])} true tracks",
                            true_boxes=target["boxes"].numpy())
                self._drawn += 1

    def _evaluate(self, batch: Any, stage: str) -> None:
        images, targets = batch
        if self.takes_hits:
            self._evaluate_hits(images, targets, stage)
            return
        with torch.no_grad():
            outputs = self.model(images)
        by_threshold, coco = self._scores[stage]
        for image, output, target in zip(images, outputs, targets, strict=True):
            detections = to_numpy(output)
            hits = target["hits"].numpy().astype(np.float64)
            reconstructed = reconstruct_at_thresholds(
                detections, hits, list(by_threshold), field_tesla=self.field_tesla, pixel_size_m=self.pixel_size_m,
                mask_threshold=self.mask_threshold, tolerance_px=self.hit_tolerance_px, min_hits=self.min_hits)
            for threshold, (owner, found) in reconstructed.items():
                score_picture(detections, target, by_threshold[threshold], None, self.class_names,
                              field_tesla=self.field_tesla, pixel_size_m=self.pixel_size_m, score_threshold=threshold,
                              mask_threshold=self.mask_threshold, tolerance_px=self.hit_tolerance_px,
                              min_hits=self.min_hits, owner=owner, found=found)
            if coco is not None:
                coco.add_picture(detections, target)
            found = reconstructed[self.score_threshold][1] if self.score_threshold in reconstructed else []
            if stage == "test" and self.artifact_dir is not None and self._drawn < self.draw_pictures:
                from .draw import draw_tracks

                picture = (image[0].cpu().numpy() * 255).round().astype(np.uint8)
                draw_tracks(picture, target["hits"].numpy(), found, self.class_names,
                            Path(self.artifact_dir) / f"picture_{self._drawn}.png",
                            title=f"{len(found)} found / {len(target['labels'])} true tracks",
                            true_boxes=target["boxes"].numpy())
                self._drawn += 1

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def _finish(self, stage: str) -> dict[str, float]:
        by_threshold, coco = self._scores.pop(stage)

        def quality(score: TrackScore) -> float:
            return score.efficiency * (1.0 - score.fake_rate) if score.true else 0.0

        chosen = max(by_threshold, key=lambda t: (quality(by_threshold[t]), t)) if len(by_threshold) > 1 \
            else next(iter(by_threshold))
        if stage == "val" and self.choose_threshold:
            self.operating_threshold.fill_(chosen)
        tracks_score = by_threshold[chosen]
        metrics = tracks_score.summary()
        metrics["track_score"] = quality(tracks_score)
        metrics["score_threshold"] = chosen
        if coco is not None:
            metrics.update(coco.compute())
        for name, value in metrics.items():
            if name in ("true_tracks", "found_tracks") or not math.isfinite(value):
                continue  # undefined (no matched track yet, no truth): left out, not logged as NaN
            self.log(f"{stage}/{name}", float(value), prog_bar=name in ("efficiency", "fake_rate"))
        if stage == "test" and self.artifact_dir is not None:
            self._write_artifacts(tracks_score, metrics)
        return metrics

    def on_validation_epoch_end(self) -> None:
        if "val" in self._scores:
            self._finish("val")

    def on_test_epoch_end(self) -> None:
        if "test" in self._scores:
            self._finish("test")

    def _write_artifacts(self, tracks_score: TrackScore, metrics: dict[str, float]) -> None:
        out = Path(self.artifact_dir)
        by_multiplicity = tracks_score.by_multiplicity()
        by_momentum = tracks_score.resolution_by_momentum()
        sciarch.write_json(out / "tracks_metrics.json", {
            "metrics": metrics, "by_multiplicity": by_multiplicity, "resolution_by_momentum": by_momentum,
            "score_threshold": self.score_threshold, "field_tesla": self.field_tesla,
            "pixel_size_m": self.pixel_size_m, "class_names": self.class_names})
        lines = ["| tracks per picture | pictures | efficiency | fake rate |", "|---|---|---|---|"]
        lines += [f"| {r['tracks_low']}–{r['tracks_high']} | {r['pictures']} | {r['efficiency']:.3f} | "
                  f"{r['fake_rate']:.3f} |" for r in by_multiplicity]
        with sciarch.atomic_write(out / "efficiency_by_multiplicity.md") as handle:
            handle.write("\n".join(lines) + "\n")
        plot_resolution(by_momentum, out / "momentum_resolution.png")


def plot_resolution(rows: list[dict[str, float]], path: Path) -> None:
    """σ(Δp_T/p_T) and the median bias against true p_T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    usable = [r for r in rows if r["tracks"] >= 2 and math.isfinite(r["sigma"])]
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    if usable:
        centres = [math.sqrt(max(r["p_low"], 0.05) * (r["p_high"] if math.isfinite(r["p_high"]) else 3.2))
                   for r in usable]
        ax.plot(centres, [r["sigma"] for r in usable], "o-", label="σ(Δp/p)")
        ax.plot(centres, [r["bias"] for r in usable], "s--", label="median Δp/p")
        ax.set_xscale("log")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no matched tracks", ha="center", transform=ax.transAxes)
    ax.axhline(0, color="0.7", lw=0.5)
    ax.set_xlabel("true p_T (GeV/c)")
    ax.set_ylabel("Δp_T / p_T")
    ax.set_title("momentum resolution of matched tracks")
    fig.tight_layout()
    with sciarch.atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)
