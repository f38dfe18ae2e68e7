"""Parts the 2D models share: graph readout, the feed-forward head, reverse-edge lookup."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

Aggregation = Literal["mean", "sum", "norm"]


def graph_index(batch: object) -> tuple[Tensor, int]:
    """``(graph of each node [nodes], number of graphs)`` of a PyG ``Batch`` or a single ``Data``."""
    graph = getattr(batch, "batch", None)
    if graph is None:
        return torch.zeros(batch.num_nodes, dtype=torch.long, device=batch.x.device if batch.x is not None
                           else batch.pos.device), 1
    return graph, int(batch.num_graphs)


def graph_readout(h: Tensor, batch: Tensor, num_graphs: int, how: Aggregation = "mean") -> Tensor:
    """Pool node states ``[nodes, d]`` into graph states ``[graphs, d]``.

    ``mean`` and ``sum`` as named; ``norm`` is a sum divided by 100 (chemprop's "norm"), which
    keeps the size information a mean loses without the scale of a raw sum.
    """
    out = h.new_zeros(num_graphs, h.shape[1]).index_add_(0, batch, h)
    if how == "mean":
        count = torch.bincount(batch, minlength=num_graphs).clamp(min=1).to(h.dtype)
        return out / count[:, None]
    if how == "norm":
        return out / 100.0
    return out


def feed_forward(in_features: int, hidden: int, out_features: int, layers: int = 2, dropout: float = 0.0,
                 activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """``layers`` linear layers (the last to ``out_features``) with activation and dropout between."""
    if layers < 1:
        raise ValueError(f"a feed-forward head needs at least one layer, got {layers}")
    modules: list[nn.Module] = [nn.Dropout(dropout)]
    width = in_features
    for _ in range(layers - 1):
        modules += [nn.Linear(width, hidden), activation(), nn.Dropout(dropout)]
        width = hidden
    modules.append(nn.Linear(width, out_features))
    return nn.Sequential(*modules)


def reverse_edges(edge_index: Tensor, num_nodes: int) -> Tensor:
    """For each directed edge ``u -> v`` the index of ``v -> u``.

    Found by sorting edge keys rather than assuming the featuriser's pairing, so a graph whose
    edges were reordered (or permuted in a test) still finds its reverse edges.
    """
    src, dst = edge_index
    key = src * num_nodes + dst
    order = torch.argsort(key)
    position = torch.searchsorted(key[order], dst * num_nodes + src)
    position = position.clamp(max=max(key.numel() - 1, 0))
    rev = order[position]
    if key.numel() and not torch.equal(key[rev], dst * num_nodes + src):
        raise ValueError("the graph is not symmetric: some directed edge has no reverse edge")
    return rev


#: standardised molecule-level features are clipped to this many standard deviations
FEATURE_CLIP = 5.0


def feature_norm(features: int) -> nn.BatchNorm1d:
    """A non-affine batch norm for molecule-level features. Its ``eps`` is large (0.01) because
    some descriptors (rare fragment counts) are constant over the training set: with the usual
    1e-5 a test molecule that has the fragment would be scaled by ~300."""
    return nn.BatchNorm1d(features, affine=False, eps=1e-2)


def standardise_features(norm: nn.BatchNorm1d, features: Tensor) -> Tensor:
    """Molecule-level features through the batch norm, clipped to ±``FEATURE_CLIP``; a training
    batch of one molecule (a ragged last batch) uses the running statistics instead of failing."""
    if norm.training and features.shape[0] < 2:
        out = nn.functional.batch_norm(features, norm.running_mean, norm.running_var, training=False, eps=norm.eps)
    else:
        out = norm(features)
    return out.clamp(-FEATURE_CLIP, FEATURE_CLIP)


class ReadoutModel(nn.Module):
    """What D-MPNN and GINE share after message passing: the graph readout, optional molecule-level
    descriptors appended to it, and the feed-forward head.

    A subclass sets ``aggregation``, ``mol_norm`` (None without descriptors) and ``head``, and
    defines ``encode(batch)`` ending in :meth:`readout`.
    """

    aggregation: Aggregation
    mol_norm: nn.BatchNorm1d | None
    head: nn.Module

    def readout(self, atoms: Tensor, graph: Tensor, num_graphs: int, batch: object) -> Tensor:
        """Graph embeddings ``[graphs, hidden + mol_features]`` from atom states ``[atoms, hidden]``."""
        molecule = graph_readout(atoms, graph, num_graphs, self.aggregation)
        if self.mol_norm is not None:
            molecule = torch.cat([molecule, standardise_features(self.mol_norm, batch.mol_x)], dim=-1)
        return molecule

    def encode(self, batch: object) -> Tensor:
        raise NotImplementedError

    def forward(self, batch: object) -> Tensor:
        return self.head(self.encode(batch))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_features}, {self.edge_features}, out={self.out_features}, "
                f"hidden={self.hidden}, depth={self.depth}, aggregation={self.aggregation})")
