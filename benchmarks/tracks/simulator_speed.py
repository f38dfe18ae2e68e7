"""Simulator speed: pictures per second at 512×512 with 50 tracks, on the CPU.

    python benchmarks/tracks/simulator_speed.py [--pictures 40] [--workers 1 2]

Writes benchmarks/results/tracks_simulator.json and .md. Each picture is simulated, rendered,
encoded (PNG, RLE masks, hits) and written, exactly as ``sciarch tracks simulate`` does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine, machine_line  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--tracks", type=int, default=50)
    parser.add_argument("--out", type=Path, default=HERE.parent / "results")
    args = parser.parse_args()

    import sciarch
    from sciarch_datasets.tracks import ChamberConfig
    from sciarch_datasets.tracks.coco import write_dataset

    config = ChamberConfig(image_size=(args.size, args.size), tracks=(args.tracks, args.tracks))
    rows = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            before = machine(1)
            summary = write_dataset(Path(tmp) / "set", args.pictures, config, seed=0, workers=workers, progress=None)
            rows.append({**summary, "machine_before": before, "machine_after": machine(1),
                         "tracks_per_picture": summary["tracks"] / args.pictures})
            print(f"{workers} worker(s): {summary['pictures_per_second']:.2f} pictures/s", flush=True)
    result = {"benchmark": "simulator speed", "size": args.size, "primary_tracks": args.tracks,
              "pictures": args.pictures, "rows": rows, "command": " ".join(sys.argv)}
    sciarch.write_json(args.out / "tracks_simulator.json", result)
    lines = [f"# Simulator speed ({args.size}×{args.size}, {args.tracks} primary tracks per picture)", "",
             f"`python {' '.join(sys.argv)}`", "",
             "| workers | pictures/s | annotated tracks / picture | load average (before → after) |",
             "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['workers']} | {row['pictures_per_second']:.2f} | {row['tracks_per_picture']:.1f} | "
                     f"{row['machine_before']['loadavg'][0]} → {row['machine_after']['loadavg'][0]} |")
    lines += ["", f"Machine: {machine_line(rows[0]['machine_before'])}.", ""]
    with sciarch.atomic_write(args.out / "tracks_simulator.md") as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    main()
