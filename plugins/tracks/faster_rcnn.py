"""Faster R-CNN for tracks: region proposals, then a second look at each one.

Ren, He, Girshick & Sun, "Faster R-CNN: Towards Real-Time Object Detection with Region Proposal
Networks", NeurIPS 2015; with a feature pyramid (Lin et al., CVPR 2017). A region proposal
network scores anchors a (of many sizes and aspect ratios, see :mod:`.backbones`) on every
pyramid level and regresses them to proposals; up to ``rpn_proposals_test`` proposals per picture
survive its NMS; RoIAlign pools each to 7×7 from its level k = ⌊4 + log₂(√(wh)/224)⌋, and a
two-layer MLP head classifies it (softmax over C classes + background) and refines its box.
Loss: L = L_cls^RPN + L_box^RPN + L_cls + L_box (cross-entropy and smooth-L1 on the box deltas
(t_x, t_y, t_w, t_h)).

For crowded bubble-chamber pictures: thousands of proposals and hundreds of detections per
picture (far above the 100 tracks of the most crowded ones), anchors from 1:8 to 8:1, and duplicate
suppression that is class-agnostic and optionally soft (:mod:`.suppression`).

Input: a list of B tensors (3, H, W) in [0, 1] (greyscale repeated); training also takes targets
[{"boxes": (N, 4) x0y0x1y1, "labels": (N,)}] (N may be 0). Output in eval mode, per picture:
{"boxes": (K, 4), "labels": (K,), "scores": (K,)}.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models.detection.roi_heads import RoIHeads

from .backbones import TRACK_ASPECT_RATIOS, Backbone, feature_names, fpn_backbone, track_anchors
from .suppression import Suppression, suppress


class TrackRoIHeads(RoIHeads):
    """torchvision's RoI heads with :func:`~.suppression.suppress` as the last step.

    Class-agnostic: each proposal becomes one detection, of its most likely class, so one track
    is never reported twice under two species.
    """

    suppression: Suppression = "hard"
    suppression_iou: float = 0.5
    soft_nms_sigma: float = 0.5
    class_agnostic: bool = True

    def configure_suppression(self, *, suppression: Suppression, iou: float, sigma: float,
                              class_agnostic: bool) -> None:
        self.suppression, self.suppression_iou = suppression, iou
        self.soft_nms_sigma, self.class_agnostic = sigma, class_agnostic

    def postprocess_detections(self, class_logits: Tensor, box_regression: Tensor, proposals: list[Tensor],
                               image_shapes: list[tuple[int, int]]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        from torchvision.ops import boxes as box_ops

        counts = [len(p) for p in proposals]
        decoded = self.box_coder.decode(box_regression, proposals)  # (N, C, 4)
        probabilities = torch.softmax(class_logits, -1)
        out_boxes, out_scores, out_labels = [], [], []
        for boxes, probs, shape in zip(decoded.split(counts), probabilities.split(counts), image_shapes, strict=True):
            boxes = box_ops.clip_boxes_to_image(boxes, shape)
            if self.class_agnostic:
                scores, labels = probs[:, 1:].max(dim=1)
                labels = labels + 1
                boxes = boxes[torch.arange(len(boxes), device=boxes.device), labels]
            else:
                classes = probs.shape[1]
                labels = torch.arange(1, classes, device=probs.device).repeat(len(probs))
                scores = probs[:, 1:].reshape(-1)
                boxes = boxes[:, 1:].reshape(-1, 4)
            ok = (scores > self.score_thresh) & ((boxes[:, 2:] - boxes[:, :2]) > 1e-2).all(dim=1)
            boxes, scores, labels = boxes[ok], scores[ok], labels[ok]
            keep, scores = suppress(boxes, scores, labels, method=self.suppression, iou_threshold=self.suppression_iou,
                                    sigma=self.soft_nms_sigma, class_agnostic=self.class_agnostic,
                                    score_threshold=self.score_thresh, max_detections=self.detections_per_img)
            out_boxes.append(boxes[keep])
            out_scores.append(scores)
            out_labels.append(labels[keep])
        return out_boxes, out_scores, out_labels


def rcnn_arguments(*, backbone: Backbone, image_size: int, fpn_channels: int, representation_size: int,
                   num_classes: int, detections_per_img: int, rpn_proposals_train: int, rpn_proposals_test: int,
                   score_threshold: float, aspect_ratios: tuple[float, ...], image_mean: float,
                   image_std: float, box_samples_per_image: int = 512) -> dict:
    """The keyword arguments torchvision's FasterRCNN/MaskRCNN take, set up for track pictures."""
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.ops import MultiScaleRoIAlign

    return dict(
        backbone=fpn_backbone(backbone, fpn_channels=fpn_channels),
        num_classes=None,
        min_size=image_size, max_size=max(image_size, int(image_size * 1.7)),
        image_mean=[image_mean] * 3, image_std=[image_std] * 3,
        rpn_anchor_generator=track_anchors(backbone, image_size, aspect_ratios=tuple(aspect_ratios)),
        # the pre-NMS cap is per pyramid level, the post-NMS cap per picture
        rpn_pre_nms_top_n_train=rpn_proposals_train, rpn_post_nms_top_n_train=rpn_proposals_train,
        rpn_pre_nms_top_n_test=rpn_proposals_test, rpn_post_nms_top_n_test=rpn_proposals_test,
        box_roi_pool=MultiScaleRoIAlign(featmap_names=feature_names(backbone), output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(fpn_channels * 7 * 7, representation_size),
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
        box_score_thresh=score_threshold, box_detections_per_img=detections_per_img,
        box_batch_size_per_image=box_samples_per_image,
    )


def configure_heads(model: nn.Module, *, suppression: Suppression, suppression_iou: float, soft_nms_sigma: float,
                    class_agnostic_nms: bool) -> nn.Module:
    # torchvision builds its RoIHeads inside the model's constructor; switching the class of that
    # instance keeps every setting and weight and changes only the post-processing
    model.roi_heads.__class__ = TrackRoIHeads
    model.roi_heads.configure_suppression(suppression=suppression, iou=suppression_iou, sigma=soft_nms_sigma,
                                          class_agnostic=class_agnostic_nms)
    return model


def faster_rcnn(*, num_classes: int = 11, backbone: Backbone = "resnet18", image_size: int = 256,
                fpn_channels: int = 256, representation_size: int = 1024, detections_per_img: int = 300,
                rpn_proposals_train: int = 2000, rpn_proposals_test: int = 1000, suppression: Suppression = "hard",
                suppression_iou: float = 0.5, soft_nms_sigma: float = 0.5, class_agnostic_nms: bool = True,
                score_threshold: float = 0.05, aspect_ratios: tuple[float, ...] = TRACK_ASPECT_RATIOS,
                image_mean: float = 0.7, image_std: float = 0.2, box_samples_per_image: int = 512) -> nn.Module:
    """Faster R-CNN with an FPN backbone (``resnet18/34/50`` or ``mobilenet_v3_large``), from scratch.

    ``num_classes`` counts the background (the data module fills it in); ``image_size`` is the
    side the pictures are scaled to; ``suppression``: ``hard`` NMS at ``suppression_iou``, or
    ``soft-gaussian`` (σ = ``soft_nms_sigma``) / ``soft-linear`` Soft-NMS; ``box_samples_per_image``:
    proposals per picture the box head trains on (a quarter of them positive at most).
    """
    from torchvision.models.detection import FasterRCNN

    args = rcnn_arguments(backbone=backbone, image_size=image_size, fpn_channels=fpn_channels,
                          representation_size=representation_size, num_classes=num_classes,
                          detections_per_img=detections_per_img, rpn_proposals_train=rpn_proposals_train,
                          rpn_proposals_test=rpn_proposals_test, score_threshold=score_threshold,
                          aspect_ratios=aspect_ratios, image_mean=image_mean, image_std=image_std,
                          box_samples_per_image=box_samples_per_image)
    model = FasterRCNN(**args)
    return configure_heads(model, suppression=suppression, suppression_iou=suppression_iou,
                           soft_nms_sigma=soft_nms_sigma, class_agnostic_nms=class_agnostic_nms)
