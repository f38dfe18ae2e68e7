"""E(n)-equivariant graph neural network (EGNN).

Satorras, Hoogeboom & Welling, "E(n) Equivariant Graph Neural Networks", ICML 2021. Written here,
over ligand + pocket graphs with per-edge-type cutoffs and the edge type as an edge attribute.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .geometry import NODE_TYPE_STRIDE, NUM_EDGE_TYPES, atom_types, complex_graph, require_coordinates
from .readout import feed_forward, graph_index, graph_readout


class EGNNLayer(nn.Module):
    r"""One E(n)-equivariant layer (equations 3–6 of Satorras et al.).

    .. math::
        m_{ij} &= \phi_e\big(h_i, h_j, \lVert x_i - x_j \rVert^2, a_{ij}\big) \\
        x_i &\leftarrow x_i + \frac{1}{|N(i)|} \sum_{j \in N(i)}
                \frac{x_i - x_j}{\lVert x_i - x_j \rVert + 1}\, \phi_x(m_{ij}) \\
        h_i &\leftarrow h_i + \phi_h\Big(h_i, \sum_{j \in N(i)} \sigma(\phi_\mathrm{inf}(m_{ij}))\, m_{ij}\Big)

    The coordinate update divides the difference by its length plus one (the normalisation of
    the authors' code) so large distances do not blow the update up; ``phi_x``'s last layer starts
    near zero so the first steps barely move atoms. Messages are gated by a learned soft edge
    weight :math:`\sigma(\phi_\mathrm{inf})`.

    Args:
        hidden (int): node state and message size.
        edge_features (int): size of :math:`a_{ij}` (edge-type one-hot).
        update_coordinates (bool): apply the coordinate update. (default: True)

    Shapes:
        ``h [nodes, hidden]``, ``x [nodes, 3]``, ``edge_index [2, edges]`` (source, target),
        ``edge_attr [edges, edge_features]`` → ``(h, x)`` of the same shapes.
    """

    def __init__(self, hidden: int, edge_features: int, update_coordinates: bool = True) -> None:
        super().__init__()
        self.hidden, self.update_coordinates = hidden, update_coordinates
        self.phi_e = nn.Sequential(nn.Linear(2 * hidden + 1 + edge_features, hidden), nn.SiLU(),
                                   nn.Linear(hidden, hidden), nn.SiLU())
        self.phi_inf = nn.Sequential(nn.Linear(hidden, 1), nn.Sigmoid())
        self.phi_h = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.phi_x = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1, bias=False))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                module.reset_parameters()
        nn.init.xavier_uniform_(self.phi_x[-1].weight, gain=0.001)

    def forward(self, h: Tensor, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> tuple[Tensor, Tensor]:
        src, dst = edge_index  # message j -> i: j = src, i = dst
        difference = x[dst] - x[src]
        squared = difference.pow(2).sum(-1, keepdim=True)
        m = self.phi_e(torch.cat([h[dst], h[src], squared, edge_attr], dim=-1))
        m = m * self.phi_inf(m)
        if self.update_coordinates:
            step = difference / (squared.sqrt() + 1.0) * self.phi_x(m)
            total = x.new_zeros(x.shape).index_add_(0, dst, step)
            count = torch.bincount(dst, minlength=x.shape[0]).clamp(min=1).to(x.dtype)
            x = x + total / count[:, None]
        aggregated = h.new_zeros(h.shape[0], m.shape[1]).index_add_(0, dst, m)
        h = h + self.phi_h(torch.cat([h, aggregated], dim=-1))
        return h, x

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(hidden={self.hidden}, update_coordinates={self.update_coordinates})"


class EGNN(nn.Module):
    r"""EGNN over a molecule or a ligand + pocket graph, predicting graph properties.

    Atoms are embedded by element and node type (ligand or protein); edges join atoms within
    ``cutoff`` inside one molecule and within ``cutoff_inter`` across ligand and protein, and carry
    their type (ligand–ligand, protein–protein, ligand–protein) as :math:`a_{ij}`. ``layers``
    :class:`EGNNLayer` update node states (invariant) and coordinates (equivariant: rotating and
    translating the input rotates and translates :meth:`encode`'s coordinates the same way and
    leaves the prediction unchanged). The prediction is a feed-forward head on the readout of
    the node states, over all atoms or the ligand's only.

    Args:
        out_features (int): targets predicted (filled from the data). (default: 1)
        hidden (int): node state size. (default: 128)
        layers (int): EGNN layers. (default: 4)
        cutoff (float): intra-molecular cutoff, Å. (default: 4.5)
        cutoff_inter (float | None): ligand–protein cutoff, Å (default: ``cutoff``).
        max_neighbours (int | None): nearest neighbours kept per atom. (default: 32)
        aggregation (str): ``sum`` or ``mean`` readout. (default: sum)
        readout_nodes (str): ``all`` atoms or ``ligand`` atoms only. (default: all)
        update_coordinates (bool): let layers move atoms (the model's equivariant output). (default: True)
        dropout (float): dropout in the head. (default: 0.0)

    Shapes:
        input: a PyG ``Batch`` with ``z [atoms]``, ``pos [atoms, 3]``, ``batch [atoms]`` and, for
        complexes, ``node_type [atoms]``; output: ``[graphs, out_features]``;
        :meth:`encode`: ``(h [atoms, hidden], x [atoms, 3])``.
    """

    def __init__(self, out_features: int = 1, hidden: int = 128, layers: int = 4, cutoff: float = 4.5,
                 cutoff_inter: float | None = None, max_neighbours: int | None = 32,
                 aggregation: Literal["sum", "mean"] = "sum", readout_nodes: Literal["all", "ligand"] = "all",
                 update_coordinates: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.cutoff, self.cutoff_inter = cutoff, cutoff if cutoff_inter is None else cutoff_inter
        self.max_neighbours, self.aggregation, self.readout_nodes = max_neighbours, aggregation, readout_nodes
        self.embedding = nn.Embedding(2 * NODE_TYPE_STRIDE, hidden)
        self.layers = nn.ModuleList([EGNNLayer(hidden, NUM_EDGE_TYPES, update_coordinates) for _ in range(layers)])
        self.head = feed_forward(hidden, hidden, out_features, layers=2, dropout=dropout, activation=nn.SiLU)

    def encode(self, batch: object) -> tuple[Tensor, Tensor]:
        """Node states and updated coordinates."""
        require_coordinates(batch, "EGNN")
        graph, _ = graph_index(batch)
        node_type = getattr(batch, "node_type", None)
        edge_index, edge_type, _ = complex_graph(batch.pos, graph, node_type, cutoff_intra=self.cutoff,
                                                 cutoff_inter=self.cutoff_inter, max_neighbours=self.max_neighbours)
        edge_attr = nn.functional.one_hot(edge_type, NUM_EDGE_TYPES).to(batch.pos.dtype)
        h, x = self.embedding(atom_types(batch.z, node_type)), batch.pos
        for layer in self.layers:
            h, x = layer(h, x, edge_index, edge_attr)
        return h, x

    def forward(self, batch: object) -> Tensor:
        h, _ = self.encode(batch)
        graph, num_graphs = graph_index(batch)
        node_type = getattr(batch, "node_type", None)
        if self.readout_nodes == "ligand" and node_type is not None:
            ligand = node_type == 0
            h, graph = h[ligand], graph[ligand]
        return self.head(graph_readout(h, graph, num_graphs, self.aggregation))
