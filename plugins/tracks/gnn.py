"""Hit-graph GNN: the baseline a tracking physicist would reach for (Exa.TrkX style).

The picture's hits are the nodes of a graph with an edge between every two hits within
``radius_px`` (a radius graph, :func:`radius_graph`); each hit is described by its place in the
picture and its neighbourhood (hit counts within 2 and 5 pixels, the principal direction and
straightness of the hits within 3 pixels, the distance to its nearest neighbour), each edge by its
offset and how well it follows the local directions at both ends. An **Interaction Network**
(Battaglia et al., NeurIPS 2016; as in the Exa.TrkX pipeline, Ju et al., EPJC 2021) updates edge
and node states for ``iterations`` rounds (an MLP on each edge from its two hits and itself, an MLP
on each hit from itself and the sums of its incoming and outgoing edge states) and classifies each
edge: do its two hits belong to the same particle, near each other along its path (at most
``max_rank_gap`` bubbles apart, so a spiral's turns are not one piece of track)? A second output
says which way the particle runs along the edge (it gives the track's direction, for its charge).
Trained with binary cross-entropy on the truth of simulated pictures (a random window of the
picture when it holds more than ``max_train_hits`` hits).

Tracks: the connected components of the edges whose probability reaches ``edge_threshold``
(optionally only edges among the ``max_degree`` best of both their hits, which keeps a crossing
from joining two tracks through one bad edge), with at least ``min_hits`` hits; a track's score
is the mean probability of its edges; its hits' order along it is their place along the fitted
arc, turned by the summed direction outputs of its edges. The output follows Hit R-CNN's and Arc
Net's (``members``), so :func:`.curves.tracks_from_members` fits each track's circle (p_T = 0.3 B R)
and its charge, and the task and the crowding harness score it unchanged. The image is not used.

Message passing is written with plain ``index_add_`` (no torch_geometric or pyg-lib needed); the
radius graph with scipy's k-d tree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

NODE_FEATURES = 9
EDGE_FEATURES = 6


def radius_graph(points: np.ndarray, radius: float) -> np.ndarray:
    """Every pair of points (N, 2) within ``radius`` of each other, once, as (E, 2) indices i < j."""
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray").astype(np.int64)
    if not len(pairs):
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.sort(pairs, axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def local_shape(hits: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Per hit (N, 5), from the pairs within 5 pixels: hit counts within 2 and 5 pixels, the
    principal direction (angle) and straightness ((λ1−λ2)/(λ1+λ2)) of the hits within 3 pixels,
    the distance to the nearest neighbour (5 when none)."""
    n = len(hits)
    out = np.zeros((n, 5))
    out[:, 4] = 5.0
    if n == 0 or not len(pairs):
        return out
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    delta = hits[j] - hits[i]
    d = np.hypot(delta[:, 0], delta[:, 1])
    within = d <= 5.0
    out[:, 1] = np.bincount(i[within], minlength=n)
    out[:, 0] = np.bincount(i[d <= 2.0], minlength=n)
    near = d <= 3.0
    ii, dn = i[near], delta[near]
    cxx = np.bincount(ii, dn[:, 0] ** 2, minlength=n)
    cyy = np.bincount(ii, dn[:, 1] ** 2, minlength=n)
    cxy = np.bincount(ii, dn[:, 0] * dn[:, 1], minlength=n)
    out[:, 2] = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
    total = cxx + cyy
    out[:, 3] = np.where(total > 0, np.sqrt((cxx - cyy) ** 2 + 4 * cxy ** 2) / np.maximum(total, 1e-9), 0.0)
    np.minimum.at(out[:, 4], i[within], d[within])
    return out


def node_features(hits: np.ndarray, local: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, NODE_FEATURES): the picture-normalised place, the neighbourhood (see :func:`local_shape`,
    the direction as cos 2θ, sin 2θ: a line has no sense) and the distance to the border."""
    border = np.minimum.reduce([hits[:, 0], hits[:, 1], width - hits[:, 0], height - hits[:, 1]]) \
        if len(hits) else np.zeros(0)
    return np.stack([
        hits[:, 0] / width * 2 - 1, hits[:, 1] / height * 2 - 1,
        local[:, 0] / 4.0, local[:, 1] / 15.0,
        np.cos(2 * local[:, 2]), np.sin(2 * local[:, 2]), local[:, 3],
        np.clip(local[:, 4] / 2.0, 0, 3), np.clip(border / 30.0, 0, 3),
    ], axis=1).astype(np.float32)


def edge_features(hits: np.ndarray, local: np.ndarray, src: np.ndarray, dst: np.ndarray,
                  radius: float) -> np.ndarray:
    """(E, EDGE_FEATURES) of directed edges src → dst: the offset over the radius, its length, and
    how well it follows the principal direction at each end (|cos|, and the two ends' agreement)."""
    delta = hits[dst] - hits[src]
    length = np.hypot(delta[:, 0], delta[:, 1])
    angle = np.arctan2(delta[:, 1], delta[:, 0])
    return np.stack([
        delta[:, 0] / radius, delta[:, 1] / radius, length / radius,
        np.abs(np.cos(angle - local[src, 2])) * local[src, 3],
        np.abs(np.cos(angle - local[dst, 2])) * local[dst, 3],
        np.abs(np.cos(local[src, 2] - local[dst, 2])),
    ], axis=1).astype(np.float32)


def hit_ranks(owner: np.ndarray) -> np.ndarray:
    """Each hit's place (0, 1, 2, …) among its particle's hits, in the order of the array (the
    simulator writes a particle's bubbles along its path)."""
    owner = np.asarray(owner)
    rank = np.zeros(len(owner), dtype=np.int64)
    if not len(owner):
        return rank
    sort = np.argsort(owner, kind="stable")
    sorted_owner = owner[sort]
    starts = np.flatnonzero(np.r_[True, sorted_owner[1:] != sorted_owner[:-1]])
    counts = np.diff(np.r_[starts, len(owner)])
    rank[sort] = np.arange(len(owner)) - np.repeat(starts, counts)
    return rank


def edge_truth(owner: np.ndarray, pairs: np.ndarray, max_rank_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pair (i, j): 1 when both hits are one particle's (owner ≠ −1, which marks noise) and at
    most ``max_rank_gap`` of its bubbles apart; and 1 when that particle runs from i to j (the
    direction target, meaningful on true edges only)."""
    rank = hit_ranks(owner)
    i, j = pairs[:, 0], pairs[:, 1]
    gap = rank[j] - rank[i]
    same = (owner[i] == owner[j]) & (owner[i] != -1) & (np.abs(gap) <= max_rank_gap)
    return same.astype(np.float32), (gap > 0).astype(np.float32)


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """The connected component (0, 1, …) of each of ``n`` nodes under the undirected ``pairs``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) \
        else coo_matrix((n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def top_degree(n: int, pairs: np.ndarray, prob: np.ndarray, k: int) -> np.ndarray:
    """A mask of the pairs that are among the ``k`` most probable of both their hits."""
    if not len(pairs):
        return np.zeros(0, dtype=bool)
    ends = np.concatenate([pairs[:, 0], pairs[:, 1]])
    order = np.lexsort((-np.concatenate([prob, prob]), ends))
    sorted_ends = ends[order]
    starts = np.flatnonzero(np.r_[True, sorted_ends[1:] != sorted_ends[:-1]])
    place = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    good = np.zeros(len(order), dtype=bool)
    good[order] = place < k
    return good[:len(pairs)] & good[len(pairs):]


def stitch(hits: np.ndarray, groups: list[np.ndarray], *, reach_px: float, rms_px: float,
           passes: int = 6) -> list[np.ndarray]:
    """Join pieces of one track broken where its bubbles leave a gap wider than the graph's radius:
    two groups of hits (of two or more) whose ends lie within ``reach_px`` and whose union is still
    one circle (rms residual under ``rms_px``), the closest ends first; a group joins once per pass,
    for up to ``passes`` passes."""
    from scipy.spatial import cKDTree

    from .curves import arc_positions
    from .fitting import fit_circle

    def ends_of(group: np.ndarray) -> np.ndarray:
        xy = hits[group]
        if len(group) < 3:
            return np.stack([xy[0], xy[-1]])
        place = arc_positions(xy, fit_circle(xy))
        return np.stack([xy[np.argmin(place)], xy[np.argmax(place)]])

    groups = [g for g in groups if len(g) >= 2]
    ends = [ends_of(g) for g in groups]
    tried: set[tuple[int, int]] = set()  # pairs of unchanged groups already refused
    for _ in range(passes):
        if len(groups) < 2:
            break
        points = np.concatenate(ends)  # group g's ends are rows 2g, 2g + 1
        near = cKDTree(points).query_pairs(reach_px, output_type="ndarray")
        if not len(near):
            break
        owner = near // 2
        near, owner = near[owner[:, 0] != owner[:, 1]], owner[owner[:, 0] != owner[:, 1]]
        gap = np.hypot(*(points[near[:, 0]] - points[near[:, 1]]).T)
        busy = np.zeros(len(groups), dtype=bool)
        merged_into: dict[int, int] = {}
        for k in np.argsort(gap, kind="stable"):
            i, j = sorted(owner[k].tolist())
            if busy[i] or busy[j] or (id(groups[i]), id(groups[j])) in tried:
                continue
            union = np.concatenate([groups[i], groups[j]])
            fit = fit_circle(hits[union])
            if fit is None or fit.rms > rms_px:
                tried.add((id(groups[i]), id(groups[j])))
                continue
            busy[i] = busy[j] = True
            merged_into[j] = i
            groups[i] = union
            ends[i] = ends_of(union)
        if not merged_into:
            break
        groups = [g for k, g in enumerate(groups) if k not in merged_into]
        ends = [e for k, e in enumerate(ends) if k not in merged_into]
    return groups


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, outputs))


class InteractionNetwork(nn.Module):
    """Edge and node states updated ``iterations`` times (residual), then two logits per directed
    edge: same track, and the particle running src → dst."""

    def __init__(self, hidden: int = 32, iterations: int = 4) -> None:
        super().__init__()
        self.node_in = _mlp(NODE_FEATURES, hidden, hidden)
        self.edge_in = _mlp(EDGE_FEATURES, hidden, hidden)
        self.edge_updates = nn.ModuleList([_mlp(3 * hidden, hidden, hidden) for _ in range(iterations)])
        self.node_updates = nn.ModuleList([_mlp(3 * hidden, hidden, hidden) for _ in range(iterations)])
        self.out = _mlp(3 * hidden, hidden, 2)

    def forward(self, x: Tensor, e: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        h, e = self.node_in(x), self.edge_in(e)
        for edge_update, node_update in zip(self.edge_updates, self.node_updates, strict=True):
            e = e + edge_update(torch.cat([h[src], h[dst], e], dim=1))
            incoming = torch.zeros_like(h).index_add_(0, dst, e)
            outgoing = torch.zeros_like(h).index_add_(0, src, e)
            h = h + node_update(torch.cat([h, incoming, outgoing], dim=1))
        return self.out(torch.cat([h[src], h[dst], e], dim=1))


class HitGraph:
    """One picture's graph: pairs (E, 2), and the tensors the network takes (edges both ways)."""

    def __init__(self, hits: np.ndarray, width: int, height: int, radius: float) -> None:
        self.hits = hits
        near = radius_graph(hits, max(radius, 5.0))
        length = np.hypot(*(hits[near[:, 1]] - hits[near[:, 0]]).T) if len(near) else np.zeros(0)
        local = local_shape(hits, near[length <= 5.0])
        self.pairs = near[length <= radius]
        src = np.concatenate([self.pairs[:, 0], self.pairs[:, 1]])
        dst = np.concatenate([self.pairs[:, 1], self.pairs[:, 0]])
        self.x = torch.from_numpy(node_features(hits, local, width, height))
        self.e = torch.from_numpy(edge_features(hits, local, src, dst, radius))
        self.src, self.dst = torch.from_numpy(src), torch.from_numpy(dst)

    def logits(self, network: InteractionNetwork) -> tuple[Tensor, Tensor]:
        """Per pair: the same-track logit (both directions averaged) and the i → j direction logit
        (antisymmetric)."""
        if not len(self.pairs):
            zero = network.out[-1].bias.sum() * 0.0
            return zero.expand(0), zero.expand(0)
        out = network(self.x, self.e, self.src, self.dst)
        forward, backward = out[:len(self.pairs)], out[len(self.pairs):]
        return 0.5 * (forward[:, 0] + backward[:, 0]), forward[:, 1] - backward[:, 1]


class HitGraphGNN(nn.Module):
    """The hit-graph edge classifier and its track building (see the module docstring).
    ``takes_hits`` tells the task to pass each picture's hits."""

    takes_hits = True

    def __init__(self, *, hidden: int = 32, iterations: int = 4, radius_px: float = 4.0, max_rank_gap: int = 10,
                 edge_threshold: float = 0.5, max_degree: int = 0, min_hits: int = 5,
                 max_train_hits: int = 12000, positive_weight: float = 1.0, stitch_px: float = 0.0,
                 stitch_rms_px: float = 1.0) -> None:
        super().__init__()
        self.network = InteractionNetwork(hidden, iterations)
        self.radius, self.max_rank_gap = radius_px, max_rank_gap
        self.edge_threshold, self.max_degree, self.min_hits = edge_threshold, max_degree, min_hits
        self.max_train_hits, self.positive_weight = max_train_hits, positive_weight
        self.stitch_px, self.stitch_rms_px = stitch_px, stitch_rms_px
        self.generator = np.random.default_rng(0)

    def forward(self, images: list[Tensor], hits: list[Tensor] | None = None,
                targets: list[dict[str, Tensor]] | None = None, **_: Any) -> Any:
        if hits is None:
            raise ValueError("the hit-graph GNN needs each picture's hits")
        sizes = [(int(im.shape[-1]), int(im.shape[-2])) for im in images]
        if self.training:
            if targets is None:
                raise ValueError("training needs targets")
            return self._losses(hits, targets, sizes)
        return [self.find(h.detach().cpu().numpy().astype(np.float64), *size)
                for h, size in zip(hits, sizes, strict=True)]

    # -- training --------------------------------------------------------------------------------

    def window(self, hits: np.ndarray, width: int, height: int) -> np.ndarray:
        """The hits of a random square window holding about ``max_train_hits`` (all if fewer)."""
        if len(hits) <= self.max_train_hits:
            return np.arange(len(hits))
        side = math.sqrt(self.max_train_hits / len(hits)) * max(width, height)
        x0 = self.generator.uniform(0, max(width - side, 0))
        y0 = self.generator.uniform(0, max(height - side, 0))
        inside = (hits[:, 0] >= x0) & (hits[:, 0] < x0 + side) & (hits[:, 1] >= y0) & (hits[:, 1] < y0 + side)
        return np.flatnonzero(inside)

    def _losses(self, hits: list[Tensor], targets: list[dict[str, Tensor]],
                sizes: list[tuple[int, int]]) -> dict[str, Tensor]:
        edge_losses, direction_losses = [], []
        for h, t, (width, height) in zip(hits, targets, sizes, strict=True):
            points = h.numpy().astype(np.float64)
            owner = t["hit_owner"].numpy()
            keep = self.window(points, width, height)
            graph = HitGraph(points[keep], width, height, self.radius)
            if not len(graph.pairs):
                continue
            pairs = keep[graph.pairs]
            true_edge, forward = edge_truth(owner, pairs, self.max_rank_gap)
            same, direction = graph.logits(self.network)
            truth = torch.from_numpy(true_edge)
            weight = torch.where(truth > 0, torch.tensor(self.positive_weight), torch.tensor(1.0))
            edge_losses.append(F.binary_cross_entropy_with_logits(same, truth, weight=weight))
            on = truth > 0
            if on.any():
                direction_losses.append(F.binary_cross_entropy_with_logits(direction[on],
                                                                           torch.from_numpy(forward)[on]))
        zero = self.network.out[-1].bias.sum() * 0.0
        edge = torch.stack(edge_losses).mean() if edge_losses else zero
        direction = torch.stack(direction_losses).mean() if direction_losses else zero
        return {"edge": edge, "direction": 0.5 * direction}

    # -- finding tracks --------------------------------------------------------------------------

    @torch.no_grad()
    def edge_probabilities(self, hits: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray,
                                                                                    np.ndarray]:
        """The pairs (E, 2), their same-track probabilities and their i → j direction probabilities."""
        graph = HitGraph(hits, width, height, self.radius)
        same, direction = graph.logits(self.network)
        return graph.pairs, torch.sigmoid(same).numpy(), torch.sigmoid(direction).numpy()

    def tracks(self, hits: np.ndarray, pairs: np.ndarray, prob: np.ndarray, forward: np.ndarray, *,
               edge_threshold: float | None = None, max_degree: int | None = None) -> dict[str, Any]:
        """The tracks of one picture from its scored edges (the components, see the module docstring),
        as Hit R-CNN's output."""
        from .curves import arc_positions
        from .fitting import fit_circle

        threshold = self.edge_threshold if edge_threshold is None else edge_threshold
        degree = self.max_degree if max_degree is None else max_degree
        kept = prob >= threshold
        if degree:
            kept &= top_degree(len(hits), pairs, prob, degree)
        chosen, chosen_prob, chosen_forward = pairs[kept], prob[kept], forward[kept]
        label = components(len(hits), chosen)
        by_label = np.argsort(label, kind="stable")
        sizes = np.bincount(label, minlength=int(label.max()) + 1 if len(label) else 0)
        starts = np.r_[0, np.cumsum(sizes)]
        groups = [by_label[starts[c]:starts[c + 1]] for c in range(len(sizes))]
        if self.stitch_px > 0:
            groups = stitch(hits, groups, reach_px=self.stitch_px, rms_px=self.stitch_rms_px)
        group_of = np.full(len(hits), -1, dtype=np.int64)
        for g, index in enumerate(groups):
            group_of[index] = g
        edge_group = group_of[chosen[:, 0]] if len(chosen) else np.zeros(0, dtype=np.int64)
        inner = edge_group == (group_of[chosen[:, 1]] if len(chosen) else edge_group)
        edge_sum = np.bincount(edge_group[inner], chosen_prob[inner], minlength=len(groups))
        edge_count = np.bincount(edge_group[inner], minlength=len(groups))
        boxes, scores, members = [], [], []
        place = np.zeros(len(hits))
        for g, index in enumerate(groups):
            if len(index) < self.min_hits:
                continue
            xy = hits[index]
            positions = arc_positions(xy, fit_circle(xy))
            # the direction: the edges' votes on whether the particle runs with increasing position
            mine = inner & (edge_group == g)
            place[index] = positions
            step = np.sign(place[chosen[mine, 1]] - place[chosen[mine, 0]])
            vote = float(((2 * chosen_forward[mine] - 1) * step).sum())
            boxes.append([*xy.min(axis=0), *xy.max(axis=0)])
            scores.append(float(edge_sum[g] / max(edge_count[g], 1)))
            members.append((index, np.ones(len(index), dtype=np.float32), positions * (1.0 if vote >= 0 else -1.0)))
        return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                "scores": torch.tensor(scores, dtype=torch.float32),
                "labels": torch.ones(len(scores), dtype=torch.int64), "members": members}

    def find(self, hits: np.ndarray, width: int, height: int) -> dict[str, Any]:
        """One picture's tracks (``boxes``, ``scores``, ``labels``, ``members``)."""
        pairs, prob, forward = self.edge_probabilities(hits, width, height)
        return self.tracks(hits, pairs, prob, forward)


def hit_graph_gnn(*, hidden: int = 32, iterations: int = 4, radius_px: float = 4.0, max_rank_gap: int = 10,
                  edge_threshold: float = 0.5, max_degree: int = 0, min_hits: int = 5, max_train_hits: int = 12000,
                  positive_weight: float = 1.0, stitch_px: float = 0.0, stitch_rms_px: float = 1.0,
                  num_classes: int | None = None, **_: Any) -> nn.Module:
    """The hit-graph GNN (see the module docstring): ``radius_px`` the graph's radius, ``iterations``
    the message-passing rounds, ``max_rank_gap`` how far apart along a track (in bubbles) two hits
    of one particle may be for their edge to be a true one, ``edge_threshold`` and ``max_degree``
    the track building's edge cut, ``stitch_px`` and ``stitch_rms_px`` the joining of a track's pieces
    (0: none), ``max_train_hits`` the window a training picture is cut to."""
    return HitGraphGNN(hidden=hidden, iterations=iterations, radius_px=radius_px, max_rank_gap=max_rank_gap,
                       edge_threshold=edge_threshold, max_degree=max_degree, min_hits=min_hits,
                       max_train_hits=max_train_hits, positive_weight=positive_weight, stitch_px=stitch_px,
                       stitch_rms_px=stitch_rms_px)
