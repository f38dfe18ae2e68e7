"""RetinaNet: the one-stage baseline, a fixed set of anchors classified and regressed in one pass.

Lin, Goyal, Girshick, He & Dollár, "Focal Loss for Dense Object Detection", ICCV 2017. Every
anchor of every pyramid level (the same FPN and track anchors as the two-stage detectors, so only
the detection scheme differs) gets C sigmoid class scores from a 4-conv classification subnet and
4 box deltas from a 4-conv regression subnet; training uses the focal loss
FL(p_t) = −α_t (1 − p_t)^γ log p_t (α = 0.25, γ = 2) and smooth-L1/L1 on the deltas. There is no
second look: each anchor position can report at most one box per anchor shape, which is what the
crowding experiment puts to the test.

Input and output as :mod:`.faster_rcnn`.
"""

from __future__ import annotations

from functools import partial

from torch import Tensor, nn
from torchvision.models.detection import RetinaNet

from .backbones import TRACK_ASPECT_RATIOS, Backbone, fpn_backbone, track_anchors
from .suppression import Suppression, suppress


class TrackRetinaNet(RetinaNet):
    """torchvision's RetinaNet with :func:`~.suppression.suppress` as the last step."""

    suppression: Suppression = "hard"
    suppression_iou: float = 0.5
    soft_nms_sigma: float = 0.5
    class_agnostic: bool = True
    max_detections: int = 300

    def postprocess_detections(self, head_outputs: dict[str, list[Tensor]], anchors: list[list[Tensor]],
                               image_shapes: list[tuple[int, int]]) -> list[dict[str, Tensor]]:
        # let torchvision decode the top candidates of every level without suppressing any
        # (an IoU threshold of 1 removes nothing), then suppress them our way
        self.nms_thresh, self.detections_per_img = 1.0, 10 ** 6
        candidates = super().postprocess_detections(head_outputs, anchors, image_shapes)
        out = []
        for found in candidates:
            keep, scores = suppress(found["boxes"], found["scores"], found["labels"], method=self.suppression,
                                    iou_threshold=self.suppression_iou, sigma=self.soft_nms_sigma,
                                    class_agnostic=self.class_agnostic, score_threshold=self.score_thresh,
                                    max_detections=self.max_detections)
            out.append({"boxes": found["boxes"][keep], "scores": scores, "labels": found["labels"][keep]})
        return out


def retinanet(*, num_classes: int = 11, backbone: Backbone = "resnet18", image_size: int = 256,
              fpn_channels: int = 256, detections_per_img: int = 300, candidates_per_level: int = 1000,
              suppression: Suppression = "hard", suppression_iou: float = 0.5, soft_nms_sigma: float = 0.5,
              class_agnostic_nms: bool = True, score_threshold: float = 0.05,
              aspect_ratios: tuple[float, ...] = TRACK_ASPECT_RATIOS, image_mean: float = 0.7,
              image_std: float = 0.2) -> nn.Module:
    """RetinaNet on the same FPN backbones and anchors as the R-CNNs, from scratch (GroupNorm in the
    heads, as in torchvision's v2 RetinaNet, since the heads are trained from zero)."""
    from torchvision.models.detection.retinanet import RetinaNetHead

    anchors = track_anchors(backbone, image_size, aspect_ratios=tuple(aspect_ratios))
    groups = 32 if fpn_channels % 32 == 0 else 8
    head = RetinaNetHead(fpn_channels, anchors.num_anchors_per_location()[0], num_classes,
                         norm_layer=partial(nn.GroupNorm, groups))
    model = TrackRetinaNet(fpn_backbone(backbone, fpn_channels=fpn_channels), num_classes=num_classes,
                           min_size=image_size, max_size=max(image_size, int(image_size * 1.7)),
                           image_mean=[image_mean] * 3, image_std=[image_std] * 3, anchor_generator=anchors,
                           head=head, score_thresh=score_threshold, topk_candidates=candidates_per_level)
    model.suppression, model.suppression_iou = suppression, suppression_iou
    model.soft_nms_sigma, model.class_agnostic = soft_nms_sigma, class_agnostic_nms
    model.max_detections = detections_per_img
    return model
