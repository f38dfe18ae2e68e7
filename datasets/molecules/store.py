"""Featurised graphs kept as a few large tensors, cached on disk, read back without unpickling code.

Every graph's node rows (``x``, ``z``, ``pos``, ``node_type``) are stacked in one tensor and its
edges (``edge_index``, with node indices local to the graph, and ``edge_attr``) in another;
``node_ptr``/``edge_ptr`` mark where each graph starts. This is PyTorch Geometric's own
``InMemoryDataset`` layout, saved as a plain dict of tensors, lists and strings so that it loads
with ``torch.load(..., weights_only=True)``. :meth:`GraphStore.get` cuts one graph out as a
``torch_geometric.data.Data``.

The cache key (:func:`sciarch.content_key`) covers the input file's bytes, the reader settings
(columns, limit) and the featuriser settings, so a changed file or setting featurises again and
anything else reuses the stored graphs, including the list of bad records, which is reported
again on every use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import sciarch
import torch

from .pyg import pyg

NODE_KEYS = ("x", "z", "pos", "node_type")
EDGE_KEYS = ("edge_index", "edge_attr")
#: one row per graph (molecule-level descriptors)
GRAPH_KEYS = ("mol_x",)
#: Bumped when the stored layout changes.
STORE_VERSION = 1


class GraphStore:
    """Graphs in stacked tensors; ``meta`` holds per-graph lists (rows, SMILES, ids) and the bad records."""

    def __init__(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.tensors = tensors
        self.meta = meta

    @classmethod
    def from_graphs(cls, graphs: list[dict[str, Any]], targets: np.ndarray, meta: dict[str, Any]) -> GraphStore:
        """Stack featurised graphs (dicts of numpy arrays) with their targets ``[graphs, tasks]``."""
        node_counts = [len(g["z"]) for g in graphs]
        edge_counts = [g["edge_index"].shape[1] if "edge_index" in g else 0 for g in graphs]
        tensors: dict[str, torch.Tensor] = {
            "node_ptr": torch.tensor(np.concatenate([[0], np.cumsum(node_counts)]), dtype=torch.long),
            "edge_ptr": torch.tensor(np.concatenate([[0], np.cumsum(edge_counts)]), dtype=torch.long),
            "y": torch.as_tensor(_target_rows(targets, len(graphs))),
        }
        for key in NODE_KEYS:
            if graphs and key in graphs[0]:
                tensors[key] = torch.from_numpy(np.concatenate([g[key] for g in graphs]))
        for key in GRAPH_KEYS:
            if graphs and key in graphs[0]:
                tensors[key] = torch.from_numpy(np.concatenate([g[key] for g in graphs]))
        if graphs and "edge_index" in graphs[0]:
            tensors["edge_index"] = torch.from_numpy(np.concatenate([g["edge_index"] for g in graphs], axis=1))
            tensors["edge_attr"] = torch.from_numpy(np.concatenate([g["edge_attr"] for g in graphs]))
        return cls(tensors, dict(meta))

    def __len__(self) -> int:
        return int(self.tensors["node_ptr"].numel() - 1)

    @property
    def num_tasks(self) -> int:
        return int(self.tensors["y"].shape[1])

    @property
    def targets(self) -> torch.Tensor:
        return self.tensors["y"]

    def get(self, i: int) -> Any:
        """Graph ``i`` as a PyG ``Data`` with ``y`` of shape ``[1, tasks]`` and its index ``idx``."""
        Data = pyg("torch_geometric.data").Data

        t = self.tensors
        a, b = int(t["node_ptr"][i]), int(t["node_ptr"][i + 1])
        fields: dict[str, Any] = {k: t[k][a:b] for k in NODE_KEYS if k in t}
        fields.update({k: t[k][i:i + 1] for k in GRAPH_KEYS if k in t})
        if "edge_index" in t:
            c, d = int(t["edge_ptr"][i]), int(t["edge_ptr"][i + 1])
            fields["edge_index"] = t["edge_index"][:, c:d]
            fields["edge_attr"] = t["edge_attr"][c:d]
        return Data(y=t["y"][i:i + 1], idx=torch.tensor([i]), num_nodes=b - a, **fields)

    # -- disk ----------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        with sciarch.atomic_write(path, "wb") as handle:
            torch.save({"store_version": STORE_VERSION, "tensors": self.tensors, "meta": self.meta}, handle)

    @classmethod
    def load(cls, path: str | Path) -> GraphStore | None:
        """The store saved at ``path``, or None if it is missing or of another layout."""
        path = Path(path)
        if not path.is_file():
            return None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a cache that cannot be read is rebuilt, not trusted
            return None
        if not isinstance(state, dict) or state.get("store_version") != STORE_VERSION:
            return None
        return cls(state["tensors"], state["meta"])


def _target_rows(targets: np.ndarray, graphs: int) -> np.ndarray:
    """``targets`` as float32 ``[graphs, tasks]``; no graphs keep their number of tasks."""
    array = np.asarray(targets, dtype=np.float32)
    tasks = array.shape[-1] if array.ndim == 2 else (array.size // graphs if graphs else 0)
    return array.reshape(graphs, tasks)


def cache_path(kind: str, *key_parts: Any) -> Path:
    """``<cache>/molecules/<kind>/<key>.pt`` for the given settings and input files."""
    return sciarch.cache_dir("molecules", kind) / f"{sciarch.content_key(STORE_VERSION, *key_parts)}.pt"
