"""SchNet: continuous-filter convolutions over interatomic distances.

Schütt et al., "SchNet: A continuous-filter convolutional neural network for modeling quantum
interactions", NeurIPS 2017. The interaction blocks, filters and distance expansion are PyTorch
Geometric's :class:`~torch_geometric.nn.models.SchNet`; this module feeds them its own neighbour
graph (:mod:`.geometry`: per-edge-type cutoffs for complexes, no torch-cluster needed) and embeds
ligand and protein atoms apart.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from .geometry import NODE_TYPE_STRIDE, atom_types, complex_graph, require_coordinates
from .readout import graph_index, graph_readout


class SchNet(nn.Module):
    r"""SchNet over a molecule or a ligand + pocket point cloud.

    .. math::
        h_i \leftarrow h_i + \sum_{j \in N(i)} h_j W^l \odot
        \Big(\mathrm{MLP}\big(\exp(-\gamma (d_{ij} - \mu_k)^2)_k\big) \cdot C(d_{ij})\Big), \quad
        \hat y = \sum_i \mathrm{MLP}(h_i)

    with Gaussian distance features on ``[0, cutoff]`` and the cosine envelope
    :math:`C(d) = \tfrac12(\cos(\pi d / r_c) + 1)`, where :math:`r_c` is the larger of the two
    cutoffs. Only distances enter, so the output is invariant to rotations, translations and
    reflections of the input, and to the order of its atoms.

    Args:
        out_features (int): targets predicted (filled from the data). (default: 1)
        hidden (int): atom state size. (default: 128)
        filters (int): filter size of the continuous-filter convolutions. (default: 128)
        interactions (int): interaction blocks. (default: 6)
        gaussians (int): Gaussian distance features. (default: 50)
        cutoff (float): neighbour cutoff inside a molecule, Å. (default: 5.0)
        cutoff_inter (float | None): ligand–protein cutoff, Å (default: ``cutoff``).
        max_neighbours (int | None): nearest neighbours kept per atom. (default: 32)
        aggregation (str): ``sum`` or ``mean`` over atoms. (default: sum)

    Shapes:
        input: a PyG ``Batch`` with ``z [atoms]``, ``pos [atoms, 3]``, ``batch [atoms]`` and, for
        complexes, ``node_type [atoms]`` (0 ligand, 1 protein); output: ``[graphs, out_features]``.
    """

    def __init__(self, out_features: int = 1, hidden: int = 128, filters: int = 128, interactions: int = 6,
                 gaussians: int = 50, cutoff: float = 5.0, cutoff_inter: float | None = None,
                 max_neighbours: int | None = 32, aggregation: Literal["sum", "mean"] = "sum") -> None:
        super().__init__()
        from sciarch_datasets.molecules.pyg import pyg

        PyGSchNet = pyg("torch_geometric.nn.models").SchNet

        self.cutoff, self.cutoff_inter = cutoff, cutoff if cutoff_inter is None else cutoff_inter
        self.max_neighbours, self.aggregation = max_neighbours, aggregation
        self.net = PyGSchNet(hidden_channels=hidden, num_filters=filters, num_interactions=interactions,
                             num_gaussians=gaussians, cutoff=max(self.cutoff, self.cutoff_inter))
        self.net.embedding = nn.Embedding(2 * NODE_TYPE_STRIDE, hidden)
        self.net.lin2 = nn.Linear(hidden // 2, out_features)
        self.net.reset_parameters()

    def reset_parameters(self) -> None:
        self.net.reset_parameters()

    def forward(self, batch: object) -> Tensor:
        require_coordinates(batch, "SchNet")
        graph, num_graphs = graph_index(batch)
        node_type = getattr(batch, "node_type", None)
        edge_index, _, distance = complex_graph(batch.pos, graph, node_type, cutoff_intra=self.cutoff,
                                                cutoff_inter=self.cutoff_inter, max_neighbours=self.max_neighbours)
        net = self.net
        h = net.embedding(atom_types(batch.z, node_type))
        edge_attr = net.distance_expansion(distance)
        for interaction in net.interactions:
            h = h + interaction(h, edge_index, distance, edge_attr)
        h = net.lin2(net.act(net.lin1(h)))
        return graph_readout(h, graph, num_graphs, self.aggregation)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(hidden={self.net.hidden_channels}, interactions={self.net.num_interactions}, "
                f"cutoff={self.cutoff}, cutoff_inter={self.cutoff_inter})")
