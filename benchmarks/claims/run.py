"""The architecture claims of the field, reproduced on the embedded defaults, one table each.

    python benchmarks/claims/run.py dilation      # receptive field against depth; keyword accuracy
    python benchmarks/claims/run.py residual      # gradient per layer at initialisation; accuracy
    python benchmarks/claims/run.py invariance    # GNN against an MLP on the atom table (FreeSolv)
    python benchmarks/claims/run.py context       # splice: the context-length table, as measured
    python benchmarks/claims/run.py crowding      # tracks: two-stage against one-stage and Hough

Each writes ``benchmarks/results/claims_<name>.json`` and ``.md`` with the budget, seeds, machine
and command. A claim that does not hold is written down as not holding. Models are compared at the
same budget (epochs, data, seed); the controls (a WaveNet without residual connections, an MLP on
the SMILES-ordered atom table) are a third-party plugin of this folder (``claims_plugin.py``).
Training runs on one thread.
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
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ["SCIARCH_PLUGIN_MODULES"] = ",".join(
    filter(None, [os.environ.get("SCIARCH_PLUGIN_MODULES", ""), "claims=claims_plugin"]))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")]))

from machine import RESULTS, loadavg, machine  # noqa: E402


def _write(name: str, record: dict[str, Any], lines: list[str]) -> None:
    record["loadavg_at_end"] = loadavg()
    (RESULTS / f"claims_{name}.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    header = [f"Machine: {record['machine']['cpu']}, {record['machine']['cores']} cores, "
              f"{record['machine']['threads_used']} thread; load average at start {record['machine']['loadavg_at_start']}, "
              f"at end {record['loadavg_at_end']} (other jobs shared the machine). Commit {record['machine']['commit']}.",
              f"Command: `{record['command']}`", ""]
    (RESULTS / f"claims_{name}.md").write_text("\n".join([lines[0], "", *header, *lines[1:]]) + "\n")
    print("\n".join(lines))


def _record() -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    return {"machine": machine(1), "command": " ".join(["python", "benchmarks/claims/run.py", *sys.argv[1:]])}


def _train(recipe: str, overrides: list[str], root: Path) -> dict[str, Any]:
    from sciarch.config import load
    from sciarch.training import train

    resolved = load(recipe, overrides=overrides)
    run_dir = root / f"{recipe.replace('/', '-')}-{len(list(root.glob('*')))}"
    cpu, wall = time.process_time(), time.perf_counter()
    train(resolved, run_dir=run_dir, quiet=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"run": str(run_dir), "overrides": overrides, "test": summary.get("test", {}),
            "cpu_s": round(time.process_time() - cpu, 1), "wall_s": round(time.perf_counter() - wall, 1),
            "steps": summary.get("global_step")}


def _params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


# -- dilation -------------------------------------------------------------------------------------


def claim_dilation(epochs: int) -> None:
    import torch
    from sciarch.inspection import receptive_field
    from sciarch.plugins import get_host

    record = _record()
    build = get_host().get("model", "keywords/wavenet").load()
    depth_rows = []
    for layers in (2, 4, 8, 12, 16, 20, 24):
        row = {"layers": layers}
        for label, dilations in (("dilated", [1, 2, 4, 8]), ("undilated", [1])):
            model = build(num_classes=12, layers=layers, dilations=dilations).eval()
            rf = receptive_field(model, (torch.randn(1, 16000 * 5),), {})
            row[label] = rf["measured"]
            row[f"{label}_computed"] = rf["computed"]
            row[f"{label}_params"] = _params(model)
        depth_rows.append(row)
    record["receptive_field"] = depth_rows
    root = Path(tempfile.mkdtemp(prefix="claims-dilation-"))
    budget = [f"trainer.max_epochs={epochs}", "seed=0"]
    runs = {"dilated (1, 2, 4, 8)": _train("keywords/tts-12", budget, root),
            "undilated (1)": _train("keywords/tts-12", [*budget, "model.args.dilations=[1]"], root)}
    record["accuracy"] = runs
    record["budget"] = f"keywords/tts-12, {epochs} epochs each, seed 0, one thread"
    exp = all(r["dilated"] > r["undilated"] for r in depth_rows[1:])
    linear = all(r["undilated"] == 1 + 2 * r["layers"] + 2 for r in depth_rows)  # input conv k=3 adds 2
    acc = {k: v["test"].get("test/acc") for k, v in runs.items()}
    lines = ["# Claim: dilation grows the receptive field exponentially with depth at no cost in parameters",
             f"Budget for accuracy: {record['budget']}.", "",
             "| gated layers | receptive field, dilated 1-2-4-8 (frames) | undilated (frames) | parameters (both) |",
             "|---|---|---|---|"]
    for r in depth_rows:
        lines.append(f"| {r['layers']} | {r['dilated']} | {r['undilated']} | {r['dilated_params']:,} |")
    lines += ["", "Receptive fields measured by the gradient of one output frame (and equal to the count from the "
              "layers); parameters are the same because dilation only spaces the taps.", "",
              "| model (24 layers) | test accuracy | FRR at 1 FA/h | CPU s |", "|---|---|---|---|"]
    for label, run in runs.items():
        lines.append(f"| {label} | {run['test'].get('test/acc', float('nan')):.3f} | "
                     f"{run['test'].get('test/frr_at_1fa_per_h', float('nan')):.3f} | {run['cpu_s']} |")
    holds = exp and acc["dilated (1, 2, 4, 8)"] is not None and acc["dilated (1, 2, 4, 8)"] > (acc["undilated (1)"] or 0)
    lines += ["", f"**Receptive field: {'holds' if exp else 'does not hold'}** (undilated grows by 2 frames a layer"
              f"{'' if linear else ' (not exactly)'}; cycled dilations by 2·(1+2+4+8)=30 frames per cycle of 4). "
              f"**Accuracy: {'holds' if holds else 'does not hold'}** at this budget."]
    _write("dilation", record, lines)


# -- residual ---------------------------------------------------------------------------------------


def _layer_gradients(model_name: str, seed: int = 0) -> list[float]:
    import lightning.pytorch as pl
    from sciarch.building import build
    from sciarch.config import load

    pl.seed_everything(seed, verbose=False)
    resolved = load("keywords/tts-12", smoke=True, overrides=[f"model.name={model_name}", "model.args.layers=24"])
    datamodule, task, _ = build(resolved)
    datamodule.prepare_data()
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    task.train()
    loss = task.training_step(batch, 0)
    loss.backward()
    return [float(layer.dilated.weight.grad.norm()) for layer in task.model.layers]


def claim_residual(epochs: int) -> None:
    record = _record()
    grads = {"residual": _layer_gradients("keywords/wavenet"), "plain": _layer_gradients("claims/wavenet-plain")}
    record["gradient_norm_per_layer_at_init"] = grads
    root = Path(tempfile.mkdtemp(prefix="claims-residual-"))
    budget = [f"trainer.max_epochs={epochs}", "seed=0"]
    runs = {"residual + skips (the product)": _train("keywords/tts-12", budget, root),
            "plain (no identity, no skip sum)": _train("keywords/tts-12", [*budget, "model.name=claims/wavenet-plain"],
                                                       root)}
    record["accuracy"] = runs
    record["budget"] = f"keywords/tts-12 (24 layers), {epochs} epochs each, seed 0, one thread"
    lines = ["# Claim: residual connections keep a deep stack trainable",
             f"Budget for accuracy: {record['budget']}.", "",
             "| layer | gradient norm at initialisation, residual | plain |", "|---|---|---|"]
    for i, (a, b) in enumerate(zip(grads["residual"], grads["plain"], strict=True)):
        if i in (0, 1, 2, 5, 11, 17, 23):
            lines.append(f"| {i + 1} | {a:.3g} | {b:.3g} |")
    ratio_res = grads["residual"][0] / max(grads["residual"][-1], 1e-30)
    ratio_plain = grads["plain"][0] / max(grads["plain"][-1], 1e-30)
    lines += ["", f"First-to-last layer gradient ratio: residual {ratio_res:.3g}, plain {ratio_plain:.3g} "
              "(one batch of the smoke corpus, the same seed).", "",
              "| model | test accuracy | FRR at 1 FA/h | CPU s |", "|---|---|---|---|"]
    for label, run in runs.items():
        lines.append(f"| {label} | {run['test'].get('test/acc', float('nan')):.3f} | "
                     f"{run['test'].get('test/frr_at_1fa_per_h', float('nan')):.3f} | {run['cpu_s']} |")
    acc = [run["test"].get("test/acc", 0.0) for run in runs.values()]
    lines += ["", f"**{'Holds' if acc[0] > acc[1] else 'Does not hold'}** at this budget: "
              f"{acc[0]:.3f} with residual connections against {acc[1]:.3f} without."]
    _write("residual", record, lines)


# -- invariance -------------------------------------------------------------------------------------


def _order_spread(run_dir: str, smiles: list[str], orders: int = 8) -> float:
    """Mean over molecules of the standard deviation of the prediction over random atom orders."""
    import csv

    from rdkit import Chem
    from sciarch.runs import Run

    rows = []
    for index, text in enumerate(smiles):
        mol = Chem.MolFromSmiles(text)
        for k in range(orders):
            rows.append((index, Chem.MolToSmiles(mol, doRandom=True, canonical=False) if k else text))
    folder = Path(tempfile.mkdtemp(prefix="claims-orders-"))
    source, output = folder / "in.csv", folder / "out.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles"])
        writer.writerows([[text] for _, text in rows])
    run = Run(run_dir)
    run.task_spec().load_predictor()(run, source, output)
    with open(output) as handle:
        predicted = list(csv.DictReader(handle))
    column = next(k for k in predicted[0] if k not in ("smiles", "row", "in_domain", "domain", "notes", "error"))
    values: dict[int, list[float]] = {}
    for (index, _), row in zip(rows, predicted, strict=True):
        values.setdefault(index, []).append(float(row[column]))
    return statistics.fmean(statistics.pstdev(v) for v in values.values())


def claim_invariance(seeds: int) -> None:
    from sciarch_datasets.molecules import embedded_file

    record = _record()
    root = Path(tempfile.mkdtemp(prefix="claims-invariance-"))
    models = {"D-MPNN (message passing)": [], "MLP on the atom table": []}
    for seed in range(seeds):
        common = [f"seed={seed}", f"data.args.split_seed={seed}", "data.args.descriptors=false"]
        models["D-MPNN (message passing)"].append(_train("molecules/freesolv", common, root))
        models["MLP on the atom table"].append(_train("molecules/freesolv", [*common, "model.name=claims/atom-mlp",
                                                                              "model.args={max_atoms: 32}"], root))
    import csv

    with open(embedded_file("freesolv")) as handle:
        smiles = [row["smiles"] for row in csv.DictReader(handle)][:60]
    spread = {label: _order_spread(runs[0]["run"], smiles) for label, runs in models.items()}
    record.update(runs=models, order_spread=spread,
                  budget=f"molecules/freesolv without descriptors, 150 epochs, split seeds 0..{seeds - 1}, one thread")
    lines = ["# Claim: message passing is invariant to atom order, a fixed-order model is not",
             f"Budget: {record['budget']}. The MLP reads the atom features in the order the SMILES lists them "
             "(zero-padded to 32 atoms).", "",
             "| model | test RMSE (kcal/mol), mean ± sd | spread of the prediction over 8 random atom orders | CPU s per training |",
             "|---|---|---|---|"]
    for label, runs in models.items():
        rmse = [r["test"]["test/rmse"] for r in runs]
        sd = statistics.stdev(rmse) if len(rmse) > 1 else 0.0
        lines.append(f"| {label} | {statistics.fmean(rmse):.3f} ± {sd:.3f} | {spread[label]:.3g} kcal/mol | "
                     f"{statistics.fmean(r['cpu_s'] for r in runs):.0f} |")
    gnn = statistics.fmean(r["test"]["test/rmse"] for r in models["D-MPNN (message passing)"])
    mlp = statistics.fmean(r["test"]["test/rmse"] for r in models["MLP on the atom table"])
    lines += ["", f"**Invariance: {'holds' if spread['D-MPNN (message passing)'] < 1e-4 < spread['MLP on the atom table'] else 'does not hold'}**"
              f" (the spread is measured on the first 60 FreeSolv molecules, each written 8 ways by RDKit). "
              f"**Accuracy: {'holds' if gnn < mlp else 'does not hold'}** ({gnn:.3f} against {mlp:.3f})."]
    _write("invariance", record, lines)


# -- context and crowding: the plugins' own benchmarks, summarised --------------------------------


def claim_context() -> None:
    """The splice context ladder from ``splice_accuracy.json`` (benchmarks/splice/accuracy.py): holds when on
    the mean over seeds 80 < 400 < 2k <= 10k <= SSM for top-k and PR-AUC, acceptor and donor alike."""
    source = RESULTS / "splice_accuracy.json"
    data = json.loads(source.read_text())
    record = _record()
    record["source"] = str(source.relative_to(RESULTS.parent.parent))
    record["simulator_version"] = data.get("simulator_version")
    record["overrides"] = data.get("overrides")
    metrics = ("topk_acceptor", "topk_donor", "prauc_acceptor", "prauc_donor")
    by: dict[str, list[dict[str, Any]]] = {}
    for r in data["rows"]:
        by.setdefault(r["recipe"], []).append(r)
    rows = []
    for recipe, runs in by.items():
        rows.append({"recipe": recipe, "seeds": [r.get("seed") for r in runs], "epochs": runs[0].get("epochs"),
                     "cpu_min": statistics.fmean((r.get("cpu_seconds") or r.get("train_seconds") or 0) / 60 for r in runs),
                     **{k: statistics.fmean(r["test"][k] for r in runs) for k in metrics}})
    record["rows"] = rows
    ladder = data.get("ladder") or []
    record["ladder"] = ladder
    holds = bool(ladder) and all(step["holds"] for step in ladder) and len(ladder) == 4 * len(metrics)
    lines = ["# Claim: longer context helps splice-site prediction (80 < 400 < 2k ≤ 10k, SSM ≥ 10k)", "",
             f"From `{record['source']}` (measured {data['machine']['date']} on {data['machine']['cpu']}, "
             f"simulator v{data.get('simulator_version', '?')}, command `{data['command'][:220]}`).", "",
             "| recipe | seeds | top-k acceptor | top-k donor | PR-AUC acceptor | PR-AUC donor | epochs | train CPU min |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        seeds = ", ".join("-" if x is None else str(x) for x in r["seeds"])
        lines.append(f"| {r['recipe']} | {seeds} | " + " | ".join(f"{r[k]:.3f}" for k in metrics)
                     + f" | {r['epochs']} | {r['cpu_min']:.1f} |")
    lines += ["", "Ladder steps (each must hold for all four metrics):", ""]
    lines += [f"- {st['metric']}: {st['short']} {st['short_value']:.3f} {st['op']} {st['long']} {st['long_value']:.3f}: "
              f"{'holds' if st['holds'] else 'does not hold'}" for st in ladder]
    failed = [st for st in ladder if not st["holds"]]
    lines += ["", f"**{'Holds' if holds else 'Does not hold'}** on the embedded simulator (v{data.get('simulator_version', '?')}, "
              "with long-range determinants: docs/splice.md, \"The gene simulator\")"
              + ("." if holds else f": {len(failed)} of {len(ladder)} steps fail"
                 + (f" ({', '.join(sorted({st['short'].split('/')[-1] + ' vs ' + st['long'].split('/')[-1] for st in failed}))})"
                    if failed else "; the table lacks some of the five models") + "."),
              "Same budget for every model: " + (", ".join(f"`{o}`" for o in data.get("overrides") or []) or "the recipes' own")
              + "; one thread; the JSON holds each run's config."]
    lines += [f"\n{r['recipe']}: {r['note']}" + (f" (`{'`, `'.join(r['item_overrides'])}`)" if r.get("item_overrides") else "")
              + "." for r in data["rows"] if r.get("note")]
    _write("context", record, lines)


# matched in this order: "Hit R-CNN on Hough arcs" is a two-stage detector with Hough proposals
_FAMILIES = (("true ", "ceiling"), ("one-stage", "one-stage"), ("retinanet", "one-stage"), ("two-stage", "two-stage"),
             ("r-cnn", "two-stage"), ("arc net", "two-stage"), ("hough", "baseline"), ("gnn", "baseline"))


def _family(method: str) -> str:
    low = method.lower()
    return next((family for key, family in _FAMILIES if key in low), "other")


def _crowding_section(data: dict[str, Any], title: str) -> tuple[list[str], dict[int, str]]:
    """One table of efficiency / fake rate per method and multiplicity, and a verdict per multiplicity.

    The claim holds at a multiplicity when the best learned two-stage method (by efficiency) has a
    higher efficiency *and* a lower fake rate than the Hough transform and than every one-stage
    detector measured on the same pictures.
    """
    rows = data.get("rows", [])
    mults = sorted({r["primary_tracks"] for r in rows if isinstance(r.get("primary_tracks"), int)})
    methods = sorted({r["method"] for r in rows}, key=lambda m: (["two-stage", "one-stage", "baseline", "other",
                                                                  "ceiling"].index(_family(m)), m))
    cell = {(r["method"], r["primary_tracks"]): r for r in rows}
    lines = [f"## {title}", "", "| method | family | " + " | ".join(f"{m} tracks" for m in mults) + " |",
             "|---|---|" + "---|" * len(mults)]
    for method in methods:
        cells = ["-" if (method, m) not in cell else
                 f"{cell[method, m]['efficiency']:.2f} / {cell[method, m]['fake_rate']:.2f}" for m in mults]
        lines.append(f"| {method} | {_family(method)} | " + " | ".join(cells) + " |")
    verdicts: dict[int, str] = {}
    for m in mults:
        two = [cell[k, m] for k in methods if _family(k) == "two-stage" and (k, m) in cell]
        rivals = [cell[k, m] for k in methods if _family(k) in ("one-stage", "baseline") and (k, m) in cell]
        if not two or not rivals:
            verdicts[m] = "not measured"
            continue
        best = max(two, key=lambda r: r["efficiency"])
        beaten = [r["method"] for r in rivals
                  if not (best["efficiency"] > r["efficiency"] and best["fake_rate"] < r["fake_rate"])]
        verdicts[m] = "holds" if not beaten else f"does not hold ({best['method']} not ahead of {', '.join(beaten)})"
    lines += ["", "Cells: track efficiency / fake rate. Verdict per multiplicity (best two-stage method by efficiency "
              "against the Hough transform and every one-stage detector, on the same pictures; it must have the higher "
              "efficiency and the lower fake rate):", ""]
    lines += [f"- {m} primary tracks: {verdicts[m]}" for m in mults]
    return lines, verdicts


def claim_crowding() -> None:
    sources = [(RESULTS / "tracks_crowding.json", "Current simulator"),
               (RESULTS / "tracks_crowding_earlier_simulator.json",
                "Earlier simulator (the box and mask detectors, which were not re-run on the current pictures)")]
    record = _record()
    record["sources"] = [str(path.relative_to(RESULTS.parent.parent)) for path, _ in sources if path.exists()]
    lines = ["# Claim: a two-stage detector copes with crowded tracks better than one-stage detectors and the Hough "
             "transform", "",
             "Summarised from " + " and ".join(f"`{s}`" for s in record["sources"]) +
             " (`benchmarks/tracks/crowding.py`; the budgets, pictures and machine of each are in its own table, "
             "`benchmarks/results/tracks_crowding.md`).", ""]
    overall = []
    for path, title in sources:
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        section, verdicts = _crowding_section(data, title)
        record.setdefault("verdicts", {})[title] = verdicts
        overall += list(verdicts.values())
        lines += section + [""]
    measured = [v for v in overall if v != "not measured"]
    holds = bool(measured) and all(v == "holds" for v in measured)
    current = record.get("verdicts", {}).get(sources[0][1], {})
    current_holds = bool(current) and all(v == "holds" for v in current.values())
    rivals = sorted({r["method"] for r in json.loads(sources[0][0].read_text()).get("rows", [])
                     if _family(r["method"]) == "one-stage"}) if sources[0][0].exists() else []
    if holds:
        verdict = "a two-stage detector is ahead of the Hough transform and the one-stage detector at every multiplicity measured."
    elif current_holds:
        against = " and ".join(["the Hough transform", *rivals])
        verdict = (f"on the current simulator's pictures a two-stage detector is ahead of {against} at all "
                   f"{len(current)} multiplicities, in efficiency and fake rate"
                   + ("" if rivals else "; the one-stage detector was not measured on them")
                   + "; on the earlier simulator's pictures no two-stage box detector was ahead of the Hough transform.")
    else:
        verdict = (f"the best two-stage detector is ahead at {sum(v == 'holds' for v in measured)} of {len(measured)} "
                   "measured multiplicities (see the verdicts above).")
    label = "Holds" if holds else (("Holds on the current pictures" if rivals else "Holds against the Hough transform only")
                                   if current_holds else "Does not hold")
    lines += [f"**{label}**: {verdict}"]
    record["holds"] = holds
    record["holds_on_current_pictures_against"] = (["hough"] + rivals) if current_holds else []
    _write("crowding", record, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("claims", nargs="+", choices=["dilation", "residual", "invariance", "context", "crowding"])
    parser.add_argument("--epochs", type=int, default=3, help="keyword trainings: epochs each (default 3)")
    parser.add_argument("--seeds", type=int, default=3, help="FreeSolv: split seeds per model (default 3)")
    args = parser.parse_args()
    for claim in args.claims:
        if claim == "dilation":
            claim_dilation(args.epochs)
        elif claim == "residual":
            claim_residual(args.epochs)
        elif claim == "invariance":
            claim_invariance(args.seeds)
        elif claim == "context":
            claim_context()
        else:
            claim_crowding()


if __name__ == "__main__":
    main()
