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
        "smiles": [g.get("smiles", "") for g in graphs],
        "notes": [g.get("notes", []) for g in graphs],
        "bad": table.report.to_dict(),
    }
    for g in graphs:
        g.pop("smiles", None)
        g.pop("notes", None)
    targets = table.targets[good] if len(good) else np.zeros((0, len(table.target_names)), dtype=np.float32)
    return GraphStore.from_graphs(graphs, targets, meta)


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
            store.save(where)
        store.meta["cache"] = "written"
    else:
        store.meta["cache"] = "hit"
        if strict and store.meta["bad"]["skipped"]:
            first = store.meta["bad"]["records"][0]
            raise sciarch.DataError(first["reason"], file=first["file"], record=first["record"])
    store.meta["cache_file"] = str(where)
    if "scaffolds" not in store.meta:  # computed from the SMILES when a scaffold split asks for them
        store.meta["scaffolds"] = Scaffolds(store.meta["smiles"])
    if not quiet:
        # a fresh read already logged each skipped record as it went; a cache hit repeats them here
        report_bad_records(store.meta["bad"], show=20 if store.meta["cache"] == "hit" else 0)
        report_notes(store.meta)
    return store


class Scaffolds(Sequence):
    """The Bemis–Murcko scaffold (canonical SMILES) of each molecule, from its canonical SMILES,
    computed all at once the first time one is asked for (only a scaffold split needs them, and
    featurising without them is a tenth faster)."""

    def __init__(self, smiles: list[str]) -> None:
        self.smiles = smiles
        self._values: list[str] | None = None

    def _all(self) -> list[str]:
        if self._values is None:
            from .featurise import Chem, murcko_scaffold

            self._values = []
            for smiles in self.smiles:
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
