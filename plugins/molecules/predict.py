"""``sciarch predict`` for molecule runs: one output row per input row, errors kept, ensembles' spread.

The input is a CSV with a SMILES column (or the SMILES columns the run was trained on) or an SDF
file. The output CSV repeats every input column and adds one prediction column per target
(a value in the target's units for regression, a probability of class 1 for classification),
``<target>_sd`` (the standard deviation across members, as uncertainty) when the run is an
ensemble, and ``error``: empty where the prediction is valid, else why the record could not be
read (RDKit's reason for an invalid SMILES, a wrong number of fields, ...). No input row is
dropped and no bad row stops the others.
"""

from __future__ import annotations

import csv
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

    out_names = [n if n not in header else f"{n}_pred" for n in names]
    columns = (list(header) + out_names + ([f"{n}_sd" for n in out_names] if spread is not None else [])
               + ["notes", "error"])
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
                row += [record.notes, ""]
            else:
                row += [""] * (len(out_names) * (2 if spread is not None else 1))
                row += ["", record.error or "unreadable"]
                report.skip(record.error or "unreadable", record=record.label, kind="unreadable input")
            writer.writerow(row)
    if report.count:
        sciarch.console.print(report.summary(), markup=False, soft_wrap=True)
    return {"rows": len(records), "predicted": len(valid), "errors": len(records) - len(valid),
            "ensemble members": len(tasks)}
