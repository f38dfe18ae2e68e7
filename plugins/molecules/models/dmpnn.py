"""Directed message-passing neural network (D-MPNN).

Yang et al., "Analyzing Learned Molecular Representations for Property Prediction",
J. Chem. Inf. Model. 59, 3370 (2019), the model behind chemprop.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .readout import Aggregation, ReadoutModel, feature_norm, feed_forward, graph_index, reverse_edges


class DMPNN(ReadoutModel):
    r"""Bond-centred message passing with the reverse message subtracted (D-MPNN).

    Hidden states live on directed bonds ``v -> w``, so a message never flows straight back
    along the bond it came from (no "totters"):

    .. math::
        h^0_{vw} &= \mathrm{ReLU}(W_i [x_v \,\|\, e_{vw}]) \\
        m^{t+1}_{vw} &= \sum_{k \in N(v)} h^t_{kv} \;-\; h^t_{wv} \\
        h^{t+1}_{vw} &= \mathrm{ReLU}(h^0_{vw} + W_m m^{t+1}_{vw}) \\
        h_v &= \mathrm{ReLU}(W_a [x_v \,\|\, \textstyle\sum_{k \in N(v)} h^T_{kv}]) \\
        \hat y &= \mathrm{FFN}(\mathrm{readout}_v\, h_v)

    As in chemprop, ``depth`` counts the initial bond state, so there are ``depth - 1`` updates
    and ``depth`` bonds is the reach of a message. Isolated atoms (ions, single-atom molecules)
    get an empty message sum and are still read out.

    Args:
        in_features (int): atom feature size (filled from the data).
        edge_features (int): bond feature size (filled from the data).
        out_features (int): targets predicted (filled from the data). (default: 1)
        hidden (int): size of the bond and atom states. (default: 300)
        depth (int): message-passing depth, counting the initial state. (default: 3)
        dropout (float): dropout in message passing and the head. (default: 0.0)
        aggregation (str): graph readout, ``mean``, ``sum`` or ``norm`` (sum / 100). (default: mean)
        ffn_hidden (int): width of the feed-forward head. (default: 300)
        ffn_layers (int): linear layers in the head. (default: 2)
        bias (bool): biases in :math:`W_i, W_m` (chemprop: none). (default: False)
        mol_features (int): size of molecule-level features ``mol_x`` appended to the readout
            (RDKit descriptors with ``data.args.descriptors: true``; filled from the data). (default: 0)

    Shapes:
        input: a PyG ``Batch`` with ``x [atoms, in_features]``, ``edge_index [2, bonds·2]``,
        ``edge_attr [bonds·2, edge_features]``, ``batch [atoms]``;
        output: ``[graphs, out_features]``.
    """

    def __init__(self, in_features: int, edge_features: int, out_features: int = 1, hidden: int = 300,
                 depth: int = 3, dropout: float = 0.0, aggregation: Aggregation = "mean", ffn_hidden: int = 300,
                 ffn_layers: int = 2, bias: bool = False, mol_features: int = 0) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.in_features, self.edge_features, self.out_features = in_features, edge_features, out_features
        self.hidden, self.depth, self.aggregation = hidden, depth, aggregation
        self.W_i = nn.Linear(in_features + edge_features, hidden, bias=bias)
        self.W_m = nn.Linear(hidden, hidden, bias=bias)
        self.W_a = nn.Linear(in_features + hidden, hidden)
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.mol_features = mol_features
        # molecule-level descriptors are standardised by running statistics of the training batches
        self.mol_norm = feature_norm(mol_features) if mol_features else None
        self.head = feed_forward(hidden + mol_features, ffn_hidden, out_features, ffn_layers, dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)  # chemprop's initialisation
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def encode(self, batch: object) -> Tensor:
        """Graph embeddings ``[graphs, hidden + mol_features]`` before the head."""
        x, edge_index, edge_attr = batch.x, batch.edge_index, batch.edge_attr
        num_nodes = x.shape[0]
        graph, num_graphs = graph_index(batch)
        src, dst = edge_index
        rev = reverse_edges(edge_index, num_nodes)

        h0 = self.act(self.W_i(torch.cat([x[src], edge_attr], dim=-1)))
        h = h0
        for _ in range(self.depth - 1):
            incoming = h.new_zeros(num_nodes, self.hidden).index_add_(0, dst, h)  # sum_k h_kv for every v
            message = incoming[src] - h[rev]
            h = self.dropout(self.act(h0 + self.W_m(message)))
        incoming = h.new_zeros(num_nodes, self.hidden).index_add_(0, dst, h)
        atoms = self.dropout(self.act(self.W_a(torch.cat([x, incoming], dim=-1))))
        return self.readout(atoms, graph, num_graphs, batch)

