"""From particle paths to a photograph: bubbles, optics, film, and the truth of every track.

Bubbles form along a path as a Poisson process whose density grows with ionisation, about 1/β²
(Glaser), capped where the bubbles merge into a solid line; each bubble is a dark spot whose size
also grows with the density, so slow protons look dark and thick. The picture is the bright,
unevenly lit chamber seen through the bubbles (transmittance exp(−opacity)), blurred by the optics,
with fiducial crosses engraved on the chamber windows, then film grain and dust.

Truth per track: the projected polyline, the bubble positions (its hits), an instance mask (its
bubbles and path, dilated by the bubble size) and the box of that mask. Pixel coordinates: x to
the right, y down, origin at the top-left corner of the picture; the chamber's y axis points up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from . import compiled
from .simulator import ChamberConfig, Event, Particle


@dataclass
class TrackTruth:
    """One particle as the picture shows it."""

    particle: Particle
    polyline: np.ndarray  # (N, 2) pixels
    hits: np.ndarray  # (H, 2) pixels: bubble centres
    hit_ionisation: np.ndarray  # (H,) bubble density factor at each bubble (1 at minimum ionisation)
    length_px: float
    #: the instance mask as runs of column-major pixel indices (column × height + row): starts, stops
    mask_runs: tuple[np.ndarray, np.ndarray] | None = None
    image_size: tuple[int, int] = (0, 0)  # width, height
    annotated: bool = False
    ionisation_median: float = math.nan  # of the hits
    _box: tuple[int, int, int, int] | None = field(default=None, repr=False, compare=False)
    _rle: np.ndarray | None = field(default=None, repr=False, compare=False)  # the RLE counts

    @property
    def mask_pixels(self) -> np.ndarray | None:
        """The mask's pixels as ascending column-major indices."""
        if self.mask_runs is None:
            return None
        starts, stops = self.mask_runs
        lengths = stops - starts
        return np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())

    @property
    def mask_area(self) -> int:
        return 0 if self.mask_runs is None else int((self.mask_runs[1] - self.mask_runs[0]).sum())

    def box(self) -> tuple[float, float, float, float]:
        """COCO box (x, y, width, height) of the instance mask."""
        x0, y0, x1, y1 = self.mask_box
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)

    @property
    def mask_box(self) -> tuple[int, int, int, int] | None:
        """x0, y0, x1, y1 (exclusive) of the mask's pixels."""
        if self._box is not None:
            return self._box
        pixels = self.mask_pixels
        if pixels is None or not len(pixels):
            return None
        height = self.image_size[1]
        cols, rows = np.divmod(pixels, height)
        return int(cols[0]), int(rows.min()), int(cols[-1]) + 1, int(rows.max()) + 1

    @property
    def mask_crop(self) -> np.ndarray | None:
        """bool (y1 − y0, x1 − x0): the mask within :attr:`mask_box`."""
        box = self.mask_box
        if box is None:
            return None
        x0, y0, x1, y1 = box
        crop = np.zeros((y1 - y0, x1 - x0), dtype=bool)
        cols, rows = np.divmod(self.mask_pixels, self.image_size[1])
        crop[rows - y0, cols - x0] = True
        return crop

    def full_mask(self, height: int, width: int) -> np.ndarray:
        # column-major, as pycocotools' RLE encoder wants it: no copy before encoding
        mask = np.zeros((height, width), dtype=np.uint8, order="F")
        if self.mask_pixels is not None:
            mask.reshape(-1, order="F")[self.mask_pixels] = 1
        return mask

    def rle_counts(self) -> list[int]:
        """The mask as COCO's uncompressed RLE counts (column-major runs, zeros first)."""
        if self._rle is not None:
            return self._rle.tolist()
        width, height = self.image_size
        return rle_counts(self.mask_pixels if self.mask_pixels is not None else np.zeros(0, np.int64),
                          width * height)


def rle_counts(pixels: np.ndarray, size: int) -> list[int]:
    """Uncompressed COCO RLE counts of a mask given as ascending column-major pixel indices: runs of
    0s and 1s alternately, starting with 0s, the last run included (as pycocotools encodes)."""
    if not len(pixels):
        return [size]
    breaks = np.flatnonzero(np.diff(pixels) != 1)
    starts = np.concatenate([pixels[:1], pixels[breaks + 1]])
    ends = np.concatenate([pixels[breaks] + 1, pixels[-1:] + 1])
    counts = np.empty(2 * len(starts) + 1, dtype=np.int64)
    counts[0] = starts[0]
    counts[1::2] = ends - starts
    counts[2:-1:2] = starts[1:] - ends[:-1]
    counts[-1] = size - ends[-1]
    return counts[:-1].tolist() if counts[-1] == 0 else counts.tolist()


@dataclass
class Picture:
    """A rendered picture and the truth of everything in it."""

    image: np.ndarray  # (H, W) uint8
    tracks: list[TrackTruth]
    event: Event
    config: ChamberConfig


def to_pixels(points_m: np.ndarray, cfg: ChamberConfig) -> np.ndarray:
    """Chamber (x, y) in metres → picture (column, row) in pixels (y flipped: rows go down)."""
    scale = 1.0 / cfg.pixel_size_m
    return np.stack([points_m[:, 0] * scale, (cfg.height_m - points_m[:, 1]) * scale], axis=1)


def ionisation_factor(betas: np.ndarray, cap: float) -> np.ndarray:
    """Bubble density relative to a minimum-ionising track: 1/β², capped where bubbles merge."""
    b2 = np.clip(betas, 1e-3, 1.0) ** 2
    return np.minimum(1.0 / b2, cap)


def _bubbles(points: np.ndarray, betas: np.ndarray, offsets: np.ndarray, cfg: ChamberConfig,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bubble centres (metres, (H, 3)), their density factors and the point each follows, along the
    paths of all particles at once (particle k's points are ``offsets[k]:offsets[k + 1]``)."""
    if len(points) < 2:
        return np.zeros((0, 3)), np.zeros(0), np.zeros(0, dtype=np.intp)
    segments = points[1:] - points[:-1]
    lengths = np.sqrt(np.einsum("ij,ij->i", segments, segments))
    factor = ionisation_factor(0.5 * (betas[:-1] + betas[1:]), cfg.ionisation_cap)
    expected = cfg.bubbles_per_cm * 100.0 * lengths * factor
    expected[offsets[1:-1] - 1] = 0.0  # no segment joins one particle's path to the next
    counts = rng.poisson(expected)
    which = np.repeat(np.arange(len(segments)), counts)
    where = rng.random(len(which))
    centres = points.take(which, axis=0) + where[:, None] * segments.take(which, axis=0)
    return centres, factor[which], which


def bubbles_along(particle: Particle, cfg: ChamberConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bubble centres (metres, (H, 3)) and their density factors along a particle's path."""
    centres, factor, _ = _bubbles(particle.path, particle.betas, np.array([0, len(particle.path)]), cfg, rng)
    return centres, factor


def _disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius + radius


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    keys = np.sort(keys)
    if len(keys) < 2:
        return keys
    keep = np.empty(len(keys), dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys.compress(keep)


def _group_medians(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The median of each group ``values[offsets[k]:offsets[k + 1]]`` (nan for an empty one)."""
    groups = len(offsets) - 1
    counts = np.diff(offsets)
    owner = np.repeat(np.arange(groups), counts)
    order = np.argsort(owner * (2.0 * float(np.abs(values).max(initial=0.0)) + 1.0) + values)
    ordered = values[order]
    out = np.full(groups, math.nan)
    full = counts > 0
    low = offsets[:-1] + (counts - 1) // 2
    high = offsets[:-1] + counts // 2
    out[full] = 0.5 * (ordered[low[full]] + ordered[high[full]])
    return out


def _merge_runs(group: np.ndarray, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of intervals [start, stop) within each group, as disjoint sorted intervals (touching
    ones joined). The input must be sorted by (group, start)."""
    if not len(start):
        return group, start, stop
    span = int(max(stop.max(), 1)) + 2
    keyed_stop = np.maximum.accumulate(group * span + stop)
    keyed_start = group * span + start
    fresh = np.empty(len(start), dtype=bool)
    fresh[0] = True
    np.greater(keyed_start[1:], keyed_stop[:-1], out=fresh[1:])
    first = np.flatnonzero(fresh)
    last = np.concatenate([first[1:], [len(start)]]) - 1
    return group[first], start[first], keyed_stop[last] - group[first] * span


def _masks(polylines: list[np.ndarray], hits: list[np.ndarray] | tuple[np.ndarray, np.ndarray], radii: np.ndarray,
           width: int, height: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[int, int, int, int] | None],
                                 tuple[np.ndarray, np.ndarray]]:
    """Each track's instance mask: the pixels its polyline passes through (sampled every ⅓ pixel)
    and its bubbles' pixels, dilated by a disk of its radius. Returned per track as runs of
    column-major pixel indices (starts, stops), with the box (x0, y0, x1, y1) of each, and every
    track's uncompressed COCO RLE counts together with where each track's begin (track k's are
    ``counts[bounds[k]:bounds[k + 1]]``). Made from runs down the columns, never from a picture
    per track. ``hits``: each track's, or all tracks' together and the track of each (xy, track)."""
    size = width * height
    tracks = len(polylines)
    if not tracks:
        return [], [], (np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.intp))
    if compiled.enabled():
        return _compiled_masks(polylines, hits, radii, width, height)
    # the polylines, sampled every third of a pixel along each segment, and their last points
    lengths = np.array([len(q) for q in polylines])
    points = np.concatenate(polylines)
    ends = np.cumsum(lengths) - 1
    owner = np.repeat(np.arange(tracks), lengths)
    dx, dy = np.diff(points[:, 0]), np.diff(points[:, 1])
    samples = np.maximum(1, np.ceil(np.sqrt(dx * dx + dy * dy) * 3).astype(np.intp))
    samples[ends[:-1]] = 0  # from one track's last point to the next track's first: nothing
    # (each segment's numbers repeated for its samples: np.repeat, quicker than a take)
    total = int(samples.sum())
    first_sample = np.cumsum(samples) - samples
    t = (np.arange(total) - np.repeat(first_sample, samples)) / np.repeat(samples, samples)
    hit_xy, hit_track = _joined_hits(hits, tracks)
    x = np.concatenate([np.repeat(points[:-1, 0], samples) + t * np.repeat(dx, samples), points[ends, 0], hit_xy[:, 0]])
    y = np.concatenate([np.repeat(points[:-1, 1], samples) + t * np.repeat(dy, samples), points[ends, 1], hit_xy[:, 1]])
    who = np.concatenate([np.repeat(owner[:-1], samples), owner[ends], hit_track])
    cols = np.floor(x).astype(np.int64)
    rows = np.floor(y).astype(np.int64)
    ok = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    keys = (who * size + cols * height + rows).compress(ok)
    if len(keys) > 1:  # samples along a polyline repeat their pixel: drop repeats before sorting
        fresh = np.empty(len(keys), dtype=bool)
        fresh[0] = True
        np.not_equal(keys[1:], keys[:-1], out=fresh[1:])
        keys = keys.compress(fresh)
    keys = _sorted_unique(keys)
    # runs down each column of each track
    breaks = np.flatnonzero((np.diff(keys) != 1) | (np.diff(keys // height) != 0)) + 1
    run_first = np.concatenate([[0], breaks]) if len(keys) else np.zeros(0, dtype=np.intp)
    run_last = np.concatenate([breaks, [len(keys)]]) - 1 if len(keys) else np.zeros(0, dtype=np.intp)
    owner, pixel = np.divmod(keys[run_first], size)
    col, top = np.divmod(pixel, height)
    bottom = (keys[run_last] - owner * size) % height + 1
    # dilation by each track's disk: a run moved dc columns over grows by the disk's reach there
    reach = radii.take(owner)
    widest = int(radii.max())
    moved_group, moved_start, moved_stop = [], [], []
    for dc in range(-widest, widest + 1):
        if dc == 0:
            grow = reach
            mine = np.ones(len(owner), dtype=bool)
        else:  # the disk's reach dc columns over, for each radius (a table: few radii, many runs)
            radius = np.arange(widest + 1)
            grow = np.floor(np.sqrt(np.maximum(radius * radius + radius - dc * dc, 0))).astype(np.int64).take(reach)
            mine = (np.abs(dc) <= reach) & (col + dc >= 0) & (col + dc < width)
        moved_group.append((owner * width + col + dc).compress(mine))
        moved_start.append(np.maximum(top - grow, 0).compress(mine))
        moved_stop.append(np.minimum(bottom + grow, height).compress(mine))
    group, start, stop = np.concatenate(moved_group), np.concatenate(moved_start), np.concatenate(moved_stop)
    # each dc's runs are in order already: a stable sort (a merge of those runs) is the quickest
    order = np.argsort(group * (height + 1) + start, kind="stable")
    group, start, stop = _merge_runs(group.take(order), start.take(order), stop.take(order))
    owner, col = np.divmod(group, width)
    # boxes from the runs; then the runs as column-major indices, joined across a column's end
    bounds = np.searchsorted(owner, np.arange(tracks + 1))
    full = np.flatnonzero(bounds[1:] > bounds[:-1])
    boxes: list[tuple[int, int, int, int] | None] = [None] * tracks
    if len(full):
        low = np.minimum.reduceat(start, bounds[full])
        high = np.maximum.reduceat(stop, bounds[full])
        corners = zip(col.take(bounds[full]).tolist(), low.tolist(), (col.take(bounds[full + 1] - 1) + 1).tolist(),
                      high.tolist(), strict=True)
        for k, box in zip(full.tolist(), corners, strict=True):
            boxes[k] = box
    owner, start, stop = _merge_runs(owner, col * height + start, col * height + stop)
    bounds = np.searchsorted(owner, np.arange(tracks + 1))
    at = bounds.tolist()
    masks = [(start[at[k]:at[k + 1]], stop[at[k]:at[k + 1]]) for k in range(tracks)]
    # COCO RLE counts: (zeros before, ones) per run, then the zeros after the last run
    gaps = start.copy()
    same = owner[1:] == owner[:-1]
    gaps[1:][same] = start[1:][same] - stop[:-1][same]
    flat = np.empty(2 * len(start), dtype=np.int64)
    flat[0::2] = gaps
    flat[1::2] = stop - start
    tails = np.full(tracks, size, dtype=np.int64)
    full = np.flatnonzero(bounds[1:] > bounds[:-1])
    tails[full] = size - stop[bounds[full + 1] - 1]
    # each track's counts: its runs' pairs, then its zeros after the last run (none where the mask
    # reaches the picture's end, but for an empty mask)
    last = tails != 0
    last[bounds[1:] == bounds[:-1]] = True
    counts = np.insert(flat, (2 * bounds[1:]).compress(last), tails.compress(last))
    count_bounds = np.zeros(tracks + 1, dtype=np.intp)
    np.cumsum(2 * np.diff(bounds) + last, out=count_bounds[1:])
    return masks, boxes, (counts, count_bounds)


def _joined_hits(hits: list[np.ndarray] | tuple[np.ndarray, np.ndarray], tracks: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_masks`'s ``hits`` as all tracks' together and the track of each (xy, track)."""
    if isinstance(hits, tuple):
        return hits
    hit_xy = np.concatenate(hits) if sum(len(h) for h in hits) else np.zeros((0, 2))
    return hit_xy, np.repeat(np.arange(tracks), [len(h) for h in hits])


def _compiled_masks(polylines, hits, radii, width, height):
    """:func:`_masks` by the compiled kernel (the same numbers)."""
    tracks = len(polylines)
    point_bounds = np.zeros(tracks + 1, dtype=np.int64)
    np.cumsum([len(q) for q in polylines], out=point_bounds[1:])
    points = np.ascontiguousarray(np.concatenate(polylines), dtype=np.float64)
    hit_xy, hit_track = _joined_hits(hits, tracks)
    if len(hit_track) > 1 and (np.diff(hit_track) < 0).any():
        order = np.argsort(hit_track, kind="stable")
        hit_xy, hit_track = hit_xy[order], hit_track[order]
    hit_bounds = np.searchsorted(hit_track, np.arange(tracks + 1)).astype(np.int64)
    start, stop, run_bounds, box_array, counts, count_bounds = compiled.track_masks(
        points, point_bounds, np.ascontiguousarray(hit_xy, dtype=np.float64), hit_bounds,
        np.ascontiguousarray(radii, dtype=np.int64), int(width), int(height))
    at = run_bounds.tolist()
    masks = [(start[at[k]:at[k + 1]], stop[at[k]:at[k + 1]]) for k in range(tracks)]
    boxes = [None if box[0] < 0 else tuple(box) for box in box_array.tolist()]
    return masks, boxes, (counts, count_bounds.astype(np.intp))


@lru_cache(maxsize=32)
def _kernel(sigma: float) -> np.ndarray:
    """scipy.ndimage's Gaussian kernel (truncated at 4σ), float32."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * x * x / (sigma * sigma))
    return (weights / weights.sum()).astype(np.float32)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of a float32 picture, separable, edges mirrored (as scipy's ``reflect``).

    Both passes work on one flat buffer whose rows are ``width + 2 radius`` long (the picture's
    columns, then room for the horizontal mirror), so every shifted copy of the picture is a
    contiguous stretch of it and each operation runs over one contiguous array; the columns past
    the picture's hold numbers never used. Returns a (height, width) view of that buffer.
    """
    weights = _kernel(sigma)
    radius = len(weights) // 2
    if min(image.shape) <= radius:
        from scipy import ndimage

        return ndimage.gaussian_filter(image, sigma)
    if compiled.enabled():
        return compiled.blur(np.ascontiguousarray(image, dtype=np.float32), weights)
    height, width = image.shape
    stride = width + 2 * radius
    # the horizontal pass: each row mirrored at both ends
    rows = np.empty((height, stride), dtype=np.float32)
    rows[:, radius:radius + width] = image
    rows[:, :radius] = image[:, radius - 1::-1]
    rows[:, radius + width:] = image[:, :width - radius - 1:-1]
    flat = rows.reshape(-1)
    length = height * stride - 2 * radius  # element i * stride + j is the result at (i, j), j < width
    # its result goes to rows radius … radius + height − 1 of the vertical pass's buffer
    columns = np.empty((height + 2 * radius, stride), dtype=np.float32)
    column_flat = columns.reshape(-1)
    column_flat[(radius + height) * stride - 2 * radius:(radius + height) * stride] = 0.0
    _correlate(flat, column_flat[radius * stride:radius * stride + length], weights, 1, length)
    columns[:radius] = columns[2 * radius - 1:radius - 1:-1]
    columns[radius + height:] = columns[radius + height - 1:height - 1:-1]
    out = np.empty((height, stride), dtype=np.float32)
    _correlate(column_flat, out.reshape(-1), weights, stride, height * stride)
    return out[:, :width]


def _correlate(source: np.ndarray, out: np.ndarray, weights: np.ndarray, step: int, length: int) -> None:
    """``out[m] = Σ_k weights[k] source[m + k step]`` for m < ``length`` (a symmetric kernel: the
    centre's product first, then each pair of mirrored taps added, times its weight, in turn)."""
    radius = len(weights) // 2
    np.multiply(source[radius * step:radius * step + length], weights[radius], out=out)
    pair = np.empty(length, dtype=np.float32)
    for k in range(radius):
        np.add(source[k * step:k * step + length], source[(2 * radius - k) * step:(2 * radius - k) * step + length],
               out=pair)
        pair *= weights[k]
        out += pair


#: the side of the tiles that :func:`_blur_tiles` blurs
TILE = 32


def _blur_tiles(image: np.ndarray, sigma: float, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """:func:`_blur` of a picture that is zero but at pixels (``rows``, ``cols``) (some of those
    may be zero too), number for number: only the tiles of :data:`TILE` pixels within reach of
    those pixels are blurred (each with the same operations in the same order, on the picture
    mirrored at its edges as :func:`_blur` mirrors it); elsewhere the blur of zeros is zero. The
    whole picture is blurred where the tiles would cover most of it."""
    weights = _kernel(sigma)
    radius = len(weights) // 2
    height, width = image.shape
    if min(height, width) <= radius or 2 * radius >= TILE or compiled.enabled():
        return _blur(image, sigma)  # (compiled, the whole picture is blurred faster than its tiles)
    tiles_down, tiles_across = -(-height // TILE), -(-width // TILE)
    # the tiles within the radius of a pixel (two at most each way; a pixel's mirror image beyond
    # an edge reaches no further into the picture than the pixel itself)
    near = np.zeros(tiles_down * tiles_across, dtype=bool)
    # (np.maximum/np.minimum: np.clip's checks cost more than these small arrays)
    rows, cols = np.minimum(np.maximum(rows, 0), height - 1), np.minimum(np.maximum(cols, 0), width - 1)
    downs = (np.maximum(rows - radius, 0) // TILE * tiles_across, np.minimum((rows + radius) // TILE, tiles_down - 1)
             * tiles_across)
    acrosses = (np.maximum(cols - radius, 0) // TILE, np.minimum((cols + radius) // TILE, tiles_across - 1))
    near[np.concatenate([down + across for down in downs for across in acrosses])] = True
    down, across = np.divmod(np.flatnonzero(near), tiles_across)
    side = TILE + 2 * radius
    if len(down) * side * side > 0.5 * height * width:
        return _blur(image, sigma)
    # the picture mirrored by the radius all round (rows mirrored after columns, as _blur's
    # vertical pass mirrors the horizontal pass's rows), then zeros up to whole tiles
    padded = np.zeros((tiles_down * TILE + 2 * radius, tiles_across * TILE + 2 * radius), dtype=np.float32)
    padded[radius:radius + height, radius:radius + width] = image
    padded[radius:radius + height, :radius] = image[:, radius - 1::-1]
    padded[radius:radius + height, radius + width:2 * radius + width] = image[:, :width - radius - 1:-1]
    padded[:radius] = padded[2 * radius - 1:radius - 1:-1]
    padded[radius + height:2 * radius + height] = padded[radius + height - 1:height - 1:-1]
    step_row, step_col = padded.strides
    windows = np.lib.stride_tricks.as_strided(padded, (tiles_down, tiles_across, side, side),
                                              (TILE * step_row, TILE * step_col, step_row, step_col), writeable=False)
    gathered = windows[down, across].reshape(-1)  # (tiles, side, side), each tile with its surround
    size = len(gathered)
    # the two passes on the tiles laid end to end: a tile's element (i, j) is the result for
    # i, j < TILE (what lies past that, or past a tile's end, is never used)
    across_pass = np.empty(size, dtype=np.float32)
    across_pass[size - 2 * radius:] = 0.0
    _correlate(gathered, across_pass[:size - 2 * radius], weights, 1, size - 2 * radius)
    down_pass = np.empty(size, dtype=np.float32)
    down_pass[size - 2 * radius * side:] = 0.0
    _correlate(across_pass, down_pass[:size - 2 * radius * side], weights, side, size - 2 * radius * side)
    out = np.zeros((tiles_down * TILE, tiles_across * TILE), dtype=np.float32)
    out.reshape(tiles_down, TILE, tiles_across, TILE).transpose(0, 2, 1, 3)[down, across] = \
        down_pass.reshape(-1, side, side)[:, :TILE, :TILE]
    return out[:height, :width]


def _splat(canvas: np.ndarray, points: np.ndarray, weights: np.ndarray) -> None:
    """Add each point's weight to its four neighbouring pixels (bilinear), in place."""
    canvas += _splatted(canvas.shape, points, weights).astype(canvas.dtype)


def _splatted(shape: tuple[int, int], points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The bilinear splat of the points (float64, ``shape``): what :func:`_splat` adds."""
    height, width = shape
    x = points[:, 0] - 0.5
    y = points[:, 1] - 0.5
    c0 = np.floor(x).astype(np.int64)
    r0 = np.floor(y).astype(np.int64)
    fx, fy = x - c0, y - r0
    cols = np.concatenate([c0, c0 + 1, c0, c0 + 1])
    rows = np.concatenate([r0, r0, r0 + 1, r0 + 1])
    share = np.concatenate([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    if not (weights == 1).all():
        share *= np.tile(weights, 4)
    ok = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    return np.bincount((rows * width + cols).compress(ok), share.compress(ok), minlength=height * width).reshape(
        height, width)


def _blurred_layer(canvas: np.ndarray, points: np.ndarray, sigma: float, gain: np.float32) -> None:
    """Add ``gain`` × the blurred bilinear splat of unit-weight ``points``, in place, blurring only
    the part of the picture around them (the same as blurring the whole picture)."""
    height, width = canvas.shape
    margin = len(_kernel(sigma)) // 2 + 2
    inside = (points[:, 0] > -1) & (points[:, 0] < width + 1) & (points[:, 1] > -1) & (points[:, 1] < height + 1)
    points = points.compress(inside, axis=0)
    if not len(points):
        return
    x0 = max(0, int(math.floor(points[:, 0].min())) - margin)
    x1 = min(width, int(math.ceil(points[:, 0].max())) + margin)
    y0 = max(0, int(math.floor(points[:, 1].min())) - margin)
    y1 = min(height, int(math.ceil(points[:, 1].max())) + margin)
    # the crop reaches the picture's edge wherever it stops short of the margin: a corner outside
    # the crop is outside the picture (the splat made as a new layer: 0 + v is v)
    points = points - np.array([x0, y0])
    weights = _kernel(sigma)
    if compiled.enabled() and min(y1 - y0, x1 - x0) > len(weights) // 2:
        compiled.splat_blur_add(canvas, np.ascontiguousarray(points), x0, y0, x1, y1, weights, np.float32(gain))
        return
    layer = _splatted((y1 - y0, x1 - x0), points, np.ones(len(points), dtype=np.float32)).astype(np.float32)
    # the splat's pixels: each point's four neighbours (as _splatted finds them)
    rows = np.floor(points[:, 1] - 0.5).astype(np.intp)
    cols = np.floor(points[:, 0] - 0.5).astype(np.intp)
    layer = _blur_tiles(layer, sigma, np.concatenate([rows, rows + 1]), np.concatenate([cols, cols + 1]))
    layer *= gain
    canvas[y0:y1, x0:x1] += layer


def _spot_values(height: int, width: int, points: np.ndarray, weights: np.ndarray,
                 sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The blurred splat of a few points (what blurring their bilinear splat by ``sigma`` gives),
    made around each point only: the pixels it touches (flat indices, ascending) and its values
    there, float32 (each pixel's shares summed in float64 in the points' order); zero elsewhere."""
    if not len(points):
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
    kernel = _kernel(sigma).astype(np.float64)
    if compiled.enabled():
        return compiled.spot_values(height, width, points, weights, kernel)
    radius = len(kernel) // 2
    x = points[:, 0] - 0.5
    y = points[:, 1] - 0.5
    c0 = np.floor(x).astype(np.int64)
    r0 = np.floor(y).astype(np.int64)
    fx, fy = (x - c0)[:, None], (y - r0)[:, None]
    # the bilinear pair (1 − f, f) at offsets (0, 1), convolved with the kernel: offsets −radius…radius + 1
    padded = np.concatenate([kernel, [0.0]])
    shifted = np.concatenate([[0.0], kernel])
    wx = (1 - fx) * padded + fx * shifted
    wy = (1 - fy) * padded + fy * shifted
    offsets = np.arange(-radius, radius + 2)
    cols = c0[:, None] + offsets
    rows = r0[:, None] + offsets
    share = wy[:, :, None] * wx[:, None, :] * weights[:, None, None]
    keys = rows[:, :, None] * width + cols[:, None, :]
    ok = (rows[:, :, None] >= 0) & (rows[:, :, None] < height) & (cols[:, None, :] >= 0) & (cols[:, None, :] < width)
    pixels, which = np.unique(keys[ok], return_inverse=True)
    return pixels, np.bincount(which, share[ok], minlength=len(pixels)).astype(np.float32)


def _lighting(cfg: ChamberConfig, rng: np.random.Generator) -> np.ndarray:
    """A smooth, uneven illumination: a tilted plane times a radial fall-off with a random centre."""
    across_a, down_b, across_c, down_d = _lighting_terms(cfg, rng)
    light = (across_a[None, :] + down_b[:, None]) * (across_c[None, :] - down_d[:, None])
    return np.clip(light, 0.2, 1.0, out=light).astype(np.float32, copy=False)


def _lighting_terms(cfg: ChamberConfig, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The light at column j, row i is (a[j] + b[i]) (c[j] − d[i]) (clipped to [0.2, 1]): a, b, c, d."""
    width, height = cfg.image_size
    xs = (np.arange(width, dtype=np.float32) / np.float32(width))
    ys = (np.arange(height, dtype=np.float32) / np.float32(height))
    angle = 2 * math.pi * rng.random()
    cx, cy = 0.3 + 0.4 * rng.random(), 0.3 + 0.4 * rng.random()
    strength = cfg.lighting * (0.5 + rng.random())
    # 0.82 (1 + 0.6 s tilt)(1 − s radial), tilt and radial each a sum of a column and a row term
    tilt = 0.82 * 0.6 * strength
    return (tilt * (xs - 0.5) * math.cos(angle), 0.82 + tilt * (ys - 0.5) * math.sin(angle),
            1.0 - strength * (xs - cx) ** 2, strength * (ys - cy) ** 2)


def _fiducials(width: int, height: int) -> np.ndarray:
    """Crosses engraved on the chamber windows, on a fixed 3 × 3 grid (pixels (N, 2) to mark)."""
    arm = max(2, round(min(width, height) / 80))
    marks = []
    for fx in (0.12, 0.5, 0.88):
        for fy in (0.12, 0.5, 0.88):
            cx, cy = round(fx * width), round(fy * height)
            for d in range(-arm, arm + 1):
                marks += [(cx + d, cy), (cx, cy + d)]
    return np.array(marks, dtype=float) + 0.5


@lru_cache(maxsize=8)
def _fiducial_opacity(width: int, height: int, blur_px: float) -> np.ndarray:
    marks = np.zeros((height, width), dtype=np.float32)
    points = _fiducials(width, height)
    _splat(marks, points, np.full(len(points), 2.5, dtype=np.float32))
    out = _blur(marks, max(blur_px, 0.4))
    out.flags.writeable = False
    return out


@lru_cache(maxsize=1)
def _normal_quantiles() -> np.ndarray:
    """65 536 equally likely standard-normal values (the quantiles at (k + ½)/65 536)."""
    from statistics import NormalDist

    inverse = NormalDist().inv_cdf
    half = [inverse((k + 0.5) / 65536) for k in range(32768)]
    return np.array([*half, *(-v for v in reversed(half))], dtype=np.float32)


def _film_grain(rng: np.random.Generator, height: int, width: int, strength: float) -> np.ndarray:
    """Normal grain (H, W) float32 of standard deviation ``strength``, from 16 random bits per pixel
    through the normal quantiles."""
    bits = np.frombuffer(rng.bytes(2 * height * width), dtype="<u2")
    if compiled.enabled():
        return compiled.grain_values(bits, _normal_quantiles(), np.float32(strength), height, width)
    grain = _normal_quantiles().take(bits.astype(np.intp)).reshape(height, width)  # intp: a faster take
    grain *= np.float32(strength)
    return grain


#: bubbles of three sizes: minimum ionising, grey, black (merged bubbles of slow heavy tracks)
BUBBLE_CLASSES = ((0.0, 2.0, 1.0), (2.0, 4.5, 1.5), (4.5, math.inf, 2.1))


def render(event: Event, cfg: ChamberConfig, rng: np.random.Generator) -> Picture:
    """Draw an event: bubbles → opacity → lit, blurred, grainy picture (uint8), and the truth."""
    width, height = cfg.image_size
    particles = event.particles
    if event.points is not None:
        points, betas, offsets = event.points, event.betas, np.asarray(event.offsets)
    else:
        points = np.concatenate([p.path for p in particles]) if particles else np.zeros((0, 3))
        betas = np.concatenate([p.betas for p in particles]) if particles else np.zeros(0)
        offsets = np.concatenate([[0], np.cumsum([len(p.path) for p in particles])]).astype(np.intp)
    n = len(particles)
    # bubbles of every particle at once, each a little off the path (bubbles grow)
    centres, factor, which = _bubbles(points, betas, offsets, cfg, rng)
    hits = to_pixels(centres, cfg) if len(centres) else np.zeros((0, 2))
    if len(hits):
        hits = hits + rng.normal(0.0, 0.15, size=hits.shape)
    particle_of_point = np.repeat(np.arange(n), np.diff(offsets))
    hit_owner = particle_of_point[which] if len(which) else np.zeros(0, dtype=np.intp)
    hit_offsets = np.searchsorted(hit_owner, np.arange(n + 1))
    # polylines: each path kept where its length passes a whole pixel (first and last points kept)
    path_px = to_pixels(points, cfg) if len(points) else np.zeros((0, 2))
    delta = np.diff(path_px, axis=0)
    steps = np.sqrt(np.einsum("ij,ij->i", delta, delta)) if len(points) > 1 else np.zeros(0)
    if len(steps):
        steps[offsets[1:-1] - 1] = 0.0
    travelled = np.concatenate([[0.0], np.cumsum(steps)])
    along = travelled - np.repeat(travelled[offsets[:-1]], np.diff(offsets))
    keep = np.ones(len(points), dtype=bool)
    if len(points) > 1:
        whole = np.floor(along)
        keep[1:] = whole[1:] > whole[:-1]
    keep[offsets[:-1]] = True
    keep[offsets[1:] - 1] = True
    kept = np.flatnonzero(keep)
    kept_offsets = np.searchsorted(kept, offsets)
    polyline_points = path_px[kept]
    lengths = along[offsets[1:] - 1] if n else np.zeros(0)
    inside = (hits[:, 0] >= 0) & (hits[:, 0] < width) & (hits[:, 1] >= 0) & (hits[:, 1] < height)
    inside_counts = np.bincount(hit_owner.compress(inside), minlength=n)
    annotated = (lengths >= cfg.min_track_px) & (inside_counts >= cfg.min_hits)
    medians = _group_medians(factor, hit_offsets)
    kept_at, hit_at = kept_offsets.tolist(), hit_offsets.tolist()  # (Python numbers: quicker to use one by one)
    tracks = [TrackTruth(particle, polyline_points[kept_at[k]:kept_at[k + 1]], hits[hit_at[k]:hit_at[k + 1]],
                         factor[hit_at[k]:hit_at[k + 1]], length, image_size=(width, height), annotated=chosen,
                         ionisation_median=median)
              for k, (particle, length, chosen, median) in enumerate(zip(particles, lengths.tolist(), annotated.tolist(),
                                                                         medians.tolist(), strict=True))]
    chosen = np.flatnonzero(annotated)
    heavy = np.nan_to_num(medians[chosen], nan=1.0) >= 4.0
    # the chosen tracks' hits inside the picture, all together, with their track's place among them
    place = np.full(n, -1, dtype=np.intp)
    place[chosen] = np.arange(len(chosen))
    hit_place = place.take(hit_owner)
    mine = inside & (hit_place >= 0)
    masks, boxes, rles = _masks([tracks[k].polyline for k in chosen], (hits.compress(mine, axis=0), hit_place.compress(mine)),
                                cfg.mask_radius_px + heavy.astype(np.int64), width, height)
    counts, count_bounds = rles
    for j, (k, runs, box) in enumerate(zip(chosen.tolist(), masks, boxes, strict=True)):
        track = tracks[k]
        track.mask_runs = runs
        track.annotated = bool(len(runs[0]))
        track._box, track._rle = box, counts[count_bounds[j]:count_bounds[j + 1]]
    # the picture: opacity of the bubbles, blurred by their size and the optics
    opacity = np.zeros((height, width), dtype=np.float32)
    optics = cfg.blur_px
    for low, high, size in BUBBLE_CLASSES:
        chosen = (factor >= low) & (factor < high)
        count = int(chosen.sum())
        if not count:
            continue
        sigma = math.hypot(cfg.bubble_radius_px * size, optics)
        # a bubble's image has peak opacity ≈ 1.6 × its size whatever its width: the area grows as σ²
        gain = np.float32((2 * math.pi * sigma * sigma) * 0.55 * size)
        _blurred_layer(opacity, hits.compress(chosen, axis=0), sigma, gain)
    if cfg.fiducials:
        opacity += _fiducial_opacity(width, height, float(optics))
    np.negative(opacity, out=opacity)
    np.exp(opacity, out=opacity)
    if compiled.enabled():
        picture = compiled.lit(opacity, *_lighting_terms(cfg, rng), np.float32(0.2), np.float32(1.0))
    else:
        picture = _lighting(cfg, rng)
        picture *= opacity
    if cfg.dust:
        count = int(rng.poisson(cfg.dust))
        where = rng.random((count, 2)) * np.array([width, height])
        strength = rng.uniform(-1.5, 2.0, count)
        # only where the dust is: elsewhere the picture is multiplied by exp(−0) = 1
        pixels, values = _spot_values(height, width, where, strength, 0.8 + rng.random())
        np.negative(values, out=values)
        flat = picture.reshape(-1)
        flat[pixels] = flat.take(pixels) * np.exp(values, out=values)
    if compiled.enabled():
        if cfg.film_noise:
            grain = _film_grain(rng, height, width, cfg.film_noise)
            blurred = _blur(grain, 0.7)
        else:
            grain = blurred = np.zeros((0, 0), dtype=np.float32)
        image = compiled.develop(picture, blurred, grain, np.float32(1.8), np.float32(0.35), np.float32(255.0))
        return Picture(image, tracks, event, cfg)
    if cfg.film_noise:
        grain = _film_grain(rng, height, width, cfg.film_noise)
        blurred = _blur(grain, 0.7)
        blurred *= np.float32(1.8)
        picture += blurred
        grain *= np.float32(0.35)
        picture += grain
    picture *= np.float32(255.0)
    np.clip(picture, 0, 255, out=picture)
    image = np.rint(picture, out=picture).astype(np.uint8)
    return Picture(image, tracks, event, cfg)


def simulate_pictures(cfg: ChamberConfig, seed: int, indices: list[int]) -> list[Picture]:
    """The pictures ``indices`` of a data set made with ``seed``, their particles transported together;
    each the same as :func:`simulate_picture` makes it alone, on every machine and worker."""
    from .simulator import generate_events

    rngs = [np.random.default_rng(np.random.SeedSequence([int(seed), int(index)])) for index in indices]
    events = generate_events(cfg, rngs)
    return [render(event, cfg, rng) for event, rng in zip(events, rngs, strict=True)]


def simulate_picture(cfg: ChamberConfig, seed: int, index: int = 0) -> Picture:
    """The picture ``index`` of a data set made with ``seed``: the same on every machine and worker."""
    return simulate_pictures(cfg, seed, [index])[0]


def truth_attributes(track: TrackTruth, cfg: ChamberConfig) -> dict[str, Any]:
    """The physics truth of a track, as stored in a COCO annotation's ``attributes``."""
    particle = track.particle
    vx, vy, vz = (float(v) for v in particle.vertex)
    px, py, pz = (float(v) for v in particle.momentum)
    p_t = math.hypot(px, py)
    scale = 1.0 / cfg.pixel_size_m
    beta0 = float(particle.betas[0]) if len(particle.betas) else math.nan
    return {
        "particle": particle.index,
        "species": particle.species.name,
        "pdg": particle.species.pdg,
        "charge": particle.species.charge,
        "mass_gev": particle.species.mass,
        "p_gev": round(math.sqrt(px * px + py * py + pz * pz), 6),
        "pt_gev": round(p_t, 6),
        "dip_rad": round(math.atan2(pz, p_t), 6),
        "phi_rad": round(math.atan2(py, px), 6),
        "vertex_px": [round(vx * scale, 2), round((cfg.height_m - vy) * scale, 2)],
        "vertex_z_m": round(vz, 5),
        "origin": particle.origin,
        "parent": particle.parent,
        "end": particle.end,
        "beta": round(beta0, 6),
        "ionisation": round(float(min(1.0 / max(beta0, 1e-3) ** 2, cfg.ionisation_cap)), 4),
        # along the whole track: a proton that stops is light where it starts and black where it ends
        "ionisation_median": round(track.ionisation_median, 4) if len(track.hit_ionisation) else None,
        "radius_m": round(p_t / (0.299792458 * cfg.field_tesla), 6),
        "length_px": round(track.length_px, 2),
        "num_hits": len(track.hits),
        "decay_length_m": None if math.isnan(particle.decay_length_m) else round(particle.decay_length_m, 6),
    }
