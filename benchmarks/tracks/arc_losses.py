"""Where Arc Net loses tracks: the fate of every true track that a trained run does not match.

    python benchmarks/tracks/arc_losses.py --run RUN [--run RUN@extend_rms=0.9,reclaim=1 ...] [--pictures 6]

On scratch pictures (seed 999, not the crowding test sets: seed 1000) of 20 and 40 primary
tracks, each run finds its tracks; every annotated true track is then put in one class, by the
double-majority rule of :mod:`sciarch_tracks.metrics`:

* **matched** at the run's operating threshold;
* **below threshold**: a found track matches it only when every score is kept (the track score
  rejected it);
* **split**: found tracks hold more than half of its hits together, none more than half (found in
  pieces, or its hits shared out among other tracks);
* **absorbed**: one found track holds more than half of its hits, but they are at most half of
  that track (taken in by another track's, usually a larger one's, hit set);
* **under-assigned**: found tracks hold at most half of its hits (the rest left free);
* **no hits**: no found track holds any of its hits.

``RUN@name=value,…`` sets inference settings of the model first (as ``crowding.py`` does).
Writes benchmarks/results/tracks_arc_losses.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import machine, machine_line  # noqa: E402

CLASSES = ("matched", "below threshold", "split", "absorbed", "under-assigned", "no hits")


def fate(true_owner, owner_all, particle: int, matched: set[int], matched_all: set[int]) -> str:
    """The class of one true track (see the module docstring)."""
    import numpy as np

    if particle in matched:
        return "matched"
    if particle in matched_all:
        return "below threshold"
    mine = true_owner == particle
    held = owner_all[mine]
    ids, counts = np.unique(held[held >= 0], return_counts=True)
    if not len(ids):
        return "no hits"
    best = int(ids[np.argmax(counts)])
    if counts.max() > 0.5 * mine.sum():
        share = float((true_owner[owner_all == best] == particle).mean())
        return "absorbed" if share <= 0.5 else "split"  # (a > 0.5 share would have matched)
    return "split" if counts.sum() > 0.5 * mine.sum() else "under-assigned"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="an Arc Net run (repeatable; RUN@k=v,…)")
    parser.add_argument("--pictures", type=int, default=6)
    parser.add_argument("--multiplicities", type=int, nargs="+", default=[20, 40])
    parser.add_argument("--out", type=Path, default=HERE.parent / "results")
    args = parser.parse_args()

    import numpy as np
    import sciarch
    import torch
    from sciarch_datasets.tracks.coco import read_coco
    from sciarch_tracks.crowding import crowding_set
    from sciarch_tracks.curves import tracks_from_members
    from sciarch_tracks.data import TrackPictureSet
    from sciarch_tracks.metrics import match_tracks

    torch.set_num_threads(1)
    rows = []
    for spec in args.run:
        path, _, variant = spec.partition("@")
        task = sciarch.Run(Path(path)).load_task()
        model = task.model.eval()
        for setting in filter(None, variant.split(",")):
            key, _, value = setting.partition("=")
            if not hasattr(model, key):
                raise sciarch.UsageError(f"{path}: the model has no setting {key!r}")
            setattr(model, key, type(getattr(model, key))(float(value)))
        for multiplicity in args.multiplicities:
            coco = read_coco(crowding_set(multiplicity, args.pictures, 256, 999))
            data = TrackPictureSet(coco, labels="track", names=task.class_names, masks=False)
            counts = dict.fromkeys(CLASSES, 0)
            started = time.process_time()
            for index in range(len(data)):
                image, target = data[index]
                hits = target["hits"].numpy().astype(np.float64)
                true_owner = target["hit_owner"].numpy()
                with torch.no_grad():
                    output = model([image], [target["hits"]])[0]
                owners = {}
                for threshold in (0.0, task.score_threshold):
                    owner, _ = tracks_from_members(output, hits, field_tesla=coco.field_tesla or 1.5,
                                                   pixel_size_m=coco.pixel_size_m or 1 / 256, min_hits=task.min_hits,
                                                   member_threshold=task.member_threshold,
                                                   score_threshold=threshold)
                    match = match_tracks(true_owner, owner, len(target["labels"]), min_hits=task.min_hits)
                    owners[threshold] = (owner, set(match.matched.values()))
                owner_all, matched_all = owners[0.0]
                matched = owners[task.score_threshold][1]
                for particle in range(len(target["labels"])):
                    counts[fate(true_owner, owner_all, particle, matched, matched_all)] += 1
            true = sum(counts.values())
            rows.append({"run": spec, "primary_tracks": multiplicity, "pictures": len(data), "true_tracks": true,
                         "threshold": task.score_threshold, "cpu_s": time.process_time() - started,
                         **{k: v / max(1, true) for k, v in counts.items()}})
            sciarch.console.print(rows[-1])
    lines = ["| run | primary tracks | true tracks | threshold | " + " | ".join(CLASSES) + " |",
             "|---|---|---|---|" + "---|" * len(CLASSES)]
    for r in rows:
        lines.append(f"| `{r['run']}` | {r['primary_tracks']} | {r['true_tracks']} | {r['threshold']:.2f} | "
                     + " | ".join(f"{r[k]:.3f}" for k in CLASSES) + " |")
    table = "\n".join(lines)
    result = {"machine": machine(1), "command": f"python {' '.join(sys.argv)}", "rows": rows, "table": table}
    sciarch.write_json(args.out / "tracks_arc_losses.json", result)
    with sciarch.atomic_write(args.out / "tracks_arc_losses.md") as handle:
        handle.write("# Where Arc Net loses tracks\n\n"
                     f"{args.pictures} scratch pictures (seed 999) per multiplicity; each true track in one class "
                     "(see `benchmarks/tracks/arc_losses.py`); shares of the true tracks. "
                     f"{machine_line(machine(1))}.\n\n`{result['command']}`\n\n{table}\n")
    sciarch.console.print(table)


if __name__ == "__main__":
    main()
