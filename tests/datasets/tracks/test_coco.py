"""Simulated pictures written as COCO folders and read back; bad COCO input reported, not dropped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sciarch
from sciarch_datasets.tracks import ChamberConfig
from sciarch_datasets.tracks.coco import read_coco, write_dataset
from sciarch_datasets.tracks.optics import simulate_picture

SMALL = ChamberConfig(image_size=(96, 96), tracks=(3, 6), beam_tracks=(0, 1))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("coco") / "set"
    write_dataset(out, 4, SMALL, seed=9, workers=1, progress=None)
    return out


def test_pictures_are_fixed_by_the_seed() -> None:
    a, b = simulate_picture(SMALL, 5, 2), simulate_picture(SMALL, 5, 2)
    c = simulate_picture(SMALL, 5, 3)
    assert np.array_equal(a.image, b.image)
    assert [len(t.hits) for t in a.tracks] == [len(t.hits) for t in b.tracks]
    assert not np.array_equal(a.image, c.image)


def test_the_folder_does_not_depend_on_the_number_of_workers(tmp_path: Path, folder: Path) -> None:
    write_dataset(tmp_path / "two", 4, SMALL, seed=9, workers=2, progress=None)
    one = json.loads((folder / "annotations.json").read_text())
    two = json.loads((tmp_path / "two" / "annotations.json").read_text())
    for coco in (one, two):
        coco["info"].pop("date_created")
    assert one == two
    for i in range(4):
        assert (folder / f"images/{i:06d}.png").read_bytes() == (tmp_path / f"two/images/{i:06d}.png").read_bytes()


def test_annotations_hold_masks_boxes_polylines_and_physics_truth(folder: Path) -> None:
    coco = json.loads((folder / "annotations.json").read_text())
    assert coco["info"]["field_tesla"] == SMALL.field_tesla
    assert len(coco["categories"]) == 10 and coco["categories"][0]["name"] == "e-"
    ann = coco["annotations"][0]
    assert set(ann["segmentation"]) == {"size", "counts"}
    assert len(ann["keypoints"]) == 32 * 3 and ann["num_keypoints"] == 32
    attrs = ann["attributes"]
    for key in ("species", "charge", "p_gev", "pt_gev", "dip_rad", "vertex_px", "origin", "particle", "polyline"):
        assert key in attrs
    # the radius recorded is the one R = p_T / (0.3 B) gives
    assert attrs["radius_m"] == pytest.approx(attrs["pt_gev"] / (0.299792458 * SMALL.field_tesla), rel=1e-4)

    data = read_coco(folder)
    assert data.bad.count == 0 and len(data) == 4
    picture = data.pictures[0]
    masks = picture.masks()
    xy, owner = picture.hits()
    assert masks.shape == (len(picture.tracks), 96, 96)
    for i, track in enumerate(picture.tracks):
        x0, y0, x1, y1 = track.box_xyxy
        rows, cols = np.nonzero(masks[i])
        # the box is the box of the mask
        assert (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1) == (x0, y0, x1, y1)
        # each track's bubbles lie in its mask (hits on the picture)
        mine = xy[owner == i]
        mine = mine[(mine >= 0).all(axis=1) & (mine < 96).all(axis=1)]
        assert len(mine) >= SMALL.min_hits
        assert masks[i][mine[:, 1].astype(int), mine[:, 0].astype(int)].mean() > 0.97


@pytest.mark.parametrize("decimals", [1, 2])
def test_numbers_are_written_as_json_writes_them(decimals: int) -> None:
    from sciarch_datasets.tracks.coco import json_numbers

    rng = np.random.default_rng(4)
    values = np.concatenate([rng.normal(0, 300, 2000), rng.normal(0, 1e5, 200), [0.0, -0.0, -0.04, 0.05, 99.95, 1e17]])
    text, ends = json_numbers(values, decimals)
    want = [json.dumps(v) for v in np.round(values, decimals).tolist()]
    assert text.decode() == ",".join(want) + ","
    assert ends.tolist() == (np.cumsum([len(s) + 1 for s in want]) - 1).tolist()
    pairs = values[:2000].reshape(-1, 2)  # keypoint triplets (x, y, 2)
    text, _ = json_numbers(pairs, decimals, tail=b"2,", every=2)
    assert text.decode() == ",".join(json.dumps(v) for x, y in np.round(pairs, decimals).tolist()
                                     for v in (x, y, 2)) + ","


def test_rle_strings_are_pycocotools_compressed_counts() -> None:
    from pycocotools import mask as mask_utils
    from sciarch_datasets.tracks.coco import _rle_strings

    rng = np.random.default_rng(3)
    masks = [np.asfortranarray(rng.random((h, w)) < rng.random() ** 3, dtype=np.uint8)
             for h, w in rng.integers(1, 200, (40, 2))]
    masks += [np.zeros((7, 5), np.uint8, order="F"), np.ones((9, 4), np.uint8, order="F")]
    counts = []
    for mask in masks:  # uncompressed counts: runs of 0s and 1s in column order, 0s first
        flat = mask.reshape(-1, order="F")
        edges = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [len(flat)]])
        counts.append(([0] if flat[0] else []) + np.diff(edges).tolist())
    counts.append([2 ** 19, 3, 2 ** 18 + 5, 1, 16, 2 ** 24 - 1])  # large counts and differences
    bounds = np.concatenate([[0], np.cumsum([len(c) for c in counts])])
    got = _rle_strings(np.concatenate([np.array(c) for c in counts]), bounds)
    want = [mask_utils.frPyObjects([{"size": [sum(c), 1], "counts": c}], sum(c), 1)[0]["counts"].decode()
            for c in counts]
    assert got == want
    assert got[:-1] == [mask_utils.encode(m)["counts"].decode() for m in masks]


def test_annotation_texts_are_what_json_writes() -> None:
    """The annotations written for all tracks at once are json.dumps's text of their entries, also
    for numbers that need Python's own rounding (ties, exponents, NaN: written by json)."""
    from sciarch_datasets.tracks.coco import _annotation_json, _annotation_texts

    picture = simulate_picture(SMALL.with_(tracks=(12, 12)), 3, 0)
    annotated = [t for t in picture.tracks if t.annotated]
    assert len(annotated) >= 6
    annotated[0].particle.momentum = np.array([0.0000125, 0.0, 0.5])  # a 6-decimal tie; p_t as 1e-05
    annotated[1].particle.vertex = np.array([0.5, 0.5, 0.00004])  # vertex_z_m 4e-05: an exponent
    annotated[2].particle.decay_length_m = 0.25
    annotated[3].ionisation_median = float("nan")
    annotated[4].length_px = 0.015  # numpy's round makes it 0.02, Python's 0.01
    annotated = annotated[:6]
    rles, keypoints = ["ab\\c", *"xyzuv"], ["1.0,2.0,2"] * 6
    polylines = ["", "3.5,4.0", "1.0,1.0", "", "2.5,7.0", "0.5,0.0"]
    areas = [t.mask_area for t in annotated]
    got = _annotation_texts(annotated, rles, keypoints, polylines, areas, SMALL, 70001, 8)
    want = [_annotation_json(t, SMALL, 70001 + k, 8, rles[k], keypoints[k], polylines[k])
            for k, t in enumerate(annotated)]
    assert got == want
    assert all(json.loads(text)["attributes"]["polyline"] == json.loads("[" + line + "]")
               for text, line in zip(got, polylines, strict=True))


def test_an_empty_chamber_makes_pictures_without_tracks(tmp_path: Path) -> None:
    empty = ChamberConfig(image_size=(48, 48), tracks=(0, 0), beam_tracks=(0, 0))
    write_dataset(tmp_path / "empty", 2, empty, workers=1, progress=None)
    data = read_coco(tmp_path / "empty")
    assert len(data) == 2 and all(not p.tracks for p in data.pictures)
    assert data.pictures[0].load_image().shape == (48, 48)


def test_missing_pictures_and_bad_boxes_are_skipped_and_counted(folder: Path, tmp_path: Path) -> None:
    coco = json.loads((folder / "annotations.json").read_text())
    coco["images"][1]["file_name"] = "images/nowhere.png"
    coco["annotations"][0]["bbox"] = [3, 4, -1, 5]
    coco["annotations"][1]["category_id"] = 99
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "images").symlink_to(folder / "images")
    (broken / "hits").symlink_to(folder / "hits")
    (broken / "annotations.json").write_text(json.dumps(coco))
    data = read_coco(broken)
    assert len(data) == 3
    assert data.bad.reasons == {"missing picture": 1, "bad bbox": 1, "unknown category": 1}
    with pytest.raises(sciarch.DataError, match="nowhere.png"):
        read_coco(broken, strict=True)


def test_unreadable_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "annotations.json").write_text("{not json")
    with pytest.raises(sciarch.DataError, match="annotations.json.*not valid JSON"):
        read_coco(tmp_path)


def test_a_user_folder_with_boxes_and_polygons_only_gets_hits_from_its_masks(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "images").mkdir()
    Image.fromarray(np.full((40, 50), 200, np.uint8)).save(tmp_path / "images" / "scan.png")
    coco = {"images": [{"id": 7, "file_name": "scan.png", "width": 50, "height": 40}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 10, 20, 3],
                             "segmentation": [[10, 10, 30, 10, 30, 13, 10, 13]]}],
            "categories": [{"id": 1, "name": "track"}]}
    (tmp_path / "annotations.json").write_text(json.dumps(coco))
    data = read_coco(tmp_path)
    picture = data.pictures[0]
    assert picture.load_image().shape == (40, 50)
    xy, owner = picture.hits()
    assert len(xy) == int(picture.masks()[0].sum()) and (owner == 0).all()
