"""Accuracy on the simulated genome's test chromosomes (chr1, 3, 5, 7, 9): SpliceAI-80, -400, -2k, -10k, the SSM.

Each recipe is trained with ``sciarch train`` (its own settings unless ``--set`` overrides them) and
its test metrics are collected from the run's ``summary.json``: top-k accuracy and PR-AUC for
acceptors and donors, as SpliceAI reports them. A position-weight-matrix baseline, scoring each
position by the log-odds of the simulator's own donor matrix and of its acceptor (pyrimidine tract +
YAG|G) under a background composition, is computed on the same test windows: it shows how far
motif strength alone gets, and so how much the models take from context.

    python benchmarks/splice/accuracy.py                           # all five recipes
    python benchmarks/splice/accuracy.py --same-budget --set model.args.channels=16 ...   # the context table
    python benchmarks/splice/accuracy.py --recipes spliceai-400 --set trainer.max_epochs=2
    python benchmarks/splice/accuracy.py --recipes spliceai-10k --max-time 00:00:40:00
    python benchmarks/splice/accuracy.py --recipes ssm:pure --set model.name=splice/ssm \
        --set "model.args={d_model: 32, n_layers: 4, state: 32}"
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, loadavg, machine, write_results  # noqa: E402

RECIPES = ["spliceai-80", "spliceai-400", "spliceai-2k", "spliceai-10k", "ssm"]
METRICS = ["topk_acceptor", "topk_donor", "prauc_acceptor", "prauc_donor", "topk", "prauc"]
#: --same-budget: one data set and optimiser for every recipe, so each sees the same positions in the same order
SAME_BUDGET = ["data.args.context=10000", "optimizer.name=adam", "optimizer.lr=2.0e-3",
               "scheduler.warmup_steps=30", "task.args.site_weight=5.0"]
#: the claim: each model at least as good as the shorter one, strictly better where "<"
LADDER = (("splice/spliceai-80", "<", "splice/spliceai-400"), ("splice/spliceai-400", "<", "splice/spliceai-2k"),
          ("splice/spliceai-2k", "<=", "splice/spliceai-10k"), ("splice/spliceai-10k", "<=", "splice/ssm"))


def width_override(overrides: list[str], recipe: str) -> list[str]:
    """``model.args.channels=C`` is SpliceAI's width; the SSM's is ``d_model``: the same number for both."""
    if recipe != "ssm":
        return overrides
    return [o.replace("model.args.channels=", "model.args.d_model=") for o in overrides]


def ladder(rows: list[dict]) -> list[dict]:
    """Per metric, whether each step of the context ladder holds on the mean over seeds."""
    import statistics

    means = {}
    for r in rows:
        means.setdefault(r["recipe"], []).append(r["test"])
    out = []
    for short, op, long in LADDER:
        if short not in means or long not in means:
            continue
        for k in ("topk_acceptor", "topk_donor", "prauc_acceptor", "prauc_donor"):
            a = statistics.fmean(t[k] for t in means[short])
            b = statistics.fmean(t[k] for t in means[long])
            out.append({"short": short, "op": op, "long": long, "metric": k, "short_value": a, "long_value": b,
                        "holds": b > a if op == "<" else b >= a})
    return out


def reused_row(name: str, recipe: str, seed: int | None) -> dict:
    """The row of ``recipe`` (its label included) and ``seed`` in ``benchmarks/results/<name>.json`` (seed None:
    the row trained without ``--seed``), unchanged but for ``reused_from``: its figures, command, CPU seconds
    and loads are those it was measured with."""
    rows = json.loads((RESULTS / f"{name}.json").read_text())["rows"]
    match = [r for r in rows if r["recipe"] == recipe
             and (r["seed"] == seed if seed is not None else "--seed" not in r["command"].split())]
    if len(match) != 1:
        raise SystemExit(f"--reuse: {len(match)} rows of {recipe} seed {seed} in {name}.json, need exactly one")
    return {**match[0], "reused_from": f"{name}.json"}


def pwm_baseline(block_length: int = 5000, context: int = 10000) -> dict[str, float]:
    """Top-k and PR-AUC of motif log-odds alone on the test chromosomes of the default simulated genome."""
    import numpy as np
    import torch
    from sciarch_datasets.genomics.labels import split_of
    from sciarch_datasets.genomics.prepare import SpliceShards
    from sciarch_datasets.genomics.simulate import ACCEPTOR_PWM, DONOR_PWM, INTRON_BASES, PYRIMIDINE_TRACT
    from sciarch_splice.data import SpliceSites
    from sciarch_splice.metrics import pr_auc, topk_accuracy

    data = SpliceSites(block_length=block_length, context=context)
    data.prepare_data()
    shards = SpliceShards(data.prepared_path())
    donor = np.log((DONOR_PWM + 1e-3) / INTRON_BASES)  # positions -3..+6 around the donor's last exon base
    acceptor = np.concatenate([np.tile(np.log((PYRIMIDINE_TRACT + 1e-3) / INTRON_BASES), (14, 1)),
                               np.zeros((1, 4)), np.log((ACCEPTOR_PWM + 1e-3) / INTRON_BASES)])  # -18..0
    table = np.concatenate([np.eye(4), np.zeros((1, 4))])

    def scan(onehot: np.ndarray, matrix: np.ndarray, first: int) -> np.ndarray:
        n = len(onehot)
        score = np.zeros(n)
        for k in range(len(matrix)):
            shift = first + k
            lo, hi = max(0, -shift), n - max(0, shift)
            score[lo:hi] += onehot[lo + shift:hi + shift] @ matrix[k]
        return score

    scores = {"acceptor": [], "donor": []}
    labels = []
    for shard in shards.shards:
        genes = [g for g in shard.genes if split_of(shard.chrom, g["id"]) == "test"]
        if not genes:
            continue
        sequence, label = np.asarray(shard.sequence), np.asarray(shard.labels)
        for gene in genes:
            end = gene["offset"] + gene["blocks"] * block_length + context
            onehot = table[sequence[gene["offset"]:end]]
            lab = label[gene["offset"]:end]
            keep = lab >= 0
            scores["donor"].append(scan(onehot, donor, -2)[keep])
            scores["acceptor"].append(scan(onehot, acceptor, -18)[keep])
            labels.append(lab[keep])
    truth = torch.tensor(np.concatenate(labels))
    out = {}
    for name, cls in (("acceptor", 1), ("donor", 2)):
        s = torch.tensor(np.concatenate(scores[name]))
        out[f"topk_{name}"] = topk_accuracy(s, truth == cls)
        out[f"prauc_{name}"] = pr_auc(s, truth == cls)
    out["topk"] = (out["topk_acceptor"] + out["topk_donor"]) / 2
    out["prauc"] = (out["prauc_acceptor"] + out["prauc_donor"]) / 2
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="*", default=RECIPES)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to every `sciarch train` (e.g. trainer.max_epochs=2)")
    parser.add_argument("--max-time", default=None, help="Lightning max_time per recipe, DD:HH:MM:SS")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", default="runs/splice-benchmark")
    parser.add_argument("--name", default="splice_accuracy")
    parser.add_argument("--existing", nargs="*", default=[], metavar="RECIPE=RUN_DIR",
                        help="collect an already finished run instead of training that recipe again")
    parser.add_argument("--reuse", nargs="*", default=[], metavar="RECIPE=NAME",
                        help="take that recipe's row (same label and seed) from an earlier results file "
                             "benchmarks/results/NAME.json, as it was measured there (for runs whose directory is gone)")
    parser.add_argument("--note", action="append", default=[], metavar="RECIPE=TEXT",
                        help="a note kept with that recipe's row (how an --existing run was made)")
    parser.add_argument("--seeds", type=int, nargs="*", default=[None], help="train each recipe once per seed")
    parser.add_argument("--item-set", action="append", default=[], metavar="ITEM=KEY=VALUE",
                        help="an override for one item only (after --set), e.g. ssm:d32=model.args.d_model=32")
    parser.add_argument("--same-budget", action="store_true",
                        help="the same data, optimiser and epochs for every recipe: " + " ".join(SAME_BUDGET))
    args = parser.parse_args()
    if args.same_budget:
        args.overrides = SAME_BUDGET + args.overrides
    data_args = {o.split("=", 1)[0].rsplit(".", 1)[1]: int(o.split("=", 1)[1]) for o in args.overrides
                 if o.split("=", 1)[0] in ("data.args.block_length", "data.args.context")}
    info = machine(args.threads)
    # CPU seconds of runs measured by an earlier call (collected again with --existing): from its results
    earlier = {}
    for path in sorted(RESULTS.glob("splice_accuracy*.json")):
        earlier.update({r["run"]: r for r in json.loads(path.read_text()).get("rows", [])})
    existing = dict(item.split("=", 1) for item in args.existing)
    notes = dict(item.split("=", 1) for item in args.note)
    reuse = dict(item.split("=", 1) for item in args.reuse)
    rows = []
    for item, seed in [(i, s) for s in args.seeds for i in args.recipes]:
        # "ssm:pure" trains recipe ssm under the label "pure" (its own --existing/--note key and row);
        # "spliceai-2k@1" is that recipe with seed 1 (whatever --seeds says)
        if "@" in item:
            item, seed = item.split("@")[0], int(item.split("@")[1])
        recipe, _, label = item.partition(":")
        key = item if seed is None else f"{item}@{seed}"
        if key in reuse:
            rows.append(reused_row(reuse[key], f"splice/{recipe}" + (f" ({label})" if label else ""), seed))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "config"}), flush=True)
            continue
        run_dir = Path(existing.get(key) or Path(args.runs) /
                       f"{key.replace(':', '-').replace('@', '-s')}-{time.strftime('%Y%m%d-%H%M%S')}")
        load_before = loadavg()
        command = [sys.executable, "-m", "sciarch", "train", f"splice/{recipe}", "--run-dir", str(run_dir), "--quiet"]
        if seed is not None:
            command += ["--seed", str(seed)]
        own = [o.split("=", 1)[1] for o in args.item_set if o.split("=", 1)[0] == item]
        for override in width_override(args.overrides, recipe) + own:
            command += ["--set", override]
        if args.max_time:
            command += ["--set", f"trainer.max_time={args.max_time}"]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        if key not in existing:
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
            print(" ".join(command), flush=True)
            subprocess.run(command, check=True, env=env)
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
        summary = json.loads((run_dir / "summary.json").read_text())
        config = (run_dir / "config.yaml").read_text()
        ran = summary.get("command") if key in existing else " ".join(command[1:])
        rows.append({"recipe": f"splice/{recipe}" + (f" ({label})" if label else ""), "run": str(run_dir),
                     "command": ran, "seed": summary.get("seed", seed) if seed is None else seed, "item_overrides": own,
                     "cpu_seconds": earlier.get(str(run_dir), {}).get("cpu_seconds") if key in existing else cpu_s,
                     "test": {k: summary.get("test", {}).get(f"test/{k}") for k in METRICS},
                     "validation_best": summary.get("best_score"), "steps": summary.get("global_step"),
                     "epochs": summary.get("epochs"), "train_seconds": summary.get("train_seconds"),
                     "device": summary.get("device"), "loadavg_before": load_before, "loadavg_after": loadavg(),
                     "note": notes.get(key, notes.get(item, "")), "config": config})
        if key in existing and str(run_dir) in earlier:  # the load it trained under, not the collection's
            for k in ("loadavg_before", "loadavg_after", "command"):
                rows[-1][k] = earlier[str(run_dir)].get(k, rows[-1][k])
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "config"}), flush=True)
    from sciarch_datasets.genomics.simulate import SIMULATOR_VERSION

    baseline = pwm_baseline(**data_args)
    steps = ladder(rows)
    payload = {"benchmark": "splice accuracy on the simulated genome's test chromosomes", "machine": info,
               "command": " ".join([Path(sys.executable).name, *sys.argv]), "simulator_version": SIMULATOR_VERSION,
               "overrides": args.overrides, "rows": rows, "pwm_baseline": baseline, "ladder": steps}
    lines = ["| model | seed | top-k acceptor | top-k donor | PR-AUC acceptor | PR-AUC donor | steps | epochs | "
             "train CPU min |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]

    def f(v: float | None) -> str:
        return f"{v:.3f}" if isinstance(v, (int, float)) else "-"

    for r in rows:
        t = r["test"]
        cpu = r["cpu_seconds"] if r["cpu_seconds"] is not None else r["train_seconds"] or 0
        lines.append(f"| {r['recipe']} | {r['seed'] if r['seed'] is not None else '-'} | {f(t['topk_acceptor'])} | "
                     f"{f(t['topk_donor'])} | {f(t['prauc_acceptor'])} | {f(t['prauc_donor'])} | {r['steps']} | "
                     f"{r['epochs']} | {cpu / 60:.1f} |")
    b = baseline
    lines.append(f"| motif log-odds only (PWM baseline) | - | {f(b['topk_acceptor'])} | {f(b['topk_donor'])} | "
                 f"{f(b['prauc_acceptor'])} | {f(b['prauc_donor'])} | - | - | - |")
    if steps:
        lines += ["", "Context ladder (mean over seeds; each step must hold for all four metrics):", ""]
        for step in steps:
            lines.append(f"- {step['metric']}: {step['short']} {step['short_value']:.3f} {step['op']} "
                         f"{step['long']} {step['long_value']:.3f}: {'holds' if step['holds'] else 'DOES NOT HOLD'}")
    for r in rows:
        if r["note"]:
            lines.append(f"\n{r['recipe']}: {r['note']}.")
    if args.overrides:
        lines.append("\nSettings for every recipe (`--set`; `model.args.channels` is `model.args.d_model` for the SSM): "
                     + ", ".join(f"`{o}`" for o in args.overrides) + ".")
    note = (f"\nTest chromosomes chr1, 3, 5, 7, 9 of the default simulated genome (simulator v{SIMULATOR_VERSION}, "
            "20 chromosomes x 15 genes, seed 0); "
            "top-k: fraction of the k best-scored positions that are true sites, k = number of true sites. "
            "CPU training on a shared machine: see the load averages in the JSON (for runs collected with "
            "--existing they are those at collection time; the notes say how the run was made).\n")
    json_path, md_path = write_results(args.name, payload, "\n".join(lines) + "\n" + note)
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
