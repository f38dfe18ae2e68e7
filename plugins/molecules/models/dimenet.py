r"""DimeNet++: directional message passing with distances and bond angles.

Gasteiger et al., "Fast and Uncertainty-Aware Directional Message Passing for Non-Equilibrium
Molecules", NeurIPS ML4Molecules workshop 2020 (DimeNet++), after Gasteiger, Groß & Günnemann,
"Directional Message Passing for Molecular Graphs", ICLR 2020 (DimeNet). The embedding,
interaction and output blocks and the radial Bessel basis are PyTorch Geometric's (the blocks of
:class:`~torch_geometric.nn.models.DimeNetPlusPlus`). Three parts are this module's own:

- the neighbour graph (:mod:`.geometry`) and the triplets (:func:`triplets`) in plain torch: PyG's
  ``forward`` calls ``radius_graph`` (torch-cluster) and builds triplets with torch-sparse;
- the spherical basis (:class:`SphericalBasis`): the same functions as PyG's
  ``SphericalBasisLayer``, :math:`\tilde a_{ln}(d, \alpha) = N_{ln}\, j_l(z_{ln} d / c)\, Y_l^0(\alpha)`,
  computed numerically (Bessel recurrence, Legendre recurrence, zeros by bracketing) instead of
  from sympy expressions, whose construction takes a minute or more per model on a CPU.
"""

from __future__ import annotations

import math
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


def spherical_bessel(order: int, x: Tensor) -> Tensor:
    """``[j_0(x), ..., j_{order-1}(x)]`` stacked on the last axis (upward recurrence, x > 0)."""
    j = [torch.sin(x) / x]
    if order > 1:
        j.append(torch.sin(x) / x**2 - torch.cos(x) / x)
    for n in range(1, order - 1):
        j.append((2 * n + 1) / x * j[n] - j[n - 1])
    return torch.stack(j, dim=-1)


def spherical_bessel_zeros(orders: int, count: int) -> list[list[float]]:
    """The first ``count`` positive zeros of ``j_l`` for ``l < orders`` (zeros of ``j_l`` interlace
    those of ``j_{l-1}``, so each is bracketed by two of the previous order's)."""
    from scipy.optimize import brentq
    from scipy.special import spherical_jn

    zeros = [[math.pi * (k + 1) for k in range(count + orders)]]
    for order in range(1, orders):
        previous = zeros[-1]
        zeros.append([brentq(lambda r, n=order: spherical_jn(n, r), previous[k], previous[k + 1])
                      for k in range(len(previous) - 1)])
    return [z[:count] for z in zeros]


class SphericalBasis(nn.Module):
    r"""DimeNet's 2D spherical Fourier–Bessel basis of a distance and an angle.

    .. math::
        \tilde a_{ln}(d, \alpha) = u(d / c)\, \sqrt{2} \frac{j_l(z_{ln} d / c)}{|j_{l+1}(z_{ln})|}\,
        \sqrt{\frac{2l + 1}{4\pi}}\, P_l(\cos \alpha)

    for :math:`l <` ``num_spherical`` and :math:`n <` ``num_radial``, with :math:`z_{ln}` the
    :math:`n`-th zero of :math:`j_l` and :math:`u` the polynomial envelope. Output
    ``[triplets, num_spherical · num_radial]``, ordered as PyG's ``SphericalBasisLayer``.
    """

    def __init__(self, num_spherical: int, num_radial: int, cutoff: float = 5.0, envelope_exponent: int = 5) -> None:
        super().__init__()
        from sciarch_datasets.molecules.pyg import pyg
        from scipy.special import spherical_jn

        Envelope = pyg("torch_geometric.nn.models.dimenet").Envelope

        self.num_spherical, self.num_radial, self.cutoff = num_spherical, num_radial, cutoff
        self.envelope = Envelope(envelope_exponent)
        zeros = spherical_bessel_zeros(num_spherical, num_radial)
        norm = [[math.sqrt(2.0) / abs(spherical_jn(order + 1, z)) for z in zeros[order]]
                for order in range(num_spherical)]
        self.register_buffer("zeros", torch.tensor(zeros, dtype=torch.float64), persistent=False)
        self.register_buffer("norm", torch.tensor(norm, dtype=torch.float64), persistent=False)
        prefactor = [math.sqrt((2 * order + 1) / (4 * math.pi)) for order in range(num_spherical)]
        self.register_buffer("prefactor", torch.tensor(prefactor, dtype=torch.float64), persistent=False)

    def radial(self, dist: Tensor) -> Tensor:
        """``[edges, num_spherical, num_radial]``: the normalised Bessel functions with the envelope."""
        x = (dist / self.cutoff)[:, None, None] * self.zeros.to(dist.dtype)  # [E, l, n]
        j = spherical_bessel(self.num_spherical, x)  # [E, l, n, l']
        index = torch.arange(self.num_spherical, device=dist.device)
        j = j[:, index, :, index].permute(1, 0, 2)  # order l of row l: [E, l, n]
        return self.envelope(dist / self.cutoff)[:, None, None] * self.norm.to(dist.dtype) * j

    def angular(self, angle: Tensor) -> Tensor:
        """``[triplets, num_spherical]``: :math:`Y_l^0` by the Legendre recurrence."""
        c = torch.cos(angle)
        p = [torch.ones_like(c), c]
        for order in range(2, self.num_spherical):
            p.append(((2 * order - 1) * c * p[order - 1] - (order - 1) * p[order - 2]) / order)
        return torch.stack(p[: self.num_spherical], dim=-1) * self.prefactor.to(angle.dtype)

    def forward(self, dist: Tensor, angle: Tensor, idx_kj: Tensor) -> Tensor:
        rbf = self.radial(dist)
        cbf = self.angular(angle)
        out = rbf[idx_kj] * cbf[:, :, None]
        return out.reshape(-1, self.num_spherical * self.num_radial)


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
        from sciarch_datasets.molecules.pyg import pyg

        pyg("torch_geometric.nn.models.dimenet")  # imported once, quietly; the names below come from it
        from torch_geometric.nn.models.dimenet import (
            BesselBasisLayer,
            EmbeddingBlock,
            InteractionPPBlock,
            OutputPPBlock,
        )
        from torch_geometric.nn.resolver import activation_resolver

        self.cutoff, self.cutoff_inter = cutoff, cutoff if cutoff_inter is None else cutoff_inter
        self.max_neighbours = max_neighbours
        act = activation_resolver("swish")
        reach = max(self.cutoff, self.cutoff_inter)
        self.rbf = BesselBasisLayer(num_radial, reach, envelope_exponent=5)
        self.sbf = SphericalBasis(num_spherical, num_radial, reach, envelope_exponent=5)
        self.emb = EmbeddingBlock(num_radial, hidden, act)
        self.emb.emb = nn.Embedding(2 * NODE_TYPE_STRIDE, hidden)  # ligand and protein atoms apart
        self.output_blocks = nn.ModuleList([
            OutputPPBlock(num_radial, hidden, out_emb_channels, out_features, 3, act, output_initializer)
            for _ in range(blocks + 1)])
        self.interaction_blocks = nn.ModuleList([
            InteractionPPBlock(hidden, int_emb_size, basis_emb_size, num_spherical, num_radial, 1, 2, act)
            for _ in range(blocks)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.rbf.reset_parameters()
        self.emb.reset_parameters()
        self.emb.emb.weight.data.uniform_(-sqrt(3), sqrt(3))  # as PyG initialises its own
        for block in [*self.output_blocks, *self.interaction_blocks]:
            block.reset_parameters()

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

        rbf = self.rbf(distance)
        sbf = self.sbf(distance, angle, idx_kj)
        x = self.emb(atom_types(batch.z, node_type), rbf, i, j)
        P = self.output_blocks[0](x, rbf, i, num_nodes=pos.shape[0])
        for interaction_block, output_block in zip(self.interaction_blocks, self.output_blocks[1:], strict=True):
            x = interaction_block(x, rbf, sbf, idx_kj, idx_ji)
            P = P + output_block(x, rbf, i, num_nodes=pos.shape[0])
        return P.new_zeros(num_graphs, P.shape[1]).index_add_(0, graph, P)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(cutoff={self.cutoff}, cutoff_inter={self.cutoff_inter})"
