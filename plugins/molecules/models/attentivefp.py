"""Attentive FP: graph attention over atoms, then over the molecule as a super-node.

Xiong et al., "Pushing the Boundaries of Molecular Representation for Drug Discovery with the
Graph Attention Mechanism", J. Med. Chem. 63, 8749 (2020). The network is PyTorch Geometric's
:class:`~torch_geometric.nn.models.AttentiveFP`; this module adapts it to the plugin's batches
and argument names.
"""

from __future__ import annotations

from torch import Tensor, nn

from .readout import graph_index


class AttentiveFP(nn.Module):
    r"""Attentive FP on a molecular graph.

    Atom states are refined by ``depth`` graph-attention layers, each followed by a GRU update
    (the first attends over neighbours' atom and bond features):

    .. math::
        a_{vu} = \mathrm{softmax}_u\big(\mathrm{LeakyReLU}(w^\top [h_v \,\|\, h_u])\big), \quad
        c_v = \mathrm{ELU}\Big(\sum_u a_{vu} W h_u\Big), \quad h_v \leftarrow \mathrm{GRU}(c_v, h_v)

    then a molecule super-node, initialised with the sum of atom states, attends over all atoms
    for ``timesteps`` rounds with its own GRU, and a linear layer reads the prediction off it.

    Args:
        in_features (int): atom feature size (filled from the data).
        edge_features (int): bond feature size (filled from the data).
        out_features (int): targets predicted (filled from the data). (default: 1)
        hidden (int): atom and molecule state size. (default: 200)
        depth (int): atom-level attention layers. (default: 2)
        timesteps (int): molecule-level attention rounds. (default: 2)
        dropout (float): dropout on attention outputs. (default: 0.2)

    Shapes:
        input: a PyG ``Batch`` with ``x``, ``edge_index``, ``edge_attr``, ``batch``;
        output: ``[graphs, out_features]``.
    """

    def __init__(self, in_features: int, edge_features: int, out_features: int = 1, hidden: int = 200,
                 depth: int = 2, timesteps: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        from sciarch_datasets.molecules.pyg import pyg

        PyGAttentiveFP = pyg("torch_geometric.nn.models").AttentiveFP

        self.net = PyGAttentiveFP(in_channels=in_features, hidden_channels=hidden, out_channels=out_features,
                                  edge_dim=edge_features, num_layers=depth, num_timesteps=timesteps,
                                  dropout=dropout)

    def reset_parameters(self) -> None:
        self.net.reset_parameters()

    def forward(self, batch: object) -> Tensor:
        graph, _ = graph_index(batch)
        return self.net(batch.x, batch.edge_index, batch.edge_attr, graph)

    def __repr__(self) -> str:
        return repr(self.net)
