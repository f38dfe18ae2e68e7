"""GINE: the graph isomorphism network with edge features.

Hu et al., "Strategies for Pre-training Graph Neural Networks", ICLR 2020 (GINE), building on
Xu et al., "How Powerful are Graph Neural Networks?", ICLR 2019 (GIN). The convolution is PyTorch
Geometric's :class:`~torch_geometric.nn.conv.GINEConv`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .readout import Aggregation, ReadoutModel, feature_norm, feed_forward, graph_index


class GINE(ReadoutModel):
    r"""Stacked GINE convolutions with batch normalisation, a graph readout and a feed-forward head.

    .. math::
        h^{t+1}_v = \mathrm{MLP}^t\Big((1 + \epsilon^t)\, h^t_v
                    + \sum_{u \in N(v)} \mathrm{ReLU}\big(h^t_u + W^t e_{uv}\big)\Big)

    with a two-layer MLP (width ``2·hidden``) per layer, batch normalisation after each layer,
    ReLU between layers (not after the last, as in Hu et al.), and a learnable :math:`\epsilon`.

    Args:
        in_features (int): atom feature size (filled from the data).
        edge_features (int): bond feature size (filled from the data).
        out_features (int): targets predicted (filled from the data). (default: 1)
        hidden (int): node state size. (default: 300)
        depth (int): GINE layers. (default: 5)
        dropout (float): dropout after each layer and in the head. (default: 0.0)
        aggregation (str): graph readout ``mean``, ``sum`` or ``norm``. (default: sum)
        ffn_hidden (int): width of the head. (default: 300)
        ffn_layers (int): linear layers in the head. (default: 2)
        mol_features (int): molecule-level features appended to the readout (filled from the
            data with ``descriptors: true``). (default: 0)

    Shapes:
        input: a PyG ``Batch`` with ``x [atoms, in_features]``, ``edge_index [2, edges]``,
        ``edge_attr [edges, edge_features]``, ``batch [atoms]``; output: ``[graphs, out_features]``.
    """

    def __init__(self, in_features: int, edge_features: int, out_features: int = 1, hidden: int = 300,
                 depth: int = 5, dropout: float = 0.0, aggregation: Aggregation = "sum", ffn_hidden: int = 300,
                 ffn_layers: int = 2, mol_features: int = 0) -> None:
        super().__init__()
        from sciarch_datasets.molecules.pyg import pyg

        GINEConv = pyg("torch_geometric.nn").GINEConv

        self.in_features, self.edge_features, self.out_features = in_features, edge_features, out_features
        self.hidden, self.depth, self.aggregation = hidden, depth, aggregation
        self.atom_encoder = nn.Linear(in_features, hidden)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for _ in range(depth):
            mlp = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.BatchNorm1d(2 * hidden), nn.ReLU(),
                                nn.Linear(2 * hidden, hidden))
            self.convs.append(GINEConv(mlp, train_eps=True, edge_dim=edge_features))
            self.norms.append(nn.BatchNorm1d(hidden))
        self.dropout = nn.Dropout(dropout)
        self.mol_norm = feature_norm(mol_features) if mol_features else None
        self.head = feed_forward(hidden + mol_features, ffn_hidden, out_features, ffn_layers, dropout)

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def encode(self, batch: object) -> Tensor:
        graph, num_graphs = graph_index(batch)
        h = self.atom_encoder(batch.x)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            h = norm(conv(h, batch.edge_index, batch.edge_attr))
            if i < self.depth - 1:
                h = torch.relu(h)
            h = self.dropout(h)
        return self.readout(h, graph, num_graphs, batch)
