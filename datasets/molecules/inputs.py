"""Prediction inputs: every record of a CSV or SDF file kept, readable or not.

Unlike the training readers, which skip a bad record, :func:`read_prediction_inputs` returns one
entry per input record, in order, so an output file can have exactly one row per input row: a
record that cannot be read carries its reason, and the caller writes it in an error column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciarch import DataError


@dataclass
class PredictionInput:
    """One input record: its columns as read, what to featurise (or None) and why not."""

    label: str
    columns: dict[str, str]
    molecule: Any = None
    error: str | None = None
    #: what a chemist would want to know about a record that was used (standardisation, mixture, ...)
    notes: str = ""
    #: canonical SMILES of the molecule as used (after standardisation), once featurised
    smiles: str = ""


def read_prediction_inputs(path: str | Path, *, smiles_columns: list[str] | None = None,
                           required: bool = False) -> tuple[list[str], list[PredictionInput]]:
    """``(header, records)`` of a SMILES CSV or SDF file; ``molecule`` is a SMILES tuple or a Mol.

    ``smiles_columns`` are the columns the model was trained on; a file that lacks them falls back
    to its column named like "smiles". ``required=True`` (the user named the column) refuses
    the file instead, naming the column and the file's columns.
    """
    from .graphs import file_format

    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", file=path)
    if file_format(path) == "sdf":
        return _read_sdf(path)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise DataError("empty file (no header row)", file=path) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"not a readable CSV file ({exc})", file=path) from None
        if required and smiles_columns and not all(c in header for c in smiles_columns):
            missing = [c for c in smiles_columns if c not in header]
            raise DataError(f"no column {', '.join(repr(c) for c in missing)} (smiles_column); columns: "
                            f"{', '.join(header)}", file=path, record="header")
        if smiles_columns is None or not all(c in header for c in smiles_columns):
            from .tables import _find_smiles_columns

            if smiles_columns and len(smiles_columns) > 1:
                missing = [c for c in smiles_columns if c not in header]
                raise DataError(f"the model reads {len(smiles_columns)} SMILES columns; missing "
                                f"{', '.join(missing)} (columns: {', '.join(header)})", file=path)
            smiles_columns = _find_smiles_columns(header, path)
        at = [header.index(c) for c in smiles_columns]
        records: list[PredictionInput] = []
        line = reader.line_num
        try:
            for number, row in enumerate(reader, start=1):
                label = f"row {number} (line {line + 1})"
                line = reader.line_num
                columns = {h: (row[i] if i < len(row) else "") for i, h in enumerate(header)}
                if len(row) != len(header):
                    records.append(PredictionInput(label, columns,
                                                   error=f"{len(row)} fields, the header has {len(header)}"))
                    continue
                records.append(PredictionInput(label, columns, molecule=tuple(row[i].strip() for i in at)))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"not a readable CSV file ({exc})", file=path, record=f"line {reader.line_num}") from None
    return header, records


def _read_sdf(path: Path) -> tuple[list[str], list[PredictionInput]]:
    from rdkit import rdBase

    from .featurise import _rdkit_reason
    from .tables import open_sdf

    supplier = open_sdf(path)
    records: list[PredictionInput] = []
    names: list[str] = ["name"]
    for index in range(len(supplier)):
        with rdBase.CaptureErrorLog() as capture:
            mol = supplier[index]
        label = f"record {index + 1}"
        if mol is None:
            records.append(PredictionInput(label, {}, error=_rdkit_reason(capture.messages, "unreadable MOL block")))
            continue
        columns = {"name": mol.GetProp("_Name") if mol.HasProp("_Name") else ""}
        for key in mol.GetPropNames():
            columns[key] = mol.GetProp(key)
            if key not in names:
                names.append(key)
        records.append(PredictionInput(label, columns, molecule=mol))
    return names, records
