"""The control models the architecture claims are tested against, as a third-party plugin.

Loaded only by the claim benchmarks (``SCIARCH_PLUGIN_MODULES=claims=claims_plugin``), so the
product never ships them. Each is the product's model with one idea taken out:

- ``claims/wavenet-plain``: the keywords WaveNet without residual connections: each layer's output
  replaces its input (no identity path) and only the last layer feeds the head (no skip sum);
- ``claims/atom-mlp``: a multilayer perceptron on the table of atom features in the order the
  SMILES lists them (padded to ``max_atoms``), in place of message passing.
"""

from __future__ import annotations

import torch
from sciarch import ModelSpec, hookimpl
from torch import nn
from torch.nn import functional as F


def wavenet_plain(num_classes: int, n_mels: int = 40, residual_channels: int = 16, gate_channels: int = 32,
                  skip_channels: int = 32, head_channels: int = 64, layers: int = 24,
                  dilations: list[int] | None = None, kernel_size: int = 3, input_kernel_size: int = 3,
                  dropout: float = 0.0) -> nn.Module:
    from sciarch_keywords.wavenet import WaveNetKWS

    class PlainWaveNet(WaveNetKWS):
        def forward_features(self, features: torch.Tensor) -> torch.Tensor:
            x = self.input_conv(self.input_norm(features))
            skip = None
            for layer in self.layers:
                filt, gate = layer.dilated(x).chunk(2, dim=1)
                z = layer.dropout(torch.tanh(filt) * torch.sigmoid(gate))
                x, skip = layer.residual(z), layer.skip(z)  # no identity path; only the last skip
            return self.head_out(F.relu(self.head_hidden(F.relu(skip))))

    return PlainWaveNet(num_classes, n_mels, residual_channels, gate_channels, skip_channels, head_channels, layers,
                        tuple(dilations or (1, 2, 4, 8)), kernel_size, input_kernel_size, dropout)


class AtomTableMLP(nn.Module):
    """``[molecules, max_atoms × atom features]`` (atoms in input order, zero-padded) → MLP."""

    def __init__(self, in_features: int, edge_features: int, out_features: int = 1, max_atoms: int = 32,
                 hidden: int = 300, layers: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_features, self.max_atoms = in_features, max_atoms
        widths = [max_atoms * in_features] + [hidden] * (layers - 1)
        modules: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            modules += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
        modules.append(nn.Linear(widths[-1], out_features))
        self.net = nn.Sequential(*modules)

    def forward(self, batch: object) -> torch.Tensor:
        graph = batch.batch
        count = int(batch.num_graphs)
        # each atom's place in its molecule, in the order the molecule's atoms are stored
        start = torch.zeros(count + 1, dtype=torch.long, device=graph.device)
        start[1:] = torch.cumsum(torch.bincount(graph, minlength=count), 0)
        place = torch.arange(graph.numel(), device=graph.device) - start[graph]
        keep = place < self.max_atoms
        table = batch.x.new_zeros(count, self.max_atoms, self.in_features)
        table[graph[keep], place[keep]] = batch.x[keep]
        return self.net(table.flatten(1))


def atom_mlp(in_features: int, edge_features: int, out_features: int = 1, max_atoms: int = 32, hidden: int = 300,
             layers: int = 3, dropout: float = 0.0) -> nn.Module:
    return AtomTableMLP(in_features, edge_features, out_features, max_atoms, hidden, layers, dropout)


@hookimpl
def sciarch_models() -> list[ModelSpec]:
    return [
        ModelSpec(name="wavenet-plain", builder="claims_plugin:wavenet_plain", task="keyword spotting (frame level)",
                  summary="the keywords WaveNet without residual or skip connections (a control)"),
        ModelSpec(name="atom-mlp", builder="claims_plugin:atom_mlp", task="graph regression/classification",
                  summary="an MLP on the SMILES-ordered atom table (a control for message passing)"),
    ]
