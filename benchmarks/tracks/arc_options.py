"""Arc Net's post-processing options scored on scratch pictures with one trained run's weights.

    python benchmarks/tracks/arc_options.py --run RUN [--pictures 6] [--seed 999] [--join-gaps 15 30]

The network runs once per picture with ``split_kinks`` and ``join_gap_px`` off; each variant then
applies :func:`~sciarch_tracks.pieces.split_kinked` and/or :func:`~sciarch_tracks.pieces.join_pieces`
to that output (in ``ArcNet.find``'s order: split, then join), so every variant sees the same
network output. Charge direction both ways (``learned``: the head's order; ``geometry``: the end
rules, the head where they cannot tell). For each variant: efficiency, fake rate, duplicate rate,
σ(Δp_T/p_T) and charge correct at the run's threshold and at the variant's best threshold (by
efficiency × (1 − fake rate) on these same pictures), and the fate of every true track
(``arc_losses.py``'s classes) at the run's threshold. Scratch pictures (seed 999 by default), not
the crowding test sets (seed 1000): for choosing the defaults. Writes
benchmarks/results/tracks_arc_options.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from arc_losses import CLASSES, fate  # noqa: E402
from common import machine, machine_line  # noqa: E402


def variants(join_gaps: list[float]) -> list[tuple[str, bool, float]]:
    out = [("off", False, 0.0), ("split", True, 0.0)]
    for gap in join_gaps:
        out += [(f"join {gap:g}", False, gap), (f"split + join {gap:g}", True, gap)]
    return out


def post_process(hits, output: dict, split: bool, gap: float) -> dict:
    import torch
    from sciarch_tracks.pieces import join_pieces, split_kinked

    members, scores = list(output["members"]), [float(s) for s in output["scores"]]
    if split:
        members, scores = split_kinked(hits, members, scores)
    if gap > 0:
        members, scores = join_pieces(hits, members, scores, gap_px=gap)
    boxes = [[*hits[m[0]].min(axis=0), *hits[m[0]].max(axis=0)] for m in members]
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "scores": torch.tensor(scores, dtype=torch.float32),
            "labels": torch.ones(len(scores), dtype=torch.int64), "members": members}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="an Arc Net run (RUN@k=v,… sets inference settings)")
    parser.add_argument("--pictures", type=int, default=6)
    parser.add_argument("--seed", type=int, default=999)
    parser.add_argument("--multiplicities", type=int, nargs="+", default=[20, 40])
    parser.add_argument("--join-gaps", type=float, nargs="+", default=[15.0, 30.0])
    parser.add_argument("--threshold", type=float, default=None, help="the operating threshold (default: the run's)")
    parser.add_argument("--out", type=Path, default=HERE.parent / "results")
    args = parser.parse_args()

    import numpy as np
    import sciarch
    import torch
    from sciarch_datasets.tracks.coco import read_coco
    from sciarch_tracks.crowding import apply_settings, crowding_set
    from sciarch_tracks.curves import score_tracks, tracks_from_members
    from sciarch_tracks.data import TrackPictureSet
    from sciarch_tracks.metrics import TrackScore, match_tracks

    torch.set_num_threads(1)
    path, _, settings = args.run.partition("@")
    task = sciarch.Run(Path(path)).load_task()
    if settings:
        apply_settings(task, settings, path)
    model = task.model.eval()
    model.split_kinks, model.join_gap_px = False, 0.0
    threshold = task.score_threshold if args.threshold is None else args.threshold
    thresholds = sorted(set(task.THRESHOLDS) | {threshold})
    kinds = variants(args.join_gaps)
    rows = []
    for multiplicity in args.multiplicities:
        coco = read_coco(crowding_set(multiplicity, args.pictures, 256, args.seed))
        data = TrackPictureSet(coco, labels="track", names=task.class_names, masks=False)
        field, pixel = coco.field_tesla or 1.5, coco.pixel_size_m or 1 / 256
        scores = {(v, d, t): TrackScore() for v, *_ in kinds for d in ("learned", "geometry") for t in thresholds}
        fates = {v: dict.fromkeys(CLASSES, 0) for v, *_ in kinds}
        cpu = dict.fromkeys([v for v, *_ in kinds] + ["network"], 0.0)
        for index in range(len(data)):
            image, target = data[index]
            hits = target["hits"].numpy().astype(np.float64)
            true_owner = target["hit_owner"].numpy()
            n_true = len(target["labels"])
            started = time.process_time()
            with torch.no_grad():
                raw = model([image], [target["hits"]])[0]
            cpu["network"] += time.process_time() - started
            size = (image.shape[-1], image.shape[-2])
            for name, split, gap in kinds:
                started = time.process_time()
                output = post_process(hits, raw, split, gap)
                cpu[name] += time.process_time() - started
                owners = {}
                for direction in ("learned", "geometry"):
                    owner, found = tracks_from_members(output, hits, field_tesla=field, pixel_size_m=pixel,
                                                       min_hits=task.min_hits, member_threshold=task.member_threshold,
                                                       score_threshold=min(thresholds), direction=direction,
                                                       picture_size=size)
                    for t in thresholds:
                        score_tracks([f for f in found if f.score >= t], target, scores[(name, direction, t)],
                                     task.class_names, min_hits=task.min_hits)
                for t in (0.0, threshold):
                    owner, _ = tracks_from_members(output, hits, field_tesla=field, pixel_size_m=pixel,
                                                   min_hits=task.min_hits, member_threshold=task.member_threshold,
                                                   score_threshold=t)
                    match = match_tracks(true_owner, owner, n_true, min_hits=task.min_hits)
                    owners[t] = (owner, set(match.matched.values()))
                for particle in range(n_true):
                    fates[name][fate(true_owner, owners[0.0][0], particle, owners[threshold][1],
                                     owners[0.0][1])] += 1
        for name, *_ in kinds:
            true = sum(fates[name].values())
            row = {"variant": name, "primary_tracks": multiplicity, "pictures": len(data), "true_tracks": true,
                   "threshold": threshold, "post_cpu_s": cpu[name], "network_cpu_s": cpu["network"],
                   "fates": {k: v / max(1, true) for k, v in fates[name].items()}}
            for direction in ("learned", "geometry"):
                def figures(t: float, key: tuple = (name, direction), table: dict = scores) -> dict:
                    s = table[(*key, t)]
                    return {"threshold": t, "efficiency": s.efficiency, "fake_rate": s.fake_rate,
                            "duplicate_rate": s.duplicate_rate, "momentum_resolution": s.momentum_resolution(),
                            "charge_accuracy": s.charge_accuracy()}
                best = max(thresholds, key=lambda t, d=direction: (
                    scores[(name, d, t)].efficiency * (1 - scores[(name, d, t)].fake_rate), t))
                row[direction] = {"at_run_threshold": figures(threshold), "at_best_threshold": figures(best)}
            rows.append(row)
            sciarch.console.print(name, multiplicity, row["learned"]["at_run_threshold"], row["fates"])
    head = ("| variant | primary tracks | efficiency | fake rate | duplicate rate | σ(Δp/p) | charge (learned) | "
            "charge (geometry) | best threshold: eff / fake | " + " | ".join(CLASSES) + " |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|" + "---|" * len(CLASSES)]
    for r in rows:
        a, g, b = r["learned"]["at_run_threshold"], r["geometry"]["at_run_threshold"], r["learned"]["at_best_threshold"]
        lines.append(f"| {r['variant']} | {r['primary_tracks']} | {a['efficiency']:.3f} | {a['fake_rate']:.3f} | "
                     f"{a['duplicate_rate']:.3f} | {a['momentum_resolution']:.3f} | {a['charge_accuracy']:.3f} | "
                     f"{g['charge_accuracy']:.3f} | {b['threshold']:.2f}: {b['efficiency']:.3f} / "
                     f"{b['fake_rate']:.3f} | " + " | ".join(f"{r['fates'][k]:.3f}" for k in CLASSES) + " |")
    table = "\n".join(lines)
    result = {"machine": machine(1), "command": f"python {' '.join(sys.argv)}", "seed": args.seed, "rows": rows,
              "table": table}
    sciarch.write_json(args.out / "tracks_arc_options.json", result)
    with sciarch.atomic_write(args.out / "tracks_arc_options.md") as handle:
        handle.write("# Arc Net's post-processing options on scratch pictures\n\n"
                     f"{args.pictures} scratch pictures (seed {args.seed}) per multiplicity, one trained run's "
                     f"network output post-processed each way (see `benchmarks/tracks/arc_options.py`); figures at "
                     f"the run's threshold {threshold:.2f} unless said; fates are shares of the true tracks. "
                     f"{machine_line(machine(1))}.\n\n`{result['command']}`\n\n{table}\n")
    sciarch.console.print(table)


if __name__ == "__main__":
    main()
