"""The compiled kernels give the simulator's array code's numbers exactly: the same transport, the
same pixels, the same masks, boxes and RLE counts, picture for picture."""

from __future__ import annotations

import numpy as np
import pytest
from sciarch_datasets.tracks import ChamberConfig, compiled
from sciarch_datasets.tracks.optics import _blur, _kernel, simulate_pictures

pytestmark = pytest.mark.skipif(not compiled.AVAILABLE, reason="numba absent or switched off (SCIARCH_NUMBA=0)")

CONFIGS = {
    "nominal": ChamberConfig(image_size=(256, 256), tracks=(20, 20)),
    # a strong field (loopers, wide turns by sin and cos), a wider mask disk, a non-square picture
    "3 T, radius 2, 200 x 150": ChamberConfig(image_size=(200, 150), tracks=(15, 15), field_tesla=3.0, mask_radius_px=2),
}


def _pictures(cfg: ChamberConfig, array_code: bool, indices: list[int]):
    previous = compiled.ARRAY_CODE_ONLY
    compiled.ARRAY_CODE_ONLY = array_code
    try:
        return simulate_pictures(cfg, 11, indices)
    finally:
        compiled.ARRAY_CODE_ONLY = previous


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_kernels_make_the_array_codes_pictures(name: str) -> None:
    cfg = CONFIGS[name]
    indices = [0, 1, 2, 3]
    assert compiled.enabled()
    mine, theirs = _pictures(cfg, False, indices), _pictures(cfg, True, indices)
    masks = 0
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(a.event.points, b.event.points)
        np.testing.assert_array_equal(a.event.betas, b.event.betas)
        assert [p.end for p in a.event.particles] == [p.end for p in b.event.particles]
        np.testing.assert_array_equal(a.image, b.image)
        assert len(a.tracks) == len(b.tracks)
        for ta, tb in zip(a.tracks, b.tracks, strict=True):
            np.testing.assert_array_equal(ta.hits, tb.hits)
            assert ta.annotated == tb.annotated
            if tb.mask_runs is not None:
                masks += 1
                for x, y in zip(ta.mask_runs, tb.mask_runs, strict=True):
                    np.testing.assert_array_equal(x, y)
                assert ta.mask_box == tb.mask_box
                assert ta.rle_counts() == tb.rle_counts()
    assert masks > 20


def test_blur_kernel_is_the_array_blur() -> None:
    rng = np.random.default_rng(0)
    for shape in ((64, 64), (37, 90), (9, 12)):
        image = rng.standard_normal(shape).astype(np.float32)
        image[rng.random(shape) < 0.6] = 0.0
        for sigma in (0.7, 1.03, 1.36):
            previous = compiled.ARRAY_CODE_ONLY
            compiled.ARRAY_CODE_ONLY = True
            try:
                expected = _blur(image, sigma)
            finally:
                compiled.ARRAY_CODE_ONLY = previous
            if min(shape) > len(_kernel(sigma)) // 2:
                np.testing.assert_array_equal(compiled.blur(image, _kernel(sigma)), expected)
            np.testing.assert_array_equal(_blur(image, sigma), expected)


def _array_code(function, *args, **kwargs):
    previous = compiled.ARRAY_CODE_ONLY
    compiled.ARRAY_CODE_ONLY = True
    try:
        return function(*args, **kwargs)
    finally:
        compiled.ARRAY_CODE_ONLY = previous


def test_number_and_rle_texts_are_the_array_codes() -> None:
    from sciarch_datasets.tracks.coco import _rle_strings, json_numbers

    rng = np.random.default_rng(4)
    values = np.concatenate([rng.normal(0, 300, 500), rng.normal(0, 1e7, 50), [0.0, -0.0, 0.04, -0.05, 0.5, 1e-9,
                                                                               99999.99, 123456789.123456]])
    for decimals in (1, 2, 4, 5, 6):
        for tail, every in ((b"", 1), (b"2,", 2)):
            got = json_numbers(values, decimals, tail=tail, every=every)
            want = _array_code(json_numbers, values, decimals, tail=tail, every=every)
            assert got[0] == want[0]
            np.testing.assert_array_equal(got[1], want[1])
    counts = rng.integers(0, 300_000, 400)
    counts[::7] = rng.integers(0, 12, 58)
    bounds = np.array([0, 1, 5, 5, 40, 41, 200, 400])
    assert _rle_strings(counts, bounds) == _array_code(_rle_strings, counts, bounds)


def test_spot_values_are_the_array_codes() -> None:
    from sciarch_datasets.tracks.optics import _spot_values

    rng = np.random.default_rng(9)
    points = np.concatenate([rng.random((40, 2)) * [90, 60], [[0.2, 0.3], [89.9, 59.7], [45.0, 30.0], [45.0, 30.0]]])
    weights = rng.uniform(-1.5, 2.0, len(points))
    for sigma in (0.8, 1.7):
        got = _spot_values(60, 90, points, weights, sigma)
        want = _array_code(_spot_values, 60, 90, points, weights, sigma)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
