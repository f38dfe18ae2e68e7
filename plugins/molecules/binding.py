"""DataModule for protein–ligand binding: PDBbind-style complex folders, or generated complexes.

Each complex is a ligand + pocket point cloud (``z``, ``pos``, ``node_type``) read by
:mod:`sciarch_datasets.molecules.complexes`; the 3D models build their own neighbour graphs from
it. With no ``root`` the data are a set of generated complexes (real PDB and SDF files written
with RDKit into the cache, see :mod:`sciarch_datasets.molecules.generated`), so the recipe runs on
a fresh machine; point ``root`` (and ``index``) at a PDBbind folder for real work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import sciarch

from .data import GraphData


class ComplexData(GraphData):
    """Protein–ligand complexes with affinities (pK).

    Args:
        root: folder with one sub-folder per complex (``<id>/<id>_pocket.pdb`` or
            ``_protein.pdb``, ``<id>/<id>_ligand.sdf`` or ``.mol2``). None: generated complexes.
        index: affinity index, a CSV (``id_column``, ``affinity_column``) or PDBbind's INDEX
            text file (default: ``root/index.csv``).
        test_index: a second index naming the test complexes (e.g. the CASF core set); they are
            left out of training and validation (``split: predefined``).
        id_column, affinity_column: columns of a CSV index.
        pocket_cutoff: protein atoms within this distance (Å) of any ligand atom form the pocket.
        keep_hydrogens, keep_waters, keep_hetero: see the reader's documented handling.
        generated: how many complexes to generate when ``root`` is None.
        split: ``random``, ``kfold`` or ``predefined`` (with ``test_index``).
        split_sizes, split_seed, num_folds, fold: as for molecule tables.
        batch_size: complexes per batch.
        limit: read only the first complexes of the index.
        strict: stop at the first unreadable complex instead of skipping and reporting it.
        workers: reader processes (-1: chosen by input size).
        cache: keep the point clouds on disk (keyed by every file's content and the settings).
        seed: shuffling seed (the run's seed unless set).
    """

    provides = ("out_features", "task_type", "target_names")
    row_description = "complex ids of each index file"

    def __init__(self, root: str | None = None, index: str | None = None, test_index: str | None = None,
                 id_column: str = "id", affinity_column: str = "pK", pocket_cutoff: float = 6.0,
                 keep_hydrogens: bool = False, keep_waters: bool = False, keep_hetero: bool = False,
                 generated: int = 48, split: Literal["random", "kfold", "predefined"] = "random",
                 split_sizes: tuple[float, float, float] = (0.8, 0.1, 0.1), split_seed: int = 0,
                 num_folds: int = 5, fold: int = 0, batch_size: int = 8, limit: int | None = None,
                 strict: bool = False, workers: int = -1, cache: bool = True, seed: int = 0) -> None:
        super().__init__()
        if split == "predefined" and not test_index:
            raise sciarch.UsageError("split 'predefined' needs test_index (the index of the test complexes)")
        self.root, self.index, self.test_index = root, index, test_index
        self.id_column, self.affinity_column = id_column, affinity_column
        self.pocket_cutoff, self.keep_hydrogens = pocket_cutoff, keep_hydrogens
        self.keep_waters, self.keep_hetero, self.generated = keep_waters, keep_hetero, generated
        self.split, self.split_sizes, self.split_seed = split, tuple(split_sizes), split_seed
        self.num_folds, self.fold, self.batch_size = num_folds, fold, batch_size
        self.limit, self.strict, self.workers, self.cache, self.seed = limit, strict, workers, cache, seed
        self.store: Any = None
        self.split_indices: dict[str, np.ndarray] = {}
        self._prepared: list[Any] | None = None

    def hints(self) -> dict[str, Any]:
        return {"out_features": 1, "task_type": "regression", "target_names": [self.affinity_column]}

    @property
    def settings(self) -> Any:
        from sciarch_datasets.molecules.complexes import PocketSettings

        return PocketSettings(pocket_cutoff=self.pocket_cutoff, keep_hydrogens=self.keep_hydrogens,
                              keep_waters=self.keep_waters, keep_hetero=self.keep_hetero)

    def _root(self) -> Path:
        if self.root is not None:
            return Path(self.root)
        from sciarch_datasets.molecules.generated import generated_complexes

        return generated_complexes(n=self.generated, seed=0)

    def _load(self) -> list[Any]:
        from sciarch_datasets.molecules.complexes import complexes_store

        root = self._root()
        kwargs = {"id_column": self.id_column, "affinity_column": self.affinity_column, "limit": self.limit,
                  "strict": self.strict, "workers": self.workers, "cache": self.cache}
        main = complexes_store(root, self.index, self.settings, **kwargs)
        stores = [main]
        if self.test_index:
            test = complexes_store(root, self.test_index, self.settings, **kwargs)
            held_out = set(test.meta["ids"])
            keep = [i for i, cid in enumerate(main.meta["ids"]) if cid not in held_out]
            stores = [_select(main, keep), test]
        for store in stores:
            if len(store) == 0:
                raise sciarch.DataError("no readable complex", file=store.meta["source"])
        return stores

    def prediction_graphs(self, path: str | Path, *, smiles_column: str | None = None, workers: int = -1
                          ) -> tuple[list[str], list[Any], list[Any]]:
        """Every complex of a folder (with ``index.csv``) or of an index file beside the folders."""
        from sciarch_datasets.molecules.complexes import ComplexReader, read_index
        from sciarch_datasets.molecules.featurise import featurise_all
        from sciarch_datasets.molecules.inputs import PredictionInput
        from sciarch_datasets.molecules.store import GraphStore

        path = Path(path)
        index = path / "index.csv" if path.is_dir() else path
        root = path if path.is_dir() else path.parent
        entries = read_index(index, id_column=self.id_column, affinity_column=self.affinity_column)
        records = [PredictionInput(label, {"id": cid}, molecule=(str(root / cid), cid)) for cid, _, label in entries]
        results = featurise_all(ComplexReader(self.settings), [r.molecule for r in records], workers=workers,
                                description=f"reading complexes in {root.name}")
        graphs: list[Any] = [None] * len(records)
        good = [(i, r) for i, r in enumerate(results) if not isinstance(r, str)]
        for i, result in enumerate(results):
            if isinstance(result, str):
                records[i].error = result
        if good:
            for _, g in good:
                g.pop("files", None)
            store = GraphStore.from_graphs([g for _, g in good], np.full((len(good), 1), np.nan), {})
            for k, (i, _) in enumerate(good):
                graphs[i] = store.get(k)
        return ["id"], records, graphs


def _select(store: Any, keep: list[int]) -> Any:
    """A store of some of another's graphs."""
    from sciarch_datasets.molecules.store import GraphStore

    graphs = []
    for i in keep:
        data = store.get(i)
        graphs.append({"z": data.z.numpy(), "pos": data.pos.numpy(), "node_type": data.node_type.numpy()})
    meta = dict(store.meta)
    for key in ("ids", "rows", "labels", "smiles"):
        meta[key] = [store.meta[key][i] for i in keep]
    return GraphStore.from_graphs(graphs, store.targets[keep].numpy(), meta)
