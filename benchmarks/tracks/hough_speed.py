"""The Hough-transform baseline before and after vectorised voting (and the previous vectorised
version), side by side on the crowding experiment's pictures: efficiency, fake rate and CPU seconds
per picture at each multiplicity, and whether today's finds the previous version's tracks hit for hit,
with its numba kernels (sciarch_tracks.compiled) and without them.

    python benchmarks/tracks/hough_speed.py [--pictures 4] [--multiplicities 5 10 20 40 70 100]

The pictures are the crowding benchmark's test sets (``crowding_set``: 256 pixels, seed 1000, the
same cache), scored as benchmarks/tracks/crowding.py scores the Hough transform (true hits in,
``score_picture`` out). The old transforms are the code of ``--old-commit`` and ``--previous-commit``
(git), imported beside today's (benchmarks/old_code.py); all run on each picture in turn. Writes
benchmarks/results/tracks_hough_speed.json and .md with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from machine import RESULTS, loadavg, machine  # noqa: E402
from old_code import import_old  # noqa: E402

#: the last commit with per-hit vote arithmetic and exact vote removal
OLD_COMMIT = "028533a"
#: the first vectorised version (FFT voting, per-accumulator vote removal, one pair fit at a time)
PREVIOUS_COMMIT = "920592f"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=4, help="pictures per multiplicity")
    parser.add_argument("--multiplicities", type=int, nargs="+", default=[5, 10, 20, 40, 70, 100])
    parser.add_argument("--old-commit", default=OLD_COMMIT)
    parser.add_argument("--previous-commit", default=PREVIOUS_COMMIT)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="tracks_hough_speed", help="results file name, without .json/.md")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import numpy as np
    import sciarch
    from sciarch_datasets.tracks import SIMULATOR_VERSION
    from sciarch_datasets.tracks.coco import read_coco
    from sciarch_tracks import compiled
    from sciarch_tracks.crowding import _labels_for, crowding_set
    from sciarch_tracks.data import TrackPictureSet
    from sciarch_tracks.hough import hough_tracks
    from sciarch_tracks.metrics import TrackScore
    from sciarch_tracks.reconstruction import score_picture

    old = import_old(args.old_commit, "plugins/tracks", "old_sciarch_tracks", ("hough",))
    previous = import_old(args.previous_commit, "plugins/tracks", "previous_sciarch_tracks", ("hough",))
    previous_name = "previous (" + args.previous_commit + ")"

    def array_code_only(*args, **kwargs):
        kept, compiled.COMPILED = compiled.COMPILED, False
        try:
            return hough_tracks(*args, **kwargs)
        finally:
            compiled.COMPILED = kept

    methods = {"before (" + args.old_commit + ")": old.hough.hough_tracks, previous_name: previous.hough.hough_tracks,
               "today, array code only": array_code_only, "today": hough_tracks}
    if not compiled.COMPILED:
        print("numba is absent or switched off: 'today' is the array code too")
    record = {"benchmark": "tracks Hough transform, before and after vectorised voting and its kernels", "command":
              "python " + " ".join(sys.argv), "machine": machine(1), "old_commit": args.old_commit,
              "previous_commit": args.previous_commit, "simulator_version": SIMULATOR_VERSION,
              "pictures_per_multiplicity": args.pictures, "rows": []}
    for multiplicity in args.multiplicities:
        folder = crowding_set(multiplicity, args.pictures, 256, 1000)
        coco = read_coco(folder)
        field, pixel = coco.field_tesla or 1.5, coco.pixel_size_m or 1.0 / 256
        data = TrackPictureSet(coco, labels=_labels_for(["track"]), names=["track"], masks=False)
        scores = {name: TrackScore() for name in methods}
        cpu = dict.fromkeys(methods, 0.0)
        wall = dict.fromkeys(methods, 0.0)
        load = loadavg()
        hits_count = 0
        same = dict.fromkeys(("today", "today, array code only"), 0)  # pictures with the previous version's owners and boxes
        for index in range(len(data)):
            _, target = data[index]
            hits = target["hits"].numpy().astype(np.float64)
            hits_count += len(hits)
            results = {}
            for name, method in methods.items():
                c, w = time.process_time(), time.perf_counter()
                owner, found = method(hits, int(target["size"][1]), int(target["size"][0]), field_tesla=field,
                                      pixel_size_m=pixel)
                cpu[name] += time.process_time() - c
                wall[name] += time.perf_counter() - w
                results[name] = (owner, np.array([t.box for t in found]).reshape(-1, 4))
                detections = {"boxes": np.array([t.box for t in found]).reshape(-1, 4),
                              "scores": np.array([t.score for t in found]), "labels": np.ones(len(found), int)}
                score_picture(detections, target, scores[name], None, ["track"], field_tesla=field,
                              pixel_size_m=pixel, score_threshold=0.0, mask_threshold=0.5, tolerance_px=1.5,
                              min_hits=5, owner=owner, found=found)
            for name in same:
                same[name] += bool(np.array_equal(results[name][0], results[previous_name][0])
                                   and np.array_equal(results[name][1], results[previous_name][1]))
        for name in methods:
            summary = scores[name].summary()
            row = {"method": name, "primary_tracks": multiplicity, "pictures": len(data),
                   "hits_per_picture": round(hits_count / len(data)), "efficiency": round(summary["efficiency"], 4),
                   "fake_rate": round(summary["fake_rate"], 4),
                   "cpu_seconds_per_picture": round(cpu[name] / len(data), 3),
                   "wall_seconds_per_picture": round(wall[name] / len(data), 3), "loadavg_before": load}
            if name in same:
                row["pictures_identical_to_previous"] = same[name]
            record["rows"].append(row)
            print(row, flush=True)
    record["loadavg_end"] = loadavg()
    sciarch.write_json(args.out / f"{args.name}.json", record)
    with sciarch.atomic_write(args.out / f"{args.name}.md") as handle:
        handle.write(markdown(record))
    print(markdown(record))


def markdown(record: dict) -> str:
    m = record["machine"]
    lines = [f"# {record['benchmark']}", "", f"`{record['command']}`", "",
             f"Machine: {m['cpu']}, {m['cores']} cores; load average at start {m['loadavg_at_start'][0]}, at end "
             f"{record['loadavg_end'][0]} (a shared machine: CPU seconds are the figure to compare); commit "
             f"{m['commit']}; simulator version {record['simulator_version']}, 256-pixel crowding pictures, "
             f"{record['pictures_per_multiplicity']} per multiplicity.", "",
             "| primary tracks | hits / picture | method | efficiency | fake rate | CPU s / picture | wall s / picture "
             "| same tracks as previous |", "|---|---|---|---|---|---|---|---|"]
    for r in record["rows"]:
        same = f"{r['pictures_identical_to_previous']}/{r['pictures']}" if "pictures_identical_to_previous" in r else ""
        lines.append(f"| {r['primary_tracks']} | {r['hits_per_picture']} | {r['method']} | {r['efficiency']:.3f} | "
                     f"{r['fake_rate']:.3f} | {r['cpu_seconds_per_picture']} | {r['wall_seconds_per_picture']} | {same} |")
    lines += ["", "Efficiency: true tracks found (≥ 5 hits, most of them right); fake rate: found tracks that are "
              "no true track (tracks/metrics.py). Target: ≤ 1 s per picture at 100 primary tracks at the same "
              "efficiency and fake rate. \"Same tracks as previous\": pictures where today's transform gives every "
              "hit the same owner and every track the same box as the previous version's. \"Today, array code only\": "
              "today's transform with its numba kernels switched off (sciarch_tracks.compiled.COMPILED = False).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
