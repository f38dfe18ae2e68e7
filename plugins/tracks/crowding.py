"""The crowding experiment: track efficiency and fake rate against tracks per picture.

A one-stage detector makes a fixed set of predictions per feature-map cell and is said to lose
tracks when many pass through one cell; a two-stage detector proposes thousands of regions and
looks at each again. This measures it: test sets of simulated pictures at fixed multiplicities
(primary tracks per picture; secondaries come on top), each trained detector and the Hough
baseline run on the same pictures, every found track scored by the same double-majority matching.
The true boxes and masks, put through the same hit assignment, show the ceiling that step sets.

Writes ``crowding.json`` (every figure, with the machine and settings), ``crowding.md`` (the table)
and ``crowding.png`` (efficiency and fake rate against true tracks per picture).
"""

from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import sciarch

from .metrics import TrackScore
from .reconstruction import score_picture, to_numpy


def crowding_set(multiplicity: int | tuple[int, int], pictures: int, size: int, seed: int,
                 chamber_width_m: float = 1.0) -> Path:
    """A cached set of ``pictures`` pictures with ``multiplicity`` primary tracks each (or a
    (fewest, most) range)."""
    from sciarch_datasets.tracks import SIMULATOR_VERSION, ChamberConfig
    from sciarch_datasets.tracks.coco import write_dataset

    fewest, most = (multiplicity, multiplicity) if isinstance(multiplicity, int) else multiplicity
    config = ChamberConfig(image_size=(size, size), chamber_width_m=chamber_width_m, tracks=(fewest, most))
    key = sciarch.content_key({"n": pictures, "seed": seed, "chamber": config.to_dict(),
                               "simulator": SIMULATOR_VERSION})
    folder = sciarch.cache_dir("tracks", "crowding") / f"m{fewest}-{most}-{key}"
    if not (folder / "annotations.json").is_file():
        write_dataset(folder, pictures, config, seed=seed + most, progress=f"simulating {fewest}–{most}-track set")
    return folder


ORACLES = ("true boxes", "true masks")
FIRST_STAGES = ("rpn", "hough", "hybrid")


def hit_tracks(task: Any, image: Any, target: dict[str, Any], *, field_tesla: float, pixel_size_m: float,
               score_threshold: float, first_stage: str = "rpn") -> list:
    """The tracks a Hit R-CNN run finds in one picture. ``first_stage``: its own RPN's proposals
    (``rpn``), the boxes of the Hough transform's arcs instead (``hough``), or both (``hybrid``)."""
    import torch

    from .curves import tracks_from_members

    hits = target["hits"].numpy().astype(np.float64)
    proposals = None
    if first_stage != "rpn":
        from .hough import hough_tracks

        _, arcs = hough_tracks(hits, int(target["size"][1]), int(target["size"][0]), field_tesla=field_tesla,
                               pixel_size_m=pixel_size_m)
        boxes = np.array([t.box for t in arcs], dtype=np.float32).reshape(-1, 4)
        proposals = [torch.from_numpy(boxes)]
    with torch.no_grad():
        output = task.model([image], [target["hits"]], proposals=proposals, add_proposals=first_stage == "hybrid")[0]
    return tracks_from_members(output, hits, field_tesla=field_tesla, pixel_size_m=pixel_size_m,
                               min_hits=task.min_hits, member_threshold=task.member_threshold,
                               score_threshold=score_threshold, direction=getattr(task, "direction", "geometry"),
                               picture_size=(image.shape[-1], image.shape[-2]))[1]


def _labels_for(names: list[str]) -> str:
    from .data import class_names

    for scheme in ("track", "charge", "ionisation-charge", "species"):
        if names == class_names(scheme):
            return scheme
    return "file"


def choose_threshold(task: Any, folder: Path) -> tuple[float, list[dict[str, float]]]:
    """The score threshold with the best efficiency × (1 − fake rate) on the pictures in ``folder``."""
    import torch
    from sciarch_datasets.tracks.coco import read_coco

    from .data import TrackPictureSet
    from .reconstruction import reconstruct_at_thresholds

    coco = read_coco(folder)
    data = TrackPictureSet(coco, labels=_labels_for(task.class_names), names=task.class_names, masks=False)
    thresholds = list(task.THRESHOLDS)
    scores = {t: TrackScore() for t in thresholds}
    for index in range(len(data)):
        image, target = data[index]
        if getattr(task, "takes_hits", False):
            from .curves import score_tracks

            found = hit_tracks(task, image, target, field_tesla=coco.field_tesla, pixel_size_m=coco.pixel_size_m,
                               score_threshold=min(thresholds), first_stage=getattr(task, "first_stage", "rpn"))
            for t in thresholds:
                score_tracks([f for f in found if f.score >= t], target, scores[t], task.class_names,
                             min_hits=task.min_hits)
            continue
        with torch.no_grad():
            detections = to_numpy(task.model([image])[0])
        hits = target["hits"].numpy().astype(np.float64)
        for t, (owner, found) in reconstruct_at_thresholds(
                detections, hits, thresholds, field_tesla=coco.field_tesla, pixel_size_m=coco.pixel_size_m,
                mask_threshold=task.mask_threshold, tolerance_px=task.hit_tolerance_px,
                min_hits=task.min_hits).items():
            score_picture(detections, target, scores[t], None, task.class_names, field_tesla=coco.field_tesla,
                          pixel_size_m=coco.pixel_size_m, score_threshold=t, mask_threshold=task.mask_threshold,
                          tolerance_px=task.hit_tolerance_px, min_hits=task.min_hits, owner=owner, found=found)
    table_rows = [{"threshold": t, "efficiency": s.efficiency, "fake_rate": s.fake_rate,
                   "track_score": s.efficiency * (1 - s.fake_rate)} for t, s in scores.items()]
    best = max(table_rows, key=lambda r: (r["track_score"], r["threshold"]))
    return best["threshold"], table_rows


def apply_settings(task: Any, settings: str, where: str = "run") -> None:
    """Set inference settings ``name=value,…`` on a loaded task's model (or the task, where the model
    has no such attribute), each value converted to the type of the setting it replaces; an unknown
    or private name is a :class:`sciarch.UsageError` naming ``where``."""
    for setting in settings.split(","):
        key, _, value = setting.partition("=")
        key = key.strip()
        owner = task.model if hasattr(task.model, key) else task
        if not key or key.startswith("_") or not hasattr(owner, key):
            raise sciarch.UsageError(f"{where}: neither the model nor the task has a setting {key!r}")
        current = getattr(owner, key)
        if isinstance(current, str):
            setattr(owner, key, value)
        elif isinstance(current, bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise sciarch.UsageError(f"{where}: {key} takes true or false, not {value!r}")
            setattr(owner, key, value.lower() in ("true", "1"))
        else:
            try:
                setattr(owner, key, type(current)(float(value)))
            except ValueError:
                raise sciarch.UsageError(f"{where}: {key} takes a number, not {value!r}") from None


def run_crowding(out: Path, runs: dict[str, Path | str], *, hough: bool = True,
                 multiplicities: list[int] | tuple[int, ...] = (5, 10, 20, 40, 70, 100), pictures: int = 20,
                 size: int = 256, seed: int = 1000, label: str = "", hough_options: dict | None = None,
                 validation_pictures: int = 12, oracles: bool = True,
                 keep_thresholds: tuple[str, ...] = ()) -> dict[str, Any]:
    """Score each run in ``runs`` (name → run directory; ``DIR@soft-gaussian`` runs that detector
    with Soft-NMS instead of the suppression it was trained with; for a Hit R-CNN run, ``DIR@hough``
    or ``DIR@hybrid`` gives it the Hough transform's arcs as proposals, instead of or beside its
    RPN's; ``DIR@name=value,…`` sets inference settings of its model or task, such as the GNN's
    edge threshold) and, with ``hough``, the Hough
    baseline. Every detector's operating threshold is chosen afresh, the same way for all, on
    ``validation_pictures`` pictures of 5–100 tracks (never on the test pictures). With
    ``oracles``, the true boxes (claiming hits smallest first) and the true masks go through the
    same hit assignment: the ceiling that assignment puts on any box or mask detector. Runs named in
    ``keep_thresholds`` keep the threshold chosen when they were trained (e.g. first-stage variants
    whose Hough transform makes a validation scan slow)."""
    import torch
    from sciarch_datasets.tracks.coco import read_coco

    from .data import TrackPictureSet
    from .hough import hough_tracks
    from .suppression import set_suppression

    tasks = {}
    for name, spec in runs.items():
        path, _, variant = str(spec).partition("@")
        task = sciarch.Run(Path(path)).load_task()
        if variant in FIRST_STAGES:  # Hit R-CNN with another first stage
            task.first_stage = variant
        elif "=" in variant:  # inference settings of the model or task: DIR@edge_threshold=0.6,direction=geometry
            apply_settings(task, variant, path)
        elif variant:
            set_suppression(task.model, variant)  # type: ignore[arg-type]
        tasks[name] = task
    chosen: dict[str, Any] = {}
    if tasks:
        validation = crowding_set((5, 100), validation_pictures, size, seed + 7919)
        for name, task in tasks.items():
            if name in keep_thresholds:  # the threshold chosen on the run's own validation pictures
                chosen[name] = {"threshold": task.score_threshold, "scan": "kept from the run"}
                continue
            threshold, scan = choose_threshold(task, validation)
            task.operating_threshold.fill_(threshold)
            chosen[name] = {"threshold": threshold, "scan": scan}
            sciarch.console.print(f"{name}: operating threshold {threshold} (chosen on {validation_pictures} "
                                  "validation pictures of 5–100 tracks)")
    methods = list(tasks) + (["hough"] if hough else []) + (list(ORACLES) if oracles else [])
    rows: list[dict[str, Any]] = []
    for multiplicity in multiplicities:
        folder = crowding_set(multiplicity, pictures, size, seed)
        coco = read_coco(folder)
        field, pixel = coco.field_tesla or 1.5, coco.pixel_size_m or 1.0 / size
        for method in methods:
            task = tasks.get(method)
            names = task.class_names if task is not None else ["track"]
            data = TrackPictureSet(coco, labels=_labels_for(names), names=names, masks=method == "true masks")
            score = TrackScore()
            seconds = 0.0
            for index in sciarch.track(range(len(data)), f"{method} at {multiplicity} tracks"):
                image, target = data[index]
                started = time.perf_counter()
                if method in ORACLES:
                    # the true boxes or masks as a perfect detector's: what hit assignment alone allows
                    boxes = target["boxes"].numpy().astype(np.float64)
                    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
                    detections = {"boxes": boxes, "labels": np.ones(len(boxes), int),
                                  "scores": 1.0 - 0.5 * np.argsort(np.argsort(area)) / max(1, len(boxes))}
                    if method == "true masks":
                        detections["masks"] = target["masks"].numpy().astype(np.float32)
                    score_picture(detections, target, score, None, names, field_tesla=field, pixel_size_m=pixel,
                                  score_threshold=0.0, mask_threshold=0.3, tolerance_px=1.5, min_hits=5)
                elif task is None:
                    hits = target["hits"].numpy().astype(np.float64)
                    owner, found = hough_tracks(hits, int(target["size"][1]), int(target["size"][0]),
                                                field_tesla=field, pixel_size_m=pixel, **(hough_options or {}))
                    detections = {"boxes": np.array([t.box for t in found]).reshape(-1, 4),
                                  "scores": np.array([t.score for t in found]), "labels": np.ones(len(found), int)}
                    score_picture(detections, target, score, None, names, field_tesla=field, pixel_size_m=pixel,
                                  score_threshold=0.0, mask_threshold=0.5, tolerance_px=1.5, min_hits=5,
                                  owner=owner, found=found)
                elif getattr(task, "takes_hits", False):
                    from .curves import score_tracks

                    found = hit_tracks(task, image, target, field_tesla=field, pixel_size_m=pixel,
                                       score_threshold=task.score_threshold,
                                       first_stage=getattr(task, "first_stage", "rpn"))
                    score_tracks(found, target, score, names, min_hits=task.min_hits)
                else:
                    with torch.no_grad():
                        detections = to_numpy(task.model([image])[0])
                    score_picture(detections, target, score, None, names, field_tesla=field, pixel_size_m=pixel,
                                  score_threshold=task.score_threshold, mask_threshold=task.mask_threshold,
                                  tolerance_px=task.hit_tolerance_px, min_hits=task.min_hits)
                seconds += time.perf_counter() - started
            summary = score.summary()
            rows.append({"method": method, "primary_tracks": multiplicity, "pictures": len(data),
                         "true_tracks_per_picture": score.true / max(1, len(data)),
                         "found_tracks_per_picture": score.found / max(1, len(data)),
                         "efficiency": summary["efficiency"], "fake_rate": summary["fake_rate"],
                         "duplicate_rate": summary["duplicate_rate"],
                         "charge_accuracy": summary["charge_accuracy"],
                         "momentum_resolution": summary["momentum_resolution"],
                         "seconds_per_picture": seconds / max(1, len(data))})
    result = {"label": label, "machine": machine(), "runs": {k: str(v) for k, v in runs.items()},
              "operating_thresholds": chosen, "pictures_per_multiplicity": pictures, "size": size, "seed": seed,
              "rows": rows}
    result["table"] = table(rows)
    out.mkdir(parents=True, exist_ok=True)
    sciarch.write_json(out / "crowding.json", result)
    with sciarch.atomic_write(out / "crowding.md") as handle:
        handle.write((f"{label}\n\n" if label else "") + result["table"] + "\n")
    plot(rows, out / "crowding.png", title=label)
    return result


def machine() -> dict[str, Any]:
    """Where a figure was measured: CPU, cores, threads, load (figures under contention say so)."""
    import torch

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "loadavg": [round(v, 2) for v in os.getloadavg()], "gpu": torch.cuda.get_device_name(0)
            if torch.cuda.is_available() else None}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| method | primary tracks | true tracks / picture | efficiency | fake rate | duplicate rate | "
             "σ(Δp/p) | charge correct | s / picture |", "|---|---|---|---|---|---|---|---|---|"]

    def figure(value: Any) -> str:
        return "–" if value is None or not math.isfinite(value) else f"{value:.3f}"

    for r in rows:
        lines.append(f"| {r['method']} | {r['primary_tracks']} | {r['true_tracks_per_picture']:.1f} | "
                     f"{r['efficiency']:.3f} | {r['fake_rate']:.3f} | {r['duplicate_rate']:.3f} | "
                     f"{figure(r['momentum_resolution'])} | {figure(r.get('charge_accuracy'))} | "
                     f"{r['seconds_per_picture']:.2f} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=120)
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        x = [r["true_tracks_per_picture"] for r in mine]
        left.plot(x, [r["efficiency"] for r in mine], "o-", label=method)
        right.plot(x, [r["fake_rate"] for r in mine], "o-", label=method)
    for ax, name in ((left, "track efficiency"), (right, "fake rate")):
        ax.set_xlabel("true tracks per picture")
        ax.set_ylabel(name)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    with sciarch.atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)
