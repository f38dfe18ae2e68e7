"""What Arc Net's first stage allows: Hough arcs and their bands with a perfect second stage.

    python benchmarks/tracks/arc_ceiling.py [--pictures 4] [--multiplicities 5 20 100] [--band 5] [--passes 1 3]

For each Hough arc, its band (the hits within ``--band`` pixels of its circle, all round) is given
the truth's membership: its members are the hits of the particle most of the arc's own hits belong
to. A particle is found when some band holds more than half of its hits (the double majority a
perfect membership would then meet); found particles' hits are removed and the transform votes again,
for each number of passes asked. The efficiency this gives is the ceiling on any second stage over
these proposals; the single pass against three shows what the iteration buys. Prints a table and
writes benchmarks/results/tracks_arc_ceiling.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine, machine_line  # noqa: E402


def ceiling(hits: np.ndarray, owner: np.ndarray, size: int, band_px: float, passes: int) -> tuple[int, int]:
    """(particles found, proposals) for one picture."""
    from sciarch_tracks.hough import HoughTracker

    alive = np.ones(len(hits), dtype=bool)
    found: set[int] = set()
    proposals = 0
    tracker = HoughTracker()
    for _ in range(passes):
        index = np.flatnonzero(alive)
        _, arcs = tracker(hits[index], size, size)
        proposals += len(arcs)
        new = 0
        for arc in arcs:
            fit = arc.fit
            if fit is None or fit.radius > 5000:
                continue
            band = np.flatnonzero(alive & (np.abs(np.hypot(hits[:, 0] - fit.cx, hits[:, 1] - fit.cy) - fit.radius)
                                           < band_px))
            particles, counts = np.unique(owner[index[arc.hits]], return_counts=True)
            particle = int(particles[np.argmax(counts)])
            if particle < 0 or particle in found:
                continue
            members = band[owner[band] == particle]
            if len(members) > 0.5 * (owner == particle).sum():
                found.add(particle)
                alive[owner == particle] = False
                new += 1
        if not new:
            break
    return len(found), proposals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=4)
    parser.add_argument("--multiplicities", type=int, nargs="+", default=[5, 20, 100])
    parser.add_argument("--band", type=float, default=5.0)
    parser.add_argument("--passes", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--seed", type=int, default=555)
    parser.add_argument("--out", type=Path, default=HERE.parent / "results")
    args = parser.parse_args()

    import sciarch
    from sciarch_datasets.tracks import ChamberConfig
    from sciarch_datasets.tracks.optics import simulate_picture
    from sciarch_tracks.data import picture_sample

    rows = []
    for multiplicity in args.multiplicities:
        cfg = ChamberConfig(image_size=(256, 256), chamber_width_m=1.0, tracks=(multiplicity, multiplicity))
        pictures = []
        for index in range(args.pictures):
            _, target = picture_sample(simulate_picture(cfg, args.seed, index), cfg, labels="track", names=["track"])
            pictures.append((target["hits"].numpy().astype(np.float64), target["hit_owner"].numpy(),
                             len(target["labels"])))
        for passes in args.passes:
            started = time.process_time()
            results = [ceiling(h, o, 256, args.band, passes) for h, o, _ in pictures]
            true = sum(n for *_, n in pictures)
            rows.append({"primary_tracks": multiplicity, "passes": passes, "pictures": args.pictures,
                         "true_tracks": true, "efficiency": sum(f for f, _ in results) / max(1, true),
                         "proposals_per_picture": sum(p for _, p in results) / args.pictures,
                         "cpu_s_per_picture": (time.process_time() - started) / args.pictures})
    lines = [f"Band ±{args.band} px, {args.pictures} pictures per multiplicity (256 px, 1.5 T, 1 m); "
             f"{machine_line(machine(1))}", "",
             "| primary tracks | Hough passes | true tracks | ceiling efficiency | proposals / picture | CPU s / picture |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['primary_tracks']} | {r['passes']} | {r['true_tracks']} | {r['efficiency']:.3f} | "
              f"{r['proposals_per_picture']:.1f} | {r['cpu_s_per_picture']:.2f} |" for r in rows]
    text = "\n".join(lines)
    sciarch.write_json(args.out / "tracks_arc_ceiling.json", {"rows": rows, "machine": machine(1),
                                                              "command": f"python {' '.join(sys.argv)}"})
    with sciarch.atomic_write(args.out / "tracks_arc_ceiling.md") as handle:
        handle.write(f"# Arc Net's first stage: the ceiling of a perfect second stage\n\n"
                     f"`python {' '.join(sys.argv)}`\n\n{text}\n")
    print(text)


if __name__ == "__main__":
    main()
