"""Simulator speed: pictures per CPU-second at 512×512 with 50 primary tracks, one process, today's
simulator beside the one before the vectorised rewrite, a previous vectorised one and today's own
array code without its compiled (numba) kernels (same run, alternating, same pictures asked).

    python benchmarks/tracks/simulator_speed.py [--pictures 128] [--old-pictures 16] [--repeats 3]

Each picture is simulated, rendered, encoded (PNG, RLE masks, hits) and written into a COCO folder,
exactly as ``sciarch tracks simulate --workers 1`` does (``write_dataset(..., workers=1)``, so all
the work is in this process and ``time.process_time`` counts it). The old simulators are the code
of ``--old-commit`` and ``--previous-commit`` (git), imported beside today's (benchmarks/old_code.py);
``--check`` also compares the previous one's folder with today's file by file (annotations.json but
its date, every picture's pixels, every hits file). Also: where today's time goes (transport,
rendering, files and annotation text), per picture. Writes benchmarks/results/tracks_simulator.json
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
#: the vectorised simulator (every particle of a batch stepped together, 028533a) as it was before
#: its annotations' text, RLE strings, sparse blurs and state buffers were made at once (same output)
PREVIOUS_COMMIT = "ee61282"


def timed_folder(write_dataset, config, pictures: int, seed: int, keep: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp) / "set"
        load = loadavg()
        cpu, wall = time.process_time(), time.perf_counter()
        summary = write_dataset(folder, pictures, config, seed=seed, workers=1, progress=None)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        coco = json.loads((folder / "annotations.json").read_text())
    return {"pictures": pictures, "cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3),
            "pictures_per_cpu_second": round(pictures / cpu, 2), "pictures_per_wall_second": round(pictures / wall, 2),
            "annotated_tracks_per_picture": round(summary["tracks"] / pictures, 1),
            "hits_files": len(coco["images"]), "loadavg_before": load, "loadavg_after": loadavg()}


def same_folders(one: Path, two: Path) -> dict:
    """annotations.json (but its date), every picture's pixels and every hits file, compared."""
    import re

    import numpy as np
    from PIL import Image

    def text(folder: Path) -> str:
        return re.sub(r'"date_created":"[^"]*"', "", (folder / "annotations.json").read_text())

    names = sorted(f.name for f in (one / "images").iterdir())
    pixels = hits = 0
    for name in names:
        with Image.open(one / "images" / name) as a, Image.open(two / "images" / name) as b:
            pixels += np.array_equal(np.array(a), np.array(b))
        stem = name.rsplit(".", 1)[0]
        with np.load(one / "hits" / f"{stem}.npz") as a, np.load(two / "hits" / f"{stem}.npz") as b:
            hits += all(np.array_equal(a[k], b[k]) for k in ("xy", "particle"))
    return {"pictures": len(names), "annotations_json_identical": text(one) == text(two),
            "pictures_identical_pixels": pixels, "hits_files_identical": hits,
            "png_bytes": [sum(f.stat().st_size for f in (d / "images").iterdir()) for d in (one, two)]}


def stages(config, pictures: int) -> dict:
    """Today's CPU milliseconds per picture in each stage, the batch transported together."""
    import numpy as np
    from sciarch_datasets.tracks.coco import _describe, write_png
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
        for image, _, _ in described:
            json.dumps(image, separators=(",", ":"))
        t4 = time.process_time()
        for k, p in enumerate(rendered):
            write_png(Path(tmp) / "images" / f"{k:06d}.png", p.image)
        t5 = time.process_time()
    steps = sum(len(e.points) for e in events) / pictures
    return {"pictures": pictures, "transport_ms": round(1e3 * (t1 - t0) / pictures, 2),
            "render_ms": round(1e3 * (t2 - t1) / pictures, 2),
            "files_and_annotations_ms": round(1e3 * (t3 - t2 + t4 - t3) / pictures, 2),
            "png_ms": round(1e3 * (t5 - t4) / pictures, 2), "path_points_per_picture": round(steps),
            "particles_per_picture": round(sum(len(e.particles) for e in events) / pictures, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=128, help="pictures per run of today's simulator")
    parser.add_argument("--old-pictures", type=int, default=16, help="pictures per run of the old one")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, alternating")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--tracks", type=int, default=50)
    parser.add_argument("--old-commit", default=OLD_COMMIT)
    parser.add_argument("--previous-commit", default=PREVIOUS_COMMIT)
    parser.add_argument("--check", action="store_true", help="compare the previous simulator's output with today's")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import sciarch
    from sciarch_datasets.tracks import SIMULATOR_VERSION, ChamberConfig
    from sciarch_datasets.tracks.coco import write_dataset

    old = import_old(args.old_commit, "datasets/tracks", "old_sciarch_tracks", ("coco",))
    previous = import_old(args.previous_commit, "datasets/tracks", "previous_sciarch_tracks", ("coco",))
    size, tracks = (args.size, args.size), (args.tracks, args.tracks)
    configs = {"old": old.ChamberConfig(image_size=size, tracks=tracks),
               "previous": previous.ChamberConfig(image_size=size, tracks=tracks),
               "new": ChamberConfig(image_size=size, tracks=tracks)}
    from sciarch_datasets.tracks import compiled

    def array_code(*given, **named):  # today's simulator without its compiled kernels
        compiled.ARRAY_CODE_ONLY = True
        try:
            return write_dataset(*given, **named)
        finally:
            compiled.ARRAY_CODE_ONLY = False

    writers = {"old": old.coco.write_dataset, "previous": previous.coco.write_dataset, "array": array_code,
               "new": write_dataset}
    configs["array"] = configs["new"]
    counts = {"old": args.old_pictures, "previous": args.pictures, "array": args.pictures, "new": args.pictures}
    names = ("old", "previous", "array", "new") if compiled.AVAILABLE else ("old", "previous", "new")
    try:
        import numba
        kernels = f"numba {numba.__version__}" if compiled.AVAILABLE else "off (SCIARCH_NUMBA=0)"
    except ImportError:
        kernels = "none (numba not installed)"
    try:
        import isal
        encoder = f"isal {isal.__version__}"
    except ImportError:
        encoder = "zlib (isal not installed)"
    record = {"benchmark": "tracks simulator speed (one process)", "size": args.size, "primary_tracks": args.tracks,
              "command": "python " + " ".join(sys.argv), "machine": machine(1), "old_commit": args.old_commit,
              "previous_commit": args.previous_commit, "simulator_version": SIMULATOR_VERSION, "png_encoder": encoder,
              "kernels": kernels, "old": [], "previous": [], "array": [], "new": []}
    # warm-up (imports, tables, caches) outside the timed runs
    for name in reversed(names):
        timed_folder(writers[name], configs[name], 1 if name == "old" else 2, seed=99)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            timed_folder(previous.coco.write_dataset, configs["previous"], 32, seed=5, keep=Path(tmp) / "previous")
            timed_folder(write_dataset, configs["new"], 32, seed=5, keep=Path(tmp) / "new")
            record["check"] = {"seed": 5, **same_folders(Path(tmp) / "previous", Path(tmp) / "new")}
        print("check", record["check"], flush=True)
    for repeat in range(args.repeats):
        for name in names:
            record[name].append(timed_folder(writers[name], configs[name], counts[name], seed=repeat))
            print(name, record[name][-1], flush=True)
    record["stages"] = stages(configs["new"], 128)
    print("stages", record["stages"], flush=True)
    rates = {name: statistics.median(r["pictures_per_cpu_second"] for r in record[name]) for name in names}
    record["summary"] = {"old_pictures_per_cpu_second": rates["old"],
                         "previous_pictures_per_cpu_second": rates["previous"],
                         "new_pictures_per_cpu_second": rates["new"],
                         "speed_up": round(rates["new"] / rates["old"], 1),
                         "speed_up_over_previous": round(rates["new"] / rates["previous"], 2),
                         "array_code_pictures_per_cpu_second": rates.get("array"),
                         "target_pictures_per_cpu_second": 50, "target_met": rates["new"] >= 50}
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
    for name, rows in (("before (" + record["old_commit"] + ")", record["old"]),
                       ("previous (" + record["previous_commit"] + ")", record["previous"]),
                       ("today, array code only", record.get("array", [])), ("today", record["new"])):
        for k, r in enumerate(rows):
            lines.append(f"| {name} | {k + 1} | {r['pictures']} | {r['cpu_seconds']} | {r['wall_seconds']} | "
                         f"{r['pictures_per_cpu_second']} | {r['pictures_per_wall_second']} | "
                         f"{r['annotated_tracks_per_picture']} | {r['loadavg_before'][0]} → {r['loadavg_after'][0]} |")
    lines += ["", f"Median: before {s['old_pictures_per_cpu_second']} pictures per CPU-second, previous "
              f"{s['previous_pictures_per_cpu_second']}, today {s['new_pictures_per_cpu_second']} "
              f"({s['speed_up']}× before, {s['speed_up_over_previous']}× previous); target ≥ 50: "
              f"{'met' if s['target_met'] else 'not met'}. Today without its compiled kernels: "
              f"{s.get('array_code_pictures_per_cpu_second')}. PNG encoder: {record['png_encoder']}; kernels: "
              f"{record.get('kernels', 'none')}.", "",
              f"Where today's CPU time goes, per picture ({st['pictures']} pictures transported together; "
              f"{st['particles_per_picture']} particles, {st['path_points_per_picture']} path points each): "
              f"transport {st['transport_ms']} ms, rendering and masks {st['render_ms']} ms, PNG + hits files + "
              f"annotation text {st['files_and_annotations_ms']} ms (of which PNG alone {st['png_ms']} ms).", ""]
    if "check" in record:
        c = record["check"]
        lines += [f"Output check (seed {c['seed']}, {c['pictures']} pictures, previous simulator against today's): "
                  f"annotations.json identical (but its date): {c['annotations_json_identical']}; pictures with "
                  f"identical pixels {c['pictures_identical_pixels']}/{c['pictures']}; identical hits files "
                  f"{c['hits_files_identical']}/{c['pictures']}; PNG bytes {c['png_bytes'][0]} → {c['png_bytes'][1]}.",
                  ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
