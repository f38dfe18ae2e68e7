"""Shifted physics: a detector trained once, scored in chambers it was not tested in.

    python benchmarks/tracks/shifted.py --run RUN [--pictures 12] [--hough]

Test pictures of 20–40 primary tracks (256 pixels) in the nominal chamber (1.5 T, 1 m across, the
default species mix) and with one thing changed: the field × 0.5 and × 2, the pixel scale × 0.5
(a 0.5 m chamber on the same pixels), another species mix (more electrons, kaons and protons).
Each set is scored with the run's own operating threshold, momenta in that set's field and pixel
size, by the same double-majority matching as everything else; the table gives efficiency, fake
rate, duplicate rate, σ(Δp_T/p_T), charge correct and the efficiency's difference from nominal.
With ``--hough`` the Hough transform is scored on the same pictures. Writes
benchmarks/results/tracks_shifted.{json,md}.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine, machine_line  # noqa: E402

OTHER_MIX = {"e": 0.25, "mu": 0.1, "pi": 0.25, "K": 0.15, "p": 0.25}
CONDITIONS = {"nominal": {}, "B x 0.5": {"field_tesla": 0.75}, "B x 2": {"field_tesla": 3.0},
              "pixel x 0.5": {"chamber_width_m": 0.5}, "other species mix": {"species_mix": OTHER_MIX}}


def picture_set(changes: dict, pictures: int, size: int, tracks: tuple[int, int], seed: int) -> Path:
    import sciarch
    from sciarch_datasets.tracks import SIMULATOR_VERSION, ChamberConfig
    from sciarch_datasets.tracks.coco import write_dataset

    config = ChamberConfig(image_size=(size, size), tracks=tracks).with_(**changes)
    key = sciarch.content_key({"n": pictures, "seed": seed, "chamber": config.to_dict(),
                               "simulator": SIMULATOR_VERSION})
    folder = sciarch.cache_dir("tracks", "shifted") / key
    if not (folder / "annotations.json").is_file():
        write_dataset(folder, pictures, config, seed=seed, workers=1, progress=None)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a trained tracks/hit-rcnn or tracks/arc-net run")
    parser.add_argument("--pictures", type=int, default=12)
    parser.add_argument("--tracks", type=int, nargs=2, default=[20, 40])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--hough", action="store_true", help="score the Hough transform on the same pictures")
    parser.add_argument("--out", type=Path, default=HERE.parent / "results")
    args = parser.parse_args()

    import numpy as np
    import sciarch
    import torch
    from sciarch_datasets.tracks.coco import read_coco
    from sciarch_tracks.crowding import _labels_for, hit_tracks
    from sciarch_tracks.curves import score_tracks
    from sciarch_tracks.data import TrackPictureSet
    from sciarch_tracks.hough import hough_tracks
    from sciarch_tracks.metrics import TrackScore

    torch.set_num_threads(1)
    task = sciarch.Run(args.run).load_task()
    names = task.class_names
    detector = "Arc Net" if type(task.model).__name__ == "ArcNet" else "Hit R-CNN"
    rows = []
    for condition, changes in CONDITIONS.items():
        folder = picture_set(changes, args.pictures, args.size, tuple(args.tracks), args.seed)
        coco = read_coco(folder)
        field, pixel = coco.field_tesla, coco.pixel_size_m
        methods = [detector] + (["hough"] if args.hough else [])
        for method in methods:
            data = TrackPictureSet(coco, labels=_labels_for(names) if method != "hough" else "track",
                                   names=names if method != "hough" else ["track"], masks=False)
            score = TrackScore()
            cpu = time.process_time()
            for index in range(len(data)):
                image, target = data[index]
                if method == "hough":
                    hits = target["hits"].numpy().astype(np.float64)
                    _, found = hough_tracks(hits, args.size, args.size, field_tesla=field, pixel_size_m=pixel)
                    score_tracks(found, target, score, ["track"], min_hits=task.min_hits)
                else:
                    found = hit_tracks(task, image, target, field_tesla=field, pixel_size_m=pixel,
                                       score_threshold=task.score_threshold)
                    score_tracks(found, target, score, names, min_hits=task.min_hits)
            summary = score.summary()
            rows.append({"condition": condition, "method": method, "field_tesla": field, "pixel_size_m": pixel,
                         "pictures": len(data), "true_tracks_per_picture": score.true / max(1, len(data)),
                         **{k: summary[k] for k in ("efficiency", "fake_rate", "duplicate_rate",
                                                    "momentum_resolution", "charge_accuracy")},
                         "cpu_seconds_per_picture": (time.process_time() - cpu) / max(1, len(data))})
            sciarch.console.print(f"{condition} / {method}: efficiency {summary['efficiency']:.3f}, "
                                  f"fake rate {summary['fake_rate']:.3f}")
    nominal = {r["method"]: r["efficiency"] for r in rows if r["condition"] == "nominal"}
    for r in rows:
        r["efficiency_change"] = r["efficiency"] - nominal[r["method"]]

    def figure(value: float) -> str:
        return "–" if value is None or not math.isfinite(value) else f"{value:.3f}"

    lines = ["| condition | method | B (T) | pixel (mm) | true tracks / picture | efficiency | Δ efficiency | "
             "fake rate | duplicate rate | σ(Δp_T/p_T) | charge correct | CPU s / picture |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['condition']} | {r['method']} | {r['field_tesla']:.2f} | {r['pixel_size_m'] * 1000:.2f} | "
                     f"{r['true_tracks_per_picture']:.1f} | {r['efficiency']:.3f} | {r['efficiency_change']:+.3f} | "
                     f"{r['fake_rate']:.3f} | {r['duplicate_rate']:.3f} | {figure(r['momentum_resolution'])} | "
                     f"{figure(r['charge_accuracy'])} | {r['cpu_seconds_per_picture']:.2f} |")
    table = "\n".join(lines)
    info = machine(1)
    result = {"run": str(args.run), "score_threshold": task.score_threshold, "pictures": args.pictures,
              "tracks": args.tracks, "size": args.size, "seed": args.seed, "conditions": CONDITIONS,
              "machine": info, "rows": rows, "table": table}
    args.out.mkdir(parents=True, exist_ok=True)
    sciarch.write_json(args.out / "tracks_shifted.json", result)
    with sciarch.atomic_write(args.out / "tracks_shifted.md") as handle:
        handle.write(f"# Shifted physics: {detector} trained once, scored in other chambers\n\n"
                     f"{args.pictures} test pictures of {args.tracks[0]}–{args.tracks[1]} primary tracks "
                     f"({args.size} px) per condition; the run's operating threshold "
                     f"({task.score_threshold}); {machine_line(info)}.\n\n`python {' '.join(sys.argv)}`\n\n"
                     f"{table}\n")
    sciarch.console.print(table)


if __name__ == "__main__":
    main()
