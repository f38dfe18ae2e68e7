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
from dataclasses import dataclass
from typing import Any

import numpy as np

from .simulator import ChamberConfig, Event, Particle


@dataclass
class TrackTruth:
    """One particle as the picture shows it."""

    particle: Particle
    polyline: np.ndarray  # (N, 2) pixels
    hits: np.ndarray  # (H, 2) pixels: bubble centres
    hit_ionisation: np.ndarray  # (H,) bubble density factor at each bubble (1 at minimum ionisation)
    length_px: float
    mask_box: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 (exclusive) of the mask crop
    mask_crop: np.ndarray | None = None  # bool (y1 - y0, x1 - x0)
    annotated: bool = False

    def box(self) -> tuple[float, float, float, float]:
        """COCO box (x, y, width, height) of the instance mask."""
        assert self.mask_crop is not None and self.mask_box is not None
        rows = np.flatnonzero(self.mask_crop.any(axis=1))
        cols = np.flatnonzero(self.mask_crop.any(axis=0))
        x0, y0 = self.mask_box[0] + cols[0], self.mask_box[1] + rows[0]
        x1, y1 = self.mask_box[0] + cols[-1] + 1, self.mask_box[1] + rows[-1] + 1
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)

    def full_mask(self, height: int, width: int) -> np.ndarray:
        # column-major, as pycocotools' RLE encoder wants it: no copy before encoding
        mask = np.zeros((height, width), dtype=np.uint8, order="F")
        if self.mask_crop is not None and self.mask_box is not None:
            x0, y0, x1, y1 = self.mask_box
            mask[y0:y1, x0:x1] = self.mask_crop
        return mask


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


def bubbles_along(particle: Particle, cfg: ChamberConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bubble centres (metres, (H, 3)) and their density factors along a particle's path."""
    path = particle.path
    if len(path) < 2:
        return np.zeros((0, 3)), np.zeros(0)
    segments = np.diff(path, axis=0)
    lengths = np.linalg.norm(segments, axis=1)
    factor = ionisation_factor(0.5 * (particle.betas[:-1] + particle.betas[1:]), cfg.ionisation_cap)
    expected = cfg.bubbles_per_cm * 100.0 * lengths * factor
    counts = rng.poisson(expected)
    which = np.repeat(np.arange(len(segments)), counts)
    where = rng.random(len(which))
    centres = path[which] + where[:, None] * segments[which]
    return centres, factor[which]


def _polyline(points_px: np.ndarray, spacing: float = 1.0) -> np.ndarray:
    """The path kept at about ``spacing`` pixels between points (first and last kept)."""
    if len(points_px) <= 2:
        return points_px
    steps = np.linalg.norm(np.diff(points_px, axis=0), axis=1)
    travelled = np.concatenate([[0.0], np.cumsum(steps)])
    keep = np.unique(np.searchsorted(travelled, np.arange(0.0, travelled[-1], spacing)))
    keep = np.union1d(keep, [len(points_px) - 1])
    return points_px[keep]


def _rasterise(points_px: np.ndarray, width: int, height: int) -> np.ndarray:
    """Integer pixel (column, row) pairs the polyline passes through, sampled every ⅓ pixel."""
    if len(points_px) == 1:
        dense = points_px
    else:
        steps = np.linalg.norm(np.diff(points_px, axis=0), axis=1)
        n = np.maximum(1, np.ceil(steps * 3).astype(int))
        t = np.concatenate([np.arange(k) / k for k in n])
        start = np.repeat(points_px[:-1], n, axis=0)
        delta = np.repeat(np.diff(points_px, axis=0), n, axis=0)
        dense = np.concatenate([start + t[:, None] * delta, points_px[-1:]])
    cols = np.floor(dense[:, 0]).astype(int)
    rows = np.floor(dense[:, 1]).astype(int)
    ok = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    return np.stack([cols[ok], rows[ok]], axis=1)


def _disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius + radius


def _instance_mask(track: TrackTruth, cfg: ChamberConfig) -> None:
    """Fill ``mask_box``/``mask_crop``: the path and bubbles, dilated by the bubble size."""
    from scipy import ndimage

    width, height = cfg.image_size
    pixels = _rasterise(track.polyline, width, height)
    if len(track.hits):
        inside = (track.hits[:, 0] >= 0) & (track.hits[:, 0] < width) & (track.hits[:, 1] >= 0) & \
            (track.hits[:, 1] < height)
        bubble_px = np.floor(track.hits[inside]).astype(int)
        pixels = np.concatenate([pixels, bubble_px]) if len(pixels) else bubble_px
    if not len(pixels):
        return
    heavy = float(np.median(track.hit_ionisation)) if len(track.hit_ionisation) else 1.0
    radius = cfg.mask_radius_px + (1 if heavy >= 4.0 else 0)
    x0, y0 = pixels.min(axis=0) - radius
    x1, y1 = pixels.max(axis=0) + radius + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    crop = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    crop[pixels[:, 1] - y0, pixels[:, 0] - x0] = True
    if radius > 0:
        crop = ndimage.binary_dilation(crop, structure=_disk(radius))
    track.mask_box = (int(x0), int(y0), int(x1), int(y1))
    track.mask_crop = crop


def _splat(canvas: np.ndarray, points: np.ndarray, weights: np.ndarray) -> None:
    """Add each point's weight to its four neighbouring pixels (bilinear), in place."""
    height, width = canvas.shape
    x = points[:, 0] - 0.5
    y = points[:, 1] - 0.5
    c0 = np.floor(x).astype(int)
    r0 = np.floor(y).astype(int)
    fx, fy = x - c0, y - r0
    for dc, dr, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        c, r = c0 + dc, r0 + dr
        ok = (c >= 0) & (c < width) & (r >= 0) & (r < height)
        np.add.at(canvas, (r[ok], c[ok]), (weights * w)[ok])


def _lighting(cfg: ChamberConfig, rng: np.random.Generator) -> np.ndarray:
    """A smooth, uneven illumination: a tilted plane times a radial fall-off with a random centre."""
    width, height = cfg.image_size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xx /= width
    yy /= height
    angle = 2 * math.pi * rng.random()
    tilt = (xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle)
    cx, cy = 0.3 + 0.4 * rng.random(), 0.3 + 0.4 * rng.random()
    radial = (xx - cx) ** 2 + (yy - cy) ** 2
    strength = cfg.lighting * (0.5 + rng.random())
    light = 0.82 * (1.0 + strength * 0.6 * tilt) * (1.0 - strength * radial)
    return np.clip(light, 0.2, 1.0).astype(np.float32)


def _fiducials(cfg: ChamberConfig) -> np.ndarray:
    """Crosses engraved on the chamber windows, on a fixed 3 × 3 grid (pixels (N, 2) to mark)."""
    width, height = cfg.image_size
    arm = max(2, round(min(width, height) / 80))
    marks = []
    for fx in (0.12, 0.5, 0.88):
        for fy in (0.12, 0.5, 0.88):
            cx, cy = round(fx * width), round(fy * height)
            for d in range(-arm, arm + 1):
                marks += [(cx + d, cy), (cx, cy + d)]
    return np.array(marks, dtype=float) + 0.5


def render(event: Event, cfg: ChamberConfig, rng: np.random.Generator) -> Picture:
    """Draw an event: bubbles → opacity → lit, blurred, grainy picture (uint8), and the truth."""
    from scipy import ndimage

    width, height = cfg.image_size
    tracks: list[TrackTruth] = []
    # bubbles of three sizes: minimum ionising, grey, black (merged bubbles of slow heavy tracks)
    classes = ((0.0, 2.0, 1.0), (2.0, 4.5, 1.5), (4.5, math.inf, 2.1))
    opacity_layers = [np.zeros((height, width), dtype=np.float32) for _ in classes]
    for particle in event.particles:
        centres, factor = bubbles_along(particle, cfg, rng)
        hits = to_pixels(centres, cfg) if len(centres) else np.zeros((0, 2))
        if len(hits):
            hits = hits + rng.normal(0.0, 0.15, size=hits.shape)  # bubbles grow a little off the path
        path_px = to_pixels(particle.path, cfg) if len(particle.path) else np.zeros((0, 2))
        polyline = _polyline(path_px)
        length = float(np.linalg.norm(np.diff(path_px, axis=0), axis=1).sum()) if len(path_px) > 1 else 0.0
        track = TrackTruth(particle, polyline, hits, factor, length)
        inside = (hits[:, 0] >= 0) & (hits[:, 0] < width) & (hits[:, 1] >= 0) & (hits[:, 1] < height) \
            if len(hits) else np.zeros(0, dtype=bool)
        track.annotated = bool(length >= cfg.min_track_px and inside.sum() >= cfg.min_hits)
        if track.annotated:
            _instance_mask(track, cfg)
            track.annotated = track.mask_crop is not None and bool(track.mask_crop.any())
        tracks.append(track)
        for layer, (low, high, _) in zip(opacity_layers, classes, strict=True):
            chosen = (factor >= low) & (factor < high)
            if chosen.any():
                _splat(layer, hits[chosen], np.ones(int(chosen.sum()), dtype=np.float32))
    opacity = np.zeros((height, width), dtype=np.float32)
    optics = cfg.blur_px
    for layer, (_, _, size) in zip(opacity_layers, classes, strict=True):
        sigma = math.hypot(cfg.bubble_radius_px * size, optics)
        # a bubble's image has peak opacity ≈ 1.6 × its size whatever its width: the area grows as σ²
        opacity += ndimage.gaussian_filter(layer, sigma) * (2 * math.pi * sigma * sigma) * 0.55 * size
    if cfg.fiducials:
        marks = np.zeros((height, width), dtype=np.float32)
        _splat(marks, _fiducials(cfg), np.full(len(_fiducials(cfg)), 2.5, dtype=np.float32))
        opacity += ndimage.gaussian_filter(marks, max(optics, 0.4))
    picture = _lighting(cfg, rng) * np.exp(-opacity)
    if cfg.dust:
        specks = np.zeros((height, width), dtype=np.float32)
        n = int(rng.poisson(cfg.dust))
        where = rng.random((n, 2)) * np.array([width, height])
        _splat(specks, where, rng.uniform(-1.5, 2.0, n).astype(np.float32))
        picture *= np.exp(-ndimage.gaussian_filter(specks, 0.8 + rng.random()))
    if cfg.film_noise:
        grain = rng.normal(0.0, cfg.film_noise, size=(height, width)).astype(np.float32)
        picture += ndimage.gaussian_filter(grain, 0.7) * 1.8 + 0.35 * grain
    image = np.clip(picture * 255.0, 0, 255).round().astype(np.uint8)
    return Picture(image, tracks, event, cfg)


def simulate_picture(cfg: ChamberConfig, seed: int, index: int = 0) -> Picture:
    """The picture ``index`` of a data set made with ``seed``: the same on every machine and worker."""
    from .simulator import generate_event

    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
    event = generate_event(cfg, rng)
    return render(event, cfg, rng)


def truth_attributes(track: TrackTruth, cfg: ChamberConfig) -> dict[str, Any]:
    """The physics truth of a track, as stored in a COCO annotation's ``attributes``."""
    particle = track.particle
    vertex_px = to_pixels(particle.vertex[None, :2].astype(float), cfg)[0]
    beta0 = float(particle.betas[0]) if len(particle.betas) else math.nan
    return {
        "particle": particle.index,
        "species": particle.species.name,
        "pdg": particle.species.pdg,
        "charge": particle.species.charge,
        "mass_gev": particle.species.mass,
        "p_gev": round(particle.p, 6),
        "pt_gev": round(particle.p_t, 6),
        "dip_rad": round(particle.dip, 6),
        "phi_rad": round(float(math.atan2(particle.momentum[1], particle.momentum[0])), 6),
        "vertex_px": [round(float(v), 2) for v in vertex_px],
        "vertex_z_m": round(float(particle.vertex[2]), 5),
        "origin": particle.origin,
        "parent": particle.parent,
        "end": particle.end,
        "beta": round(beta0, 6),
        "ionisation": round(float(min(1.0 / max(beta0, 1e-3) ** 2, cfg.ionisation_cap)), 4),
        # along the whole track: a proton that stops is light where it starts and black where it ends
        "ionisation_median": round(float(np.median(track.hit_ionisation)), 4) if len(track.hit_ionisation) else None,
        "radius_m": round(particle.p_t / (0.299792458 * cfg.field_tesla), 6),
        "length_px": round(track.length_px, 2),
        "num_hits": len(track.hits),
        "decay_length_m": None if math.isnan(particle.decay_length_m) else round(particle.decay_length_m, 6),
    }
