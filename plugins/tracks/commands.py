"""``sciarch tracks …``: simulate a data set, detect tracks in pictures, run the crowding experiment.

Heavy modules are imported inside the commands, so ``sciarch --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group("tracks")
def tracks() -> None:
    """Particle tracks in bubble-chamber pictures: simulate, detect, measure crowding."""


@tracks.command("simulate")
@click.option("--n", "n", type=click.IntRange(min=1), default=1000, show_default=True, help="Pictures to make.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Folder to write (images/, hits/, annotations.json); replaced atomically when complete.")
@click.option("--size", type=click.IntRange(min=16), default=512, show_default=True, help="Picture side in pixels.")
@click.option("--chamber-width", type=float, default=1.0, show_default=True, help="Visible chamber width (m).")
@click.option("--field", "field_tesla", type=float, default=1.5, show_default=True, help="Magnetic field (T).")
@click.option("--tracks", "track_range", type=(int, int), default=(5, 40), show_default=True, metavar="MIN MAX",
              help="Primary charged tracks per picture (fewest, most).")
@click.option("--beam", "beam_range", type=(int, int), default=(0, 6), show_default=True, metavar="MIN MAX",
              help="Beam tracks entering from the left per picture.")
@click.option("--species", "species", default=None, metavar="FAMILY=WEIGHT,…",
              help="Species mix of vertex products, e.g. pi=0.6,p=0.2,K=0.1,e=0.05,mu=0.05.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=int, default=0, show_default=True, help="Processes (0: one per CPU core).")
def simulate_command(n: int, out: Path, size: int, chamber_width: float, field_tesla: float,
                     track_range: tuple[int, int], beam_range: tuple[int, int], species: str | None, seed: int,
                     workers: int) -> None:
    """Simulate N bubble-chamber pictures with full truth into a COCO folder."""
    import sciarch
    from sciarch_datasets.tracks import ChamberConfig
    from sciarch_datasets.tracks.coco import write_dataset

    mix = _parse_mix(species) if species else None
    try:
        config = ChamberConfig(image_size=(size, size), chamber_width_m=chamber_width, field_tesla=field_tesla,
                               tracks=track_range, beam_tracks=beam_range, **({"species_mix": mix} if mix else {}))
    except ValueError as exc:
        raise sciarch.UsageError(str(exc)) from None
    summary = write_dataset(out, n, config, seed=seed, workers=workers)
    sciarch.console.print(f"{summary['pictures']} pictures, {summary['tracks']} tracks in {summary['seconds']:.1f} s "
                          f"({summary['pictures_per_second']:.2f} pictures/s, {summary['workers']} workers) → {out}")


def _parse_mix(text: str) -> dict[str, float]:
    import sciarch

    mix = {}
    for item in text.split(","):
        name, sep, weight = item.partition("=")
        try:
            mix[name.strip()] = float(weight)
        except ValueError:
            raise sciarch.UsageError(f"--species: expected FAMILY=WEIGHT, got {item!r}") from None
        if not sep:
            raise sciarch.UsageError(f"--species: expected FAMILY=WEIGHT, got {item!r}")
    return mix


@tracks.command("detect")
@click.argument("pictures", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--checkpoint", "run", required=True, type=click.Path(path_type=Path),
              help="A trained run directory (or a checkpoint file in one).")
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("tracks-found"), show_default=True,
              help="Folder for tracks.json and the annotated pictures.")
@click.option("--score-threshold", type=float, default=None, help="Detections below it are not tracks "
              "(default: the run's).")
@click.option("--field", "field_tesla", type=float, default=None, help="Field (T) (default: the run's data).")
@click.option("--pixel-size", "pixel_size_m", type=float, default=None,
              help="Metres per pixel (default: the run's data).")
@click.option("--no-draw", is_flag=True, help="Only write tracks.json.")
def detect_command(pictures: tuple[Path, ...], run: Path, out: Path, score_threshold: float | None,
                   field_tesla: float | None, pixel_size_m: float | None, no_draw: bool) -> None:
    """Find tracks in PICTURES (files or folders): annotated PNGs and tracks.json with momenta."""
    import sciarch

    from .detect import detect_pictures, expand_pictures

    files = expand_pictures(list(pictures))
    task = sciarch.Run(run).load_task()
    document = detect_pictures(task, files, out, field_tesla=field_tesla, pixel_size_m=pixel_size_m,
                               score_threshold=score_threshold, draw=not no_draw)
    n = sum(len(p["tracks"]) for p in document["pictures"])
    sciarch.console.print(f"{n} tracks in {len(document['pictures'])} pictures → {out / 'tracks.json'}")


@tracks.command("crowding")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Folder for the table and plot.")
@click.option("--run", "runs", multiple=True, metavar="NAME=RUN_DIR[@SUPPRESSION]",
              help="A trained detector to measure, e.g. two-stage=runs/…; append @soft-gaussian to run it "
                   "with Soft-NMS. Repeatable.")
@click.option("--hough/--no-hough", default=True, show_default=True, help="Also measure the Hough baseline.")
@click.option("--multiplicities", default="5,10,20,40,70,100", show_default=True,
              help="Primary tracks per picture of each test set.")
@click.option("--pictures", type=int, default=20, show_default=True, help="Test pictures per multiplicity.")
@click.option("--validation-pictures", type=int, default=12, show_default=True,
              help="Pictures of 5–100 tracks on which each detector's operating threshold is chosen.")
@click.option("--size", type=int, default=256, show_default=True, help="Picture side (the runs' size).")
@click.option("--seed", type=int, default=1000, show_default=True, help="Seed of the test pictures.")
@click.option("--label", default="", help="A note stored with the results (machine, reduced size, …).")
def crowding_command(out: Path, runs: tuple[str, ...], hough: bool, multiplicities: str, pictures: int,
                     validation_pictures: int, size: int, seed: int, label: str) -> None:
    """Efficiency and fake rate against tracks per picture for trained detectors and the Hough baseline."""
    import sciarch

    from .crowding import run_crowding

    named = {}
    for item in runs:
        name, sep, path = item.partition("=")
        if not sep:
            raise sciarch.UsageError(f"--run: expected NAME=RUN_DIR, got {item!r}")
        named[name] = path
    levels = [int(v) for v in multiplicities.split(",") if v.strip()]
    result = run_crowding(out, named, hough=hough, multiplicities=levels, pictures=pictures, size=size, seed=seed,
                          label=label, validation_pictures=validation_pictures)
    sciarch.console.print(result["table"])
    sciarch.console.print(f"written to {out}")
