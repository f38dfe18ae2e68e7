"""Feature pyramids and anchors shared by the track detectors (the reusable parts of torchvision's
detection models, set up for bubble-chamber pictures trained from scratch).

Feature Pyramid Networks (Lin et al., CVPR 2017): a top-down pathway with lateral 1×1 connections
turns a backbone's stages C2…C5 into maps P2…P5 of one width (``fpn_channels``), plus P6 by max
pooling. Strides 4, 8, 16, 32, 64 for ResNets; MobileNetV3 (Howard et al., ICCV 2019) gives its
stride-8, 16 and 32 stages and P6. Input (B, 3, H, W); output an ordered dict of (B, C, H/s, W/s).

Anchors for tracks: a track's box is a thin sliver when the track runs along an axis and a square
when it is curved or diagonal, so every level gets aspect ratios from 1:8 to 8:1 and two scales,
and the smallest anchor follows the picture size (a 256-pixel picture starts at 8 pixels).
"""

from __future__ import annotations

from typing import Literal

from torch import nn

Backbone = Literal["resnet18", "resnet34", "resnet50", "mobilenet_v3_large"]
TRACK_ASPECT_RATIOS: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def fpn_backbone(name: Backbone = "resnet18", *, fpn_channels: int = 256) -> nn.Module:
    """A randomly initialised backbone with an FPN (no pretrained weights: none can be fetched
    here, and ImageNet features help little on greyscale bubble pictures anyway). Every layer
    trains, with ordinary batch norm (frozen statistics only make sense for pretrained weights)."""
    from torchvision.models import mobilenet_v3_large, resnet18, resnet34, resnet50
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    if name.startswith("resnet"):
        trunk = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}[name](weights=None)
        stage_channels = [_out_channels(getattr(trunk, f"layer{k}")) for k in (1, 2, 3, 4)]
        return BackboneWithFPN(trunk, {f"layer{k}": str(k - 1) for k in (1, 2, 3, 4)}, stage_channels,
                               fpn_channels, extra_blocks=LastLevelMaxPool())
    if name == "mobilenet_v3_large":
        features = mobilenet_v3_large(weights=None).features
        # blocks flagged _is_cn start a new stride (4, 8, 16, 32); take the last block of strides 8, 16, 32
        strided = [i for i, block in enumerate(features) if getattr(block, "_is_cn", False)]
        ends = [strided[2] - 1, strided[3] - 1, len(features) - 1]
        stage_channels = [_out_channels(features[i]) for i in ends]
        return BackboneWithFPN(features, {str(i): str(k) for k, i in enumerate(ends)}, stage_channels,
                               fpn_channels, extra_blocks=LastLevelMaxPool())
    raise ValueError(f"unknown backbone {name!r}; choose resnet18, resnet34, resnet50 or mobilenet_v3_large")


def _out_channels(module: nn.Module) -> int:
    for layer in reversed(list(module.modules())):
        if isinstance(layer, nn.Conv2d):
            return layer.out_channels
    raise ValueError(f"no convolution in {type(module).__name__}")


def pyramid_levels(name: Backbone) -> int:
    """How many maps the pyramid has (with the pooled one)."""
    return 4 if name == "mobilenet_v3_large" else 5


def track_anchors(name: Backbone, image_size: int, *, aspect_ratios: tuple[float, ...] = TRACK_ASPECT_RATIOS,
                  smallest: int | None = None):
    """An ``AnchorGenerator`` with two scales per pyramid level (s and s·√2), doubling per level."""
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    levels = pyramid_levels(name)
    base = smallest or max(4, image_size // 32)
    if name == "mobilenet_v3_large":
        base *= 2  # its finest map has stride 8, not 4
    sizes = tuple((base * 2 ** k, int(round(base * 2 ** k * 2 ** 0.5))) for k in range(levels))
    return AnchorGenerator(sizes, (tuple(aspect_ratios),) * levels)


def feature_names(name: Backbone) -> list[str]:
    """The pyramid maps RoI pooling reads (all but the pooled one)."""
    return [str(k) for k in range(pyramid_levels(name) - 1)]
