"""Mask R-CNN for tracks: Faster R-CNN plus a mask of each track's pixels.

He, Gkioxari, Dollár & Girshick, "Mask R-CNN", ICCV 2017. On top of :mod:`.faster_rcnn`, each
detection's region is pooled again (RoIAlign, ``mask_resolution``/2 square) and four 3×3 conv
layers and a 2× transposed convolution predict an m×m mask per class (m = ``mask_resolution``);
the mask loss is the per-pixel binary cross-entropy of the true class's mask,
L = L_cls^RPN + L_box^RPN + L_cls + L_box + L_mask.

A track is a curve a few pixels wide inside a box that may span the picture, so the mask
resolution matters: 28 (torchvision's default) resolves a 3-pixel track in boxes up to about
30 pixels wide at full contrast; use 56 for large pictures. The soft mask (probabilities, not a
0.5 threshold) is what assigns bubbles to tracks downstream.

Input as Faster R-CNN's, with "masks": (N, H, W) uint8 in the targets. Output per picture adds
"masks": (K, 1, H, W) probabilities.
"""

from __future__ import annotations

from torch import nn

from .backbones import TRACK_ASPECT_RATIOS, Backbone, feature_names
from .faster_rcnn import configure_heads, rcnn_arguments
from .suppression import Suppression


def mask_rcnn(*, num_classes: int = 11, backbone: Backbone = "resnet18", image_size: int = 256,
              fpn_channels: int = 256, representation_size: int = 1024, mask_channels: int = 256,
              mask_resolution: int = 28, detections_per_img: int = 300, rpn_proposals_train: int = 2000,
              rpn_proposals_test: int = 1000, suppression: Suppression = "hard", suppression_iou: float = 0.5,
              soft_nms_sigma: float = 0.5, class_agnostic_nms: bool = True, score_threshold: float = 0.05,
              aspect_ratios: tuple[float, ...] = TRACK_ASPECT_RATIOS, image_mean: float = 0.7,
              image_std: float = 0.2, box_samples_per_image: int = 512) -> nn.Module:
    """Mask R-CNN with an FPN backbone, from scratch; arguments as :func:`~.faster_rcnn.faster_rcnn`
    plus the mask head's width (``mask_channels``) and output side (``mask_resolution``, even)."""
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    if mask_resolution % 2:
        raise ValueError(f"mask_resolution must be even (the head upsamples by 2), got {mask_resolution}")
    args = rcnn_arguments(backbone=backbone, image_size=image_size, fpn_channels=fpn_channels,
                          representation_size=representation_size, num_classes=num_classes,
                          detections_per_img=detections_per_img, rpn_proposals_train=rpn_proposals_train,
                          rpn_proposals_test=rpn_proposals_test, score_threshold=score_threshold,
                          aspect_ratios=aspect_ratios, image_mean=image_mean, image_std=image_std,
                          box_samples_per_image=box_samples_per_image)
    args.update(
        mask_roi_pool=MultiScaleRoIAlign(featmap_names=feature_names(backbone), output_size=mask_resolution // 2,
                                         sampling_ratio=2),
        mask_head=MaskRCNNHeads(fpn_channels, (mask_channels,) * 4, 1),
        mask_predictor=MaskRCNNPredictor(mask_channels, mask_channels, num_classes),
    )
    model = MaskRCNN(**args)
    return configure_heads(model, suppression=suppression, suppression_iou=suppression_iou,
                           soft_nms_sigma=soft_nms_sigma, class_agnostic_nms=class_agnostic_nms)
