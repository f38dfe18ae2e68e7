"""The data module: simulated splits cached once, hints for the model and task, label schemes,
rotations that keep the truth on the picture, and a user's COCO folder read the same way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sciarch
import torch
from sciarch_datasets.tracks import ChamberConfig
from sciarch_datasets.tracks.coco import read_coco, write_dataset
from sciarch_tracks.data import BubbleChamberPictures, TrackPictureSet, _rotate, class_names, collate


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tracks-data") / "set"
    write_dataset(out, 3, ChamberConfig(image_size=(80, 80), tracks=(4, 8)), seed=2, workers=1, progress=None)
    return out


@pytest.mark.parametrize("labels,count", [("ionisation-charge", 4), ("charge", 2), ("species", 10), ("track", 1)])
def test_label_schemes_give_classes_in_range(folder: Path, labels: str, count: int) -> None:
    data = TrackPictureSet(read_coco(folder), labels=labels, names=class_names(labels), masks=False)
    _, target = data[0]
    assert len(class_names(labels)) == count
    assert target["labels"].min() >= 1 and target["labels"].max() <= count


def test_charge_classes_follow_the_truth(folder: Path) -> None:
    data = TrackPictureSet(read_coco(folder), labels="charge", names=class_names("charge"), masks=False)
    for index in range(len(data)):
        _, target = data[index]
        assert torch.equal(target["labels"] == 2, target["charge"] > 0)


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_quarter_turns_keep_hits_in_their_boxes_and_masks(folder: Path, turns: int) -> None:
    picture = read_coco(folder).pictures[0]
    image = picture.load_image()
    boxes = np.array([t.box_xyxy for t in picture.tracks], dtype=np.float32)
    masks = picture.masks()
    hits, owner = picture.hits()
    on = (hits >= 0).all(axis=1) & (hits < 80).all(axis=1) & (owner >= 0)
    hits, owner = hits[on], owner[on]
    r_image, r_boxes, r_masks, r_hits = _rotate(image, boxes, masks, hits, turns)
    assert np.array_equal(r_image, np.rot90(image, turns))
    for k in range(len(boxes)):
        mine = r_hits[owner == k]
        x0, y0, x1, y1 = r_boxes[k]
        assert ((mine[:, 0] >= x0 - 1e-4) & (mine[:, 0] <= x1 + 1e-4)).all()
        assert ((mine[:, 1] >= y0 - 1e-4) & (mine[:, 1] <= y1 + 1e-4)).all()
        assert r_masks[k][mine[:, 1].astype(int), mine[:, 0].astype(int)].mean() > 0.95


def test_the_data_module_simulates_once_and_fills_in_the_model_and_task(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    module = BubbleChamberPictures(train_pictures=2, val_pictures=1, test_pictures=1, image_size=64, tracks=(2, 4),
                                   simulate_workers=1, field_tesla=2.0, chamber_width_m=0.5)
    hints = module.hints()
    assert hints == {"num_classes": 5, "image_size": 64, "field_tesla": 2.0, "pixel_size_m": 0.5 / 64,
                     "class_names": ["light-", "light+", "heavy-", "heavy+"]}
    module.prepare_data()  # nothing yet: each stage simulates the splits it needs
    assert not module.split_folder("train").exists()
    module.setup("fit")
    stamp = (module.split_folder("train") / "annotations.json").stat().st_mtime_ns
    assert (module.split_folder("val") / "annotations.json").is_file() and not module.split_folder("test").exists()
    again = BubbleChamberPictures(train_pictures=2, val_pictures=1, test_pictures=1, image_size=64, tracks=(2, 4),
                                  simulate_workers=1, field_tesla=2.0, chamber_width_m=0.5)
    again.setup("fit")  # cached: not simulated again
    assert (module.split_folder("train") / "annotations.json").stat().st_mtime_ns == stamp
    images, targets = next(iter(module.train_dataloader()))
    assert len(images) == 2 and images[0].shape == (3, 64, 64)
    assert {"boxes", "labels", "masks", "hits", "hit_owner", "pt", "charge", "size"} <= set(targets[0])


def test_a_single_user_folder_is_split_and_its_own_categories_used(folder: Path, tmp_path: Path) -> None:
    coco = json.loads((folder / "annotations.json").read_text())
    coco["info"] = {"field_tesla": 3.5, "pixel_size_m": 0.002}
    user = tmp_path / "scans"
    user.mkdir()
    (user / "images").symlink_to(folder / "images")
    (user / "annotations.json").write_text(json.dumps(coco))
    module = BubbleChamberPictures(root=str(user), labels="file")
    hints = module.hints()
    assert hints["field_tesla"] == 3.5 and hints["pixel_size_m"] == 0.002
    assert hints["num_classes"] == 11
    module.setup("fit")
    assert sum(len(module.sets[s]) for s in ("train", "val", "test")) == 3


def test_labels_that_need_missing_attributes_say_so(folder: Path, tmp_path: Path) -> None:
    coco = json.loads((folder / "annotations.json").read_text())
    for ann in coco["annotations"]:
        ann.pop("attributes")
    user = tmp_path / "plain"
    user.mkdir()
    (user / "images").symlink_to(folder / "images")
    (user / "annotations.json").write_text(json.dumps(coco))
    with pytest.raises(sciarch.DataError, match="ionisation"):
        TrackPictureSet(read_coco(user), labels="ionisation-charge", names=class_names("ionisation-charge"))
    data = TrackPictureSet(read_coco(user), labels="file", names=class_names("file", [c["name"] for c in
                                                                                       coco["categories"]]))
    images, targets = collate([data[0]])
    assert len(targets[0]["hits"]) > 0  # from the masks, as no hits file is named
