"""The crowding experiment: efficiency and fake rate against tracks per picture for a two-stage
detector (Faster R-CNN), a one-stage detector (RetinaNet) and the Hough transform.

    python benchmarks/tracks/crowding.py [--minutes 60] [--pictures 12]
    python benchmarks/tracks/crowding.py --two-stage RUN --one-stage RUN [--pictures 12]

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

from common import machine_line  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--two-stage", type=Path, default=None)
    parser.add_argument("--one-stage", type=Path, default=None)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--pictures", type=int, default=12)
    parser.add_argument("--multiplicities", type=int, nargs="+", default=[5, 10, 20, 40, 70, 100])
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, default=HERE.parent / "results")
    args = parser.parse_args()

    import sciarch
    import torch
    from sciarch.config import load
    from sciarch.training import train
    from sciarch_tracks.crowding import machine, run_crowding

    torch.set_num_threads(1)
    runs = {}
    for name, recipe, given in (("two-stage (Faster R-CNN)", "tracks/crowding", args.two_stage),
                                ("one-stage (RetinaNet)", "tracks/crowding-one-stage", args.one_stage)):
        if given is None:
            resolved = load(recipe, overrides=[f"trainer.max_time=00:{args.minutes // 60:02d}:{args.minutes % 60:02d}:00"])
            given = train(resolved)
        runs[name] = given
        if name.startswith("two-stage"):
            # the same trained detector with Soft-NMS in place of hard NMS (post-processing only)
            runs["two-stage + Soft-NMS"] = f"{given}@soft-gaussian"
    label = args.label or f"reduced size: 256-pixel pictures, {args.pictures} test pictures per multiplicity; " \
        f"{machine_line({**machine(), 'when': ''})}"
    result = run_crowding(HERE.parent / "results" / "tracks_crowding", runs, multiplicities=args.multiplicities,
                          pictures=args.pictures, label=label)
    for suffix in ("json", "md", "png"):
        source = HERE.parent / "results" / "tracks_crowding" / f"crowding.{suffix}"
        source.replace(args.out / f"tracks_crowding.{suffix}")
    (HERE.parent / "results" / "tracks_crowding").rmdir()
    sciarch.console.print(result["table"])


if __name__ == "__main__":
    main()
