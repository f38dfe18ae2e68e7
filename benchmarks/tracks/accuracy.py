"""Track finding on the simulator's test split at 20–40 tracks per picture: efficiency, fake rate,
momentum resolution, AP, for a trained run, with the Hough baseline on the same pictures.

    python benchmarks/tracks/accuracy.py --run RUN_DIR [--pictures 40] [--name NAME]

The run's own operating threshold (chosen on its validation pictures) is used. Targets from the
issue: efficiency ≥ 0.90 and fake rate ≤ 0.10 for the two-stage detector. Writes
benchmarks/results/tracks_accuracy[_NAME].json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine, machine_line  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--pictures", type=int, default=40)
    parser.add_argument("--tracks", type=int, nargs=2, default=(20, 40))
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--name", default="")
    parser.add_argument("--no-hough", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE.parent / "results")
    args = parser.parse_args()

    import numpy as np
    import sciarch
    import torch
    from sciarch_datasets.tracks import SIMULATOR_VERSION, ChamberConfig
    from sciarch_datasets.tracks.coco import read_coco, write_dataset
    from sciarch_tracks.data import TrackPictureSet
    from sciarch_tracks.hough import hough_tracks
    from sciarch_tracks.metrics import CocoScore, TrackScore
    from sciarch_tracks.reconstruction import score_picture, to_numpy

    torch.set_num_threads(1)
    run = sciarch.Run(args.run)
    datamodule, task = run.build()
    size = datamodule.image_size
    config = ChamberConfig(image_size=(size, size), chamber_width_m=datamodule.chamber_width_m,
                           field_tesla=datamodule.field_tesla, tracks=tuple(args.tracks))
    key = sciarch.content_key({"n": args.pictures, "seed": args.seed, "chamber": config.to_dict(),
                               "simulator": SIMULATOR_VERSION})
    folder = sciarch.cache_dir("tracks", "accuracy") / key
    if not (folder / "annotations.json").is_file():
        write_dataset(folder, args.pictures, config, seed=args.seed, progress="simulating test pictures")
    coco = read_coco(folder)
    data = TrackPictureSet(coco, labels=datamodule.labels, names=task.class_names, masks=task.masks)
    field, pixel = coco.field_tesla, coco.pixel_size_m
    detector, detector_coco, hough = TrackScore(), CocoScore(task.class_names, masks=task.masks), TrackScore()
    for index in sciarch.track(range(len(data)), "scoring"):
        image, target = data[index]
        with torch.no_grad():
            detections = to_numpy(task.model([image])[0])
        score_picture(detections, target, detector, detector_coco, task.class_names, field_tesla=field,
                      pixel_size_m=pixel, score_threshold=task.score_threshold, mask_threshold=task.mask_threshold,
                      tolerance_px=task.hit_tolerance_px, min_hits=task.min_hits)
        if not args.no_hough:
            hits = target["hits"].numpy().astype(np.float64)
            owner, found = hough_tracks(hits, size, size, field_tesla=field, pixel_size_m=pixel)
            empty = {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, int)}
            score_picture(empty, target, hough, None, ["track"], field_tesla=field, pixel_size_m=pixel,
                          score_threshold=0.0, mask_threshold=0.5, tolerance_px=1.5, min_hits=5, owner=owner,
                          found=found)
    summary = json.loads((run.path / "summary.json").read_text()) if (run.path / "summary.json").is_file() else {}
    result = {
        "benchmark": "track finding at 20-40 primary tracks per picture", "run": str(run.path),
        "recipe": run.config.name, "model": run.config.model.name, "model_args": run.config.model.args,
        "training": {k: summary.get(k) for k in ("global_step", "epochs", "train_seconds", "device")},
        "pictures": len(data), "primary_tracks": list(args.tracks), "score_threshold": task.score_threshold,
        "detector": {**detector.summary(), **detector_coco.compute()},
        "detector_resolution_by_momentum": detector.resolution_by_momentum(),
        "hough": hough.summary() if not args.no_hough else None,
        "hough_resolution_by_momentum": hough.resolution_by_momentum() if not args.no_hough else None,
        "targets": {"efficiency": ">= 0.90", "fake_rate": "<= 0.10"}, "machine": machine(1),
        "command": " ".join(sys.argv)}
    suffix = f"_{args.name}" if args.name else ""
    sciarch.write_json(args.out / f"tracks_accuracy{suffix}.json", result)
    d, h = result["detector"], result["hough"]
    lines = [f"# Track finding at {args.tracks[0]}–{args.tracks[1]} primary tracks per picture", "",
             f"`python {' '.join(sys.argv)}`", "",
             f"Run: `{run.config.name}` ({run.config.model.name}, {summary.get('global_step', '?')} steps, "
             f"{(summary.get('train_seconds') or 0) / 60:.0f} min of training on {summary.get('device', '?')}); "
             f"{len(data)} test pictures, {d['true_tracks']:.0f} true tracks; operating threshold "
             f"{task.score_threshold:.2f} (chosen on the run's validation pictures).", "",
             "| method | efficiency | fake rate | duplicate rate | σ(Δp_T/p_T) | box AP (track) | box AP50 (track) |",
             "|---|---|---|---|---|---|---|",
             f"| {run.config.model.name} | {d['efficiency']:.3f} | {d['fake_rate']:.3f} | {d['duplicate_rate']:.3f} | "
             f"{d['momentum_resolution']:.3f} | {d.get('box_ap_track', float('nan')):.3f} | "
             f"{d.get('box_ap50_track', float('nan')):.3f} |"]
    if h:
        lines.append(f"| Hough (classical) | {h['efficiency']:.3f} | {h['fake_rate']:.3f} | {h['duplicate_rate']:.3f} "
                     f"| {h['momentum_resolution']:.3f} | – | – |")
    lines += ["", "Targets (issue 5): efficiency ≥ 0.90, fake rate ≤ 0.10.", "",
              "Momentum resolution of matched tracks by true p_T (detector):", "",
              "| p_T (GeV/c) | tracks | σ(Δp/p) | median Δp/p |", "|---|---|---|---|"]
    for r in result["detector_resolution_by_momentum"]:
        lines.append(f"| {r['p_low']}–{r['p_high']} | {r['tracks']} | {r['sigma']:.3f} | {r['bias']:.3f} |")
    lines += ["", f"Machine: {machine_line(result['machine'])}.", ""]
    with sciarch.atomic_write(args.out / f"tracks_accuracy{suffix}.md") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
