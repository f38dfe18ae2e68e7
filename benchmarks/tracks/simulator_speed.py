"""Simulator speed: pictures per CPU-second at 512×512 with 50 primary tracks, one process, today's
simulator beside the one before the vectorised rewrite (same run, alternating, same pictures asked).

    python benchmarks/tracks/simulator_speed.py [--pictures 128] [--old-pictures 16] [--repeats 3]

Each picture is simulated, rendered, encoded (PNG, RLE masks, hits) and written into a COCO folder,
exactly as ``sciarch tracks simulate --workers 1`` does (``write_dataset(..., workers=1)``, so all
the work is in this process and ``time.process_time`` counts it). The old simulator is the code of
``--old-commit`` (git), imported beside today's (benchmarks/old_code.py). Also: where today's time
goes (transport, rendering, files, JSON), per picture. Writes benchmarks/results/tracks_simulator.json
and .md with the machine and its load (a shared machine: CPU seconds are the figure to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from machine import RESULTS, loadavg, machine  # noqa: E402
from old_code import import_old  # noqa: E402

#: the last commit with the per-particle (pure-Python step loop) simulator
OLD_COMMIT = "f93b603"


def timed_folder(write_dataset, config, pictures: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        load = loadavg()
        cpu, wall = time.process_time(), time.perf_counter()
        summary = write_dataset(Path(tmp) / "set", pictures, config, seed=seed, workers=1, progress=None)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        coco = json.loads((Path(tmp) / "set" / "annotations.json").read_text())
    return {"pictures": pictures, "cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3),
            "pictures_per_cpu_second": round(pictures / cpu, 2), "pictures_per_wall_second": round(pictures / wall, 2),
            "annotated_tracks_per_picture": round(summary["tracks"] / pictures, 1),
            "hits_files": len(coco["images"]), "loadavg_before": load, "loadavg_after": loadavg()}


def stages(config, pictures: int) -> dict:
    """Today's CPU milliseconds per picture in each stage, the batch transported together."""
    import numpy as np
    from sciarch_datasets.tracks.coco import _describe
    from sciarch_datasets.tracks.optics import render
    from sciarch_datasets.tracks.simulator import generate_events

    rngs = [np.random.default_rng(np.random.SeedSequence([11, i])) for i in range(pictures)]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "images").mkdir()
        (Path(tmp) / "hits").mkdir()
        t0 = time.process_time()
        events = generate_events(config, rngs)
        t1 = time.process_time()
        rendered = [render(e, config, r) for e, r in zip(events, rngs, strict=True)]
        t2 = time.process_time()
        described = [_describe(p, config, 11, i, Path(tmp)) for i, p in enumerate(rendered)]
        t3 = time.process_time()
        for image, annotations in described:
            json.dumps(image, separators=(",", ":"))
            ",".join(json.dumps(a, separators=(",", ":")) for a in annotations)
        t4 = time.process_time()
    steps = sum(len(e.points) for e in events) / pictures
    return {"pictures": pictures, "transport_ms": round(1e3 * (t1 - t0) / pictures, 2),
            "render_ms": round(1e3 * (t2 - t1) / pictures, 2),
            "files_and_annotations_ms": round(1e3 * (t3 - t2) / pictures, 2),
            "json_ms": round(1e3 * (t4 - t3) / pictures, 2), "path_points_per_picture": round(steps),
            "particles_per_picture": round(sum(len(e.particles) for e in events) / pictures, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=128, help="pictures per run of today's simulator")
    parser.add_argument("--old-pictures", type=int, default=16, help="pictures per run of the old one")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, alternating")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--tracks", type=int, default=50)
    parser.add_argument("--old-commit", default=OLD_COMMIT)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import sciarch
    from sciarch_datasets.tracks import SIMULATOR_VERSION, ChamberConfig
    from sciarch_datasets.tracks.coco import write_dataset

    old = import_old(args.old_commit, "datasets/tracks", "old_sciarch_tracks", ("coco",))
    old_config = old.ChamberConfig(image_size=(args.size, args.size), tracks=(args.tracks, args.tracks))
    config = ChamberConfig(image_size=(args.size, args.size), tracks=(args.tracks, args.tracks))
    record = {"benchmark": "tracks simulator speed (one process)", "size": args.size, "primary_tracks": args.tracks,
              "command": "python " + " ".join(sys.argv), "machine": machine(1), "old_commit": args.old_commit,
              "simulator_version": SIMULATOR_VERSION, "old": [], "new": []}
    # warm-up (imports, tables, caches) outside the timed runs
    timed_folder(write_dataset, config, 2, seed=99)
    timed_folder(old.coco.write_dataset, old_config, 1, seed=99)
    for repeat in range(args.repeats):
        record["old"].append(timed_folder(old.coco.write_dataset, old_config, args.old_pictures, seed=repeat))
        print("old", record["old"][-1], flush=True)
        record["new"].append(timed_folder(write_dataset, config, args.pictures, seed=repeat))
        print("new", record["new"][-1], flush=True)
    record["stages"] = stages(config, 64)
    print("stages", record["stages"], flush=True)
    old_rate = statistics.median(r["pictures_per_cpu_second"] for r in record["old"])
    new_rate = statistics.median(r["pictures_per_cpu_second"] for r in record["new"])
    record["summary"] = {"old_pictures_per_cpu_second": old_rate, "new_pictures_per_cpu_second": new_rate,
                         "speed_up": round(new_rate / old_rate, 1), "target_pictures_per_cpu_second": 50,
                         "target_met": new_rate >= 50}
    record["loadavg_end"] = loadavg()
    sciarch.write_json(args.out / "tracks_simulator.json", record)
    with sciarch.atomic_write(args.out / "tracks_simulator.md") as handle:
        handle.write(markdown(record))
    print(markdown(record))


def markdown(record: dict) -> str:
    m, s, st = record["machine"], record["summary"], record["stages"]
    lines = [f"# Simulator speed ({record['size']}×{record['size']}, {record['primary_tracks']} primary tracks, "
             "one process)", "", f"`{record['command']}`", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; load average at start "
             f"{m['loadavg_at_start'][0]}, at end {record['loadavg_end'][0]} (a shared machine: CPU seconds "
             f"are the figure to compare); commit {m['commit']}.", "",
             "| simulator | run | pictures | CPU s | wall s | pictures / CPU-s | pictures / wall-s | "
             "annotated tracks / picture | load before → after |", "|---|---|---|---|---|---|---|---|---|"]
    for name, rows in (("before (" + record["old_commit"] + ")", record["old"]), ("today", record["new"])):
        for k, r in enumerate(rows):
            lines.append(f"| {name} | {k + 1} | {r['pictures']} | {r['cpu_seconds']} | {r['wall_seconds']} | "
                         f"{r['pictures_per_cpu_second']} | {r['pictures_per_wall_second']} | "
                         f"{r['annotated_tracks_per_picture']} | {r['loadavg_before'][0]} → {r['loadavg_after'][0]} |")
    lines += ["", f"Median: before {s['old_pictures_per_cpu_second']} pictures per CPU-second, today "
              f"{s['new_pictures_per_cpu_second']} ({s['speed_up']}×); target ≥ 50: "
              f"{'met' if s['target_met'] else 'not met'}.", "",
              f"Where today's CPU time goes, per picture ({st['pictures']} pictures transported together; "
              f"{st['particles_per_picture']} particles, {st['path_points_per_picture']} path points each): "
              f"transport {st['transport_ms']} ms, rendering and masks {st['render_ms']} ms, PNG + hits files + "
              f"annotations {st['files_and_annotations_ms']} ms, JSON {st['json_ms']} ms.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
