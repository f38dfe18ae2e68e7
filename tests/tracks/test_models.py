"""The detectors: they train on pictures with and without tracks, report as many detections as asked,
use thin-track anchors, and suppress duplicates the way they are told (hard NMS or Soft-NMS)."""

from __future__ import annotations

import math

import pytest
import torch
from sciarch_tracks.backbones import TRACK_ASPECT_RATIOS, fpn_backbone, track_anchors
from sciarch_tracks.faster_rcnn import faster_rcnn
from sciarch_tracks.mask_rcnn import mask_rcnn
from sciarch_tracks.retinanet import retinanet
from sciarch_tracks.suppression import soft_nms, suppress

TINY = dict(num_classes=3, image_size=64, fpn_channels=16, detections_per_img=150)


def _targets(n: int, masks: bool) -> list[dict[str, torch.Tensor]]:
    boxes = torch.tensor([[5.0 + 3 * i, 8.0, 40.0 + 3 * i, 12.0] for i in range(n)]).reshape(-1, 4)
    target = {"boxes": boxes, "labels": torch.ones(n, dtype=torch.int64)}
    if masks:
        target["masks"] = torch.zeros(n, 64, 64, dtype=torch.uint8)
        for i in range(n):
            target["masks"][i, 9:11, 5 + 3 * i:40 + 3 * i] = 1
    return [target]


@pytest.mark.parametrize("builder,extra", [(faster_rcnn, {"representation_size": 32}),
                                           (mask_rcnn, {"representation_size": 32, "mask_channels": 8}),
                                           (retinanet, {})])
@pytest.mark.parametrize("tracks", [0, 3])
def test_detectors_train_on_pictures_with_and_without_tracks(builder, extra, tracks: int) -> None:
    torch.manual_seed(0)
    model = builder(**TINY, **extra)
    model.train()
    losses = model([torch.rand(3, 64, 64)], _targets(tracks, masks=builder is mask_rcnn))
    total = sum(losses.values())
    assert math.isfinite(total.item()) and total.item() > 0
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_mask_rcnn_returns_soft_masks_and_up_to_the_detection_limit() -> None:
    torch.manual_seed(0)
    model = mask_rcnn(**{**TINY, "detections_per_img": 120, "score_threshold": 0.0}, representation_size=32,
                      mask_channels=8, rpn_proposals_test=400)
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(3, 64, 64)])[0]
    assert set(out) == {"boxes", "labels", "scores", "masks"}
    # an untrained model scores everything near 1/num_classes: the cap is what limits the count
    assert 100 < len(out["boxes"]) <= 120
    assert out["masks"].shape[1:] == (1, 64, 64)
    assert float(out["masks"].min()) >= 0.0 and float(out["masks"].max()) <= 1.0


def test_track_anchors_have_seven_aspect_ratios_and_two_scales_per_level() -> None:
    anchors = track_anchors("resnet18", 256)
    assert anchors.num_anchors_per_location() == [14] * 5
    assert anchors.sizes[0] == (8, 11) and anchors.sizes[-1] == (128, 181)
    assert anchors.aspect_ratios[0] == TRACK_ASPECT_RATIOS and max(TRACK_ASPECT_RATIOS) == 8.0


@pytest.mark.parametrize("name,strides", [("resnet18", [4, 8, 16, 32, 64]), ("mobilenet_v3_large", [8, 16, 32, 64])])
def test_pyramids_have_the_strides_the_anchors_assume(name: str, strides: list[int]) -> None:
    features = fpn_backbone(name, fpn_channels=16)(torch.rand(1, 3, 128, 128))
    assert [128 // f.shape[-1] for f in features.values()] == strides
    assert all(f.shape[1] == 16 for f in features.values())


def test_soft_nms_keeps_two_crossing_tracks_that_hard_nms_merges() -> None:
    # two diagonal tracks crossing in an X have almost the same box
    boxes = torch.tensor([[10.0, 10.0, 100.0, 100.0], [12.0, 8.0, 102.0, 98.0], [150.0, 150.0, 160.0, 200.0]])
    scores = torch.tensor([0.95, 0.9, 0.8])
    labels = torch.ones(3, dtype=torch.int64)
    keep, _ = suppress(boxes, scores, labels, method="hard", iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    keep, new_scores = suppress(boxes, scores, labels, method="soft-gaussian", sigma=0.5, score_threshold=0.05)
    assert sorted(keep.tolist()) == [0, 1, 2]
    from torchvision.ops import box_iou

    iou = float(box_iou(boxes[:1], boxes[1:2]))
    # the Gaussian rule: s ← s · exp(−IoU² / σ)
    assert float(new_scores[keep.tolist().index(1)]) == pytest.approx(0.9 * math.exp(-iou * iou / 0.5), rel=1e-5)


def test_linear_soft_nms_only_decays_boxes_above_the_threshold() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 12.0], [0.0, 0.0, 10.0, 30.0]])
    keep, scores = soft_nms(boxes, torch.tensor([0.9, 0.8, 0.7]), method="linear", iou_threshold=0.5)
    by_index = dict(zip(keep.tolist(), scores.tolist(), strict=True))
    assert by_index[1] == pytest.approx(0.8 * (1 - 100 / 120))  # IoU 0.83 ≥ 0.5: decayed
    assert by_index[2] == pytest.approx(0.7)  # IoU 0.33 < 0.5: unchanged


def test_class_agnostic_suppression_removes_one_track_called_two_species() -> None:
    boxes = torch.tensor([[10.0, 10.0, 50.0, 14.0], [10.0, 10.0, 50.0, 14.0]])
    scores = torch.tensor([0.9, 0.6])
    labels = torch.tensor([1, 2])
    assert len(suppress(boxes, scores, labels, method="hard", class_agnostic=True)[0]) == 1
    assert len(suppress(boxes, scores, labels, method="hard", class_agnostic=False)[0]) == 2
