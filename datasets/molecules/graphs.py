"""From a molecule file to cached, featurised graphs, with every bad record reported.

:func:`molecule_store` is what a DataModule calls: it reads a SMILES CSV or an SDF file, featurises
every record (in parallel for large inputs), skips and reports the ones RDKit cannot use (with
the row number and RDKit's reason), and caches the result keyed by the file's content and every
setting that changes the graphs. A second call with the same file and settings only loads the
cache, and reports the same bad records again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import sciarch

from .featurise import Featuriser, featurise_all
from .store import GraphStore, cache_path
from .tables import MoleculeTable, read_sdf, read_smiles_csv

log = logging.getLogger("sciarch.data")


def file_format(path: str | Path) -> Literal["csv", "sdf"]:
    suffix = Path(path).suffix.lower()
    if suffix in (".sdf", ".sd", ".mol"):
        return "sdf"
    if suffix in (".csv", ".txt", ".smi", ".tsv"):
        return "csv"
    raise sciarch.DataError(f"unknown molecule file type {suffix!r} (expected .csv or .sdf)", file=path)


def read_table(path: str | Path, *, smiles_columns: list[str] | None = None, targets: list[str] | None = None,
               strict: bool = False, limit: int | None = None, require_targets: bool = True) -> MoleculeTable:
    if file_format(path) == "sdf":
        return read_sdf(path, targets=targets, strict=strict, limit=limit, require_targets=require_targets)
    return read_smiles_csv(path, smiles_columns=smiles_columns, targets=targets, strict=strict, limit=limit,
                           require_targets=require_targets)


def featurise_table(table: MoleculeTable, featuriser: Featuriser, *, workers: int = -1) -> GraphStore:
    """Featurise a table; molecules RDKit cannot use are skipped into ``table.report``."""
    results = featurise_all(featuriser, table.molecules, workers=workers,
                            description=f"featurising {Path(table.source).name}")
    good: list[int] = []
    is_smiles = bool(table.molecules) and isinstance(table.molecules[0], tuple)
    for i, result in enumerate(results):
        if isinstance(result, str):
            if is_smiles:
                shown = " / ".join(repr(s) for s in table.molecules[i])
                table.report.skip(f"invalid SMILES {shown}: {result}", record=table.labels[i], kind="invalid SMILES")
            else:
                table.report.skip(f"invalid molecule: {result}", record=table.labels[i], kind="invalid molecule")
        else:
            good.append(i)
    graphs = [results[i] for i in good]
    meta = {
        "source": table.source,
        "target_names": list(table.target_names),
        "rows": [table.rows[i] for i in good],
        "labels": [table.labels[i] for i in good],
        "notes": [g.get("notes", []) for g in graphs],
        "bad": table.report.to_dict(),
    }
    if featuriser.canonical_smiles:  # plain lists (a cache is read with weights_only); "smiles" made of them
        meta["canonical_smiles"] = [g.get("smiles") for g in graphs]
        meta["smiles_inputs"] = [None if "smiles" in g else list(table.molecules[i])
                                 for i, g in zip(good, graphs, strict=True)]
    else:
        meta["smiles"] = ["" for _ in graphs]
    for g in graphs:
        g.pop("smiles", None)
        g.pop("notes", None)
    targets = table.targets[good] if len(good) else np.zeros((0, len(table.target_names)), dtype=np.float32)
    store = GraphStore.from_graphs(graphs, targets, meta)
    attach_smiles(store.meta)
    return store


def attach_smiles(meta: dict[str, Any]) -> None:
    """``meta["smiles"]`` (:class:`CanonicalSmiles`) and ``meta["scaffolds"]`` (:class:`Scaffolds`)
    of a store's saved fields; neither is saved."""
    if "canonical_smiles" in meta:
        meta["smiles"] = CanonicalSmiles(meta["canonical_smiles"], meta["smiles_inputs"])
    meta["scaffolds"] = Scaffolds(meta["smiles"])


def saved_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` without what :func:`attach_smiles` makes (when it can make it again)."""
    drop = {"scaffolds", "smiles"} if "canonical_smiles" in meta else {"scaffolds"}
    return {k: v for k, v in meta.items() if k not in drop}


class CanonicalSmiles(Sequence):
    """Each record's canonical isomeric SMILES, made (and kept) only when it is asked for: what
    the featuriser wrote (an SDF record, a standardised molecule) or
    :func:`~.featurise.canonical_smiles` of the record's input SMILES, exactly the string it
    would have written. ``values`` (``None`` where not made yet) is filled in place."""

    def __init__(self, values: list[str | None], inputs: list[list[str] | None]) -> None:
        if len(values) != len(inputs):
            raise ValueError(f"{len(values)} SMILES but {len(inputs)} inputs")
        self.values, self.inputs = values, inputs

    @classmethod
    def concat(cls, parts: Sequence[CanonicalSmiles]) -> CanonicalSmiles:
        return cls([v for p in parts for v in p.values], [v for p in parts for v in p.inputs])

    def made(self) -> int:
        """How many have been made or stored so far."""
        return sum(v is not None for v in self.values)

    def __len__(self) -> int:
        return len(self.values)

    def _one(self, index: int) -> str:
        value = self.values[index]
        if value is None:
            from .featurise import canonical_smiles

            value = self.values[index] = canonical_smiles(self.inputs[index])
        return value

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self._one(i) for i in range(*index.indices(len(self)))]
        return self._one(index)

    def as_used(self, index: int) -> str:
        """A SMILES of the molecule record ``index`` was featurised from, without making its
        canonical one: that where it is made (or written), else the input SMILES (the columns
        joined by dots: each column parses on its own, so joined they are the same molecules)."""
        value = self.values[index]
        return value if value is not None else ".".join(text.strip() for text in self.inputs[index])


def smiles_as_used(smiles: Sequence[str], index: int) -> str:
    """:meth:`CanonicalSmiles.as_used` for any store's SMILES (a plain list: the SMILES itself)."""
    return smiles.as_used(index) if isinstance(smiles, CanonicalSmiles) else smiles[index]


def store_keys(store: GraphStore) -> np.ndarray:
    """:func:`~.featurise.graph_keys` of every graph of ``store`` (made from its tensors, never stored)."""
    from .featurise import graph_keys

    t = store.tensors
    if len(store) == 0:
        return np.zeros(0, dtype=np.int64)
    return graph_keys(t["x"].numpy(), t["edge_index"].numpy(), t["edge_attr"].numpy(), t["node_ptr"].numpy(),
                      t["edge_ptr"].numpy())


def identities(smiles: Sequence[str], keys: Sequence[int] | np.ndarray) -> list[Any]:
    """One identity per record, for duplicates and splits: records with equal identities are one
    molecule. The canonical SMILES (``smiles``, made on demand where a :class:`CanonicalSmiles`)
    of the records whose graph key (``keys``: :func:`store_keys`) another record shares; a unique
    ``(None, index)`` for the others, which cannot be the same molecule as any other record (equal
    canonical SMILES mean equal keys), so their SMILES are not made. Records of one molecule get
    the same identity as with every SMILES made; identities are hashable, not sortable."""
    keys = np.asarray(keys, dtype=np.int64)
    if len(keys) != len(smiles):
        raise ValueError(f"{len(smiles)} SMILES but {len(keys)} graph keys")
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    out: list[Any] = [(None, i) for i in range(len(keys))]
    for i in np.flatnonzero(counts[inverse] > 1).tolist():
        out[i] = smiles[i]
    return out


def molecule_store(path: str | Path, featuriser: Featuriser, *, smiles_columns: list[str] | None = None,
                   targets: list[str] | None = None, limit: int | None = None, strict: bool = False,
                   workers: int = -1, cache: bool = True, quiet: bool = False) -> GraphStore:
    """Featurised graphs of a SMILES CSV or SDF file, from the cache when nothing has changed."""
    path = Path(path)
    if not path.is_file():
        raise sciarch.DataError("no such file", file=path)
    settings = {"reader": file_format(path), "smiles_columns": smiles_columns, "targets": targets, "limit": limit,
                **featuriser.settings()}
    where = cache_path("graphs", settings, path)
    store = GraphStore.load(where) if cache else None
    if store is None:
        table = read_table(path, smiles_columns=smiles_columns, targets=targets, strict=strict, limit=limit)
        store = featurise_table(table, featuriser, workers=workers)
        if cache:
            GraphStore(store.tensors, saved_meta(store.meta)).save(where)
        store.meta["cache"] = "written"
    else:
        attach_smiles(store.meta)
        store.meta["cache"] = "hit"
        if strict and store.meta["bad"]["skipped"]:
            first = store.meta["bad"]["records"][0]
            raise sciarch.DataError(first["reason"], file=first["file"], record=first["record"])
    store.meta["cache_file"] = str(where)
    if not quiet:
        # a fresh read already logged each skipped record as it went; a cache hit repeats them here
        report_bad_records(store.meta["bad"], show=20 if store.meta["cache"] == "hit" else 0)
        report_notes(store.meta)
    return store


class Scaffolds(Sequence):
    """The Bemis–Murcko scaffold (canonical SMILES) of each molecule, from a SMILES of it as used
    (:func:`smiles_as_used`: its canonical SMILES are not made for this), computed all at once
    the first time one is asked for (only a scaffold split needs them, and featurising without
    them is a tenth faster)."""

    def __init__(self, smiles: Sequence[str]) -> None:
        self.smiles = smiles
        self._values: list[str] | None = None

    def _all(self) -> list[str]:
        if self._values is None:
            from .featurise import Chem, murcko_scaffold

            self._values = []
            for i in range(len(self.smiles)):
                smiles = smiles_as_used(self.smiles, i)
                mol = Chem.MolFromSmiles(smiles) if smiles else None
                self._values.append(murcko_scaffold(mol) if mol is not None else smiles)
        return self._values

    def __len__(self) -> int:
        return len(self.smiles)

    def __getitem__(self, index):  # type: ignore[override]
        return self._all()[index]


def report_bad_records(bad: dict[str, Any], *, show: int = 20) -> None:
    """Print the skipped-record summary and the first ``show`` records, file, record and reason."""
    if not bad.get("skipped"):
        return
    why = ", ".join(f"{n} {reason}" for reason, n in sorted(bad["reasons"].items(), key=lambda kv: -kv[1]))
    sciarch.console.print(f"{bad['source']}: skipped {bad['skipped']} bad record(s) ({why})", soft_wrap=True,
                          markup=False)
    listed = bad["records"][:show]
    for record in listed:
        sciarch.console.print(f"  {record['record']}: {record['reason']}", soft_wrap=True, markup=False)
    if listed and bad["skipped"] > len(listed):  # none listed: a fresh read logged each as it went
        sciarch.console.print(f"  ... and {bad['skipped'] - len(listed)} more", markup=False)


def note_counts(notes: list[list[str]]) -> dict[str, int]:
    """Records per kind of note (the text before the first colon: mixture, metal, standardised, ...)."""
    counts: dict[str, int] = {}
    for record in notes:
        for kind in {re.sub(r"^SMILES column \d+: ", "", n).split(":", 1)[0] for n in record}:
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def report_notes(meta: dict[str, Any], *, show: int = 5) -> None:
    """One line per kind of note (records used, with something a chemist would want to know)."""
    notes = meta.get("notes") or []
    noted = [(label, n) for label, n in zip(meta.get("labels", []), notes, strict=False) if n]
    if not noted:
        return
    why = ", ".join(f"{n} {kind}" for kind, n in sorted(note_counts(notes).items(), key=lambda kv: -kv[1]))
    sciarch.console.print(f"{meta['source']}: {len(noted)} of {len(notes)} record(s) used with notes ({why})",
                          soft_wrap=True, markup=False)
    for label, n in noted[:show]:
        sciarch.console.print(f"  {label}: {'; '.join(n)}", soft_wrap=True, markup=False)
    if len(noted) > show:
        sciarch.console.print(f"  ... and {len(noted) - show} more (all in the run's data_report.csv)",
                              markup=False)
