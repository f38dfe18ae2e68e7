"""Bubble-chamber pictures as COCO: simulated data sets written, any COCO folder read.

A folder holds::

    annotations.json     COCO: images, annotations, categories, info
    images/000000.png    8-bit greyscale pictures
    hits/000000.npz      (simulated) bubble positions: xy (H, 2) float32 pixels, particle (H,) int32
                         (stored, not deflated: float noise hardly compresses and deflating is slow)

Each annotation is one track: ``bbox`` (x, y, w, h), ``segmentation`` (the instance mask as RLE),
``keypoints`` (the path resampled to 32 points, COCO's keypoint triplets), ``category_id`` (the
species) and ``attributes`` (the physics truth: charge, momentum, dip, vertex, origin, parent, …).
Hits of particles too short to annotate are kept with their particle id, so a metric can count
them as someone else's hits. A user's own pictures need only ``images`` and ``annotations`` with
``bbox``; masks may be polygons or RLE, ``keypoints`` or ``attributes.polyline`` give the path.

Writing is parallel (one process per worker, each picture seeded by (seed, index), so the result
does not depend on the number of workers), pictures are simulated in batches of :data:`BATCH`
(their particles transported together), and writing is atomic (the folder appears complete or not
at all). The pictures are PNGs written by :func:`write_png` (deflated row differences).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .physics import CHARGED
from .simulator import ChamberConfig

KEYPOINTS = 32
CATEGORIES = [{"id": i + 1, "name": name, "supercategory": "track",
               "keypoints": [f"p{k:02d}" for k in range(KEYPOINTS)],
               "skeleton": [[k + 1, k + 2] for k in range(KEYPOINTS - 1)]} for i, name in enumerate(CHARGED)]


def json_numbers(values: np.ndarray, decimals: int, *, tail: bytes = b"", every: int = 1) -> tuple[bytes, np.ndarray]:
    """``numpy.round(values, decimals)`` as ``json.dumps`` writes each (Python's shortest float
    repr), all at once: the texts, each followed by a comma (and every ``every``-th by ``tail``
    too, e.g. ``b"2,"``), and the offset of each one's last comma. The same text, digit for digit,
    for values below 10¹⁵; larger ones are written by json.

    ``numpy.round`` is ``rint(v × 10^d) / 10^d``; that quotient's shortest repr is the integer
    ``rint(v × 10^d)`` written with ``d`` decimals, trailing zeros dropped but one (``12.0``).
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if not len(values):
        return b"", np.zeros(0, dtype=np.int64)
    scale = 10.0 ** decimals
    scaled = np.rint(values * scale)
    top = float(np.abs(scaled).max())
    if not math.isfinite(top) or top / scale >= 1e15:
        extra = tail.decode("ascii")
        texts = [json.dumps(v) + "," + (extra if k % every == every - 1 else "")
                 for k, v in enumerate(np.round(values, decimals).tolist())]
        return "".join(texts).encode("ascii"), np.cumsum([len(s) for s in texts]) - 1
    magnitude = np.abs(scaled).astype(np.int64)
    # one row of bytes per value: a sign's place, the digits (with the point), a comma; 0 bytes
    # are no characters
    if top < _TABLE_SIZE:  # the usual case (pixel coordinates): each magnitude's row from a table
        table, table_lengths = _digit_table(decimals)
        rows, lengths = table.take(magnitude, axis=0), table_lengths.take(magnitude)
    else:
        rows = _framed(_digits(magnitude, decimals))
        lengths = np.count_nonzero(rows, axis=1)
    negative = np.flatnonzero(np.signbit(scaled))  # −0.0 too, as repr writes it
    rows[negative, 0] = ord("-")
    lengths[negative] += 1
    if tail:
        extra = np.zeros((len(rows), len(tail)), dtype=np.uint8)
        extra[every - 1::every] = np.frombuffer(tail, dtype=np.uint8)
        rows = np.concatenate([rows, extra], axis=1)
        lengths[every - 1::every] += len(tail)
    flat = rows.reshape(-1)
    return flat.compress(flat != 0).tobytes(), np.cumsum(lengths) - 1


def _framed(digits: np.ndarray) -> np.ndarray:
    """Rows of :func:`_digits` with a place for a sign before and a comma after."""
    rows = np.zeros((len(digits), digits.shape[1] + 2), dtype=np.uint8)
    rows[:, 1:-1] = digits
    rows[:, -1] = ord(",")
    return rows


#: magnitudes (values × 10^decimals) whose texts are tabulated
_TABLE_SIZE = 100_000


@lru_cache(maxsize=4)
def _digit_table(decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_framed` :func:`_digits` of 0 … _TABLE_SIZE − 1 and how many of each row's bytes are
    characters (read-only)."""
    table = _framed(_digits(np.arange(_TABLE_SIZE, dtype=np.int64), decimals))
    lengths = np.count_nonzero(table, axis=1).astype(np.int64)
    table.flags.writeable = lengths.flags.writeable = False
    return table, lengths


def _digits(magnitude: np.ndarray, decimals: int) -> np.ndarray:
    """Rows of ASCII bytes, one per non-negative integer: it over 10^decimals, written with
    ``decimals`` decimals, trailing zeros dropped but the first (0 bytes where a digit is dropped)."""
    whole, fraction = np.divmod(magnitude, 10 ** decimals)
    width = len(str(int(whole.max()))) if len(whole) else 1
    out = np.zeros((len(magnitude), width + decimals + 1), dtype=np.uint8)
    rest = whole
    for column in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        out[:, column] = digit
        out[:, column] += 48
        if column < width - 1:  # a leading zero (but the units digit) is no digit
            out[:, column][whole < 10 ** (width - 1 - column)] = 0
    out[:, width] = ord(".")
    rest = fraction
    for column in range(width + decimals, width, -1):
        rest, digit = np.divmod(rest, 10)
        out[:, column] = digit
        out[:, column] += 48
        place = 10 ** (width + 1 + decimals - column)
        if column > width + 1:  # a trailing zero (but the first decimal) is dropped
            out[:, column][fraction % place == 0] = 0
    return out


def resample_many(polylines: list[np.ndarray], n: int = KEYPOINTS) -> list[np.ndarray]:
    """:func:`resample` of several polylines at once."""
    return list(_resampled(polylines, n))


def _resampled(polylines: list[np.ndarray], n: int = KEYPOINTS) -> np.ndarray:
    """:func:`resample` of several polylines at once, as one (polylines, n, 2) array."""
    if not polylines:
        return np.zeros((0, n, 2))
    lengths = np.array([len(q) for q in polylines])
    points = np.concatenate(polylines)
    steps = np.sqrt((np.diff(points, axis=0) ** 2).sum(axis=1))
    ends = np.cumsum(lengths) - 1
    steps[ends[:-1]] = 1.0  # a gap of one between polylines, never asked for
    travelled = np.concatenate([[0.0], np.cumsum(steps)])
    first = travelled[ends - lengths + 1]
    total = travelled[ends] - first
    at = (first[:, None] + np.linspace(0.0, 1.0, n)[None, :] * total[:, None]).ravel()
    out = np.empty((len(polylines), n, 2))
    out[:, :, 0] = np.interp(at, travelled, points[:, 0]).reshape(-1, n)
    out[:, :, 1] = np.interp(at, travelled, points[:, 1]).reshape(-1, n)
    for k in np.flatnonzero((lengths == 1) | (total == 0)):  # a point, or a track that never moved
        out[k] = polylines[k][0]
    return out


def resample(polyline: np.ndarray, n: int = KEYPOINTS) -> np.ndarray:
    """``n`` points equally spaced in arc length along a polyline (N, 2)."""
    if len(polyline) == 1:
        return np.repeat(polyline, n, axis=0)
    steps = np.linalg.norm(np.diff(polyline, axis=0), axis=1)
    travelled = np.concatenate([[0.0], np.cumsum(steps)])
    if travelled[-1] == 0:
        return np.repeat(polyline[:1], n, axis=0)
    at = np.linspace(0.0, travelled[-1], n)
    return np.stack([np.interp(at, travelled, polyline[:, 0]), np.interp(at, travelled, polyline[:, 1])], axis=1)


def _compressed_rles(counts: list[list[int]], height: int, width: int) -> list[str]:
    """COCO's compressed RLE strings of masks given as uncompressed counts (what pycocotools'
    ``encode`` gives for the full masks, without making them)."""
    if not counts:
        return []
    from pycocotools import mask as mask_utils

    rles = mask_utils.frPyObjects([{"size": [height, width], "counts": c} for c in counts], height, width)
    return [r["counts"].decode("ascii") for r in rles]


def _deflate(data: bytes) -> bytes:
    """zlib-format deflate of PNG rows: ISA-L's level 1 where the ``isal`` package is installed
    (the same size as zlib's Huffman coding, about five times faster), else zlib's Huffman coding."""
    try:
        from isal import isal_zlib
    except ImportError:
        import zlib

        packer = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_HUFFMAN_ONLY)
        return packer.compress(data) + packer.flush()
    return isal_zlib.compress(data, 1)


def write_png(path: Path, image: np.ndarray) -> None:
    """An 8-bit greyscale PNG: every row "Sub"-filtered, then deflated (:func:`_deflate`).

    A noisy picture gains little from deflate's string matching: Huffman coding of the row
    differences makes the file as small as PIL's level 3 (±1 %) in a sixth of the time.
    """
    import struct
    import zlib

    height, width = image.shape
    rows = np.empty((height, width + 1), dtype=np.uint8)
    rows[:, 0] = 1  # the Sub filter: each byte less the one before it
    rows[:, 1] = image[:, 0]
    np.subtract(image[:, 1:], image[:, :-1], out=rows[:, 2:])
    data = _deflate(rows.tobytes())

    def chunk(kind: bytes, body: bytes) -> list[bytes]:  # (no copy of the body)
        return [struct.pack(">I", len(body)), kind, body, struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))]

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    with open(path, "wb") as handle:
        handle.writelines([b"\x89PNG\r\n\x1a\n", *chunk(b"IHDR", header), *chunk(b"IDAT", data), *chunk(b"IEND", b"")])


#: pictures simulated together (their particles transported as one set of arrays)
BATCH = 128


def _make_pictures(job: tuple[dict[str, Any], int, list[int], str]) -> list[tuple[str, str, int]]:
    """Simulate, write and describe pictures ``indices`` (runs in a worker process): per picture
    its COCO image entry and its annotations, as JSON text, and how many annotations."""
    from .optics import simulate_pictures

    config_dict, seed, indices, folder = job
    cfg = ChamberConfig.from_dict(config_dict)
    out = []
    for index, picture in zip(indices, simulate_pictures(cfg, seed, indices), strict=True):
        image, annotations, count = _describe(picture, cfg, seed, index, Path(folder))
        out.append((json.dumps(image, separators=(",", ":")), annotations, count))
    return out


#: the stand-in for each long number list (keypoints, polyline) in the annotations' JSON
_MARK = "\u0001"
_MARK_JSON = json.dumps(_MARK)


def _describe(picture, cfg: ChamberConfig, seed: int, index: int, folder: Path) -> tuple[dict, str, int]:
    """Write a picture's image and hits files; its COCO image entry, its annotations as JSON text
    (comma-separated; the polylines' and keypoints' numbers written all at once by
    :func:`json_numbers`) and how many annotations."""
    from .optics import to_pixels, truth_attributes

    width, height = cfg.image_size
    first_id = index * 10_000 + 1  # annotation ids must be unique across pictures: a block per picture
    stem = f"{index:06d}"
    write_png(folder / "images" / f"{stem}.png", picture.image)
    hits = [t.hits for t in picture.tracks]
    owner = np.repeat(np.array([t.particle.index for t in picture.tracks], dtype=np.int32),
                      [len(h) for h in hits]) if hits else np.zeros(0, np.int32)
    np.savez(folder / "hits" / f"{stem}.npz",
             xy=np.concatenate(hits).astype(np.float32) if hits else np.zeros((0, 2), np.float32), particle=owner)
    annotated = [t for t in picture.tracks if t.annotated]
    rles = _compressed_rles([t.rle_counts() for t in annotated], height, width)
    keypoints_all = _resampled([t.polyline for t in annotated])
    # the numbers of every polyline (one decimal) and every keypoint (x, y, 2) of the picture
    lengths = [2 * len(t.polyline) for t in annotated]
    polylines, polyline_ends = json_numbers(np.concatenate([t.polyline.reshape(-1) for t in annotated])
                                            if annotated else np.zeros(0), 1)
    keypoints, keypoint_ends = json_numbers(keypoints_all, 2, tail=b"2,", every=2)
    polyline_ends, keypoint_ends = polyline_ends.tolist(), keypoint_ends.tolist()
    polylines, keypoints = polylines.decode("ascii"), keypoints.decode("ascii")
    annotations, numbers = [], []  # the entries, with _MARK for each number list; the lists' text
    first_value = 0
    for k, (track, rle) in enumerate(zip(annotated, rles, strict=True)):
        attributes = truth_attributes(track, cfg)
        attributes["polyline"] = _MARK
        annotations.append({
            "id": first_id + len(annotations),
            "image_id": index + 1,
            "category_id": CHARGED.index(track.particle.species.name) + 1,
            "bbox": [round(v, 2) for v in track.box()],
            "area": track.mask_area,
            "iscrowd": 0,
            "segmentation": {"size": [height, width], "counts": rle},
            "keypoints": _MARK,
            "num_keypoints": KEYPOINTS,
            "attributes": attributes,
        })
        start = keypoint_ends[2 * KEYPOINTS * k - 1] + 1 if k else 0
        numbers.append("[" + keypoints[start:keypoint_ends[2 * KEYPOINTS * (k + 1) - 1]] + "]")
        start = polyline_ends[first_value - 1] + 1 if first_value else 0
        first_value += lengths[k]
        numbers.append("[" + (polylines[start:polyline_ends[first_value - 1]] if lengths[k] else "") + "]")
    # one json.dumps for all, then each mark (keypoints, then polyline, per annotation) replaced
    parts = json.dumps(annotations, separators=(",", ":"))[1:-1].split(_MARK_JSON)
    text = [parts[0]]
    for number, part in zip(numbers, parts[1:], strict=True):
        text += [number, part]
    v0s = []
    for v0 in picture.event.v0s:
        v0s.append({"species": v0.species, "vertex_px": [round(float(v), 2) for v in to_pixels(v0.vertex[None, :2], cfg)[0]],
                    "decay_px": [round(float(v), 2) for v in to_pixels(v0.decay_point[None, :2], cfg)[0]],
                    "decay_length_m": round(v0.decay_length_m, 6), "p_gev": round(float(np.linalg.norm(v0.momentum)), 6),
                    "visible": v0.visible, "daughters": list(v0.daughters)})
    image = {"id": index + 1, "file_name": f"images/{stem}.png", "width": width, "height": height,
             "hits_file": f"hits/{stem}.npz", "n_tracks": len(annotations), "n_primary": picture.event.n_primary,
             "n_particles": len(picture.tracks), "seed": seed, "index": index, "v0s": v0s}
    return image, "".join(text), len(annotations)


def write_dataset(out: str | os.PathLike, n: int, config: ChamberConfig | None = None, *, seed: int = 0,
                  workers: int = 0, first_index: int = 0, progress: str | None = "simulating") -> dict[str, Any]:
    """Simulate ``n`` pictures into the COCO folder ``out`` (replaced atomically when complete).

    ``workers``: processes to use (0: one per CPU core, 1: this process). Picture ``i`` is drawn
    from the seed sequence ``(seed, first_index + i)``, so the output does not depend on ``workers``
    (nor on which pictures are simulated together). The annotations are written to
    ``annotations.json`` as the pictures come (annotations first, then the picture entries).
    Returns a summary (pictures, tracks, seconds).
    """
    import datetime
    import time

    import sciarch

    config = config or ChamberConfig()
    workers = workers or os.cpu_count() or 1
    workers = max(1, min(workers, n))
    started = time.perf_counter()
    images: list[str] = []
    tracks = 0
    with sciarch.atomic_dir(out) as tmp:
        (tmp / "images").mkdir()
        (tmp / "hits").mkdir()
        size = max(1, min(BATCH, -(-n // (2 * workers)) if workers > 1 else BATCH))
        indices = list(range(first_index, first_index + n))
        jobs = [(config.to_dict(), seed, indices[k:k + size], str(tmp)) for k in range(0, n, size)]
        if workers == 1:
            results: Iterator = map(_make_pictures, jobs)
        else:
            import multiprocessing

            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
            results = pool.map(_make_pictures, jobs)
        info = {"description": "sciarch simulated bubble-chamber pictures", "version": sciarch.__version__,
                "date_created": datetime.datetime.now().isoformat(timespec="seconds"),
                "simulator": config.to_dict(), "seed": seed, "first_index": first_index,
                "field_tesla": config.field_tesla, "pixel_size_m": config.pixel_size_m}
        try:
            with sciarch.atomic_write(tmp / "annotations.json", "w", encoding="utf-8") as handle:
                handle.write('{"info":' + json.dumps(info, separators=(",", ":")) + ',"licenses":[],"annotations":[')
                pictures = (item for batch in results for item in batch)
                items = sciarch.track(pictures, progress, total=n) if progress else pictures
                for image, annotations, count in items:
                    images.append(image)
                    if count:
                        handle.write(("," if tracks else "") + annotations)
                    tracks += count
                handle.write('],"images":[' + ",".join(images) + '],"categories":'
                             + json.dumps(CATEGORIES, separators=(",", ":")) + "}")
        finally:
            if workers > 1:
                pool.shutdown(cancel_futures=True)
    seconds = time.perf_counter() - started
    return {"pictures": n, "tracks": tracks, "seconds": round(seconds, 3),
            "pictures_per_second": round(n / seconds, 3) if seconds else math.inf, "workers": workers}


# -- reading -----------------------------------------------------------------------------------


@dataclass
class TrackRecord:
    """One annotated track of a picture, as read."""

    annotation_id: int
    category: str
    box_xyxy: tuple[float, float, float, float]
    segmentation: Any = None  # RLE dict or polygon list, as in the file
    polyline: np.ndarray | None = None  # (N, 2) pixels
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class PictureRecord:
    """One picture and its tracks, as read from a COCO file (images are loaded on demand)."""

    image_id: int
    file: Path
    width: int
    height: int
    tracks: list[TrackRecord]
    hits_file: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def load_image(self) -> np.ndarray:
        """The picture as (H, W) uint8 greyscale."""
        import sciarch
        from PIL import Image

        try:
            with Image.open(self.file) as handle:
                image = np.array(handle.convert("L"))
        except (OSError, ValueError) as exc:
            raise sciarch.DataError(f"cannot read the picture ({exc})", file=self.file) from None
        if image.shape != (self.height, self.width):
            raise sciarch.DataError(f"picture is {image.shape[1]}×{image.shape[0]} pixels but annotations.json "
                                    f"says {self.width}×{self.height}", file=self.file)
        return image

    def masks(self) -> np.ndarray:
        """Instance masks (N, H, W) uint8, from RLE or polygons; a box-filled mask where none is given."""
        from pycocotools import mask as mask_utils

        out = np.zeros((len(self.tracks), self.height, self.width), dtype=np.uint8)
        for i, track in enumerate(self.tracks):
            seg = track.segmentation
            if not seg:
                x0, y0, x1, y1 = (int(round(v)) for v in track.box_xyxy)
                out[i, y0:y1, x0:x1] = 1
                continue
            if isinstance(seg, list):
                rle = mask_utils.merge(mask_utils.frPyObjects(seg, self.height, self.width))
            elif isinstance(seg.get("counts"), list):
                rle = mask_utils.frPyObjects(seg, self.height, self.width)
            else:
                rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")
                       if isinstance(seg["counts"], str) else seg["counts"]}
            out[i] = mask_utils.decode(rle)
        return out

    def hits(self) -> tuple[np.ndarray, np.ndarray]:
        """Hit positions (H, 2) and the annotation index (0…N−1, or −1: no annotated track) of each.

        From the simulator's hits file when there is one; otherwise points every pixel along each
        track's polyline, or the pixels of its mask, so real pictures get the same metrics.
        """
        if self.hits_file is not None and self.hits_file.is_file():
            xy, particle = _read_hits(self.hits_file)
            index_of = {int(t.attributes.get("particle", -1)): i for i, t in enumerate(self.tracks)}
            owner = np.array([index_of.get(int(p), -1) for p in particle], dtype=np.int64)
            # hits of unannotated particles keep distinct negative ids (−2 − particle) so a found
            # track made of them is not mistaken for one made of a single true track
            unowned = owner < 0
            owner[unowned] = -2 - particle[unowned]
            return xy, owner
        points, owners = [], []
        masks = None
        for i, track in enumerate(self.tracks):
            if track.polyline is not None and len(track.polyline) > 1:
                steps = np.linalg.norm(np.diff(track.polyline, axis=0), axis=1)
                n = max(2, int(steps.sum()))
                pts = resample(track.polyline, n)
            else:
                if masks is None:
                    masks = self.masks()
                rows, cols = np.nonzero(masks[i])
                pts = np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float64)
            points.append(pts)
            owners.append(np.full(len(pts), i, dtype=np.int64))
        if not points:
            return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
        return np.concatenate(points), np.concatenate(owners)


@dataclass
class CocoPictures:
    """A COCO folder as read: its pictures, category names, scale and the records it skipped."""

    path: Path
    pictures: list[PictureRecord]
    categories: list[str]
    info: dict[str, Any]
    bad: Any

    @property
    def field_tesla(self) -> float | None:
        value = self.info.get("field_tesla")
        return float(value) if value is not None else None

    @property
    def pixel_size_m(self) -> float | None:
        value = self.info.get("pixel_size_m")
        return float(value) if value is not None else None

    def __len__(self) -> int:
        return len(self.pictures)


def read_coco(path: str | os.PathLike, *, strict: bool = False, categories: Sequence[str] | None = None,
              require_images: bool = True) -> CocoPictures:
    """Read a COCO folder (``path/annotations.json`` + pictures) or a COCO JSON file.

    Picture paths are relative to the JSON's folder (then ``images/`` beside it). A picture whose
    file is missing, or an annotation with a bad box, an unknown picture or category, is skipped
    and counted in ``.bad`` (a :class:`sciarch.BadRecords`); ``strict=True`` raises instead.
    ``categories`` fixes the category order (names); by default the file's, sorted by id.
    """
    import sciarch

    path = Path(path)
    json_path = path / "annotations.json" if path.is_dir() else path
    if not json_path.is_file():
        raise sciarch.DataError("no COCO annotations file here (expected annotations.json)", file=json_path)
    try:
        coco = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise sciarch.DataError(f"not valid JSON ({exc})", file=json_path) from None
    if not isinstance(coco, dict) or not isinstance(coco.get("images"), list):
        raise sciarch.DataError("not a COCO file: no 'images' list", file=json_path)
    bad = sciarch.BadRecords(source=str(json_path), strict=strict)
    root = json_path.parent
    file_categories = {int(c["id"]): str(c["name"]) for c in coco.get("categories", []) if "id" in c and "name" in c}
    names = list(categories) if categories is not None else [file_categories[k] for k in sorted(file_categories)]
    if not names:
        names = ["track"]
    by_image: dict[int, list[TrackRecord]] = {}
    pictures: dict[int, PictureRecord] = {}
    for n, entry in enumerate(coco["images"]):
        try:
            image_id, file_name = int(entry["id"]), str(entry["file_name"])
            width, height = int(entry["width"]), int(entry["height"])
        except (KeyError, TypeError, ValueError) as exc:
            bad.skip(f"image entry lacks id/file_name/width/height ({exc})", file=json_path, record=f"images[{n}]",
                     kind="bad image entry")
            continue
        file = root / file_name
        if not file.is_file() and (root / "images" / file_name).is_file():
            file = root / "images" / file_name
        if require_images and not file.is_file():
            bad.skip(f"picture file {file_name} not found", file=json_path, record=f"image {image_id}",
                     kind="missing picture")
            continue
        if require_images and file.stat().st_size == 0:
            bad.skip(f"picture file {file_name} is empty (0 bytes)", file=json_path, record=f"image {image_id}",
                     kind="empty picture")
            continue
        hits_file = root / entry["hits_file"] if entry.get("hits_file") else None
        meta = {k: v for k, v in entry.items() if k not in ("id", "file_name", "width", "height", "hits_file")}
        pictures[image_id] = PictureRecord(image_id, file, width, height, [], hits_file, meta)
        by_image[image_id] = pictures[image_id].tracks
    for n, ann in enumerate(coco.get("annotations", [])):
        record = f"annotation {ann.get('id', n)}"
        image_id = ann.get("image_id")
        if image_id not in by_image:
            if image_id not in {e.get("id") for e in coco["images"]} or strict:
                bad.skip(f"refers to unknown picture {image_id}", file=json_path, record=record, kind="unknown picture")
            continue  # its picture was skipped (and counted) already
        box = ann.get("bbox")
        picture = pictures[image_id]
        if not (isinstance(box, list) and len(box) == 4
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in box)) \
                or box[2] <= 0 or box[3] <= 0:
            bad.skip(f"bbox must be [x, y, width, height] with positive sizes, got {box!r}", file=json_path,
                     record=record, kind="bad bbox")
            continue
        x0, y0 = max(0.0, float(box[0])), max(0.0, float(box[1]))
        x1, y1 = min(float(picture.width), float(box[0] + box[2])), min(float(picture.height), float(box[1] + box[3]))
        if x1 <= x0 or y1 <= y0:
            bad.skip(f"bbox {box} lies outside the {picture.width}×{picture.height} picture", file=json_path,
                     record=record, kind="bad bbox")
            continue
        category = file_categories.get(int(ann.get("category_id", -1))) if file_categories else "track"
        if category is None or category not in names:
            bad.skip(f"unknown category_id {ann.get('category_id')}", file=json_path, record=record,
                     kind="unknown category")
            continue
        attributes = dict(ann.get("attributes") or {})
        polyline = None
        if attributes.get("polyline"):
            polyline = np.asarray(attributes.pop("polyline"), dtype=np.float64).reshape(-1, 2)
        elif ann.get("keypoints"):
            kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
            kp = kp[kp[:, 2] > 0]
            polyline = kp[:, :2] if len(kp) else None
        by_image[image_id].append(TrackRecord(int(ann.get("id", n)), category, (x0, y0, x1, y1),
                                              ann.get("segmentation"), polyline, attributes))
    if bad.count:
        sciarch.console.print(bad.summary())
    ordered = [pictures[k] for k in sorted(pictures)]
    return CocoPictures(json_path.parent, ordered, names, dict(coco.get("info") or {}), bad)


def _read_hits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(xy, particle)`` of a simulator hits file (``.npz``), read without unpickling anything."""
    import zipfile

    import sciarch

    try:
        with np.load(path, allow_pickle=False) as data:
            xy, particle = data["xy"].astype(np.float64), np.asarray(data["particle"], dtype=np.int64)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise sciarch.DataError("hits file holds pickled objects (refused to unpickle them)", file=path) from None
        raise sciarch.DataError(f"not a hits file ({exc})", file=path) from None
    except KeyError as exc:
        raise sciarch.DataError(f"hits file lacks an array ({exc.args[0]}; expected 'xy' and 'particle')",
                                file=path) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise sciarch.DataError(f"truncated or not an .npz file ({exc})", file=path) from None
    if xy.ndim != 2 or xy.shape[1:] != (2,) or len(particle) != len(xy):
        raise sciarch.DataError(f"hits file arrays have shapes xy {xy.shape}, particle {particle.shape}; expected "
                                "(H, 2) and (H,)", file=path)
    return xy, particle
