"""DimeNet++: directional message passing with distances and bond angles.

Gasteiger et al., "Fast and Uncertainty-Aware Directional Message Passing for Non-Equilibrium
Molecules", NeurIPS ML4Molecules workshop 2020 (DimeNet++), after Gasteiger, Groß & Günnemann,
"Directional Message Passing for Molecular Graphs", ICLR 2020 (DimeNet). The blocks (Bessel and
spherical bases, embedding, interaction and output blocks) are PyTorch Geometric's
:class:`~torch_geometric.nn.models.DimeNetPlusPlus`. Its ``forward`` calls ``radius_graph``
(torch-cluster) and builds triplets with torch-sparse; this module replaces that part: the
neighbour graph comes from :mod:`.geometry` and the triplets from :func:`triplets` in plain torch.
"""

from __future__ import annotations

from math import sqrt
from typing import Literal

import torch
from torch import Tensor, nn

from .geometry import NODE_TYPE_STRIDE, atom_types, complex_graph, require_coordinates
from .readout import graph_index


def triplets(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, ...]:
    """Every path ``k -> j -> i`` with ``k != i`` of a directed graph.

    Returns ``(i, j, idx_i, idx_j, idx_k, idx_kj, idx_ji)`` in the order PyG's DimeNet uses:
    ``i, j`` the target and source of each edge, then per triplet its three nodes and the
    indices of its edges ``k -> j`` and ``j -> i``.
    """
    row, col = edge_index  # j -> i
    num_edges = row.numel()
    order = torch.argsort(col, stable=True)  # edges grouped by their target
    counts = torch.bincount(col, minlength=num_nodes)
    start = torch.cumsum(counts, 0) - counts
    per_edge = counts[row]  # edges arriving at j, for each edge j -> i
    idx_ji = torch.arange(num_edges, device=row.device).repeat_interleave(per_edge)
    first = torch.cumsum(per_edge, 0) - per_edge
    local = torch.arange(idx_ji.numel(), device=row.device) - first.repeat_interleave(per_edge)
    idx_kj = order[start[row].repeat_interleave(per_edge) + local]
    idx_i, idx_j, idx_k = col[idx_ji], row[idx_ji], row[idx_kj]
    keep = idx_i != idx_k
    return col, row, idx_i[keep], idx_j[keep], idx_k[keep], idx_kj[keep], idx_ji[keep]


class DimeNetPlusPlus(nn.Module):
    r"""DimeNet++ over a molecule or a ligand + pocket point cloud.

    Messages live on directed edges and are updated from the edges arriving at their source,
    weighted by a joint basis of the distance and the angle between the two edges:

    .. math::
        m_{ji} \leftarrow f\Big(m_{ji}, \sum_{k \in N(j) \setminus \{i\}}
            \big(W\, e_\mathrm{RBF}(d_{ji})\big) \odot \big(W'\, a_\mathrm{SBF}(d_{kj}, \alpha_{kji})\big)
            \odot m_{kj}\Big),
        \qquad \hat y = \sum_i \sum_t \mathrm{Out}^t\Big(\sum_j e_\mathrm{RBF}(d_{ji}) \odot m^t_{ji}\Big)

    Distances and angles are invariant to rotations and translations, so is the output.

    Args:
        out_features (int): targets predicted (filled from the data). (default: 1)
        hidden (int): edge message size. (default: 128)
        blocks (int): interaction blocks. (default: 4)
        int_emb_size (int): interaction embedding size. (default: 64)
        basis_emb_size (int): basis embedding size. (default: 8)
        out_emb_channels (int): output block size. (default: 256)
        num_spherical (int): spherical harmonics. (default: 7)
        num_radial (int): radial basis functions. (default: 6)
        cutoff (float): neighbour cutoff inside a molecule, Å. (default: 5.0)
        cutoff_inter (float | None): ligand–protein cutoff, Å (default: ``cutoff``).
        max_neighbours (int | None): nearest neighbours kept per atom. (default: 32)
        output_initializer (str): ``zeros`` (the paper's: predictions start at zero) or
            ``glorot_orthogonal``. (default: zeros)

    Shapes:
        input: a PyG ``Batch`` with ``z``, ``pos``, ``batch`` and, for complexes, ``node_type``;
        output: ``[graphs, out_features]``.
    """

    def __init__(self, out_features: int = 1, hidden: int = 128, blocks: int = 4, int_emb_size: int = 64,
                 basis_emb_size: int = 8, out_emb_channels: int = 256, num_spherical: int = 7, num_radial: int = 6,
                 cutoff: float = 5.0, cutoff_inter: float | None = None, max_neighbours: int | None = 32,
                 output_initializer: Literal["zeros", "glorot_orthogonal"] = "zeros") -> None:
        super().__init__()
        from torch_geometric.nn.models import DimeNetPlusPlus as PyGDimeNetPlusPlus

        self.cutoff, self.cutoff_inter = cutoff, cutoff if cutoff_inter is None else cutoff_inter
        self.max_neighbours = max_neighbours
        self.net = PyGDimeNetPlusPlus(hidden_channels=hidden, out_channels=out_features, num_blocks=blocks,
                                      int_emb_size=int_emb_size, basis_emb_size=basis_emb_size,
                                      out_emb_channels=out_emb_channels, num_spherical=num_spherical,
                                      num_radial=num_radial, cutoff=max(self.cutoff, self.cutoff_inter),
                                      output_initializer=output_initializer)
        self.net.emb.emb = nn.Embedding(2 * NODE_TYPE_STRIDE, hidden)
        self.net.emb.emb.weight.data.uniform_(-sqrt(3), sqrt(3))  # as PyG initialises its own

    def forward(self, batch: object) -> Tensor:
        require_coordinates(batch, "DimeNet++")
        graph, num_graphs = graph_index(batch)
        node_type = getattr(batch, "node_type", None)
        pos = batch.pos
        edge_index, _, _ = complex_graph(pos, graph, node_type, cutoff_intra=self.cutoff,
                                         cutoff_inter=self.cutoff_inter, max_neighbours=self.max_neighbours)
        i, j, idx_i, idx_j, idx_k, idx_kj, idx_ji = triplets(edge_index, num_nodes=pos.shape[0])
        distance = (pos[i] - pos[j]).pow(2).sum(dim=-1).sqrt()
        pos_jk, pos_ij = pos[idx_j] - pos[idx_k], pos[idx_i] - pos[idx_j]
        a = (pos_ij * pos_jk).sum(dim=-1)
        b = torch.cross(pos_ij, pos_jk, dim=1).norm(dim=-1)
        angle = torch.atan2(b, a)

        net = self.net
        rbf = net.rbf(distance)
        sbf = net.sbf(distance, angle, idx_kj)
        x = net.emb(atom_types(batch.z, node_type), rbf, i, j)
        P = net.output_blocks[0](x, rbf, i, num_nodes=pos.shape[0])
        for interaction_block, output_block in zip(net.interaction_blocks, net.output_blocks[1:], strict=True):
            x = interaction_block(x, rbf, sbf, idx_kj, idx_ji)
            P = P + output_block(x, rbf, i, num_nodes=pos.shape[0])
        return P.new_zeros(num_graphs, P.shape[1]).index_add_(0, graph, P)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(cutoff={self.cutoff}, cutoff_inter={self.cutoff_inter})"
