"""Arc Net: a hybrid two-stage track finder — Hough arcs as proposals, a learned stage on their hits.

First stage: the Hough transform (:class:`~.hough.HoughTracker`, used as it is) proposes arcs. Its
arcs are generous and partial: a track is often found in pieces, a piece of one track may carry
hits of another, and many arcs are fakes. Second stage, per proposal: the **band** of hits within
``band_px`` of the proposal's circle (or line), all round it, not only those the transform chose
— so the rest of a track found in pieces is in its band — with each hit described relative to the
arc (signed distance from the circle, place along and beyond the proposal's arc, whether the
transform chose it) and by its neighbourhood in the picture (hit density at 2 and 5 pixels, the
direction and straightness of the hits within 3 pixels and how well that direction follows the
arc's tangent, the distance to the picture's border). A small network over the band's hits,
sorted along the arc — a per-hit MLP, two 1-D convolutions along the arc (a hit's neighbours on
the track), and two PointNet rounds (each hit joined with the band's maximum) — gives each hit a
**membership** probability (it belongs to the proposal's track), and each proposal a **track**
score (its band holds most of one real track) and a **direction** (which way along the arc the
track runs, for its charge).

Tracks, best score first: a proposal claims its still-free member hits; one left with fewer than
``min_hits`` free members, or under half of its members free (a duplicate of a better one), is
dropped — duplicates are removed by shared hits — unless (``extend_rms``) the members it finds
taken are mostly one earlier track's and the union is still one circle: then its free members
extend that track (the rest of a track claimed in two pieces). Then the **iteration**: the hits of the tracks
accepted (score ≥ ``accept_score``) are removed and the Hough transform votes again among the
rest, up to ``iterations`` times; in a crowded picture a track whose votes were split by crossings
is often found only once the others are gone; with ``reclaim``, the hits of tracks under the accept
score stay on offer to the next passes (a fake claimed first no longer hides the hits of the real
track under it), and a track keeps only the hits no later one took. Each track's circle is refitted to its members: p_T
= 0.3 B R; its charge is the sign of its curvature along the predicted direction (:mod:`.curves`).

Training (``model(images, hits, targets)``) runs the same first stage on each training picture,
with the truth standing in for the network in the iteration (the hits of a real track that a
proposal's band holds are removed), and fits membership, track and direction with binary
cross-entropy: a proposal's track is the particle most of its own hits belong to; it is a real
track when that particle is annotated and its band holds more than half of the particle's hits
(a perfect membership would then match it). The image is not used: the picture's hits are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .hough import HoughTracker

FEATURES = 15
REACH_GAP_PX = 8.0  # the largest gap along the arc within one run of hits (as the Hough transform's)
LINE_RADIUS_PX = 5000.0  # fitted circles larger than this are treated as straight lines


@dataclass
class Proposal:
    """One first-stage arc and its band: ``band`` indices into the picture's hits, ``features``
    (len(band), FEATURES), ``position`` (len(band),) place along the arc in pixels."""

    band: np.ndarray
    features: np.ndarray
    position: np.ndarray
    own: np.ndarray  # the transform's own hits (indices into the picture's hits)


def neighbourhood(hits: np.ndarray) -> np.ndarray:
    """Per hit (H, 5): hit counts within 2 and 5 pixels, the principal direction (angle) and
    straightness ((λ1−λ2)/(λ1+λ2)) of the hits within 3 pixels, and the distance of the hit to
    its nearest neighbour."""
    from scipy.spatial import cKDTree

    n = len(hits)
    out = np.zeros((n, 5))
    if n == 0:
        return out
    tree = cKDTree(hits)
    pairs = tree.query_pairs(5.0, output_type="ndarray")
    i, j = (np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])) \
        if len(pairs) else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    d = np.hypot(*(hits[i] - hits[j]).T)
    out[:, 1] = np.bincount(i, minlength=n)
    close = d <= 2.0
    out[:, 0] = np.bincount(i[close], minlength=n)
    near = d <= 3.0
    ii, delta = i[near], hits[j[near]] - hits[i[near]]
    cxx = np.bincount(ii, delta[:, 0] ** 2, minlength=n)
    cyy = np.bincount(ii, delta[:, 1] ** 2, minlength=n)
    cxy = np.bincount(ii, delta[:, 0] * delta[:, 1], minlength=n)
    out[:, 2] = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
    total = cxx + cyy
    out[:, 3] = np.where(total > 0, np.sqrt((cxx - cyy) ** 2 + 4 * cxy ** 2) / np.maximum(total, 1e-9), 0.0)
    nearest = np.full(n, 5.0)
    np.minimum.at(nearest, i, d)
    out[:, 4] = nearest
    return out


class ArcProposals:
    """The first stage: Hough arcs and the band of hits around each (see the module docstring)."""

    def __init__(self, *, band_px: float = 5.0, max_band_hits: int = 384, min_hits: int = 10,
                 tolerance_px: float = 1.5, max_tracks: int = 300) -> None:
        self.band_px, self.max_band_hits = band_px, max_band_hits
        self.hough = HoughTracker(min_hits=min_hits, tolerance_px=tolerance_px, max_tracks=max_tracks)

    def __call__(self, hits: np.ndarray, local: np.ndarray, free: np.ndarray, width: int,
                 height: int) -> list[Proposal]:
        """Proposals among the ``free`` hits (a boolean mask) of a picture; ``local``: its
        :func:`neighbourhood`."""
        index = np.flatnonzero(free)
        if len(index) < self.hough.min_hits:
            return []
        _, arcs = self.hough(hits[index], width, height)
        points = hits[index]
        proposals = []
        for arc in arcs:
            own = index[arc.hits]
            made = self._band(points, index, local[index], own, hits[own], arc.fit, width, height)
            if made is not None:
                proposals.append(made)
        return proposals

    def _band(self, points: np.ndarray, index: np.ndarray, local: np.ndarray, own: np.ndarray, own_xy: np.ndarray,
              fit: Any, width: int, height: int) -> Proposal | None:
        if len(own_xy) < 3:
            return None
        line = fit is None or fit.radius > LINE_RADIUS_PX
        if line:
            centre = own_xy.mean(axis=0)
            axis = np.linalg.svd(own_xy - centre, full_matrices=False)[2][0]
            normal = np.array([-axis[1], axis[0]])
            residual = (points - centre) @ normal
            position = (points - centre) @ axis
            own_position = (own_xy - centre) @ axis
            tangent = np.full(len(points), math.atan2(axis[1], axis[0]))
            curvature = 0.0
        else:
            centre = np.array([fit.cx, fit.cy])
            offset = points - centre
            residual = np.hypot(offset[:, 0], offset[:, 1]) - fit.radius
            own_angle = np.arctan2(own_xy[:, 1] - fit.cy, own_xy[:, 0] - fit.cx)
            mean = math.atan2(np.sin(own_angle).mean(), np.cos(own_angle).mean())
            angle = np.angle(np.exp(1j * (np.arctan2(offset[:, 1], offset[:, 0]) - mean)))
            position = angle * fit.radius
            own_position = np.angle(np.exp(1j * (own_angle - mean))) * fit.radius
            tangent = np.arctan2(offset[:, 1], offset[:, 0]) + math.pi / 2
            curvature = 1.0 / fit.radius
        in_band = np.flatnonzero(np.abs(residual) < self.band_px)
        if len(in_band) < 3:
            return None
        start, end = float(own_position.min()), float(own_position.max())
        length = max(end - start, 1.0)
        beyond = np.maximum(0.0, np.maximum(start - position[in_band], position[in_band] - end))
        if len(in_band) > self.max_band_hits:  # the nearest to the proposal's own arc first
            keep = np.lexsort((np.abs(residual[in_band]), beyond))[:self.max_band_hits]
            in_band, beyond = in_band[keep], beyond[keep]
        in_band = in_band[np.argsort(position[in_band], kind="stable")]
        beyond = np.maximum(0.0, np.maximum(start - position[in_band], position[in_band] - end))
        band = index[in_band]
        is_own = np.isin(band, own)
        lo = local[in_band]
        align = np.abs(np.cos(lo[:, 2] - tangent[in_band]))
        xy = points[in_band]
        reach = _reached(position[in_band], np.abs(residual[in_band]) < 2.0, is_own)
        border = np.minimum.reduce([xy[:, 0], xy[:, 1], width - xy[:, 0], height - xy[:, 1]])
        features = np.stack([
            residual[in_band] / 2.0,
            np.clip(2 * (position[in_band] - start) / length - 1, -3, 3),
            np.clip(beyond / 20.0, 0, 5),
            is_own.astype(np.float64),
            lo[:, 0] / 4.0,
            lo[:, 1] / 15.0,
            align,
            lo[:, 3],
            np.clip(lo[:, 4] / 2.0, 0, 3),
            np.clip(border / 30.0, 0, 3),
            np.full(len(band), min(30.0 * curvature, 10.0)),
            np.full(len(band), length / 100.0),
            np.full(len(band), len(own_xy) / 100.0),
            np.clip(position[in_band] / 100.0, -5, 5),
            reach,
        ], axis=1)
        return Proposal(band, features.astype(np.float32), position[in_band], own)


def _on_circle(xy: np.ndarray, tolerance: float) -> np.ndarray:
    """The hits of one track that lie on its circle: a robust fit, hits over ``tolerance`` pixels
    and over 3 robust σ from it dropped, three rounds."""
    from .arcs import quick_fit

    keep = np.ones(len(xy), dtype=bool)
    for _ in range(3):
        fit = quick_fit(xy[keep])
        if fit is None:
            return keep
        residual = np.abs(np.hypot(xy[:, 0] - fit.cx, xy[:, 1] - fit.cy) - fit.radius)
        limit = max(tolerance, 3 * 1.4826 * float(np.median(residual[keep])))
        new = residual <= limit
        if new.sum() < 3 or (new == keep).all():
            break
        keep = new
    return keep


def _reached(position: np.ndarray, on: np.ndarray, own: np.ndarray) -> np.ndarray:
    """1 for the hits near the circle (``on``) in a run along the arc (gaps of at most
    ``REACH_GAP_PX``) that holds one of the proposal's own hits; ``position`` sorted."""
    out = np.zeros(len(position))
    index = np.flatnonzero(on)
    if not len(index):
        return out
    run = np.concatenate([[0], np.cumsum(np.diff(position[index]) > REACH_GAP_PX)])
    reached = np.unique(run[own[index]])
    out[index[np.isin(run, reached)]] = 1.0
    return out


class _MaskedConv(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 5, padding=2 * dilation, dilation=dilation)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # x (P, C, N), mask (P, 1, N)
        return x + F.relu(self.conv(x * mask)) * mask


class ArcNetHead(nn.Module):
    """Membership per hit, track and direction per proposal, over padded bands (P, N, FEATURES)."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.along = nn.ModuleList([_MaskedConv(hidden, 1), _MaskedConv(hidden, 3)])
        self.round = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.member = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.track = nn.Sequential(nn.Linear(2 * hidden + 2, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    @staticmethod
    def _pool(x: Tensor, mask: Tensor) -> Tensor:  # x (P, N, C), mask (P, N)
        return x.masked_fill(~mask[..., None], -1e4).amax(dim=1)

    def forward(self, features: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Member logits (P, N); track and direction logits (P, 2)."""
        x = self.embed(features)
        m = mask[:, None, :].to(x.dtype)
        y = x.transpose(1, 2)
        for layer in self.along:
            y = layer(y, m)
        x = y.transpose(1, 2)
        x = self.round(torch.cat([x, self._pool(x, mask)[:, None].expand_as(x)], dim=2))
        pooled = self._pool(x, mask)
        member = self.member(torch.cat([x, pooled[:, None].expand_as(x)], dim=2)).squeeze(2)
        # the band's membership-weighted mean too: what the hits it would keep look like
        weight = torch.sigmoid(member).masked_fill(~mask, 0.0)
        mean = (x * weight[..., None]).sum(1) / weight.sum(1, keepdim=True).clamp(min=1.0)
        counts = torch.stack([weight.sum(1) / 100.0, mask.sum(1).to(x.dtype) / 100.0], dim=1)
        return member, self.track(torch.cat([pooled, mean, counts], dim=1))


def _pad(proposals: list[Proposal]) -> tuple[Tensor, Tensor]:
    n = max(len(p.band) for p in proposals)
    features = torch.zeros(len(proposals), n, FEATURES)
    mask = torch.zeros(len(proposals), n, dtype=torch.bool)
    for k, p in enumerate(proposals):
        features[k, :len(p.band)] = torch.from_numpy(p.features)
        mask[k, :len(p.band)] = True
    return features, mask


class ArcNet(nn.Module):
    """The hybrid two-stage track finder (see the module docstring). ``takes_hits`` tells the task
    to pass each picture's hits; the output follows Hit R-CNN's (``members``: per track the hit
    indices, their membership probabilities and their order along the track)."""

    takes_hits = True
    CHUNK = 256  # proposals scored at once

    def __init__(self, *, hidden: int = 64, band_px: float = 5.0, max_band_hits: int = 384, hough_min_hits: int = 10,
                 iterations: int = 3, accept_score: float = 0.3, member_threshold: float = 0.5, min_hits: int = 5,
                 proposals_per_picture_train: int = 96, replay_proposals: int = 0, proposals_per_step: int = 128,
                 merge: bool = True, clean_px: float = 0.0, extend_rms: float = 0.0,
                 reclaim: bool = False, find_iterations: int | None = None, direction_weight: float = 0.5,
                 split_kinks: bool = False, join_gap_px: float = 0.0) -> None:
        super().__init__()
        self.split_kinks, self.join_gap_px = split_kinks, join_gap_px
        self.reclaim, self.direction_weight = reclaim, direction_weight
        self.find_iterations = iterations if find_iterations is None else find_iterations
        self.extend_rms = extend_rms
        self.merge = merge
        self.clean_px = clean_px
        self.head = ArcNetHead(hidden)
        self.first_stage = ArcProposals(band_px=band_px, max_band_hits=max_band_hits, min_hits=hough_min_hits)
        self.iterations, self.accept_score = iterations, accept_score
        self.member_threshold, self.min_hits = member_threshold, min_hits
        self.proposals_train = proposals_per_picture_train
        self.replay_proposals, self.proposals_per_step = replay_proposals, proposals_per_step
        self.generator = np.random.default_rng(0)
        self._replay: list = []  # recent pictures' proposals, trained on again (not saved with the weights)

    def forward(self, images: list[Tensor], hits: list[Tensor] | None = None,
                targets: list[dict[str, Tensor]] | None = None, **_: Any) -> Any:
        if hits is None:
            raise ValueError("Arc Net needs each picture's hits")
        sizes = [(int(im.shape[-1]), int(im.shape[-2])) for im in images]
        if self.training:
            if targets is None:
                raise ValueError("training needs targets")
            return self._losses(hits, targets, sizes)
        return [self.find(h.detach().cpu().numpy().astype(np.float64), *size) for h, size in
                zip(hits, sizes, strict=True)]

    # -- training --------------------------------------------------------------------------------

    def training_examples(self, hits: np.ndarray, owner: np.ndarray, order: np.ndarray, n_true: int, width: int,
                          height: int) -> list[tuple[Proposal, np.ndarray, float, float]]:
        """(proposal, member targets, track target, direction target (NaN: none)) of one picture,
        the truth standing in for the network between iterations."""
        local = neighbourhood(hits)
        free = np.ones(len(hits), dtype=bool)
        ids, sizes = np.unique(owner, return_counts=True)
        size_of = dict(zip(ids.tolist(), sizes.tolist(), strict=True))
        examples = []
        for _ in range(self.iterations):
            proposals = self.first_stage(hits, local, free, width, height)
            removed = False
            for p in proposals:
                theirs, counts = np.unique(owner[p.own], return_counts=True)
                particle = int(theirs[np.argmax(counts)])
                member = (owner[p.band] == particle).astype(np.float32)
                real = particle >= 0 and counts.max() >= 0.5 * len(p.own) and \
                    member.sum() > 0.5 * size_of[particle]
                direction = math.nan
                if real:
                    chosen = member > 0
                    if chosen.sum() >= 3 and np.std(order[p.band][chosen]) > 0:
                        direction = float(np.corrcoef(order[p.band][chosen], p.position[chosen])[0, 1] >= 0)
                    if free[p.band[chosen]].any():
                        free[p.band[chosen]] = False
                        removed = True
                examples.append((p, member, float(real), direction))
            if not removed:
                break
        return examples

    def _losses(self, hits: list[Tensor], targets: list[dict[str, Tensor]],
                sizes: list[tuple[int, int]]) -> dict[str, Tensor]:
        examples = []
        for h, t, (width, height) in zip(hits, targets, sizes, strict=True):
            found = self.training_examples(h.numpy().astype(np.float64), t["hit_owner"].numpy(),
                                           t["hit_order"].numpy(), len(t["labels"]), width, height)
            if len(found) > self.proposals_train:
                keep = self.generator.choice(len(found), self.proposals_train, replace=False)
                found = [found[k] for k in keep]
            examples += found
        if self.replay_proposals:
            # the first stage costs far more than a step of the network: recent proposals are reused
            self._replay = (self._replay + examples)[-self.replay_proposals:]
            old = self.proposals_per_step - len(examples)
            if old > 0 and len(self._replay) > len(examples):
                pool = len(self._replay) - len(examples)
                examples = examples + [self._replay[k] for k in self.generator.choice(pool, min(old, pool),
                                                                                       replace=False)]
        zero = self.head.member[-1].bias.sum() * 0.0
        if not examples:
            return {"member": zero, "track": zero, "direction": zero}
        features, mask = _pad([e[0] for e in examples])
        member_target = torch.zeros(mask.shape)
        for k, e in enumerate(examples):
            member_target[k, :len(e[1])] = torch.from_numpy(e[1])
        track_target = torch.tensor([e[2] for e in examples])
        direction_target = torch.tensor([e[3] for e in examples])
        member, heads = self.head(features, mask)
        per_hit = F.binary_cross_entropy_with_logits(member, member_target, reduction="none")
        member_loss = (per_hit * mask).sum(1) / mask.sum(1)
        track_loss = F.binary_cross_entropy_with_logits(heads[:, 0], track_target)
        known = torch.isfinite(direction_target)
        direction_loss = F.binary_cross_entropy_with_logits(heads[known, 1], direction_target[known]) \
            if known.any() else zero
        return {"member": member_loss.mean(), "track": track_loss, "direction": self.direction_weight * direction_loss}

    # -- finding tracks --------------------------------------------------------------------------

    @torch.no_grad()
    def score(self, proposals: list[Proposal]) -> list[tuple[np.ndarray, float, float]]:
        """(membership probabilities, track score, probability the track runs along +position)."""
        out = []
        for first in range(0, len(proposals), self.CHUNK):
            chunk = proposals[first:first + self.CHUNK]
            features, mask = _pad(chunk)
            member, heads = self.head(features, mask)
            member, heads = torch.sigmoid(member).numpy(), torch.sigmoid(heads).numpy()
            out += [(member[k, :len(p.band)], float(heads[k, 0]), float(heads[k, 1])) for k, p in enumerate(chunk)]
        return out

    def _merge(self, hits: np.ndarray, boxes: list, scores: list, members: list) -> tuple[list, list, list]:
        """Join tracks whose ends meet and whose union is still one circle (the Hough transform's
        rule: ends within twice the gap, union rms under 0.6 × its tolerance): one track claimed
        in two pieces by two proposals. The joined track keeps the better score and runs the way
        the better piece ran."""
        from .arcs import GAP_PX, quick_fit
        from .curves import arc_positions
        from .pieces import close_end_pairs

        tracks = [[index, prob, order, score] for (index, prob, order), score in zip(members, scores, strict=True)]
        rejected: set[tuple[int, int]] = set()
        while len(tracks) > 1:
            pairs = close_end_pairs(hits, tracks, 2 * GAP_PX)
            joined = False
            for i, j in pairs:
                key = (id(tracks[i][0]), id(tracks[j][0]))
                if key in rejected:
                    continue
                union = np.concatenate([tracks[i][0], tracks[j][0]])
                fit = quick_fit(hits[union])
                if fit is None or fit.rms > 0.6 * self.first_stage.hough.tolerance:
                    rejected.add(key)
                    continue
                better = i if tracks[i][3] >= tracks[j][3] else j
                positions = arc_positions(hits[union], fit)
                own = len(tracks[i][0])
                mine = positions[:own] if better == i else positions[own:]
                way = 1.0 if np.corrcoef(mine, tracks[better][2])[0, 1] >= 0 or len(mine) < 3 else -1.0
                tracks[i] = [union, np.concatenate([tracks[i][1], tracks[j][1]]), positions * way,
                             max(tracks[i][3], tracks[j][3])]
                tracks.pop(j)
                joined = True
                break
            if not joined:
                break
        boxes = [[*hits[t[0]].min(axis=0), *hits[t[0]].max(axis=0)] for t in tracks]
        return boxes, [t[3] for t in tracks], [(t[0], t[1], t[2]) for t in tracks]

    def _extend(self, hits: np.ndarray, owner: np.ndarray, members: list, scores: list, p: Proposal,
                prob: np.ndarray, chosen: np.ndarray, mine: np.ndarray, score: float) -> bool:
        """A proposal whose members taken already are mostly one earlier track's (≥ 70 %, at least
        ``min_hits``) continues that track: its free members join the track when the union is
        still one circle (rms ≤ ``extend_rms``). The other half of a track claimed in two pieces,
        which the duplicate rule would drop or keep as a second, unmatched piece."""
        from .arcs import quick_fit
        from .curves import arc_positions

        candidates = p.band[chosen]
        taken = owner[candidates][~mine]
        if len(taken) < self.min_hits:
            return False
        ids, counts = np.unique(taken, return_counts=True)
        best = int(np.argmax(counts))
        if counts[best] < 0.7 * len(taken):
            return False
        t = int(ids[best])
        index, old_prob, old_order = members[t]
        union = np.concatenate([index, candidates[mine]])
        fit = quick_fit(hits[union])
        if fit is None or fit.rms > self.extend_rms:
            return False
        positions = arc_positions(hits[union], fit)
        old = positions[:len(index)]
        way = 1.0 if len(old) < 3 or np.std(old_order) == 0 or np.corrcoef(old, old_order)[0, 1] >= 0 else -1.0
        owner[candidates[mine]] = t
        members[t] = (union, np.concatenate([old_prob, prob[chosen][mine]]), positions * way)
        scores[t] = max(scores[t], score)
        return True

    def find(self, hits: np.ndarray, width: int, height: int) -> dict[str, Any]:
        """One picture's tracks, as Hit R-CNN's output: ``boxes``, ``scores``, ``labels`` and
        ``members`` (hit indices, probabilities, order along the track: the predicted direction)."""
        owner = np.full(len(hits), -1, dtype=np.int64)
        local = neighbourhood(hits)
        boxes, scores, members = [], [], []
        for _ in range(self.find_iterations):
            free = owner < 0
            if self.reclaim and scores:  # the hits of tracks under the accept score stay on offer
                free |= np.asarray(scores)[owner] < self.accept_score
            proposals = self.first_stage(hits, local, free, width, height)
            if not proposals:
                break
            scored = self.score(proposals)
            accepted = 0
            for k in np.argsort([-s for _, s, _ in scored], kind="stable"):
                prob, track, forward = scored[k]
                p = proposals[k]
                chosen = prob >= self.member_threshold
                candidates = p.band[chosen]
                mine = free[candidates] if self.reclaim else owner[candidates] < 0
                if self.extend_rms > 0 and mine.any() and self._extend(hits, owner, members, scores, p, prob,
                                                                       chosen, mine, track):
                    free[candidates[mine]] = False
                    continue
                if mine.sum() < self.min_hits or mine.sum() < 0.5 * len(candidates):
                    continue
                index = candidates[mine]
                keep = _on_circle(hits[index], self.clean_px) if self.clean_px > 0 else None
                if keep is not None:
                    if keep.sum() < self.min_hits:
                        continue
                    index = index[keep]
                    mine = np.flatnonzero(mine)[keep]
                owner[index] = len(scores)
                free[index] = False
                xy = hits[index]
                boxes.append([*xy.min(axis=0), *xy.max(axis=0)])
                scores.append(track)
                order = p.position[chosen][mine] * (1.0 if forward >= 0.5 else -1.0)
                members.append((index, prob[chosen][mine], order))
                accepted += track >= self.accept_score
            if not accepted:
                break
        if self.reclaim:  # a track keeps only the hits no later track took from it
            kept = [(t, owner[m[0]] == t) for t, m in enumerate(members)]
            kept = [(t, own) for t, own in kept if own.sum() >= self.min_hits]
            members = [tuple(part[own] for part in members[t]) for t, own in kept]
            scores = [scores[t] for t, _ in kept]
        if self.merge:
            boxes, scores, members = self._merge(hits, boxes, scores, members)
        if self.split_kinks:  # a found track that is two end to end, cut where they meet
            from .pieces import split_kinked

            members, scores = split_kinked(hits, members, scores)
        if self.join_gap_px > 0:  # the pieces of one track: facing ends close, one circle locally
            from .pieces import join_pieces

            members, scores = join_pieces(hits, members, scores, gap_px=self.join_gap_px)
        boxes = [[*hits[m[0]].min(axis=0), *hits[m[0]].max(axis=0)] for m in members]  # tracks extended since
        return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                "scores": torch.tensor(scores, dtype=torch.float32),
                "labels": torch.ones(len(scores), dtype=torch.int64), "members": members}


def arc_net(*, hidden: int = 64, band_px: float = 5.0, max_band_hits: int = 384, hough_min_hits: int = 10,
            iterations: int = 3, accept_score: float = 0.3, member_threshold: float = 0.5, min_hits: int = 5,
            proposals_per_picture_train: int = 96, replay_proposals: int = 0, proposals_per_step: int = 128,
            merge: bool = True, clean_px: float = 0.0, extend_rms: float = 0.0,
            reclaim: bool = False, find_iterations: int | None = None, direction_weight: float = 0.5,
            split_kinks: bool = False, join_gap_px: float = 0.0, num_classes: int | None = None,
            **_: Any) -> nn.Module:
    """Arc Net (see the module docstring): ``band_px`` the band's half-width around each Hough arc,
    ``max_band_hits`` its cap, ``iterations`` the Hough passes (``find_iterations``: when finding
    tracks, if other than in training), ``accept_score`` the track score whose hits are removed
    before the next pass (with ``reclaim``, the hits of tracks under it stay on offer to the next
    passes' proposals), ``proposals_per_picture_train`` the proposals of one training picture the
    losses use (a random subset); with ``replay_proposals``, the proposals of recent pictures (up
    to that many) fill each step up to ``proposals_per_step``; ``direction_weight`` the direction
    loss's weight. Post-processing: ``extend_rms`` > 0 lets a proposal whose taken members are
    mostly one earlier track's extend that track (union circle rms at most that, pixels);
    ``clean_px`` > 0 keeps of each track only the hits on its robust circle fit; ``split_kinks`` cuts
    a found track that is two end to end where they meet (:func:`~.pieces.split_kinked`);
    ``join_gap_px`` > 0 joins found tracks that are pieces of one, facing ends within that many
    pixels (:func:`~.pieces.join_pieces`). Both stay off by default: scored on scratch pictures
    (``benchmarks/results/tracks_arc_options.md``) neither raised efficiency × (1 − fake rate) at 20
    or 40 primary tracks (splitting adds efficiency and more fakes; joining removes duplicates but
    joins pieces of different tracks: more absorbed tracks, lower efficiency)."""
    return ArcNet(hidden=hidden, band_px=band_px, max_band_hits=max_band_hits, hough_min_hits=hough_min_hits,
                  iterations=iterations, accept_score=accept_score, member_threshold=member_threshold,
                  min_hits=min_hits, proposals_per_picture_train=proposals_per_picture_train,
                  replay_proposals=replay_proposals, proposals_per_step=proposals_per_step, merge=merge,
                  clean_px=clean_px, extend_rms=extend_rms, reclaim=reclaim,
                  find_iterations=find_iterations, direction_weight=direction_weight, split_kinks=split_kinks,
                  join_gap_px=join_gap_px)
