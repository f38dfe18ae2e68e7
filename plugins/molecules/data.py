"""DataModules for molecule tables: SMILES CSV and SDF files, FreeSolv and the solubility set.

One class, :class:`MoleculeData`, reads a file of molecules with property targets (the format
follows the file's suffix), featurises and caches it (``sciarch_datasets.molecules``), splits it
(random, Bemis–Murcko scaffold, k-fold, or a separate test file), and serves PyG batches through
:func:`sciarch.loader`. The split is seeded by ``split_seed`` (not the run's seed, so every
member of an ensemble sees the same split) and written to ``splits.json`` in the run directory.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import numpy as np
import sciarch
import torch
from torch.utils.data import Dataset

SplitMethod = Literal["random", "scaffold", "kfold", "predefined"]


class GraphSubset(Dataset):
    """The graphs of a :class:`~sciarch_datasets.molecules.store.GraphStore` at some indices."""

    def __init__(self, store: Any, indices: np.ndarray) -> None:
        self.store = store
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.store.get(self.indices[i])


def collate_graphs(items: list[Any]) -> Any:
    from sciarch_datasets.molecules.pyg import pyg

    Batch = pyg("torch_geometric.data").Batch

    return Batch.from_data_list(items)


def concat_stores(stores: list[Any]) -> Any:
    """One store holding the graphs of several, in order (a training file and a test file)."""
    from sciarch_datasets.molecules.store import GraphStore

    if len(stores) == 1:
        return stores[0]
    tensors: dict[str, torch.Tensor] = {}
    first = stores[0].tensors
    for key in first:
        parts = [s.tensors[key] for s in stores]
        if key in ("node_ptr", "edge_ptr"):
            offset, shifted = 0, []
            for j, p in enumerate(parts):
                shifted.append((p if j == 0 else p[1:]) + offset)
                offset += int(p[-1])
            tensors[key] = torch.cat(shifted)
        elif key == "edge_index":
            tensors[key] = torch.cat(parts, dim=1)
        else:
            tensors[key] = torch.cat(parts)
    from sciarch_datasets.molecules.graphs import CanonicalSmiles, Scaffolds

    meta: dict[str, Any] = {"parts": [], "target_names": stores[0].meta["target_names"]}
    for key in ("rows", "labels", "smiles", "ids", "notes"):
        if all(key in s.meta for s in stores):
            if key == "smiles" and all(isinstance(s.meta[key], CanonicalSmiles) for s in stores):
                meta[key] = CanonicalSmiles.concat([s.meta[key] for s in stores])  # still made on demand
            else:
                meta[key] = [v for s in stores for v in s.meta[key]]
    if all("scaffolds" in s.meta for s in stores) and "smiles" in meta:
        meta["scaffolds"] = Scaffolds(meta["smiles"])  # computed only if a scaffold split asks
    meta["files"] = [v for s in stores for v in [s.meta["source"]] * len(s)]
    for s in stores:
        meta["parts"].append({"source": s.meta["source"], "graphs": len(s), "cache": s.meta.get("cache")})
    return GraphStore(tensors, meta)


class GraphData(pl.LightningDataModule):
    """What every graph DataModule here shares: splits written with the run, target statistics
    of the training split, and loaders of PyG batches. Subclasses set ``self.store`` (one
    :class:`~sciarch_datasets.molecules.store.GraphStore` of all records, training file first)
    and ``self.part_sizes`` (records per file) in ``setup``."""

    split: str = "random"
    split_sizes: tuple[float, ...] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    num_folds: int = 5
    fold: int = 0
    batch_size: int = 50
    seed: int = 0

    def _load(self) -> list[Any]:
        """The stores of the records, one per input (training input first)."""
        raise NotImplementedError

    def _check_stores(self, stores: list[Any]) -> None:
        """Refuse data the task cannot use (a subclass's check; none by default)."""

    def prepare_data(self) -> None:
        if self.store is not None:  # set up already (testing after fitting): nothing to read or report again
            return
        self._prepared = self._load()

    def setup(self, stage: str | None = None) -> None:
        if self.store is None:
            stores = self._prepared if self._prepared is not None else self._load()
            self._prepared = None
            self._check_stores(stores)
            self.store = concat_stores(stores)
            self._report_duplicates([len(s) for s in stores])
            self.split_indices = self._split([len(s) for s in stores])
        if stage == "fit":
            self._write_split()

    def identities(self) -> list[Any] | None:
        """One identity per record (hashable; not sortable: strings and tuples may mix): records with
        equal identities are one molecule (reported as duplicates, kept on one side of a split).
        None: no two records are the same."""
        return None

    duplicates: Any = None

    def _report_duplicates(self, sizes: list[int]) -> None:
        """Find records that are one molecule; note them per record and say so (conflicts with every value)."""
        identities = self.identities()
        if identities is None:
            return
        from sciarch_datasets.molecules.duplicates import find_duplicates

        meta = self.store.meta
        labels = [self.record_label(i) for i in range(len(self.store))]  # not describe_record: no SMILES
        found = find_duplicates(identities, self.store.targets.numpy(), labels, meta["target_names"])
        self.duplicates = found
        if not found.groups:
            return
        notes = meta.get("notes") or [[] for _ in range(len(self.store))]
        meta["notes"] = [list(n) + extra for n, extra in zip(notes, found.notes, strict=True)]
        source = ", ".join(Path(f).name for f in dict.fromkeys(meta.get("files") or [meta["source"]]))
        print_ = sciarch.console.print
        print_(f"{source}: {len(found.groups)} molecule(s) appear more than once ({found.records} records, by "
               "canonical isomeric SMILES); all kept, each molecule on one side of the split", soft_wrap=True,
               markup=False)
        if len(sizes) > 1:
            across = [g for g in found.groups.values() if min(g) < sizes[0] <= max(g)]
            if across:
                print_(f"  {len(across)} molecule(s) of the test file are also in the training file", markup=False)
        if found.conflicts:
            print_(f"  {len(found.conflicts)} with conflicting target values:", markup=False)
            for line in found.conflict_lines[:10]:
                print_(f"    {line}", soft_wrap=True, markup=False)
            if len(found.conflict_lines) > 10:
                print_(f"    ... and {len(found.conflict_lines) - 10} more (all in the run's data_report.csv)",
                       markup=False)

    def _split(self, sizes: list[int]) -> dict[str, np.ndarray]:
        from sciarch_datasets.molecules import splits

        n = sum(sizes)
        groups = self.identities()
        if self.split == "predefined":
            if len(sizes) != 2:
                raise sciarch.UsageError("split 'predefined' needs a separate test file")
            train, val, test = splits.predefined_split(sizes[0], sizes[1], self.split_sizes[1] /
                                                       max(self.split_sizes[0] + self.split_sizes[1], 1e-9),
                                                       seed=self.split_seed, groups=groups)
        elif len(sizes) > 1:
            # a separate test file with another split method: split the main file into train/val
            fraction = self.split_sizes[0] / (self.split_sizes[0] + self.split_sizes[1])
            train, val, _ = self._split_one(sizes[0], (fraction, 1 - fraction, 0.0), groups)
            test = np.arange(sizes[0], n)
        else:
            train, val, test = self._split_one(n, self.split_sizes, groups)
        if len(train) == 0:
            raise sciarch.UsageError(f"the {self.split} split left no training records ({n} in all)")
        return {"train": train, "val": val, "test": test}

    def _split_one(self, n: int, sizes: tuple[float, ...], groups: list[Any] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from sciarch_datasets.molecules import splits

        groups = groups[:n] if groups is not None else None
        if self.split == "scaffold":  # one molecule has one scaffold: duplicates stay together anyway
            return splits.scaffold_split(self.store.meta["scaffolds"][:n], sizes, seed=self.split_seed)
        if self.split == "kfold":
            return splits.kfold_split(n, self.num_folds, self.fold, sizes[1] / max(sizes[0] + sizes[1], 1e-9),
                                      seed=self.split_seed, groups=groups)
        return splits.random_split(n, sizes, seed=self.split_seed, groups=groups)

    def _write_split(self) -> None:
        """``splits.json`` in the run directory: which records (file, row or id) went where."""
        trainer = getattr(self, "trainer", None)
        if trainer is None or not trainer.is_global_zero:
            return
        root = Path(trainer.default_root_dir)
        meta = self.store.meta
        files = meta.get("files") or [meta["source"]] * len(self.store)
        parts = {}
        for part, indices in self.split_indices.items():
            by_file: dict[str, list[Any]] = {}
            for i in indices:
                by_file.setdefault(str(files[int(i)]), []).append(meta["rows"][int(i)])
            parts[part] = by_file
        sciarch.write_json(root / "splits.json", {
            "method": self.split, "split_seed": self.split_seed, "sizes": list(self.split_sizes),
            "num_folds": self.num_folds if self.split == "kfold" else None,
            "fold": self.fold if self.split == "kfold" else None,
            "counts": {k: len(v) for k, v in self.split_indices.items()},
            "rows": self.row_description,
            **parts,
        })
        self._write_data_report(root)
        domain = self.domain()
        if domain is not None:
            sciarch.write_json(root / "domain.json", domain.to_dict())

    def domain(self) -> Any:
        """What the training split covers (:class:`sciarch_datasets.molecules.domain.Domain`), for
        ``predict`` to flag molecules outside it; None where the data has no such notion."""
        return None

    def _write_data_report(self, root: Path) -> None:
        """``data_report.csv``: every record used with a note (standardisation, mixture, metal, ...),
        with its file, record and SMILES as used. Written only when there is something to say."""
        import csv

        meta = self.store.meta
        notes = meta.get("notes") or []
        if not any(notes):
            return
        files = meta.get("files") or [meta["source"]] * len(self.store)
        part_of = {int(i): part for part, indices in self.split_indices.items() for i in indices}
        with sciarch.atomic_write(root / "data_report.csv", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "record", "split", "smiles", "notes"])
            for i, record_notes in enumerate(notes):
                if record_notes:
                    writer.writerow([Path(files[i]).name, meta["labels"][i], part_of.get(i, ""), meta["smiles"][i],
                                     "; ".join(record_notes)])

    row_description = "1-based data rows of each file (CSV header not counted; SDF record numbers)"

    def target_statistics(self) -> tuple[list[float], list[float]]:
        """Mean and standard deviation of each target over the training split (missing values ignored)."""
        y = self.store.targets[torch.as_tensor(self.split_indices["train"], dtype=torch.long)].double()
        means, stds = [], []
        for t in range(y.shape[1]):
            column = y[:, t][~torch.isnan(y[:, t])]
            mean = float(column.mean()) if column.numel() else 0.0
            std = float(column.std(unbiased=False)) if column.numel() > 1 else 1.0
            means.append(mean)
            stds.append(std if std > 0 and math.isfinite(std) else 1.0)
        return means, stds

    def record_label(self, index: int) -> str:
        """Where the record is ("train.csv row 12 (line 13)")."""
        meta = self.store.meta
        files = meta.get("files")
        where = meta["labels"][index]
        return f"{Path(files[index]).name} {where}" if files else where

    def describe_record(self, index: int) -> tuple[str, str]:
        """(where the record is, its SMILES) for test outputs (the SMILES made now if on demand)."""
        return self.record_label(index), self.store.meta["smiles"][index]

    def _subset(self, part: str) -> GraphSubset:
        return GraphSubset(self.store, self.split_indices[part])

    def train_dataloader(self) -> Any:
        return sciarch.loader(self._subset("train"), batch_size=self.batch_size, train=True, seed=self.seed,
                              collate_fn=collate_graphs)

    def val_dataloader(self) -> Any:
        return sciarch.loader(self._subset("val"), batch_size=max(self.batch_size, 128), train=False,
                              collate_fn=collate_graphs)

    def test_dataloader(self) -> Any:
        return sciarch.loader(self._subset("test"), batch_size=max(self.batch_size, 128), train=False,
                              collate_fn=collate_graphs)


class MoleculeData(GraphData):
    """Molecules with property targets from a SMILES CSV or SDF file.

    Args:
        path: the CSV (MoleculeNet style: a SMILES column and target columns) or SDF file.
        targets: target columns (CSV) or SD data fields (SDF), by name. Missing values are masked.
        smiles_columns: SMILES column(s) of a CSV (default: the column named like "smiles");
            several make one disconnected graph per row, each atom marked with its column.
        test_path: a separate test file (same columns); with ``split: predefined`` the main file
            is split into training and validation only.
        task_type: ``regression`` or ``classification`` (targets 0/1).
        split: ``random``, ``scaffold`` (Bemis–Murcko), ``kfold`` or ``predefined`` (test_path).
        split_sizes: train/validation/test fractions (random, scaffold; kfold and predefined use
            the validation fraction only).
        split_seed: seed of the split (the same for every ensemble member and seed of a run).
        num_folds, fold: k-fold cross-validation: which fold is the test part.
        conformers: add 3D coordinates (ETKDG) for 3D models.
        descriptors: add RDKit's 2D descriptors as molecule-level features (D-MPNN, GINE).
        standardise: standardise each molecule with RDKit's rdMolStandardize first (cleanup, the
            largest organic fragment, neutralised, isotopes removed); every change is reported.
        keep_mixtures: with ``standardise``, keep every fragment instead of the largest.
        neutralise: with ``standardise``, neutralise charges where a hydrogen can be moved.
        tautomers: with ``standardise``, use RDKit's canonical tautomer (off: see the guide).
        stereo_labels: ``fast`` (RDKit's legacy CIP codes, the new CIP labeller where they leave a
            stereo element unnamed) or ``exact`` (the new labeller for every stereo molecule).
        batch_size: molecules per batch.
        limit: read only the first rows (smoke runs, quick looks).
        strict: stop at the first invalid record instead of skipping and reporting it.
        workers: featurisation processes (-1: chosen by input size, 0: none).
        cache: keep featurised graphs on disk (keyed by file content and settings).
        seed: shuffling seed (the run's seed unless set).
    """

    provides = ("in_features", "edge_features", "mol_features", "out_features", "task_type", "target_names")
    #: predict flags molecules outside the training split's domain (domain.json)
    has_domain = True

    def __init__(self, path: str, targets: list[str], smiles_columns: list[str] | None = None,
                 test_path: str | None = None, task_type: Literal["regression", "classification"] = "regression",
                 split: SplitMethod = "random", split_sizes: tuple[float, float, float] = (0.8, 0.1, 0.1),
                 split_seed: int = 0, num_folds: int = 5, fold: int = 0, conformers: bool = False,
                 descriptors: bool = False, batch_size: int = 50, limit: int | None = None, strict: bool = False,
                 workers: int = -1, cache: bool = True, seed: int = 0, standardise: bool = False,
                 keep_mixtures: bool = False, neutralise: bool = True, tautomers: bool = False,
                 stereo_labels: Literal["fast", "exact"] = "fast") -> None:
        super().__init__()
        self.descriptors = descriptors
        self.standardise, self.keep_mixtures = standardise, keep_mixtures
        self.neutralise, self.tautomers, self.stereo_labels = neutralise, tautomers, stereo_labels
        if not targets:
            raise sciarch.UsageError("name at least one target column (targets: [...])")
        if split == "predefined" and not test_path:
            raise sciarch.UsageError("split 'predefined' needs test_path (the separate test file)")
        self.path, self.targets, self.smiles_columns = path, list(targets), smiles_columns
        self.test_path, self.task_type, self.split = test_path, task_type, split
        self.split_sizes, self.split_seed = tuple(split_sizes), split_seed
        self.num_folds, self.fold, self.conformers = num_folds, fold, conformers
        self.batch_size, self.limit, self.strict = batch_size, limit, strict
        self.workers, self.cache, self.seed = workers, cache, seed
        self.store: Any = None
        self.split_indices: dict[str, np.ndarray] = {}
        self._prepared: list[Any] | None = None

    # -- what the model and task need -------------------------------------------------------------

    def identities(self) -> list[Any] | None:
        from sciarch_datasets.molecules.graphs import identities, store_keys

        meta = self.store.meta
        if "canonical_smiles" not in meta and not any(meta["smiles"]):  # a featuriser without SMILES
            return None
        return identities(meta["smiles"], store_keys(self.store))  # SMILES made only where a graph key is shared

    def domain(self) -> Any:
        """The training split's domain, from each training molecule as used (its input SMILES where
        its canonical SMILES are not made: the same molecule, parsed once more by the profile)."""
        from sciarch_datasets.molecules.domain import Domain
        from sciarch_datasets.molecules.graphs import smiles_as_used

        smiles = self.store.meta["smiles"]
        return Domain.of([smiles_as_used(smiles, int(i)) for i in self.split_indices["train"]])

    @property
    def featuriser(self) -> Any:
        from sciarch_datasets.molecules.featurise import Featuriser

        return Featuriser(components=len(self.smiles_columns or [None]), conformers=self.conformers,
                          descriptors=self.descriptors, standardise=self.standardise,
                          fragments="keep" if self.keep_mixtures else "largest", neutralise=self.neutralise,
                          tautomers=self.tautomers, stereo_labels=self.stereo_labels)

    def hints(self) -> dict[str, Any]:
        from sciarch_datasets.molecules.featurise import ATOM_FEATURES, BOND_FEATURES, descriptor_names

        components = len(self.smiles_columns or [None])
        return {"in_features": ATOM_FEATURES + (components if components > 1 else 0),
                "edge_features": BOND_FEATURES, "mol_features": len(descriptor_names()) if self.descriptors else 0,
                "out_features": len(self.targets),
                "task_type": self.task_type, "target_names": list(self.targets)}

    # -- reading ------------------------------------------------------------------------------------

    def files(self) -> list[Path]:
        return [Path(self.path)] + ([Path(self.test_path)] if self.test_path else [])

    def _load(self, quiet: bool = False) -> list[Any]:
        from sciarch_datasets.molecules.graphs import molecule_store

        stores = []
        for f in self.files():
            store = molecule_store(f, self.featuriser, smiles_columns=self.smiles_columns, targets=self.targets,
                                   limit=self.limit, strict=self.strict, workers=self.workers, cache=self.cache,
                                   quiet=quiet)
            if len(store) == 0:
                skipped = store.meta.get("bad", {}).get("skipped", 0)
                error = sciarch.DataError(f"no usable molecules in {f} ({skipped} row(s) skipped)")
                error.file = str(f)
                raise error
            stores.append(store)
        return stores

    def _check_stores(self, stores: list[Any]) -> None:
        if self.task_type != "classification":
            return
        for store in stores:
            y = store.targets
            labelled = y[~torch.isnan(y)]
            bad = labelled[(labelled != 0) & (labelled != 1)]
            if bad.numel():
                raise sciarch.DataError(f"classification targets must be 0 or 1; found {float(bad[0]):g}",
                                        file=store.meta["source"])

    # -- prediction -----------------------------------------------------------------------------------

    def prediction_graphs(self, path: str | Path, *, smiles_column: str | None = None, workers: int = -1
                          ) -> tuple[list[str], list[Any], list[Any]]:
        """``(header, records, graphs)`` for every record of a prediction input, in order.

        ``graphs[i]`` is None where record ``i`` cannot be used; ``records[i].error`` says why.
        The graphs are featurised exactly as this data set's training graphs were.
        """
        from sciarch_datasets.molecules.featurise import featurise_all, smiles_of
        from sciarch_datasets.molecules.inputs import read_prediction_inputs
        from sciarch_datasets.molecules.store import GraphStore

        columns = [smiles_column] if smiles_column else self.smiles_columns
        header, records = read_prediction_inputs(path, smiles_columns=columns, required=bool(smiles_column))
        todo = [i for i, r in enumerate(records) if r.error is None]
        results = featurise_all(self.featuriser, [records[i].molecule for i in todo], workers=workers,
                                description=f"featurising {Path(path).name}")
        graphs: list[Any] = [None] * len(records)
        good = []
        for i, result in zip(todo, results, strict=True):
            if isinstance(result, str):
                records[i].error = result
            else:
                records[i].notes = "; ".join(result.get("notes", []))
                records[i].smiles = smiles_of(result, records[i].molecule)
                good.append((i, result))
        if good:
            for g in (g for _, g in good):
                g.pop("smiles", None)
                g.pop("scaffold", None)
                g.pop("notes", None)
            store = GraphStore.from_graphs([g for _, g in good], np.full((len(good), len(self.targets)), np.nan),
                                           {})
            for k, (i, _) in enumerate(good):
                graphs[i] = store.get(k)
        return header, records, graphs


def freesolv(split: SplitMethod = "random", split_sizes: tuple[float, float, float] = (0.8, 0.1, 0.1),
             split_seed: int = 0, num_folds: int = 5, fold: int = 0, conformers: bool = False,
             descriptors: bool = False, batch_size: int = 50, limit: int | None = None, workers: int = -1, cache: bool = True,
             seed: int = 0, standardise: bool = False) -> MoleculeData:
    """FreeSolv (Mobley & Guthrie 2014): 642 experimental hydration free energies (kcal/mol),
    shipped with sciarch (``sciarch_datasets/molecules/data``, CC BY 4.0); the target is ``expt``."""
    from sciarch_datasets.molecules.embedded import embedded_file

    return MoleculeData(path=str(embedded_file("freesolv")), targets=["expt"], smiles_columns=["smiles"],
                        split=split, split_sizes=split_sizes, split_seed=split_seed, num_folds=num_folds,
                        fold=fold, conformers=conformers, descriptors=descriptors, batch_size=batch_size,
                        limit=limit, workers=workers, cache=cache, seed=seed, standardise=standardise)


def solubility(split: SplitMethod = "predefined", split_sizes: tuple[float, float, float] = (0.8, 0.1, 0.1),
               split_seed: int = 0, conformers: bool = False, descriptors: bool = False, batch_size: int = 50, limit: int | None = None,
               workers: int = -1, cache: bool = True, seed: int = 0, standardise: bool = False) -> MoleculeData:
    """The RDKit solubility set (log S, ``SOL``) shipped with sciarch (BSD 3-Clause): its own training file
    (1025 molecules, a validation part held out) and test file (257 molecules)."""
    from sciarch_datasets.molecules.embedded import embedded_file

    return MoleculeData(path=str(embedded_file("solubility-train")), targets=["SOL"],
                        test_path=str(embedded_file("solubility-test")), split=split, split_sizes=split_sizes,
                        split_seed=split_seed, conformers=conformers, descriptors=descriptors,
                        batch_size=batch_size, limit=limit,
                        workers=workers, cache=cache, seed=seed, standardise=standardise)

