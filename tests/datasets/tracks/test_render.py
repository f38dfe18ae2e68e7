"""The vectorised simulator against the plain ways of doing the same: masks against a dilation per
track, RLE against pycocotools, the blur against scipy, the PNG against PIL, the transport tables
against the physics formulas, and a picture made in a batch against the same picture made alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sciarch_datasets.tracks import CHARGED, PARTICLES, ChamberConfig
from sciarch_datasets.tracks.optics import _blur, _disk, _masks, simulate_picture, simulate_pictures

SMALL = ChamberConfig(image_size=(120, 90), tracks=(8, 8), beam_tracks=(0, 1))


def reference_mask(polyline: np.ndarray, hits: np.ndarray, radius: int, width: int, height: int) -> np.ndarray:
    """The mask as the simulator made it before: raster every ⅓ pixel + bubble pixels, binary dilation."""
    from scipy import ndimage

    if len(polyline) > 1:
        steps = np.linalg.norm(np.diff(polyline, axis=0), axis=1)
        n = np.maximum(1, np.ceil(steps * 3).astype(int))
        t = np.concatenate([np.arange(k) / k for k in n])
        dense = np.concatenate([np.repeat(polyline[:-1], n, axis=0) + t[:, None] * np.repeat(np.diff(polyline, axis=0),
                                                                                             n, axis=0), polyline[-1:]])
    else:
        dense = polyline
    points = np.concatenate([dense, hits])
    cols, rows = np.floor(points[:, 0]).astype(int), np.floor(points[:, 1]).astype(int)
    ok = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    mask = np.zeros((height, width), dtype=bool)
    mask[rows[ok], cols[ok]] = True
    return ndimage.binary_dilation(mask, structure=_disk(radius)) if radius else mask


@pytest.mark.parametrize("seed", [0, 1])
def test_masks_are_the_dilated_raster_of_each_track(seed: int) -> None:
    rng = np.random.default_rng(seed)
    width, height = 70, 50
    polylines, hits, radii = [], [], []
    for k in range(12):  # arcs, some leaving the picture, some a single point
        n = 1 if k == 3 else int(rng.integers(2, 40))
        start = rng.uniform(-5, 75, 2)
        steps = rng.normal(0, 1.2, (n, 2)).cumsum(axis=0)
        polylines.append(start + steps)
        hits.append(start + steps[rng.integers(0, n, 20)] + rng.normal(0, 0.3, (20, 2)))
        radii.append(int(rng.integers(0, 3)))
    masks, boxes, (counts, bounds) = _masks(polylines, hits, np.array(radii), width, height)
    from pycocotools import mask as mask_utils

    for k in range(len(polylines)):
        expected = reference_mask(polylines[k], hits[k], radii[k], width, height)
        starts, stops = masks[k]
        got = np.zeros(width * height, dtype=bool)
        for a, b in zip(starts, stops, strict=True):
            got[a:b] = True
        assert np.array_equal(got.reshape(width, height).T, expected), k
        if expected.any():
            rows, cols = np.nonzero(expected)
            assert boxes[k] == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        reference = mask_utils.encode(np.asfortranarray(expected.astype(np.uint8)))
        ours = mask_utils.frPyObjects({"size": [height, width], "counts": counts[bounds[k]:bounds[k + 1]].tolist()}, height, width)
        assert ours["counts"] == reference["counts"], k


def test_annotated_tracks_rle_matches_pycocotools() -> None:
    from pycocotools import mask as mask_utils

    picture = simulate_picture(SMALL, 4, 1)
    width, height = SMALL.image_size
    annotated = [t for t in picture.tracks if t.annotated]
    assert annotated
    for track in annotated:
        full = track.full_mask(height, width)
        assert mask_utils.encode(full)["counts"] == \
            mask_utils.frPyObjects({"size": [height, width], "counts": track.rle_counts()}, height, width)["counts"]
        assert track.mask_area == int(full.sum())
        rows, cols = np.nonzero(full)
        assert track.mask_box == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)


@pytest.mark.parametrize("sigma", [0.7, 0.78, 1.36])
def test_the_blur_is_scipys_gaussian_filter(sigma: float) -> None:
    from scipy import ndimage

    image = np.random.default_rng(3).random((41, 57)).astype(np.float32)
    assert np.abs(_blur(image, sigma) - ndimage.gaussian_filter(image, sigma)).max() < 1e-6


@pytest.mark.parametrize("sigma", [0.78, 1.03, 1.36])
def test_the_blur_of_sparse_tiles_is_the_whole_blur(sigma: float, monkeypatch) -> None:
    """Blurring only the tiles near a sparse picture's pixels gives the whole blur, bit for bit
    (its edges and corners mirrored too); where the pixels are too many the whole is blurred.
    (The array code's tiles: with the compiled blur the whole picture is always blurred.)"""
    from sciarch_datasets.tracks import compiled, optics

    monkeypatch.setattr(compiled, "ARRAY_CODE_ONLY", True)

    rng = np.random.default_rng(5)
    wholes = []
    for height, width, n, whole in [(300, 200, 3, False), (70, 45, 0, True), (512, 512, 20, False),
                                    (64, 64, 400, True)]:
        image = np.zeros((height, width), dtype=np.float32)
        rows = np.concatenate([rng.integers(0, height, n), [0, height - 1, 33]])  # corners, a tile's edge
        cols = np.concatenate([rng.integers(0, width, n), [width - 1, 0, 31]])
        image[rows, cols] = rng.random(len(rows)).astype(np.float32)
        want = np.ascontiguousarray(_blur(image, sigma))
        with monkeypatch.context() as patch:
            patch.setattr(optics, "_blur", lambda *args: wholes.append(1) or _blur(*args))
            got = np.ascontiguousarray(optics._blur_tiles(image, sigma, rows, cols))
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
        assert len(wholes) == whole  # the tiles were blurred, or (too many) the whole picture
        wholes.clear()


def test_dust_spots_are_the_blurred_splat_where_they_are() -> None:
    from sciarch_datasets.tracks.optics import _splat, _spot_values
    from scipy import ndimage

    rng = np.random.default_rng(8)
    points, weights = rng.random((25, 2)) * [80, 60], rng.uniform(-1.5, 2.0, 25)
    pixels, values = _spot_values(60, 80, points, weights, 1.1)
    dense = np.zeros(60 * 80, dtype=np.float32)
    dense[pixels] = values
    splat = np.zeros((60, 80), dtype=np.float64)
    _splat(splat, points, weights)
    assert np.abs(dense.reshape(60, 80) - ndimage.gaussian_filter(splat, 1.1, mode="constant")).max() < 1e-5
    assert np.all(np.diff(pixels) > 0)


@pytest.mark.parametrize("encoder", ["isal", "zlib"])
def test_png_reads_back_exactly(tmp_path, monkeypatch, encoder: str) -> None:
    import sys

    from PIL import Image
    from sciarch_datasets.tracks.coco import write_png

    if encoder == "zlib":  # as without the isal package
        monkeypatch.setitem(sys.modules, "isal", None)
    else:
        pytest.importorskip("isal")
    image = simulate_picture(SMALL, 2, 0).image
    write_png(tmp_path / "a.png", image)
    with Image.open(tmp_path / "a.png") as handle:
        assert handle.mode == "L"
        assert np.array_equal(np.array(handle), image)


def test_a_picture_made_with_others_is_the_one_made_alone() -> None:
    together = simulate_pictures(SMALL, 6, [3, 4, 5])
    alone = simulate_picture(SMALL, 6, 4)
    assert np.array_equal(together[1].image, alone.image)
    assert [len(t.hits) for t in together[1].tracks] == [len(t.hits) for t in alone.tracks]
    for a, b in zip(together[1].event.particles, alone.event.particles, strict=True):
        assert np.array_equal(a.path, b.path) and a.end == b.end
    assert not np.array_equal(together[0].image, alone.image)


@pytest.mark.parametrize("name", CHARGED)
def test_transport_tables_follow_the_formulas(name: str) -> None:
    from sciarch_datasets.tracks.physics import (
        bremsstrahlung_loss,
        delta_ray_rate,
        highland_angle,
        ionisation_loss,
    )
    from sciarch_datasets.tracks.stepping import SPECIES_INDEX, _tables, lookup

    cfg = ChamberConfig()
    table = _tables(cfg.field_tesla, cfg.medium, cfg.delta_ray_min_mev, True, True, True)
    species = PARTICLES[name]
    p = np.exp(np.random.default_rng(0).uniform(math.log(2e-3), math.log(20.0), 400))
    dedx, rate, highland = lookup(table, np.full(len(p), SPECIES_INDEX[name] * 4096), p)
    loss = np.array([ionisation_loss(q, species.mass, species.charge) + (
        bremsstrahlung_loss(math.hypot(q, species.mass)) if name in ("e-", "e+") else 0.0) for q in p])
    rates = np.array([delta_ray_rate(q, species.mass, 3e-3, species.charge) for q in p])
    # Highland's θ₀ over 10 cm is what the per-step coefficient gives for that length
    angles = np.array([highland_angle(q, species.mass, 0.1, species.charge) for q in p])
    for got, want in ((dedx, loss), (rate, rates), (highland * math.sqrt(0.1), angles)):
        error = np.abs(got - want) / np.maximum(np.abs(want), 1e-3 * np.abs(want).max())
        # linear interpolation in ln p: 1e-5 but within a cell of a kink (the βγ = 0.05 floor, T_max = T_cut)
        assert np.quantile(error, 0.98) < 1e-5 and error.max() < 1e-3
