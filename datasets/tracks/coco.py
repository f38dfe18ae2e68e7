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

from . import compiled
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
    if compiled.enabled():
        return compiled.number_texts(scaled, decimals, tail, every)
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


@lru_cache(maxsize=8)  # (decimals 1, 2 for pixels; 2, 4, 5, 6 for the truth's numbers)
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
    (the same size as zlib's Huffman coding, about five times faster), with a 2-byte window (a
    noisy picture's rows have hardly a string to match: the same size, half the time of ISA-L's
    default 32 KiB window); else zlib's Huffman coding."""
    try:
        from isal import igzip_lib
    except ImportError:
        import zlib

        packer = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_HUFFMAN_ONLY)
        return packer.compress(data) + packer.flush()
    return igzip_lib.compress(data, 1, flag=igzip_lib.COMP_ZLIB, hist_bits=1)


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


def _rle_strings(counts: np.ndarray, bounds: np.ndarray) -> list[str]:
    """COCO's compressed RLE strings (what pycocotools' ``frPyObjects`` makes of uncompressed
    counts), of several masks at once: mask k's counts are ``counts[bounds[k]:bounds[k + 1]]``.

    Each count from a mask's fourth on is written less the count two before it; every number as
    few 5-bit groups as hold it as a signed number, least significant first, bit 6 set on each
    group but the last, plus 48.
    """
    masks = len(bounds) - 1
    if masks <= 0:
        return []
    if compiled.enabled():
        return compiled.rle_texts(np.ascontiguousarray(counts, dtype=np.int64), np.asarray(bounds, dtype=np.int64))
    values = np.array(counts, dtype=np.int64)
    local = np.arange(len(values)) - np.repeat(bounds[:-1], np.diff(bounds))
    later = np.flatnonzero(local > 2)
    values[later] -= values.take(later - 2)  # (the counts themselves: ``values`` is a copy)
    # groups: 1 for −16 ≤ v < 16, 2 for −512 ≤ v < 512, …
    groups = np.searchsorted(_GROUP_LIMITS, np.where(values < 0, -1 - values, values)) + 1
    ends = np.cumsum(groups)
    value = np.repeat(np.arange(len(values)), groups)
    place = np.arange(len(value)) - (ends - groups).take(value)
    chars = (values.take(value) >> (5 * place)) & 31
    chars += 48
    chars[place < groups.take(value) - 1] += 32
    text = chars.astype(np.uint8).tobytes().decode("ascii")
    at = np.concatenate([[0], ends]).take(bounds).tolist()
    return [text[at[k]:at[k + 1]] for k in range(masks)]


#: the largest magnitude (of v, or of −1 − v for negative v) that 1, 2, … 5-bit groups hold, signed
_GROUP_LIMITS = np.array([15, 511, 16383, 524287, 16777215, 536870911, 17179869183, 549755813887,
                          17592186044415, 562949953421311, 18014398509481983, 576460752303423487])


def _rounded_texts(values: np.ndarray, decimals: int) -> tuple[list[str], np.ndarray]:
    """``json.dumps(round(v, decimals))`` of each value, all at once (by :func:`json_numbers`), and
    which values that may not hold for (not finite, written with an exponent, or so near half a
    last place that numpy's ``rint(v × 10^d)`` and Python's exact decimal rounding may differ, also
    by a last-bit difference in how ``v`` was computed): those need Python's own ``round``."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        scaled = values * 10.0 ** decimals
        whole = np.rint(scaled)
        doubtful = ~np.isfinite(scaled) | (np.abs(scaled) > 1e9)
        doubtful |= np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-6
        doubtful |= (whole != 0) & (np.abs(whole) < 10.0 ** (decimals - 4))  # below 10⁻⁴: repr's exponent
    text, _ = json_numbers(np.where(doubtful, 0.0, values), decimals)
    return text.decode("ascii").split(",")[:-1], doubtful


def _annotation_texts(annotated: list, rles: list[str], keypoints: list[str], polylines: list[str],
                      areas: list[int], cfg: ChamberConfig, first_id: int, image_id: int) -> list[str]:
    """Each annotated track's COCO annotation as the JSON text ``json.dumps`` makes of it (the
    entry :func:`_annotation_entry` gives), its numbers computed and written for all tracks at once;
    a track with a number that :func:`_rounded_texts` doubts is written by json from its entry."""
    n = len(annotated)
    if not n:
        return []
    width, height = cfg.image_size
    particles = [t.particle for t in annotated]
    vertex = np.array([p.vertex for p in particles], dtype=np.float64).reshape(n, 3)
    momentum = np.array([p.momentum for p in particles], dtype=np.float64).reshape(n, 3)
    px, py, pz = momentum[:, 0], momentum[:, 1], momentum[:, 2]
    p_t = np.hypot(px, py)
    scale = 1.0 / cfg.pixel_size_m
    beta = np.array([p.betas[0] if len(p.betas) else math.nan for p in particles], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ionisation = np.minimum(1.0 / np.maximum(beta, 1e-3) ** 2, cfg.ionisation_cap)
    has_hits = [len(t.hit_ionisation) > 0 for t in annotated]
    decay = np.array([p.decay_length_m for p in particles], dtype=np.float64)
    # the numbers by how many decimals they are rounded to (one call of _rounded_texts each)
    by_decimals = {
        6: (np.sqrt(px * px + py * py + pz * pz), p_t, np.arctan2(pz, p_t), np.arctan2(py, px), beta,
            p_t / (0.299792458 * cfg.field_tesla), np.nan_to_num(decay)),
        2: (vertex[:, 0] * scale, (cfg.height_m - vertex[:, 1]) * scale, np.array([t.length_px for t in annotated])),
        5: (vertex[:, 2],),
        4: (ionisation, np.array([t.ionisation_median for t in annotated], dtype=np.float64))}
    columns, doubts = {}, np.zeros(n, dtype=bool)
    for decimals, values in by_decimals.items():
        texts, doubtful = _rounded_texts(np.concatenate(values), decimals)
        columns[decimals] = [texts[j * n:(j + 1) * n] for j in range(len(values))]
        doubts |= doubtful.reshape(len(values), n).any(axis=0)
    p_gev, pt_gev, dip, phi, beta_text, radius, decay_text = columns[6]
    vertex_x, vertex_y, length = columns[2]
    (vertex_z,) = columns[5]
    ionisation_text, median = columns[4]
    # the text: each annotation's pieces in turn, the numbers' texts between the fixed parts (one
    # list filled column by column, joined once; \x02 ends each annotation)
    boxes = [t.mask_box for t in annotated]
    species = [p.species for p in particles]
    rle_text = "\x02".join(rles)
    if "\\" in rle_text:  # (the only character of an RLE string that JSON escapes)
        rle_text = rle_text.replace("\\", "\\\\")
    segments = [
        ('{"id":', list(map(str, range(first_id, first_id + n)))),
        (f',"image_id":{image_id},"category_id":', [str(_CATEGORY_IDS[s.name]) for s in species]),
        (',"bbox":[', [str(b[0]) for b in boxes]), (".0,", [str(b[1]) for b in boxes]),
        (".0,", [str(b[2] - b[0]) for b in boxes]), (".0,", [str(b[3] - b[1]) for b in boxes]),
        ('.0],"area":', list(map(str, areas))),
        (f',"iscrowd":0,"segmentation":{{"size":[{height},{width}],"counts":"', rle_text.split("\x02")),
        ('"},"keypoints":[', keypoints),
        (f'],"num_keypoints":{KEYPOINTS},"attributes":{{"particle":', [str(p.index) for p in particles]),
        (',"species":', [_json_text(s.name) for s in species]), (',"pdg":', [str(s.pdg) for s in species]),
        (',"charge":', [str(s.charge) for s in species]), (',"mass_gev":', [_json_text(s.mass) for s in species]),
        (',"p_gev":', p_gev), (',"pt_gev":', pt_gev), (',"dip_rad":', dip), (',"phi_rad":', phi),
        (',"vertex_px":[', vertex_x), (",", vertex_y), ('],"vertex_z_m":', vertex_z),
        (',"origin":', [_json_text(p.origin) for p in particles]), (',"parent":', [str(p.parent) for p in particles]),
        (',"end":', [_json_text(p.end) for p in particles]), (',"beta":', beta_text),
        (',"ionisation":', ionisation_text),
        (',"ionisation_median":', [m if h else "null" for m, h in zip(median, has_hits, strict=True)]),
        (',"radius_m":', radius), (',"length_px":', length),
        (',"num_hits":', [str(len(t.hits)) for t in annotated]),
        (',"decay_length_m":', [t if d == d else "null" for t, d in zip(decay_text, decay.tolist(), strict=True)]),
        (',"polyline":[', polylines)]
    stride = 2 * len(segments) + 1
    pieces: list[str] = [""] * (stride * n)
    for j, (fixed, texts) in enumerate(segments):
        pieces[2 * j::stride] = [fixed] * n
        pieces[2 * j + 1::stride] = texts
    pieces[stride - 1::stride] = ["]}}\x02"] * n
    out = "".join(pieces).split("\x02")[:-1]
    for k in np.flatnonzero(doubts).tolist():
        out[k] = _annotation_json(annotated[k], cfg, first_id + k, image_id, rles[k], keypoints[k], polylines[k])
    return out


_CATEGORY_IDS = {name: i + 1 for i, name in enumerate(CHARGED)}


@lru_cache(maxsize=256)
def _json_text(value: Any) -> str:
    return json.dumps(value)


def _annotation_entry(track, cfg: ChamberConfig, annotation_id: int, image_id: int, rle: str) -> dict[str, Any]:
    """A track's COCO annotation (``keypoints`` and ``attributes.polyline`` left as :data:`_MARK`)."""
    from .optics import truth_attributes

    width, height = cfg.image_size
    attributes = truth_attributes(track, cfg)
    attributes["polyline"] = _MARK
    return {"id": annotation_id, "image_id": image_id, "category_id": CHARGED.index(track.particle.species.name) + 1,
            "bbox": [round(v, 2) for v in track.box()], "area": track.mask_area, "iscrowd": 0,
            "segmentation": {"size": [height, width], "counts": rle}, "keypoints": _MARK, "num_keypoints": KEYPOINTS,
            "attributes": attributes}


def _annotation_json(track, cfg: ChamberConfig, annotation_id: int, image_id: int, rle: str, keypoints: str,
                     polyline: str) -> str:
    """:func:`_annotation_entry` as json writes it, the number lists' texts in place of the marks."""
    before, between, after = json.dumps(_annotation_entry(track, cfg, annotation_id, image_id, rle),
                                        separators=(",", ":")).split(_MARK_JSON)
    return before + "[" + keypoints + "]" + between + "[" + polyline + "]" + after


def _describe(picture, cfg: ChamberConfig, seed: int, index: int, folder: Path) -> tuple[dict, str, int]:
    """Write a picture's image and hits files; its COCO image entry, its annotations as JSON text
    (comma-separated, :func:`_annotation_texts`; the polylines' and keypoints' numbers written all
    at once by :func:`json_numbers`) and how many annotations."""
    from .optics import to_pixels

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
    n = len(annotated)
    # every annotated track's RLE counts together: the compressed strings and the areas from them
    counts = [t._rle if t._rle is not None else np.array(t.rle_counts(), dtype=np.int64) for t in annotated]
    count_bounds = np.zeros(n + 1, dtype=np.intp)
    np.cumsum([len(c) for c in counts], out=count_bounds[1:])
    counts = np.concatenate(counts) if n else np.zeros(0, dtype=np.int64)
    rles = _rle_strings(counts, count_bounds)
    ones = (np.arange(len(counts)) - np.repeat(count_bounds[:-1], np.diff(count_bounds))) % 2 == 1
    totals = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(np.where(ones, counts, 0), out=totals[1:])
    areas = (totals.take(count_bounds[1:]) - totals.take(count_bounds[:-1])).tolist()
    # the numbers of every polyline (one decimal) and every keypoint (x, y, 2) of the picture
    keypoints, keypoint_ends = json_numbers(_resampled([t.polyline for t in annotated]), 2, tail=b"2,", every=2)
    at = np.concatenate([[-1], keypoint_ends[2 * KEYPOINTS - 1::2 * KEYPOINTS]]).tolist() if n else [-1]
    keypoints = keypoints.decode("ascii")
    keypoint_texts = [keypoints[at[k] + 1:at[k + 1]] for k in range(n)]
    polyline_bounds = np.zeros(n + 1, dtype=np.intp)
    np.cumsum([2 * len(t.polyline) for t in annotated], out=polyline_bounds[1:])
    polylines, polyline_ends = json_numbers(np.concatenate([t.polyline.reshape(-1) for t in annotated])
                                            if n else np.zeros(0), 1)
    at = np.concatenate([[-1], polyline_ends])[polyline_bounds].tolist()
    polylines = polylines.decode("ascii")
    polyline_texts = [polylines[at[k] + 1:at[k + 1]] if at[k + 1] > at[k] else "" for k in range(n)]
    annotations = _annotation_texts(annotated, rles, keypoint_texts, polyline_texts, areas, cfg, first_id, index + 1)
    v0s = []
    for v0 in picture.event.v0s:
        v0s.append({"species": v0.species, "vertex_px": [round(float(v), 2) for v in to_pixels(v0.vertex[None, :2], cfg)[0]],
                    "decay_px": [round(float(v), 2) for v in to_pixels(v0.decay_point[None, :2], cfg)[0]],
                    "decay_length_m": round(v0.decay_length_m, 6), "p_gev": round(float(np.linalg.norm(v0.momentum)), 6),
                    "visible": v0.visible, "daughters": list(v0.daughters)})
    image = {"id": index + 1, "file_name": f"images/{stem}.png", "width": width, "height": height,
             "hits_file": f"hits/{stem}.npz", "n_tracks": len(annotations), "n_primary": picture.event.n_primary,
             "n_particles": len(picture.tracks), "seed": seed, "index": index, "v0s": v0s}
    return image, ",".join(annotations), len(annotations)


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
