"""Hit R-CNN: a two-stage detector whose second stage outputs the track, not a box.

The first stage is Faster R-CNN's (Ren et al., NeurIPS 2015) on a feature pyramid (Lin et al.,
CVPR 2017): a region proposal network scores anchors of aspect ratios 1:8 to 8:1 on every level,
RoIAlign pools each proposal to 7×7 and a two-layer MLP scores it (track species or background)
and refines its box. The second stage is Mask R-CNN's idea (He et al., ICCV 2017) with the mask
taken over the picture's **hits** instead of a 28×28 pixel grid, which a thin curved track barely
touches: for every detection, each hit in or near its box gets a membership probability and a
position along the track (0 at its start, 1 at its end) from

* the pyramid's finest map sampled at the hit (bilinear; what the picture looks like there),
* the hit's place in the box (u, v in box units, distances to the four sides) and the box size,
* the detection's RoI vector (the box head's 7×7 RoIAlign features after its MLP),
* and, PointNet-style (Qi et al., CVPR 2017), the maximum of all these over the region's hits, so
  a hit is judged against the whole region (the track spans its own box corner to corner; a track
  crossing the box does not).

Built from torchvision's parts composed, no class swapped after construction: a small residual
trunk (or ``resnet18``) with ``torchvision.ops.FeaturePyramidNetwork``, ``AnchorGenerator``,
``RegionProposalNetwork``/``RPNHead``, ``MultiScaleRoIAlign``, ``TwoMLPHead``,
``FastRCNNPredictor``, the ``Matcher``/``BalancedPositiveNegativeSampler``/``BoxCoder`` of
torchvision's detection utilities and its ``fastrcnn_loss``, in a GeneralizedRCNN-style forward.
Pictures are used at their own size (no resizing), so hit coordinates stay in the picture's pixels.

Input: images, a list of B tensors (C, H, W) in [0, 1] (the first channel is used), and ``hits``,
a list of B tensors (M_b, 2) of hit positions in pixels. Training also takes targets with
``boxes`` (N, 4) x0y0x1y1, ``labels`` (N,) 1…C, ``hit_owner`` (M,) (annotation index, negative for
none) and ``hit_order`` (M,) (0…1 along the track). Losses: RPN objectness + box, box-head
cross-entropy + box, membership binary cross-entropy over the hits of positive RoIs, and the order
regression over their true member hits. Eval output per picture: ``boxes``, ``scores``, ``labels``
and ``members``: per detection a pair (hit indices (K,), membership probabilities (K,), order (K,)).
Turning that into tracks (each hit to at most one) is :mod:`.curves`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .backbones import TRACK_ASPECT_RATIOS


class _Block(nn.Module):
    """A residual block: two 3×3 convolutions with batch norm (the first may stride)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = None if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.skip is None else self.skip(x)))


class SmallTrunk(nn.Module):
    """A small residual trunk for greyscale pictures: stem to stride 2, then stages at strides 4,
    8, 16, 32 of ``widths`` channels (one block each); returns the four stage maps."""

    def __init__(self, widths: tuple[int, ...] = (24, 48, 64, 96), in_channels: int = 1) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        stages, c_in = [], widths[0]
        for width in widths:
            stages.append(_Block(c_in, width, 2))
            c_in = width
        self.stages = nn.ModuleList(stages)
        self.widths = tuple(widths)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


class PyramidBackbone(nn.Module):
    """Trunk + torchvision's FeaturePyramidNetwork (+ a max-pooled extra level): maps "0"…"3" at
    strides 4…32 and "pool" at 64, all ``out_channels`` wide."""

    def __init__(self, trunk: str = "small", fpn_channels: int = 64,
                 widths: tuple[int, ...] = (24, 48, 64, 96)) -> None:
        super().__init__()
        from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

        if trunk == "small":
            self.trunk: nn.Module = SmallTrunk(tuple(widths), in_channels=1)
            channels = list(widths)
            self.greyscale = True
        elif trunk == "resnet18":
            from torchvision.models import resnet18
            from torchvision.models._utils import IntermediateLayerGetter

            self.trunk = IntermediateLayerGetter(resnet18(weights=None), {f"layer{k}": str(k) for k in (1, 2, 3, 4)})
            channels = [64, 128, 256, 512]
            self.greyscale = False
        else:
            raise ValueError(f"unknown trunk {trunk!r}; choose small or resnet18")
        self.fpn = FeaturePyramidNetwork(channels, fpn_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = fpn_channels

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        stages = self.trunk(x[:, :1] if self.greyscale else x)
        if isinstance(stages, dict):
            stages = list(stages.values())
        return self.fpn(OrderedDict((str(k), v) for k, v in enumerate(stages)))


class HitMembershipHead(nn.Module):
    """Per (detection, hit) membership logit and order along the track (see the module docstring).

    The picture's features at a hit are projected once per picture; per pair only the geometry and
    the detection's vector are added, so scoring thousands of hits against hundreds of boxes stays
    cheap. Two PointNet rounds: each hit's vector is joined with the region's maximum twice.
    """

    GEOMETRY = 10

    def __init__(self, feature_channels: int, roi_channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.feature = nn.Linear(feature_channels, hidden)
        self.geometry = nn.Linear(self.GEOMETRY, hidden)
        self.roi = nn.Linear(roi_channels, hidden)
        self.round1 = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.round2 = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.out = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    @staticmethod
    def geometry_of(hits: Tensor, boxes: Tensor) -> Tensor:
        """(P, 10) features of hits (P, 2) against their boxes (P, 4): place in box units (offsets
        from the four sides, less ½), the distance to the nearest side, box width and height (log,
        in 64-pixel units), the offset from the box centre in pixels / 32, and (u − ½)(v − ½),
        which says on which diagonal a hit lies."""
        x0, y0, x1, y1 = boxes.unbind(dim=1)
        w, h = (x1 - x0).clamp(min=1.0), (y1 - y0).clamp(min=1.0)
        u, v = (hits[:, 0] - x0) / w, (hits[:, 1] - y0) / h
        side = torch.stack([u, 1 - u, v, 1 - v], dim=1)
        edge = side.abs().min(dim=1, keepdim=True).values
        size = torch.stack([torch.log(w / 64), torch.log(h / 64)], dim=1)
        offset = torch.stack([hits[:, 0] - (x0 + x1) / 2, hits[:, 1] - (y0 + y1) / 2], dim=1) / 32
        return torch.cat([side - 0.5, edge, size, offset, ((u - 0.5) * (v - 0.5))[:, None]], dim=1)

    def forward(self, hit_features: Tensor, pairs_hit: Tensor, pairs_roi: Tensor, geometry: Tensor,
                roi_vectors: Tensor, n_rois: int) -> Tensor:
        """Logits (P, 2) for P (hit, roi) pairs: ``hit_features`` (M, C) projected per hit,
        ``pairs_hit``/``pairs_roi`` (P,) indices, ``geometry`` (P, 10), ``roi_vectors`` (R, D)."""
        x = self.feature(hit_features)[pairs_hit] + self.geometry(geometry) + self.roi(roi_vectors)[pairs_roi]
        x = self.round1(x)
        x = self.round2(torch.cat([x, _segment_max(x, pairs_roi, n_rois)[pairs_roi]], dim=1))
        return self.out(torch.cat([x, _segment_max(x, pairs_roi, n_rois)[pairs_roi]], dim=1))


def _segment_max(x: Tensor, segment: Tensor, n: int) -> Tensor:
    """Row-wise maximum of ``x`` (P, D) within each of ``n`` segments (P,) (0 for empty ones; x ≥ 0)."""
    out = torch.zeros(n, x.shape[1], dtype=x.dtype, device=x.device)
    return out.scatter_reduce(0, segment[:, None].expand_as(x), x, "amax", include_self=True)


def _sample_at(feature: Tensor, hits: Tensor, stride: float) -> Tensor:
    """Bilinear features (M, C) of one map (C, h, w) at hit positions (M, 2) in pixels."""
    if not len(hits):
        return feature.new_zeros(0, feature.shape[0])
    h, w = feature.shape[-2:]
    gx = (hits[:, 0] / stride) / w * 2 - 1
    gy = (hits[:, 1] / stride) / h * 2 - 1
    grid = torch.stack([gx, gy], dim=1).view(1, 1, -1, 2)
    return F.grid_sample(feature[None], grid, align_corners=False).view(feature.shape[0], -1).t()


def _region_pairs(hits: Tensor, boxes: Tensor, margin: float, max_hits: int | None,
                  generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """(hit, box) index pairs, grouped by box, of the hits inside each box widened by ``margin``
    pixels (or 10 % of its size, if more); with ``max_hits``, a random subset of at most that many
    per box."""
    if not len(hits) or not len(boxes):
        empty = torch.zeros(0, dtype=torch.int64, device=hits.device)
        return empty, empty
    size = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1.0)
    pad = torch.maximum(size * 0.1, torch.full_like(size, margin))
    lo, hi = boxes[:, :2] - pad, boxes[:, 2:] + pad
    inside = ((hits[None] >= lo[:, None]) & (hits[None] <= hi[:, None])).all(dim=2)  # (B, M)
    if max_hits is not None:
        keys = torch.rand(inside.shape, generator=generator, device=hits.device)
        keys[~inside] = 2.0
        if inside.shape[1] > max_hits:
            cut = keys.kthvalue(max_hits, dim=1, keepdim=True).values
            inside &= keys <= cut
    box_index, hit_index = inside.nonzero(as_tuple=True)
    return hit_index, box_index


class HitRCNN(nn.Module):
    """The detector (see the module docstring). ``takes_hits`` tells the task to pass hits."""

    takes_hits = True
    CHUNK = 48  # detections whose memberships are scored at once

    def __init__(self, *, num_classes: int, image_size: int = 256, trunk: str = "small", fpn_channels: int = 64,
                 widths: tuple[int, ...] = (24, 48, 64, 96), representation_size: int = 256,
                 member_hidden: int = 64, rpn_proposals_train: int = 1000, rpn_proposals_test: int = 600,
                 box_samples_per_image: int = 256, member_rois_per_image: int = 32, member_hits_train: int = 256,
                 region_margin_px: float = 4.0, detections_per_img: int = 300, score_threshold: float = 0.05,
                 nms_iou: float = 0.6, aspect_ratios: tuple[float, ...] = TRACK_ASPECT_RATIOS,
                 smallest_anchor: int | None = None, image_mean: float = 0.7, image_std: float = 0.2) -> None:
        super().__init__()
        from torchvision.models.detection import _utils as det_utils
        from torchvision.models.detection.anchor_utils import AnchorGenerator
        from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
        from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
        from torchvision.ops import MultiScaleRoIAlign

        self.backbone = PyramidBackbone(trunk, fpn_channels, widths)
        base = smallest_anchor or max(4, image_size // 32)
        sizes = tuple((base * 2 ** k, int(round(base * 2 ** k * 2 ** 0.5))) for k in range(5))
        anchors = AnchorGenerator(sizes, (tuple(aspect_ratios),) * 5)
        self.rpn = RegionProposalNetwork(
            anchors, RPNHead(fpn_channels, anchors.num_anchors_per_location()[0]),
            fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=256, positive_fraction=0.5,
            pre_nms_top_n={"training": rpn_proposals_train, "testing": rpn_proposals_test},
            post_nms_top_n={"training": rpn_proposals_train, "testing": rpn_proposals_test}, nms_thresh=0.7)
        self.roi_pool = MultiScaleRoIAlign(featmap_names=["0", "1", "2", "3"], output_size=7, sampling_ratio=2)
        self.box_head = TwoMLPHead(fpn_channels * 49, representation_size)
        self.box_predictor = FastRCNNPredictor(representation_size, num_classes)
        self.member_head = HitMembershipHead(fpn_channels, representation_size, member_hidden)
        self.matcher = det_utils.Matcher(0.5, 0.5, allow_low_quality_matches=False)
        self.sampler = det_utils.BalancedPositiveNegativeSampler(box_samples_per_image, 0.25)
        self.box_coder = det_utils.BoxCoder((10.0, 10.0, 5.0, 5.0))
        self.num_classes = num_classes
        self.member_rois, self.member_hits_train = member_rois_per_image, member_hits_train
        self.margin, self.detections_per_img = region_margin_px, detections_per_img
        self.score_threshold, self.nms_iou = score_threshold, nms_iou
        self.image_mean, self.image_std = image_mean, image_std

    # -- shared ----------------------------------------------------------------------------------

    def _features(self, images: list[Tensor]) -> tuple[Any, OrderedDict[str, Tensor]]:
        from torchvision.models.detection.image_list import ImageList

        shapes = {tuple(im.shape[-2:]) for im in images}
        if len(shapes) != 1:
            raise ValueError(f"pictures of one batch must have one size, got {sorted(shapes)}")
        batch = (torch.stack(images) - self.image_mean) / self.image_std
        features = self.backbone(batch)
        return ImageList(batch, [tuple(im.shape[-2:]) for im in images]), features

    def _roi_vectors(self, features: OrderedDict[str, Tensor], boxes: list[Tensor],
                     sizes: list[tuple[int, int]]) -> Tensor:
        return self.box_head(self.roi_pool(features, boxes, sizes))

    def _members(self, fine: Tensor, hits: Tensor, boxes: Tensor, vectors: Tensor, max_hits: int | None,
                 generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Pairs (hit, box) and their logits (P, 2) for one picture."""
        pairs_hit, pairs_box = _region_pairs(hits, boxes.detach(), self.margin, max_hits, generator)
        if not len(pairs_hit):
            return pairs_hit, pairs_box, hits.new_zeros(0, 2)
        used, local = torch.unique(pairs_hit, return_inverse=True)
        hit_features = _sample_at(fine, hits[used], 4.0)
        geometry = self.member_head.geometry_of(hits[pairs_hit], boxes.detach()[pairs_box])
        logits = self.member_head(hit_features, local, pairs_box, geometry, vectors, len(boxes))
        return pairs_hit, pairs_box, logits

    # -- forward ---------------------------------------------------------------------------------

    def forward(self, images: list[Tensor], hits: list[Tensor] | None = None,
                targets: list[dict[str, Tensor]] | None = None, proposals: list[Tensor] | None = None,
                add_proposals: bool = False) -> Any:
        """Losses (training) or detections (eval). In eval, ``proposals`` (B lists of (P, 4)
        boxes, e.g. the arcs of the Hough transform) replace the RPN's, or with ``add_proposals``
        join them: the second stage then scores, refines and fills them with hits the same way."""
        if hits is None:
            hits = [im.new_zeros(0, 2) for im in images]
        image_list, features = self._features(images)
        if self.training:
            if targets is None:
                raise ValueError("training needs targets")
            proposals, rpn_losses = self.rpn(image_list, features, [{"boxes": t["boxes"]} for t in targets])
            return {**rpn_losses, **self._train_heads(features, proposals, image_list.image_sizes, hits, targets)}
        if proposals is None or add_proposals:
            found, _ = self.rpn(image_list, features)
            proposals = found if proposals is None else [torch.cat([a, b.to(a)]) for a, b in
                                                         zip(found, proposals, strict=True)]
        return self._detect(features, proposals, image_list.image_sizes, hits)

    def _train_heads(self, features: OrderedDict[str, Tensor], proposals: list[Tensor],
                     sizes: list[tuple[int, int]], hits: list[Tensor],
                     targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        from torchvision.models.detection.roi_heads import fastrcnn_loss
        from torchvision.ops import boxes as box_ops

        sampled, labels, regression, matched_gt = [], [], [], []
        for props, target in zip(proposals, targets, strict=True):
            gt = target["boxes"]
            props = torch.cat([props.detach(), gt])
            if len(gt):
                quality = box_ops.box_iou(gt, props)
                matches = self.matcher(quality)
                gt_index = matches.clamp(min=0)
                label = target["labels"][gt_index].clone()
                label[matches < 0] = 0
                reg_target = self.box_coder.encode_single(gt[gt_index], props)
            else:
                gt_index = torch.zeros(len(props), dtype=torch.int64)
                label = torch.zeros(len(props), dtype=torch.int64)
                reg_target = torch.zeros_like(props)
            positive, negative = self.sampler([label])
            keep = (positive[0] | negative[0]).nonzero().flatten()
            sampled.append(props[keep])
            labels.append(label[keep])
            regression.append(reg_target[keep])
            matched_gt.append(gt_index[keep])
        vectors = self._roi_vectors(features, sampled, sizes)
        class_logits, box_regression = self.box_predictor(vectors)
        loss_classifier, loss_box = fastrcnn_loss(class_logits, box_regression, labels, regression)
        # the membership head learns on positive RoIs: which hits in the region are its track's
        member_losses, order_losses = [], []
        fine = features["0"]
        offset = 0
        for b, (boxes, label, gt_index, target) in enumerate(zip(sampled, labels, matched_gt, targets, strict=True)):
            count = len(boxes)
            rows = (label > 0).nonzero().flatten()
            if len(rows) > self.member_rois:
                rows = rows[torch.randperm(len(rows))[:self.member_rois]]
            if len(rows) and len(hits[b]):
                pairs_hit, pairs_box, logits = self._members(fine[b], hits[b], boxes[rows],
                                                             vectors[offset:offset + count][rows],
                                                             self.member_hits_train)
                if len(pairs_hit):
                    truth = (target["hit_owner"][pairs_hit] == gt_index[rows][pairs_box]).float()
                    member_losses.append(F.binary_cross_entropy_with_logits(logits[:, 0], truth, reduction="sum")
                                         / max(1, len(rows)) / 64)
                    on = truth > 0
                    if on.any():
                        order = torch.sigmoid(logits[on, 1])
                        order_losses.append(F.smooth_l1_loss(order, target["hit_order"][pairs_hit[on]].float(),
                                                             beta=0.1))
            offset += count
        zero = class_logits.sum() * 0
        return {"loss_classifier": loss_classifier, "loss_box_reg": loss_box,
                "loss_members": torch.stack(member_losses).mean() if member_losses else zero,
                "loss_order": torch.stack(order_losses).mean() if order_losses else zero}

    @torch.no_grad()
    def _detect(self, features: OrderedDict[str, Tensor], proposals: list[Tensor], sizes: list[tuple[int, int]],
                hits: list[Tensor]) -> list[dict[str, Any]]:
        from torchvision.ops import boxes as box_ops

        vectors = self._roi_vectors(features, proposals, sizes)
        class_logits, box_regression = self.box_predictor(vectors)
        counts = [len(p) for p in proposals]
        decoded = self.box_coder.decode(box_regression, proposals)
        probabilities = torch.softmax(class_logits, -1)
        out = []
        for b, (boxes, probs, shape) in enumerate(zip(decoded.split(counts), probabilities.split(counts), sizes,
                                                      strict=True)):
            scores, labels = probs[:, 1:].max(dim=1)
            labels = labels + 1
            boxes = box_ops.clip_boxes_to_image(boxes[torch.arange(len(boxes)), labels], shape)
            ok = (scores >= self.score_threshold) & ((boxes[:, 2:] - boxes[:, :2]) > 1.0).all(dim=1)
            boxes, scores, labels = boxes[ok], scores[ok], labels[ok]
            keep = box_ops.nms(boxes, scores, self.nms_iou)[:self.detections_per_img]
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            members: list[tuple[Tensor, Tensor, Tensor]] = []
            if len(boxes):
                refined = self._roi_vectors(OrderedDict((k, v[b:b + 1]) for k, v in features.items()), [boxes],
                                            [shape])
                for start in range(0, len(boxes), self.CHUNK):  # bounded memory in crowded pictures
                    chunk = slice(start, start + self.CHUNK)
                    pairs_hit, pairs_box, logits = self._members(features["0"][b], hits[b], boxes[chunk],
                                                                 refined[chunk], None)
                    probs_member, order = torch.sigmoid(logits[:, 0]), torch.sigmoid(logits[:, 1])
                    bounds = torch.searchsorted(pairs_box, torch.arange(len(boxes[chunk]) + 1))
                    for k in range(len(boxes[chunk])):
                        part = slice(int(bounds[k]), int(bounds[k + 1]))
                        members.append((pairs_hit[part], probs_member[part], order[part]))
            out.append({"boxes": boxes, "scores": scores, "labels": labels, "members": members})
        return out


def hit_rcnn(*, num_classes: int = 11, image_size: int = 256, trunk: str = "small", fpn_channels: int = 64,
             widths: tuple[int, ...] = (24, 48, 64, 96), representation_size: int = 256, member_hidden: int = 64,
             rpn_proposals_train: int = 1000, rpn_proposals_test: int = 600, box_samples_per_image: int = 256,
             member_rois_per_image: int = 32, member_hits_train: int = 256, region_margin_px: float = 4.0,
             detections_per_img: int = 300, score_threshold: float = 0.05, nms_iou: float = 0.6,
             aspect_ratios: tuple[float, ...] = TRACK_ASPECT_RATIOS, smallest_anchor: int | None = None,
             image_mean: float = 0.7, image_std: float = 0.2) -> nn.Module:
    """Hit R-CNN from scratch (see the module docstring). ``num_classes`` counts the background (the
    data fills it in); ``trunk``: ``small`` (a residual trunk of ``widths``, greyscale) or
    ``resnet18``; ``member_rois_per_image``/``member_hits_train``: positive RoIs and hits per RoI the
    membership head trains on; ``nms_iou``: box NMS before membership (duplicates left are removed
    by hits, see :mod:`.curves`)."""
    return HitRCNN(num_classes=num_classes, image_size=image_size, trunk=trunk, fpn_channels=fpn_channels,
                   widths=tuple(widths), representation_size=representation_size, member_hidden=member_hidden,
                   rpn_proposals_train=rpn_proposals_train, rpn_proposals_test=rpn_proposals_test,
                   box_samples_per_image=box_samples_per_image, member_rois_per_image=member_rois_per_image,
                   member_hits_train=member_hits_train, region_margin_px=region_margin_px,
                   detections_per_img=detections_per_img, score_threshold=score_threshold, nms_iou=nms_iou,
                   aspect_ratios=tuple(aspect_ratios), smallest_anchor=smallest_anchor, image_mean=image_mean,
                   image_std=image_std)
