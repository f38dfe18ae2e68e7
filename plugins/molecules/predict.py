"""``sciarch predict`` for molecule runs: one output row per input row, errors kept, ensembles' spread.

The input is a CSV with a SMILES column (or the SMILES columns the run was trained on) or an SDF
file. The output CSV repeats every input column and adds one prediction column per target
(a value in the target's units for regression, a probability of class 1 for classification),
``<target>_sd`` (the standard deviation across members, as uncertainty) when the run is an
ensemble, ``in_domain`` (``yes``/``no``) and ``domain`` (every way the molecule is outside what
the training split covered: heavy-atom count, elements, descriptor ranges; see
:mod:`sciarch_datasets.molecules.domain`), ``notes`` (standardisation, mixtures, metals) and
``error``: empty where the prediction is valid, else why the record could not be read (RDKit's
reason for an invalid SMILES, a wrong number of fields, ...). No input row is dropped and no bad
row stops the others. The summary counts the predictions outside the domain, by kind.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import sciarch
import torch


def predict(run: Any, input: Path, output: Path, smiles_column: str | None = None, batch_size: int = 256,
            workers: int = -1) -> dict[str, Any]:
    """Predict every molecule of ``input`` with the run (every member of an ensemble) into ``output``."""
    from .data import collate_graphs

    datamodule, tasks = run.build_members()
    if not hasattr(datamodule, "prediction_graphs"):
        raise sciarch.UsageError(f"{type(datamodule).__name__} runs do not predict from molecule files")
    header, records, graphs = datamodule.prediction_graphs(input, smiles_column=smiles_column, workers=workers)
    valid = [i for i, g in enumerate(graphs) if g is not None]
    names = list(tasks[0].target_names)

    per_member = []
    with torch.no_grad():
        for task in tasks:
            task.eval()
            outputs = []
            for start in range(0, len(valid), batch_size):
                chunk = [graphs[i] for i in valid[start:start + batch_size]]
                outputs.append(task.predict_batch(collate_graphs(chunk)).float())
            per_member.append(torch.cat(outputs) if outputs else torch.zeros(0, len(names)))
    stacked = torch.stack(per_member)
    mean = stacked.mean(0)
    spread = stacked.std(0, unbiased=True) if len(tasks) > 1 else None

    domain = _training_domain(run) if getattr(datamodule, "has_domain", False) else None
    flags: dict[int, list[str]] = {}
    if domain is not None:
        flags = {i: domain.check(records[i].smiles) for i in valid}

    same: dict[str, list[int]] = {}
    for i in valid:
        if records[i].smiles:
            same.setdefault(records[i].smiles, []).append(i)
    for members in (m for m in same.values() if len(m) > 1):
        for i in members:
            note = "duplicate: the same molecule as " + ", ".join(records[j].label for j in members if j != i)
            records[i].notes = "; ".join(n for n in (records[i].notes, note) if n)

    out_names = [n if n not in header else f"{n}_pred" for n in names]
    columns = (list(header) + out_names + ([f"{n}_sd" for n in out_names] if spread is not None else [])
               + (["in_domain", "domain"] if domain is not None else []) + ["notes", "error"])
    position = {i: k for k, i in enumerate(valid)}
    report = sciarch.BadRecords(source=str(input))
    with sciarch.atomic_write(output, newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i, record in enumerate(records):
            row = [record.columns.get(h, "") for h in header]
            if i in position:
                k = position[i]
                row += [f"{float(v):.6g}" for v in mean[k]]
                if spread is not None:
                    row += [f"{float(v):.4g}" for v in spread[k]]
                if domain is not None:
                    row += ["no" if flags[i] else "yes", "; ".join(flags[i])]
                row += [record.notes, ""]
            else:
                row += [""] * (len(out_names) * (2 if spread is not None else 1))
                row += ["", ""] if domain is not None else []
                row += ["", record.error or "unreadable"]
                report.skip(record.error or "unreadable", record=record.label, kind="unreadable input")
            writer.writerow(row)
    if report.count:
        sciarch.console.print(report.summary(), markup=False, soft_wrap=True)
    summary: dict[str, Any] = {"rows": len(records), "predicted": len(valid), "errors": len(records) - len(valid),
                               "ensemble members": len(tasks)}
    if domain is not None:
        from sciarch_datasets.molecules.domain import kind

        outside = [i for i in valid if flags[i]]
        kinds: dict[str, int] = {}
        for i in outside:
            for reason in flags[i]:
                kinds[kind(reason)] = kinds.get(kind(reason), 0) + 1
        summary["outside domain"] = len(outside)
        if outside:
            why = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
            sciarch.console.print(f"{Path(input).name}: {len(outside)} of {len(valid)} prediction(s) outside the "
                                  f"training domain ({why}): see the in_domain and domain columns",
                                  markup=False, soft_wrap=True)
    noted = sum(1 for i in valid if records[i].notes)
    if noted:
        summary["with notes"] = noted
    return summary


def _training_domain(run: Any) -> Any:
    """The Domain the run's training split covered (``domain.json``, written when it was trained)."""
    from sciarch_datasets.molecules.domain import Domain

    for folder in [m.path for m in (run.members or [])] + [run.path]:
        path = Path(folder) / "domain.json"
        if path.is_file():
            return Domain.from_dict(json.loads(path.read_text()))
    sciarch.console.print(f"{run.path}: no domain.json (trained before sciarch recorded its training domain): "
                          "the predictions are written without in_domain and domain columns", markup=False, soft_wrap=True)
    return None
