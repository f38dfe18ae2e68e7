"""FreeSolv benchmark: D-MPNN test RMSE over 5 random 80/10/10 splits (chemprop's protocol).

Each seed ``s`` trains the ``molecules/freesolv`` recipe with ``split_seed = s`` and ``seed = s``
(a new split and a new initialisation, as in Yang et al. 2019) and records the test RMSE of the
checkpoint with the best validation RMSE. Choices were made on validation RMSE only (``--tune``
runs the grid and writes it, test figures included for the record but not used to choose;
``--tune-seeds`` picks the split seeds of the grid).

    python benchmarks/molecules/freesolv.py                 # the recipe as shipped, 5 seeds
    python benchmarks/molecules/freesolv.py --tune          # the grid of settings, 3 seeds each

Writes ``benchmarks/results/molecules-freesolv.json`` and ``.md`` (``--tune``:
``molecules-freesolv-tuning.json``/``.md``). Single-threaded by default (the machine is shared):
the thread count and the load average at start and end are recorded with the figures.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import machine, results_header, write_results  # noqa: E402

#: name -> overrides of the recipe, tried with --tune (chosen by mean validation RMSE)
GRID: dict[str, list[str]] = {
    "recipe": [],
    "epochs100": ["trainer.max_epochs=100"],
    "epochs100-sum": ["trainer.max_epochs=100", "model.args.aggregation=sum"],
    "epochs100-norm": ["trainer.max_epochs=100", "model.args.aggregation=norm"],
    "epochs100-depth5": ["trainer.max_epochs=100", "model.args.depth=5"],
    "epochs100-dropout0.1": ["trainer.max_epochs=100", "model.args.dropout=0.1"],
    "epochs100-batch16": ["trainer.max_epochs=100", "data.args.batch_size=16"],
    "epochs100-hidden600": ["trainer.max_epochs=100", "model.args.hidden=600", "model.args.ffn_hidden=600"],
    "epochs100-sum-descriptors": ["trainer.max_epochs=100", "model.args.aggregation=sum", "data.args.descriptors=true"],
    "epochs150-sum": ["trainer.max_epochs=150", "model.args.aggregation=sum"],
    "epochs150-sum-descriptors": ["trainer.max_epochs=150", "model.args.aggregation=sum", "data.args.descriptors=true"],
}


def run_seed(seed: int, overrides: list[str], root: Path, ensemble: int = 1) -> dict:
    from sciarch.config import load
    from sciarch.training import train

    resolved = load("molecules/freesolv", overrides=[f"seed={seed}", f"data.args.split_seed={seed}",
                                                      f"ensemble={ensemble}", *overrides])
    run_dir = root / f"seed-{seed}-{int(time.time() * 1000)}"
    started = time.perf_counter()
    train(resolved, run_dir=run_dir, quiet=True)
    return row_of_run(run_dir, seed, ensemble, time.perf_counter() - started)


def row_of_run(run_dir: Path, seed: int, ensemble: int, wall: float | None) -> dict:
    """The table row of one finished run (an ensemble's directory, or a single model's)."""
    extra = {}
    if ensemble > 1:  # scored on the members' mean prediction; member 0 is the single model of this seed
        combined = json.loads((run_dir / "summary.json").read_text())
        members = [json.loads((run_dir / f"member-{i}" / "summary.json").read_text()) for i in range(ensemble)]
        test = combined["combined_test"]
        extra = {"ensemble": ensemble, "member_test_rmse": [m["test"]["test/rmse"] for m in members]}
        summary = members[0]
        run_dir = run_dir / "member-0"
    else:
        summary = json.loads((run_dir / "summary.json").read_text())
        test = summary["test"]
    splits = json.loads((run_dir / "splits.json").read_text())
    epochs = summary["epochs"]
    n_train = splits["counts"]["train"]
    return {
        "seed": seed,
        **extra,
        "test_rmse": test["test/rmse"],
        "test_mae": test["test/mae"],
        "test_r2": test["test/r2"],
        "val_rmse": summary["best_score"],
        "epochs": epochs,
        "train_molecules": n_train,
        "counts": splits["counts"],
        "train_seconds": summary["train_seconds"],
        "wall_seconds": round(wall, 1) if wall is not None else None,
        # includes validation passes and checkpointing: the end-to-end rate of a recipe run
        "training_molecules_per_second": round(n_train * epochs / summary["train_seconds"], 1),
    }


def evaluate(overrides: list[str], seeds: list[int], root: Path, ensemble: int = 1) -> dict:
    return summarise([run_seed(s, overrides, root, ensemble) for s in seeds], overrides, ensemble)


def summarise(runs: list[dict], overrides: list[str], ensemble: int) -> dict:
    out = {"overrides": overrides, "runs": runs, "ensemble": ensemble}
    if ensemble > 1:
        single = [r["member_test_rmse"][0] for r in runs]
        out["single_model_test_rmse"] = {"mean": statistics.fmean(single),
                                         "sd": statistics.stdev(single) if len(single) > 1 else 0.0}
    for key in ("test_rmse", "val_rmse", "test_mae", "test_r2"):
        values = [r[key] for r in runs]
        out[key] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--seed-list", nargs="*", type=int, default=None,
                        help="these split seeds instead of 0..seeds-1 (to run parts side by side; see --merge)")
    parser.add_argument("--from-runs", nargs="*", type=Path, default=None,
                        help="finished ensemble run directories (seed-<s>-…) to tabulate with --merge")
    parser.add_argument("--merge", nargs="*", type=Path, default=None,
                        help="combine result JSONs of parts run with --seed-list into one table (no training)")
    parser.add_argument("--tune", action="store_true", help="run the grid (3 seeds each) instead")
    parser.add_argument("--only", nargs="*", help="grid entries to run (with --tune)")
    parser.add_argument("--tune-seeds", nargs="*", type=int, default=[0, 1, 2], help="split seeds of --tune")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra recipe override")
    parser.add_argument("--ensemble", type=int, default=1,
                        help="train an ensemble of N members per split seed, scored on their mean prediction")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--name", default=None, help="results file name (default: molecules-freesolv[-tuning])")
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from sciarch.progress import console

    root = Path(tempfile.mkdtemp(prefix="freesolv-bench-"))
    os.environ.setdefault("SCIARCH_CACHE", str(root / "cache"))
    load_start = os.getloadavg()
    started = time.time()
    record = {"benchmark": "FreeSolv D-MPNN, random 80/10/10 split, test RMSE (kcal/mol)",
              "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "machine": machine(args.threads), "loadavg_start": load_start,
              "reference": {"chemprop D-MPNN (Yang et al. 2019)": "1.075 ± 0.054",
                            "MoleculeNet best (Wu et al. 2018, MPNN)": "1.15"}}
    if args.tune:
        seeds = list(args.tune_seeds)
        grid = {k: v for k, v in GRID.items() if not args.only or k in args.only}
        results = {}
        for name, overrides in grid.items():
            results[name] = evaluate(overrides + args.overrides, seeds, root)
            console.print(f"{name}: val {results[name]['val_rmse']['mean']:.3f} ± {results[name]['val_rmse']['sd']:.3f}"
                          f"  test {results[name]['test_rmse']['mean']:.3f} ± {results[name]['test_rmse']['sd']:.3f}")
        record.update(seeds=seeds, grid=results,
                      chosen_by_validation=min(results, key=lambda k: results[k]["val_rmse"]["mean"]))
        name = args.name or "molecules-freesolv-tuning"
    elif args.merge is not None:  # parts of one table run side by side: the same protocol, split by seed
        parts = [json.loads(Path(p).read_text()) for p in args.merge]
        if args.from_runs:  # runs whose process was stopped once its seed was done (the wall time is not known)
            rows = [row_of_run(d, int(d.name.split("-")[1]), args.ensemble, None) for d in args.from_runs]
            parts.append({"command": f"(finished runs {', '.join(d.name for d in args.from_runs)})", "runs": rows,
                          "loadavg_start": [float("nan")] * 3, "loadavg_end": list(os.getloadavg()),
                          "minutes": 0.0, "overrides": args.overrides, "ensemble": args.ensemble,
                          **({} if parts else {"benchmark": record["benchmark"], "machine": record["machine"],
                                               "reference": record["reference"]})})
        runs = sorted((r for part in parts for r in part["runs"]), key=lambda r: r["seed"])
        record = {**parts[0], "command": " ; ".join(part["command"] for part in parts),
                  "parts": [{"command": part["command"], "loadavg_start": part["loadavg_start"],
                             "loadavg_end": part["loadavg_end"], "minutes": part["minutes"]} for part in parts]}
        record.update(seeds=[r["seed"] for r in runs], **summarise(runs, parts[0]["overrides"], parts[0]["ensemble"]))
        record["loadavg_start"] = parts[0]["loadavg_start"]
        name = args.name or ("molecules-freesolv" + (f"-ensemble{record['ensemble']}" if record["ensemble"] > 1 else ""))
        started = time.time() - 60 * max(part["minutes"] for part in parts)
    else:
        seeds = list(args.seed_list) if args.seed_list is not None else list(range(args.seeds))
        record.update(seeds=seeds, **evaluate(args.overrides, seeds, root, args.ensemble))
        name = args.name or ("molecules-freesolv" + (f"-ensemble{args.ensemble}" if args.ensemble > 1 else ""))
    record["loadavg_end"] = os.getloadavg()
    record["minutes"] = round((time.time() - started) / 60, 1)
    write_results(name, record, markdown(record))
    return 0


def markdown(record: dict) -> str:
    lines = results_header(record, "timings are under that load")
    if "grid" in record:
        lines += ["| setting | val RMSE | test RMSE | train mol/s (incl. validation) |", "|---|---|---|---|"]
        for name, r in record["grid"].items():
            rate = statistics.fmean(x["training_molecules_per_second"] for x in r["runs"])
            lines.append(f"| {name} | {r['val_rmse']['mean']:.3f} ± {r['val_rmse']['sd']:.3f} | "
                         f"{r['test_rmse']['mean']:.3f} ± {r['test_rmse']['sd']:.3f} | {rate:.0f} |")
        lines += ["", f"Lowest mean validation RMSE here: **{record['chosen_by_validation']}** "
                  f"(split seeds {record['seeds']}; test shown for the record, not used to choose)."]
    else:
        lines += ["| seed | val RMSE | test RMSE | test MAE | test R² | epochs | train mol/s |", "|---|---|---|---|---|---|---|"]
        for r in record["runs"]:
            lines.append(f"| {r['seed']} | {r['val_rmse']:.3f} | {r['test_rmse']:.3f} | {r['test_mae']:.3f} | "
                         f"{r['test_r2']:.3f} | {r['epochs']} | {r['training_molecules_per_second']:.0f} |")
        t = record["test_rmse"]
        what = (f"ensembles of {record['ensemble']} members (the members' mean prediction; the val RMSE "
                "column is member 0's)" if record.get("ensemble", 1) > 1 else "single models")
        lines += ["", f"**Test RMSE {t['mean']:.3f} ± {t['sd']:.3f} kcal/mol** over seeds {record['seeds']} "
                  f"(mean ± sample sd), {what}. chemprop's D-MPNN: 1.075 ± 0.054; MoleculeNet's best: 1.15."]
        if "single_model_test_rmse" in record:
            single = record["single_model_test_rmse"]
            lines.append(f"Member 0 of each ensemble alone (the single model of that seed): "
                         f"{single['mean']:.3f} ± {single['sd']:.3f}.")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
