"""Hit R-CNN and its tracks: the model trains and reports memberships over the hits in its boxes,
duplicates are removed by shared hits, the charge follows the curvature along the direction of
travel (checked on simulated tracks), pictures simulated on the fly vary their physics, and the
task scores in the data's field."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sciarch_datasets.tracks import ChamberConfig
from sciarch_datasets.tracks.optics import simulate_picture
from sciarch_tracks.curves import (
    CurveTrack,
    arc_positions,
    charge_of,
    geometric_direction,
    learned_direction,
    score_tracks,
    tracks_from_members,
    turning_sign,
)
from sciarch_tracks.data import SimulatedPictureStream, class_names, hit_order
from sciarch_tracks.fitting import fit_circle
from sciarch_tracks.hit_rcnn import _region_pairs, hit_rcnn
from sciarch_tracks.metrics import TrackScore

TINY = dict(image_size=96, fpn_channels=16, widths=(8, 16, 16, 16), representation_size=32, member_hidden=16,
            rpn_proposals_train=100, rpn_proposals_test=50, detections_per_img=20, score_threshold=0.0)


def test_hit_order_runs_from_zero_to_one_per_owner() -> None:
    owner = np.array([3, 3, -5, 3, 7, 7])
    assert hit_order(owner).tolist() == [0.0, 0.5, 0.5, 1.0, 0.0, 1.0]


def test_region_pairs_take_the_hits_of_the_widened_box_and_cap_them() -> None:
    hits = torch.tensor([[5.0, 5.0], [12.0, 5.0], [50.0, 50.0], [9.0, 9.0]])
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [40.0, 40.0, 60.0, 60.0]])
    pairs_hit, pairs_box = _region_pairs(hits, boxes, 1.0, None)
    assert sorted(zip(pairs_box.tolist(), pairs_hit.tolist(), strict=True)) == [(0, 0), (0, 3), (1, 2)]
    pairs_hit, pairs_box = _region_pairs(hits, boxes, 4.0, 1, torch.Generator().manual_seed(0))
    assert (pairs_box == 0).sum() == 1 and (pairs_box == 1).sum() == 1


def _picture(tracks: int = 4, size: int = 96):
    names = class_names("species")
    stream = SimulatedPictureStream(2, ChamberConfig(image_size=(size, size)), labels="species", names=names,
                                    ranges={"tracks": tracks})
    return stream[0], names


@pytest.mark.parametrize("empty", [False, True])
def test_hit_rcnn_trains_and_reports_memberships_over_its_hits(empty: bool) -> None:
    torch.manual_seed(0)
    (image, target), names = _picture()
    if empty:  # a picture with no tracks trains too
        target = {**target, "boxes": target["boxes"][:0], "labels": target["labels"][:0],
                  "hit_owner": torch.full_like(target["hit_owner"], -2)}
    model = hit_rcnn(num_classes=len(names) + 1, **TINY)
    model.train()
    losses = model([image], [target["hits"]], [target])
    assert {"loss_objectness", "loss_classifier", "loss_members", "loss_order"} <= set(losses)
    total = sum(losses.values())
    assert math.isfinite(total.item())
    total.backward()
    if not empty:  # the membership head learns from the positive RoIs
        assert losses["loss_members"].item() > 0 and model.member_head.feature.weight.grad is not None
    model.eval()
    output = model([image], [target["hits"]])[0]
    assert len(output["members"]) == len(output["boxes"]) <= 20
    hits = target["hits"]
    for box, (index, prob, order) in zip(output["boxes"], output["members"], strict=True):
        assert len(index) == len(prob) == len(order)
        assert ((prob >= 0) & (prob <= 1)).all() and ((order >= 0) & (order <= 1)).all()
        inside = hits[index]
        assert (inside >= box[:2] - 10).all() and (inside <= box[2:] + 10).all()


def test_charge_from_curvature_and_order_matches_the_simulated_charge() -> None:
    """The sign convention of :mod:`sciarch_tracks.curves` against the simulator's truth: hits in
    their true order along the path give the true charge; the opposite field flips it."""
    cfg = ChamberConfig(image_size=(256, 256), tracks=(12, 12), delta_rays=False)
    right = wrong = flipped = along_arc = 0
    for index in range(2):
        picture = simulate_picture(cfg, 3, index)
        for track in picture.tracks:
            if not track.annotated or len(track.hits) < 30 or track.particle.p_t > 1.0:
                continue
            order = np.arange(len(track.hits), dtype=float)
            charge = charge_of(track.hits, order, cfg.field_tesla)
            right += charge == track.particle.species.charge
            wrong += charge == -track.particle.species.charge
            flipped += charge_of(track.hits, order, -cfg.field_tesla) == -track.particle.species.charge
            # the order along the arc from the fit, turned the true way, gives the same charge
            positions = arc_positions(track.hits, fit_circle(track.hits))
            way = learned_direction(order, positions)
            along_arc += charge_of(track.hits, positions * way, cfg.field_tesla) == track.particle.species.charge
    assert right + wrong >= 10
    assert right / (right + wrong) >= 0.85
    assert flipped == right
    assert along_arc / (right + wrong) >= 0.8


def test_turning_sign_of_a_quarter_circle_and_of_a_spiral() -> None:
    angle = np.linspace(0, math.pi / 2, 20)
    points = np.stack([10 * np.cos(angle), 10 * np.sin(angle)], axis=1)
    assert turning_sign(points, np.arange(20)) == 1
    assert turning_sign(points, -np.arange(20)) == -1
    angle = np.linspace(0, 6 * math.pi, 200)  # three turns, radius shrinking
    spiral = np.stack([(30 - 4 * angle) * np.cos(angle), (30 - 4 * angle) * np.sin(angle)], axis=1)
    assert turning_sign(spiral, np.arange(200)) == 1


def test_the_end_on_the_border_is_where_a_track_ends_and_stars_are_where_tracks_start() -> None:
    ends = np.array([[50.0, 50.0], [99.0, 20.0]])
    assert geometric_direction(ends, np.zeros((0, 2)), 100, 100) == 1
    assert geometric_direction(ends[::-1], np.zeros((0, 2)), 100, 100) == -1
    inner = np.array([[50.0, 50.0], [70.0, 30.0]])
    star = np.array([[51.0, 49.0], [49.0, 52.0], [10.0, 10.0]])
    assert geometric_direction(inner, star, 100, 100) == 1
    assert geometric_direction(inner, np.zeros((0, 2)), 100, 100) == 0


def test_duplicates_are_removed_by_their_shared_hits() -> None:
    angle = np.linspace(0, 1.0, 30)
    arc = np.stack([50 + 40 * np.cos(angle), 50 + 40 * np.sin(angle)], axis=1)
    line = np.stack([np.linspace(0, 40, 10), np.full(10, 5.0)], axis=1)
    hits = np.concatenate([arc, line])
    all_arc = torch.arange(30)
    output = {"boxes": torch.tensor([[0.0, 0, 100, 100], [0.0, 0, 100, 100], [0.0, 0, 41, 6]]),
              "scores": torch.tensor([0.9, 0.8, 0.7]), "labels": torch.tensor([1, 1, 1]),
              "members": [(all_arc, torch.full((30,), 0.9), torch.linspace(0, 1, 30)),
                          (all_arc[:25], torch.full((25,), 0.95), torch.linspace(0, 1, 25)),  # a duplicate
                          (torch.arange(30, 40), torch.full((10,), 0.8), torch.linspace(0, 1, 10))]}
    owner, tracks = tracks_from_members(output, hits, field_tesla=1.5, pixel_size_m=0.004, min_hits=5)
    assert len(tracks) == 2 and all(isinstance(t, CurveTrack) for t in tracks)
    assert (owner[:30] == 0).all() and (owner[30:] == 1).all()
    assert tracks[0].pt_gev == pytest.approx(0.3 * 1.5 * 40 * 0.004, rel=0.01)
    assert tracks[0].charge == 1  # increasing angle in picture coordinates, B > 0
    # a higher threshold drops the weakest
    _, kept = tracks_from_members(output, hits, field_tesla=1.5, pixel_size_m=0.004, score_threshold=0.75)
    assert len(kept) == 1

    target = {"hits": torch.from_numpy(hits), "hit_owner": torch.tensor([0] * 30 + [1] * 10),
              "labels": torch.tensor([1, 1]), "pt": torch.tensor([0.072, 1.0], dtype=torch.float64),
              "charge": torch.tensor([1, -1])}
    score = TrackScore()
    score_tracks(tracks, target, score, ["track"], min_hits=5)
    summary = score.summary()
    assert summary["efficiency"] == 1.0 and summary["fake_rate"] == 0.0
    assert score.momenta[0][5] == 1  # the track's own charge, not its class's


def test_pictures_simulated_on_the_fly_vary_their_physics_reproducibly() -> None:
    names = class_names("track")
    stream = SimulatedPictureStream(4, ChamberConfig(image_size=(64, 64)), labels="track", names=names,
                                    ranges={"tracks": (2, 6)}, seed=1)
    configs = [stream.config(i) for i in range(4)]
    assert len({c.field_tesla for c in configs}) == 4 and len({c.chamber_width_m for c in configs}) == 4
    assert all(0.6 <= c.field_tesla <= 3.6 and 0.45 <= c.chamber_width_m <= 1.2 for c in configs)
    first = stream[0][1]
    assert torch.equal(stream[0][1]["hits"], first["hits"])
    stream.epoch = 1
    assert stream.config(0) != configs[0]
    image, target = stream[0]
    assert image.shape == (3, 64, 64)
    assert len(target["hits"]) == len(target["hit_owner"]) == len(target["hit_order"])
    assert target["hit_owner"].max() < len(target["boxes"])


def test_task_scores_in_the_field_and_pixel_size_of_the_data() -> None:
    from sciarch_tracks.task import TrackDetection

    task = TrackDetection(hit_rcnn(num_classes=2, **TINY), field_tesla=1.5, pixel_size_m=1 / 256)
    assert task.takes_hits
    task._trainer = SimpleNamespace(datamodule=SimpleNamespace(
        hints=lambda: {"field_tesla": 3.0, "pixel_size_m": 0.002}))
    task._start("test")
    assert task.field_tesla == 3.0 and task.pixel_size_m == 0.002


def test_testing_simulates_only_the_test_split(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path))
    from sciarch_tracks.data import BubbleChamberPictures

    data = BubbleChamberPictures(train_pictures=2, val_pictures=1, test_pictures=1, image_size=48, tracks=(1, 2),
                                 simulate_workers=1, labels="track", masks=False)
    data.prepare_data()
    data.setup("test")
    assert set(data.sets) == {"test"}
    assert (data.split_folder("test") / "annotations.json").is_file()
    assert not data.split_folder("train").exists() and not data.split_folder("val").exists()


def test_detect_finds_hits_in_a_picture_and_reports_curve_charges(tmp_path) -> None:
    from PIL import Image
    from sciarch_tracks.detect import detect_pictures
    from sciarch_tracks.task import TrackDetection

    picture = simulate_picture(ChamberConfig(image_size=(96, 96), tracks=(3, 3)), 1, 0)
    Image.fromarray(picture.image).save(tmp_path / "scan.png")
    torch.manual_seed(0)
    task = TrackDetection(hit_rcnn(num_classes=2, **TINY), min_hits=3, member_threshold=0.0, score_threshold=0.0)
    document = detect_pictures(task, [tmp_path / "scan.png"], tmp_path / "out")
    entry = document["pictures"][0]
    assert entry["hits_found"] > 0 and (tmp_path / "out" / "tracks.json").is_file()
    assert entry["tracks"] and all(t["charge"] in (-1, 0, 1) and t["hits"] >= 3 for t in entry["tracks"])
