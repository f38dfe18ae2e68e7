"""Find tracks in pictures with a trained run: annotated PNGs and a JSON of tracks with momenta.

Used by ``sciarch tracks detect IMAGE… --checkpoint RUN`` and ``sciarch predict``. Each picture is
read as greyscale, run through the detector, its bubbles are found in the picture itself
(:func:`~.reconstruction.image_hits`), assigned to detections, and each track gets a circle fit,
p_T = 0.3 B R (B and the pixel size from the run's data, or given), a class and a charge sign.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import sciarch

from .reconstruction import image_hits, reconstruct, to_numpy

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def load_picture(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as handle:
            return np.array(handle.convert("L"))
    except (OSError, ValueError) as exc:
        raise sciarch.DataError(f"cannot read the picture ({exc})", file=path) from None


def detect_pictures(task: Any, pictures: list[Path], out_dir: Path, *, field_tesla: float | None = None,
                    pixel_size_m: float | None = None, score_threshold: float | None = None,
                    draw: bool = True) -> dict[str, Any]:
    """Detect tracks in ``pictures`` with a trained task; writes ``out_dir/tracks.json`` and, with
    ``draw``, ``out_dir/<stem>_tracks.png``. Returns the JSON document."""
    import torch

    from .draw import draw_tracks

    field = float(field_tesla or task.field_tesla)
    pixel = float(pixel_size_m or task.pixel_size_m)
    threshold = float(score_threshold if score_threshold is not None else task.score_threshold)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    bad = sciarch.BadRecords(source="pictures")
    task.eval()
    for path in sciarch.track(pictures, "detecting tracks"):
        try:
            image = load_picture(path)
        except sciarch.DataError as exc:
            bad.skip(exc.problem, file=path, record="picture", kind="unreadable picture")
            continue
        tensor = torch.from_numpy(image).float().div_(255.0).expand(3, -1, -1).contiguous()
        hits = image_hits(image)
        if getattr(task, "takes_hits", False):  # Hit R-CNN: the tracks are its memberships over the hits
            from .curves import tracks_from_members

            with torch.no_grad():
                output = task.model([tensor], [torch.from_numpy(hits.astype(np.float32))])[0]
            _, found = tracks_from_members(output, hits, field_tesla=field, pixel_size_m=pixel,
                                           min_hits=task.min_hits, member_threshold=task.member_threshold,
                                           score_threshold=threshold, direction=task.direction,
                                           picture_size=(image.shape[1], image.shape[0]))
        else:
            with torch.no_grad():
                detections = to_numpy(task.model([tensor])[0])
            _, found = reconstruct(detections, hits, field_tesla=field, pixel_size_m=pixel,
                                   score_threshold=threshold, mask_threshold=task.mask_threshold,
                                   tolerance_px=task.hit_tolerance_px, min_hits=task.min_hits)
        tracks = [t.to_dict(hits, task.class_names, field_tesla=field, pixel_size_m=pixel) for t in found]
        if getattr(task, "takes_hits", False):
            for entry_track, track in zip(tracks, found, strict=True):
                entry_track["charge"] = int(track.charge)  # from the curvature, not the class
        entry: dict[str, Any] = {"picture": str(path), "width": int(image.shape[1]), "height": int(image.shape[0]),
                                 "hits_found": int(len(hits)), "tracks": tracks}
        if draw:
            drawn = draw_tracks(image, hits, found, task.class_names, out_dir / f"{path.stem}_tracks.png",
                                title=f"{len(found)} tracks")
            entry["drawn"] = str(drawn)
        results.append(entry)
    document = {"field_tesla": field, "pixel_size_m": pixel, "score_threshold": threshold,
                "classes": task.class_names, "pictures": results, "skipped": bad.to_dict()}
    sciarch.write_json(out_dir / "tracks.json", document)
    if bad.count:
        sciarch.console.print(bad.summary())
    return document


def expand_pictures(items: list[Path]) -> list[Path]:
    """Pictures named directly, or every picture in a named folder (sorted)."""
    out: list[Path] = []
    for item in items:
        if item.is_dir():
            out.extend(sorted(p for p in item.iterdir() if p.suffix.lower() in PICTURE_SUFFIXES))
        elif item.is_file():
            out.append(item)
        else:
            raise sciarch.NotFoundError(f"{item}: no such picture or folder")
    if not out:
        raise sciarch.UsageError("no pictures to detect tracks in (PNG, JPEG, TIFF or BMP)")
    return out


def predict(run: Any, input: Path, output: Path, score_threshold: float | None = None,
            field_tesla: float | None = None, pixel_size_m: float | None = None) -> dict[str, Any]:
    """``sciarch predict``: ``input`` is a picture or a folder of them; ``output`` the JSON file
    (annotated pictures are written beside it)."""
    task = run.load_task()
    output = Path(output)
    document = detect_pictures(task, expand_pictures([Path(input)]), output.parent, field_tesla=field_tesla,
                               pixel_size_m=pixel_size_m, score_threshold=score_threshold)
    if output.name != "tracks.json":
        (output.parent / "tracks.json").replace(output)
    n = sum(len(p["tracks"]) for p in document["pictures"])
    return {"pictures": len(document["pictures"]), "tracks": n,
            "median p_T (GeV/c)": _median([t.get("pt_gev") for p in document["pictures"] for t in p["tracks"]])}


def _median(values: list[float | None]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return round(float(np.median(finite)), 4) if finite else math.nan
