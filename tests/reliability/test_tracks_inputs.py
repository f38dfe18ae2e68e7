"""Hostile COCO folders for the tracks plugin: broken JSON, bad boxes, missing or empty pictures,
hits files carrying pickled objects.

A valid folder of three 32-pixel pictures is damaged one way per case; the reader names the file
and the record (``image 2``, ``annotation 5``) and keeps every valid picture and track.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import sciarch
from sciarch_datasets.tracks.coco import read_coco

from .conftest import truncate

PICTURES = 3


def _png(path: Path, size: int = 32) -> None:
    from PIL import Image

    Image.fromarray((np.arange(size * size) % 251).astype(np.uint8).reshape(size, size)).save(path)


@pytest.fixture
def coco(tmp_path) -> tuple[Path, dict]:
    """(folder, annotations) of a valid COCO folder: 3 pictures, 2 tracks each, with hits files."""
    root = tmp_path / "coco"
    root.mkdir()
    images, annotations = [], []
    for i in range(1, PICTURES + 1):
        _png(root / f"p{i}.png")
        np.savez(root / f"p{i}.hits.npz", xy=np.array([[4.0, 4.0], [10.0, 12.0]]), particle=np.array([1, 2]))
        images.append({"id": i, "file_name": f"p{i}.png", "width": 32, "height": 32, "hits_file": f"p{i}.hits.npz"})
        for k in (1, 2):
            annotations.append({"id": 10 * i + k, "image_id": i, "category_id": 1, "bbox": [2 * k, 3, 8, 9],
                                "attributes": {"particle": k, "charge": -1, "ionisation_median": 1.0}})
    data = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "track"}]}
    (root / "annotations.json").write_text(json.dumps(data))
    return root, data


def _write(root: Path, data: dict) -> None:
    (root / "annotations.json").write_text(json.dumps(data))


def _annotation(data: dict, annotation_id: int) -> dict:
    return next(a for a in data["annotations"] if a["id"] == annotation_id)


BAD_ANNOTATIONS = {
    "negative width": (lambda a: a.update(bbox=[2, 3, -8, 9]), "bbox must be [x, y, width, height]"),
    "NaN in the box": (lambda a: a.update(bbox=[2, 3, math.nan, 9]), "bbox must be [x, y, width, height]"),
    "box of text": (lambda a: a.update(bbox="2,3,8,9"), "bbox must be [x, y, width, height]"),
    "box outside the picture": (lambda a: a.update(bbox=[100, 100, 5, 5]), "lies outside the 32×32 picture"),
    "unknown category": (lambda a: a.update(category_id=7), "unknown category_id 7"),
    "unknown picture": (lambda a: a.update(image_id=99), "refers to unknown picture 99"),
}


@pytest.mark.parametrize("case", list(BAD_ANNOTATIONS))
def test_a_bad_annotation_is_named_counted_and_the_rest_kept(case, coco):
    root, data = coco
    change, reason = BAD_ANNOTATIONS[case]
    change(_annotation(data, 21))
    _write(root, data)
    pictures = read_coco(root)
    [record] = pictures.bad.records
    assert record.record == "annotation 21" and reason in record.reason
    assert record.file.endswith("annotations.json")
    assert len(pictures.pictures) == PICTURES
    assert sum(len(p.tracks) for p in pictures.pictures) == 2 * PICTURES - 1


BAD_PICTURES = {
    "missing picture file": (lambda root: (root / "p2.png").unlink(), "picture file p2.png not found"),
    "0-byte picture": (lambda root: (root / "p2.png").write_bytes(b""), "picture file p2.png is empty (0 bytes)"),
}


@pytest.mark.parametrize("case", list(BAD_PICTURES))
def test_a_missing_or_empty_picture_is_named_counted_and_the_rest_kept(case, coco):
    root, _ = coco
    damage, reason = BAD_PICTURES[case]
    damage(root)
    pictures = read_coco(root)
    [record] = pictures.bad.records
    assert record.record == "image 2" and reason in record.reason
    assert [p.image_id for p in pictures.pictures] == [1, 3]


def test_an_image_entry_without_its_size_is_named(coco):
    root, data = coco
    del data["images"][1]["width"]
    _write(root, data)
    pictures = read_coco(root)
    assert pictures.bad.records[0].record == "images[1]" and len(pictures.pictures) == PICTURES - 1


def test_strict_stops_at_the_first_bad_annotation(coco):
    root, data = coco
    _annotation(data, 12).update(bbox=[0, 0, 0, 0])
    _write(root, data)
    with pytest.raises(sciarch.DataError, match=r"annotations.json: annotation 12: bbox must be"):
        read_coco(root, strict=True)


HITS = {
    "pickled objects": (lambda p: np.savez(p, xy=np.array([object()], dtype=object), particle=np.array([1])),
                        "hits file holds pickled objects (refused to unpickle them)"),
    "truncated": (lambda p: truncate(p, 0.5), "truncated or not an .npz file"),
    "no xy array": (lambda p: np.savez(p, particle=np.array([1])), "lacks an array (xy is not a file in the archive"),
    "wrong shapes": (lambda p: np.savez(p, xy=np.zeros((3, 3)), particle=np.array([1, 2, 3])), "expected (H, 2)"),
}


@pytest.mark.parametrize("case", list(HITS))
def test_a_bad_hits_file_is_a_data_error_naming_it(case, coco):
    root, _ = coco
    damage, reason = HITS[case]
    target = root / "p2.hits.npz"
    damage(target if case != "pickled objects" else target.with_suffix(""))  # np.savez adds .npz
    picture = read_coco(root).pictures[1]
    with pytest.raises(sciarch.DataError) as caught:
        picture.hits()
    assert str(caught.value).startswith(f"{target}: ") and reason in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("case", ["not a picture", "wrong size"])
def test_a_picture_that_cannot_be_used_is_a_data_error_naming_it(case, coco):
    root, _ = coco
    if case == "not a picture":
        (root / "p1.png").write_text("text, not pixels")
    else:
        _png(root / "p1.png", size=16)
    picture = read_coco(root).pictures[0]
    with pytest.raises(sciarch.DataError, match=r"p1.png: (cannot read the picture|picture is 16×16 pixels)"):
        picture.load_image()


@pytest.mark.parametrize("case", ["invalid JSON", "no images list", "no annotations file"])
def test_train_on_a_broken_coco_folder_is_exit_2_naming_the_file(case, coco, tmp_path, sciarch):
    root, _ = coco
    if case == "invalid JSON":
        (root / "annotations.json").write_text('{"images": [')
    elif case == "no images list":
        (root / "annotations.json").write_text('{"annotations": []}')
    else:
        (root / "annotations.json").unlink()
    wanted = {"invalid JSON": "not valid JSON", "no images list": "not a COCO file: no 'images' list",
              "no annotations file": "no COCO annotations file here"}[case]
    sciarch("train", "tracks/faster-rcnn", "--smoke", "-q", "--run-dir", tmp_path / "run",
            "--set", f"data.args.root={root}", "--set", "data.args.labels=track").check(
        2, f"{root / 'annotations.json'}: {wanted}")


def test_a_bad_hits_file_read_in_a_loader_worker_keeps_its_one_line_message(coco):
    """PyTorch re-raises a worker's error with the worker's traceback as its text; the user sees
    the original message (file, record, problem) instead."""
    from sciarch_tracks.data import TrackPictureSet, collate
    from torch.utils.data import DataLoader

    root, _ = coco
    np.savez(root / "p2.hits", xy=np.array([object()], dtype=object), particle=np.array([1]))
    pictures = TrackPictureSet(read_coco(root), labels="track", names=["track"], masks=False)
    with pytest.raises(sciarch.DataError) as caught:
        list(DataLoader(pictures, batch_size=1, num_workers=1, collate_fn=collate))
    assert str(caught.value) == f"{root / 'p2.hits.npz'}: hits file holds pickled objects (refused to unpickle them)"
