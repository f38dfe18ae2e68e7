"""The crowding experiment: efficiency and fake rate against tracks per picture for a two-stage
detector (Faster R-CNN), a one-stage detector (RetinaNet) and the Hough transform.

    python benchmarks/tracks/crowding.py [--minutes 60] [--pictures 12]
    python benchmarks/tracks/crowding.py --two-stage RUN --one-stage RUN [--pictures 12]
    python benchmarks/tracks/crowding.py --add --hit-rcnn RUN [--first-stages rpn hough]
    python benchmarks/tracks/crowding.py --only detectors --skip-box-detectors --arc-net RUN
    python benchmarks/tracks/crowding.py --add --gnn RUN [--pictures 12]

Trains the recipes tracks/crowding and tracks/crowding-one-stage (same pictures: 5–100 primary
tracks each, same MobileNetV3-FPN backbone and anchors) for ``--minutes`` each, unless trained runs
are given, then scores them, the two-stage detector again with Soft-NMS in place of hard NMS, and
the Hough transform, on test sets of 5, 10, 20, 40, 70 and 100 primary tracks per picture. Each
detector's operating threshold is chosen on separate validation pictures of 5–100 tracks. Writes
benchmarks/results/tracks_crowding.{json,md,png}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine as bench_machine  # noqa: E402
from common import machine_line  # noqa: E402

ARC_NET_NAME = "Arc Net (Hough proposals + hit network)"
GNN_NAME = "hit-graph GNN (edge classifier)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--two-stage", type=Path, default=None)
    parser.add_argument("--one-stage", type=Path, default=None)
    parser.add_argument("--masks", type=Path, default=None,
                        help="A run of tracks/crowding-masks (Mask R-CNN) to score as well.")
    parser.add_argument("--hit-rcnn", type=Path, default=None,
                        help="A run of tracks/hit-rcnn (Hit R-CNN) to score as well (with --add: added).")
    parser.add_argument("--arc-net", action="append", default=None,
                        help="A run of tracks/arc-net or tracks/arc-net-long (Hough arcs + a network over their "
                             "hits) to score as well (with --add: added); repeatable, each with its own "
                             "--arc-net-label (RUN@name=value,… sets inference settings).")
    parser.add_argument("--gnn", type=Path, default=None,
                        help="A run of tracks/gnn (the hit-graph edge-classifying GNN baseline) to score as well "
                             "(with --add: added).")
    parser.add_argument("--first-stages", nargs="+", default=["rpn"], choices=("rpn", "hough", "hybrid"),
                        help="Hit R-CNN's first stages to score: its RPN, the Hough transform's arcs as proposals, "
                             "or both (the Hough variants keep the run's own threshold: a validation scan would "
                             "run the Hough transform on every validation picture).")
    parser.add_argument("--arc-net-label", action="append", default=None,
                        help=f"The method name of the --arc-net run's rows (default: {ARC_NET_NAME!r}), e.g. to add "
                             "a second Arc Net run beside the first; one per --arc-net, in the same order.")
    parser.add_argument("--hough", action="store_true",
                        help="With --add: score the Hough transform again in the same run (its rows replaced), "
                             "side by side with the added runs under the same load.")
    parser.add_argument("--keep-oracles", action="store_true",
                        help="Take the true-box and true-mask rows from tracks_crowding_classical.json (the same "
                             "pictures through the same hit assignment) instead of computing them again.")
    parser.add_argument("--skip-box-detectors", action="store_true",
                        help="Neither train nor score Faster R-CNN/RetinaNet (e.g. only --hit-rcnn).")
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--pictures", type=int, default=12)
    parser.add_argument("--multiplicities", type=int, nargs="+", default=[5, 10, 20, 40, 70, 100])
    parser.add_argument("--only", choices=("all", "classical", "detectors"), default="all",
                        help="classical: the Hough transform and the true-box/mask ceilings only (kept in "
                             "tracks_crowding_classical.json); detectors: the trained detectors only, merged with "
                             "that file. Lets the classical part run while the detectors train.")
    parser.add_argument("--add", action="store_true",
                        help="Score only the runs given (--two-stage, --one-stage, --masks), trained on the same "
                             "pictures, and add their rows to the committed tracks_crowding.{json,md,png}, "
                             "replacing rows of the same method and keeping the rest.")
    parser.add_argument("--label", default="")
    parser.add_argument("--note", default="",
                        help="With --add: how the added runs were trained (budget, pictures), kept in the json's "
                             "'added' entry and the md's sentence about them.")
    parser.add_argument("--out", type=Path, default=HERE.parent / "results")
    args = parser.parse_args()

    import json

    import sciarch
    import torch
    from sciarch.config import load
    from sciarch.training import train
    from sciarch_tracks.crowding import machine, plot, run_crowding, table

    torch.set_num_threads(1)
    if args.add:
        _add(args)
        return
    runs: dict[str, object] = {}
    if args.only != "classical":
        for name, recipe, given in (("two-stage (Faster R-CNN)", "tracks/crowding", args.two_stage),
                                    ("one-stage (RetinaNet)", "tracks/crowding-one-stage", args.one_stage)):
            if given is None and args.skip_box_detectors:
                continue
            if given is None:
                limit = f"trainer.max_time=00:{args.minutes // 60:02d}:{args.minutes % 60:02d}:00"
                given = train(load(recipe, overrides=[limit]))
            runs[name] = given
            if name.startswith("two-stage"):
                # the same trained detector with Soft-NMS in place of hard NMS (post-processing only)
                runs["two-stage + Soft-NMS"] = f"{given}@soft-gaussian"
        if args.masks is not None:
            runs["two-stage with masks (Mask R-CNN)"] = args.masks
        runs.update(hit_rcnn_runs(args))
        runs.update(arc_net_runs(args))
        if args.gnn is not None:
            runs[GNN_NAME] = args.gnn
    work = args.out / "tracks_crowding_work"
    classical = args.only != "detectors"
    kept = args.out / "tracks_crowding_classical.json"
    reuse = args.keep_oracles and args.only == "all" and kept.is_file()
    result = run_crowding(work, runs, hough=classical, oracles=classical and not reuse,
                          multiplicities=args.multiplicities,
                          pictures=args.pictures, label=args.label,
                          keep_thresholds=tuple(n for n in runs if "Hough arcs" in n))
    if reuse:
        earlier = json.loads(kept.read_text())
        if (earlier["pictures_per_multiplicity"], earlier["seed"]) != (args.pictures, result["seed"]):
            raise SystemExit(f"{kept} was measured on other pictures; drop --keep-oracles")
        result["rows"] += [r for r in earlier["rows"] if r["method"] in ("true boxes", "true masks")]
        result["oracles_machine"] = earlier["machine"]
    if args.only == "classical":
        sciarch.write_json(kept, result)
        sciarch.console.print(result["table"])
        _clean(work)
        return
    if args.only == "detectors" and kept.is_file():
        earlier = json.loads(kept.read_text())
        same = (earlier["pictures_per_multiplicity"], earlier["seed"]) == (args.pictures, result["seed"])
        if not same:
            raise SystemExit(f"{kept} was measured on other pictures; run --only classical again")
        result["classical_machine"] = earlier["machine"]
        result["rows"] = result["rows"] + earlier["rows"]
    order = list(dict.fromkeys(r["method"] for r in result["rows"]))
    result["rows"].sort(key=lambda r: (r["primary_tracks"], order.index(r["method"])))
    result["label"] = args.label or (f"reduced size: 256-pixel pictures, {args.pictures} test pictures per "
                                     f"multiplicity, detectors trained {args.minutes} min on a shared CPU; "
                                     f"{machine_line({**machine(), 'when': ''})}")
    result["table"] = table(result["rows"])
    sciarch.write_json(args.out / "tracks_crowding.json", result)
    with sciarch.atomic_write(args.out / "tracks_crowding.md") as handle:
        handle.write(f"# Crowding experiment\n\n{result['label']}\n\n`python {' '.join(sys.argv)}`\n\n"
                     f"{result['table']}\n")
    plot(result["rows"], args.out / "tracks_crowding.png", title=result["label"][:150])
    _clean(work)
    sciarch.console.print(result["table"])


HIT_RCNN_NAMES = {"rpn": "Hit R-CNN (two-stage, hits)", "hough": "Hit R-CNN on Hough arcs",
                  "hybrid": "Hit R-CNN on RPN + Hough arcs"}


def hit_rcnn_runs(args: argparse.Namespace) -> dict[str, str]:
    """The Hit R-CNN run under each first stage asked for (``RUN@hough``: Hough arcs as proposals)."""
    if args.hit_rcnn is None:
        return {}
    return {HIT_RCNN_NAMES[stage]: str(args.hit_rcnn) if stage == "rpn" else f"{args.hit_rcnn}@{stage}"
            for stage in args.first_stages}


def arc_net_runs(args: argparse.Namespace) -> dict[str, str]:
    """The --arc-net runs by their --arc-net-label names (the first without one: ARC_NET_NAME)."""
    given = args.arc_net or []
    labels = args.arc_net_label or []
    if len(labels) > len(given) or (len(given) > 1 and len(labels) != len(given)):
        raise SystemExit("give one --arc-net-label per --arc-net (or none for a single run)")
    labels = labels or [ARC_NET_NAME]
    return {label: str(run) for label, run in zip(labels, given, strict=False)}


def _add(args: argparse.Namespace) -> None:
    """Score the given runs on the committed experiment's pictures and merge their rows into it."""
    import json
    import shlex

    import sciarch
    from sciarch_tracks.crowding import plot, run_crowding, table

    runs = {name: given for name, given in (("two-stage (Faster R-CNN)", args.two_stage),
                                            ("one-stage (RetinaNet)", args.one_stage),
                                            ("two-stage with masks (Mask R-CNN)", args.masks)) if given is not None}
    runs.update(hit_rcnn_runs(args))
    runs.update(arc_net_runs(args))
    if args.gnn is not None:
        runs[GNN_NAME] = str(args.gnn)
    if not runs:
        raise SystemExit("--add needs at least one of --two-stage, --one-stage, --masks, --hit-rcnn, --arc-net, --gnn")
    committed = args.out / "tracks_crowding.json"
    earlier = json.loads(committed.read_text())
    work = args.out / "tracks_crowding_work"
    result = run_crowding(work, runs, hough=args.hough, oracles=False, multiplicities=args.multiplicities,
                          pictures=args.pictures, keep_thresholds=tuple(n for n in runs if "Hough arcs" in n))
    if (earlier["pictures_per_multiplicity"], earlier["seed"]) != (args.pictures, result["seed"]):
        raise SystemExit(f"{committed} was measured on other pictures (--pictures {earlier['pictures_per_multiplicity']})")
    replaced = {(r["method"], r["primary_tracks"]) for r in result["rows"]}
    rows = [r for r in earlier["rows"] if (r["method"], r["primary_tracks"]) not in replaced] + result["rows"]
    order = list(dict.fromkeys([r["method"] for r in earlier["rows"]] + list(runs) + ["hough"]))
    rows.sort(key=lambda r: (r["primary_tracks"], order.index(r["method"])))
    earlier["rows"] = rows
    earlier["runs"] = {**earlier.get("runs", {}), **result["runs"]}
    earlier["operating_thresholds"] = {**earlier.get("operating_thresholds", {}), **result["operating_thresholds"]}
    earlier.setdefault("added", []).append({"runs": result["runs"], "machine": machine_line(bench_machine(1)),
                                            "command": f"python {shlex.join(sys.argv)}", "note": args.note})
    earlier["table"] = table(rows)
    sciarch.write_json(committed, earlier)
    md = args.out / "tracks_crowding.md"
    text = md.read_text() if md.is_file() else ""
    lines = text.splitlines()
    table_rows = [i for i, line in enumerate(lines) if line.startswith("|")]
    if table_rows:  # the first table in place, the prose around it (and any later table) kept
        end = table_rows[0]
        while end + 1 < len(lines) and lines[end + 1].startswith("|"):
            end += 1
        lines[table_rows[0]:end + 1] = earlier["table"].splitlines()
        text = "\n".join(lines) + "\n"
    else:
        text += "\n" + earlier["table"] + "\n"
    added = ", ".join(list(runs) + (["hough (re-run)"] if args.hough else [])) + (f": {args.note}" if args.note else "")
    text += (f"\nAdded later with `python {shlex.join(sys.argv)}` ({added}, the same test pictures and threshold rule; "
             f"{machine_line(bench_machine(1))}).\n")
    with sciarch.atomic_write(md) as handle:
        handle.write(text)
    plot(rows, args.out / "tracks_crowding.png", title=earlier["label"][:150])
    _clean(work)
    sciarch.console.print(earlier["table"])


def _clean(work: Path) -> None:
    import shutil

    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
