"""Readers of molecule tables: MoleculeNet-style SMILES CSV files and SDF files with properties.

Both return a :class:`MoleculeTable`: one entry per usable record, with the molecule(s) still as
text (SMILES) or an RDKit Mol (SDF), the target values (NaN where missing: masked in the loss,
never dropped), and the record's position in the file so every later problem can be reported
against the row a user can find. Records that cannot be used at all (a non-numeric target, an
SDF block RDKit cannot read) are skipped and counted in the table's :class:`sciarch.BadRecords`;
invalid SMILES are found when featurising (in parallel) and reported the same way.

Row numbers are 1-based data rows (the header is not counted); the line number in the file is
given too, since quoted CSV fields may span lines.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sciarch import BadRecords, DataError

#: Text that means "no value" in a target column.
MISSING = {"", "nan", "na", "n/a", "none", "null", "?", "-"}


@dataclass
class MoleculeTable:
    """Records read from one file, before featurisation."""

    source: str
    #: per record: a tuple of SMILES (one per SMILES column) or an RDKit Mol (SDF)
    molecules: list[Any]
    #: float32 [records, targets]; NaN where the value is missing
    targets: np.ndarray
    target_names: list[str]
    #: 1-based data row (CSV) or record number (SDF) of each record
    rows: list[int]
    #: how to name each record in a report, e.g. "row 12 (line 13)"
    labels: list[str]
    report: BadRecords
    #: per record, the input columns as read (CSV) or the SDF properties, for prediction outputs
    columns: list[dict[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.molecules)


class InfiniteTarget(ValueError):
    """A target cell that is a number, but an infinite one (``inf``, ``-Infinity``, ``1e999``)."""


def parse_target(text: str | None) -> float:
    """A target cell as a float; NaN for a missing value; ValueError saying what is wrong otherwise
    (:class:`InfiniteTarget` for an infinite number)."""
    if text is None or text.strip().lower() in MISSING:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"is not a number: {text!r}") from None
    if math.isinf(value):
        raise InfiniteTarget(f"is an infinite value {text!r}, not a measurement (leave the cell empty for a "
                             "missing value)")
    return value


def _target_kind(exc: ValueError) -> str:
    return "infinite target" if isinstance(exc, InfiniteTarget) else "non-numeric target"


def _find_smiles_columns(header: list[str], path: Path) -> list[str]:
    exact = [h for h in header if h.strip().lower() == "smiles"]
    if exact:
        return exact[:1]
    found = [h for h in header if "smiles" in h.lower()]
    if found:
        return found[:1]
    raise DataError(f"no SMILES column (looked for a column named like 'smiles'); columns: {', '.join(header)}; "
                    "set smiles_columns", file=path)


def read_smiles_csv(path: str | Path, *, smiles_columns: Sequence[str] | None = None,
                    targets: Sequence[str] | None = None, strict: bool = False, limit: int | None = None,
                    require_targets: bool = True) -> MoleculeTable:
    """Read a MoleculeNet-style CSV: SMILES column(s) and target columns chosen by name.

    ``smiles_columns`` default to the one column called (or containing) "smiles";
    ``targets`` default to every other column whose values are all numbers or missing.
    ``require_targets=False`` reads files without targets (prediction inputs). ``limit`` keeps
    the first rows only. ``strict`` makes the first bad record an error.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", file=path)
    report = BadRecords(source=str(path), strict=strict)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError("empty file (no header row)", file=path) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"not a readable CSV file ({exc})", file=path) from None
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            duplicated = sorted({h for h in header if header.count(h) > 1})
            raise DataError(f"duplicated column name(s) {', '.join(duplicated)}", file=path, record="header")
        smiles_cols = list(smiles_columns) if smiles_columns else _find_smiles_columns(header, path)
        rows_text: list[tuple[int, int, list[str]]] = []
        line_number = reader.line_num
        try:
            for number, row in enumerate(reader, start=1):
                rows_text.append((number, line_number + 1, row))
                line_number = reader.line_num
                if limit is not None and number >= limit:
                    break
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"not a readable CSV file ({exc})", file=path, record=f"line {reader.line_num}") from None

    missing = [c for c in smiles_cols if c not in header]
    if missing:
        raise DataError(f"no column {', '.join(repr(c) for c in missing)}; columns: {', '.join(header)}", file=path)
    if targets is None:
        targets = _numeric_columns(header, smiles_cols, rows_text) if require_targets else []
        if require_targets and not targets:
            raise DataError("no numeric target column found; set targets", file=path)
    targets = list(targets)
    missing = [c for c in targets if c not in header]
    if missing:
        raise DataError(f"no target column {', '.join(repr(c) for c in missing)}; columns: {', '.join(header)}",
                        file=path)
    smiles_at = [header.index(c) for c in smiles_cols]
    target_at = [header.index(c) for c in targets]

    molecules, values, rows, labels, columns = [], [], [], [], []
    for number, line, row in rows_text:
        label = f"row {number} (line {line})"
        if len(row) != len(header):
            if not any(cell.strip() for cell in row):
                continue  # a blank line is not a record
            report.skip(f"{len(row)} fields, the header has {len(header)}", record=label, kind="wrong field count")
            continue
        parsed = []
        bad = None
        for name, i in zip(targets, target_at, strict=True):
            try:
                parsed.append(parse_target(row[i]))
            except ValueError as exc:
                bad = (f"target {name!r} {exc}", _target_kind(exc))
                break
        if bad:
            report.skip(bad[0], record=label, kind=bad[1])
            continue
        molecules.append(tuple(row[i].strip() for i in smiles_at))
        values.append(parsed)
        rows.append(number)
        labels.append(label)
        columns.append(dict(zip(header, row, strict=True)))
    array = np.asarray(values, dtype=np.float32).reshape(len(values), len(targets))
    return MoleculeTable(str(path), molecules, array, targets, rows, labels, report, columns)


def _numeric_columns(header: list[str], smiles_cols: list[str], rows: list[tuple[int, int, list[str]]]) -> list[str]:
    out = []
    for i, name in enumerate(header):
        if name in smiles_cols:
            continue
        seen = False
        for _, _, row in rows:
            if i >= len(row):
                continue
            try:
                if not math.isnan(parse_target(row[i])):
                    seen = True
            except InfiniteTarget:
                seen = True  # a number: the column is a target, and the row is reported when read
            except ValueError:
                break
        else:
            if seen:
                out.append(name)
    return out


def open_sdf(path: Path, **options: Any) -> Any:
    """RDKit's SDMolSupplier over ``path`` (unsanitised); an empty or unopenable file is a DataError."""
    from rdkit import Chem

    if path.stat().st_size == 0:
        raise DataError("empty file (0 bytes; an SDF file holds MOL blocks ended by $$$$)", file=path)
    try:
        return Chem.SDMolSupplier(str(path), sanitize=False, removeHs=False, **options)
    except OSError as exc:  # RDKit: "File error: Invalid input file"
        raise DataError(f"cannot open as SDF ({str(exc).strip() or type(exc).__name__})", file=path) from None


def read_sdf(path: str | Path, *, targets: Sequence[str] | None = None, strict: bool = False,
             limit: int | None = None, require_targets: bool = True) -> MoleculeTable:
    """Read an SDF file; targets are SD data fields (``> <SOL>``) chosen by name.

    Records are read unsanitised here (sanitising, and the reason it fails, comes with
    featurisation); a block RDKit cannot read at all is skipped with RDKit's message.
    ``targets`` default to every data field that is numeric in all records that have it.
    """
    from rdkit import rdBase

    from .featurise import _rdkit_reason

    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", file=path)
    report = BadRecords(source=str(path), strict=strict)
    supplier = open_sdf(path, strictParsing=True)
    records: list[tuple[int, Any]] = []
    for index in range(len(supplier)):
        if limit is not None and index >= limit:
            break
        with rdBase.CaptureErrorLog() as capture:
            mol = supplier[index]
        label = f"record {index + 1}"
        if mol is None:
            report.skip(_rdkit_reason(capture.messages, "RDKit could not read the MOL block"), record=label,
                        kind="unreadable record")
            continue
        records.append((index + 1, mol))
    if not records and not report.count:
        raise DataError("no molecules in file (is it an SDF file?)", file=path)

    if targets is None:
        targets = []
        if require_targets:
            names = sorted({n for _, m in records for n in m.GetPropNames()})
            for name in names:
                try:
                    present = [parse_target(m.GetProp(name)) for _, m in records if m.HasProp(name)]
                except ValueError:
                    continue
                if any(not math.isnan(v) for v in present):
                    targets.append(name)
            if not targets:
                raise DataError("no numeric SD data field to use as a target; set targets", file=path)
    targets = list(targets)
    if require_targets:
        absent = [t for t in targets if not any(m.HasProp(t) for _, m in records)]
        if absent:
            known = sorted({n for _, m in records for n in m.GetPropNames()})
            raise DataError(f"no record has data field(s) {', '.join(absent)}; fields: {', '.join(known)}", file=path)

    molecules, values, rows, labels, columns = [], [], [], [], []
    for number, mol in records:
        name = mol.GetProp("_Name").strip() if mol.HasProp("_Name") else ""
        label = f"record {number}" + (f" ({name})" if name else "")
        parsed, bad = [], None
        for t in targets:
            text = mol.GetProp(t) if mol.HasProp(t) else None
            try:
                parsed.append(parse_target(text))
            except ValueError as exc:
                bad = (f"data field {t!r} {exc}", _target_kind(exc))
                break
        if bad:
            report.skip(bad[0], record=label, kind=bad[1])
            continue
        molecules.append(mol)
        values.append(parsed)
        rows.append(number)
        labels.append(label)
        columns.append({"name": name, **{k: str(v) for k, v in mol.GetPropsAsDict().items()}})
    array = np.asarray(values, dtype=np.float32).reshape(len(values), len(targets))
    return MoleculeTable(str(path), molecules, array, targets, rows, labels, report, columns)
