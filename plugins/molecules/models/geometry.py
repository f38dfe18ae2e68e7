"""Neighbour graphs from coordinates, in plain torch (no torch-cluster or pyg-lib needed).

The 3D models build their graphs here, from the coordinates they are given, so a rotated or
translated input gives exactly the same graph (distances are all that is used). For a complex,
edges inside one molecule (ligand–ligand, protein–protein) use ``cutoff_intra`` and edges between
ligand and protein use ``cutoff_inter``; each edge carries its type:

=====  ==================
type   edge
=====  ==================
0      ligand – ligand
1      protein – protein
2      ligand – protein (either direction)
=====  ==================

A molecule without node types is all ligand (type 0 edges only). Edges follow PyG's convention:
``edge_index[0]`` is the source ``j``, ``edge_index[1]`` the target ``i`` of a message ``j -> i``.
"""

from __future__ import annotations

import torch
from torch import Tensor

NUM_EDGE_TYPES = 3
#: atom type index = atomic number + this × node type, so ligand and protein atoms embed apart
NODE_TYPE_STRIDE = 100


def _graph_ranges(batch: Tensor) -> list[tuple[int, int]]:
    counts = torch.bincount(batch)
    ends = torch.cumsum(counts, 0).tolist()
    starts = [0] + ends[:-1]
    return [(a, b) for a, b in zip(starts, ends, strict=True) if b > a]


def complex_graph(pos: Tensor, batch: Tensor | None = None, node_type: Tensor | None = None, *,
                  cutoff_intra: float = 5.0, cutoff_inter: float | None = None,
                  max_neighbours: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """``(edge_index [2, E], edge_type [E], distance [E])`` of every pair within its cutoff.

    Nodes of one graph must be contiguous (as in a PyG ``Batch``). ``max_neighbours`` keeps each
    target's nearest sources only.
    """
    n = pos.shape[0]
    device = pos.device
    batch = torch.zeros(n, dtype=torch.long, device=device) if batch is None else batch
    node_type = torch.zeros(n, dtype=torch.long, device=device) if node_type is None else node_type.long()
    cutoff_inter = cutoff_intra if cutoff_inter is None else cutoff_inter
    sources, targets = [], []
    for a, b in _graph_ranges(batch):
        p, t = pos[a:b], node_type[a:b]
        distance = torch.linalg.vector_norm(p[:, None, :] - p[None, :, :], dim=-1)
        same = t[:, None] == t[None, :]
        cutoff = torch.where(same, torch.as_tensor(cutoff_intra, device=device, dtype=pos.dtype),
                             torch.as_tensor(cutoff_inter, device=device, dtype=pos.dtype))
        within = (distance <= cutoff) & ~torch.eye(b - a, dtype=torch.bool, device=device)
        if max_neighbours is not None and b - a > max_neighbours + 1:
            masked = torch.where(within, distance, torch.full_like(distance, float("inf")))
            rank = masked.argsort(dim=0).argsort(dim=0)  # rank of each source j among target i's column
            within &= rank < max_neighbours
        j, i = within.nonzero(as_tuple=True)
        sources.append(j + a)
        targets.append(i + a)
    if sources:
        edge_index = torch.stack([torch.cat(sources), torch.cat(targets)])
    else:
        edge_index = torch.zeros(2, 0, dtype=torch.long, device=device)
    src, dst = edge_index
    edge_type = torch.where(node_type[src] != node_type[dst], torch.full_like(src, 2), node_type[src].clamp(max=1))
    distance = torch.linalg.vector_norm(pos[dst] - pos[src], dim=-1)
    return edge_index, edge_type, distance


def atom_types(z: Tensor, node_type: Tensor | None) -> Tensor:
    """Embedding index of each atom: its atomic number, offset for protein atoms."""
    if node_type is None:
        return z.long()
    return z.long() + NODE_TYPE_STRIDE * node_type.long()


def require_coordinates(batch: object, model: str) -> None:
    if getattr(batch, "pos", None) is None or getattr(batch, "z", None) is None:
        from sciarch import UsageError

        raise UsageError(f"{model} needs 3D coordinates: train it on complexes, or on molecules with "
                         "data.args.conformers: true (ETKDG conformers)")
