"""Inference speed of sciarch's SpliceAI-10k against Illumina's Keras SpliceAI, side by side in one run.

Both score the same work: batches of ``BATCH`` windows of ``SL + 10,000`` random bases (``SL``
scored positions each, SpliceAI's layout; speed does not depend on the bases): SL 5,000 as in
genome-wide prediction, SL 101 as in variant scoring (``-D 50``), one thread
each (``torch.set_num_threads(1)``; TensorFlow intra/inter-op 1, ``OMP_NUM_THREADS=1``). Figures are
scored positions per CPU-second (``time.process_time`` of the process doing the work, the fair
measure on a shared machine) and per wall-second, best and median of ``--repeats`` batches, for one
model and for the ensemble of five (what SpliceAI runs). Rounds alternate sciarch and Keras so both
see the same load. Keras runs in its own environment as a subprocess
(``keras_reference.py speed``); without ``--keras-python`` or its models the Keras rows are skipped
with the reason printed and recorded.

    python benchmarks/splice/speed.py --run runs/spliceai-keras \\
        --keras-python /tmp/kerasenv/bin/python --keras-models /tmp/spliceai/wheel/spliceai/models
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import machine, write_results  # noqa: E402

HERE = Path(__file__).resolve().parent


def sciarch_models(run: str | None) -> tuple[list[torch.nn.Module], str]:
    if run:
        from sciarch import Run
        from sciarch_splice.predict import EnsembleModel, load_model

        model = load_model(Run(run))
        members = list(model.members) if isinstance(model, EnsembleModel) else [model]
        return members, f"weights of {run}"
    from sciarch_splice.spliceai import spliceai_10k

    torch.manual_seed(0)
    return [spliceai_10k(eps=1e-3).eval() for _ in range(5)], "random weights (speed does not depend on them)"


def padded(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The padded graph (what inference ran before the trimmed path): modules in train mode, BatchNorm in eval."""
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.eval()
    try:
        return model(x)
    finally:
        model.eval()


def time_sciarch(members: list[torch.nn.Module], x: torch.Tensor, repeats: int) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {"single": [], "ensemble": [], "single_padded": []}
    with torch.inference_mode():
        members[0](x)  # warm-up
        for _ in range(repeats):
            for key, fn in (("single", lambda: members[0](x)),
                            ("ensemble", lambda: torch.stack([torch.softmax(m(x), 1) for m in members]).mean(0)),
                            ("single_padded", lambda: padded(members[0], x))):
                cpu, wall = time.process_time(), time.perf_counter()
                fn()
                out[key].append((time.process_time() - cpu, time.perf_counter() - wall))
    return out


def time_keras(python: str, models: str, batch: int, sl: int, repeats: int, seed: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1",
               TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([python, str(HERE / "keras_reference.py"), "speed", models, str(batch), str(sl),
                           str(repeats), str(seed)], capture_output=True, text=True, env=env, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        raise RuntimeError(f"Keras worker failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
    return json.loads(lines[-1])


def summarise(times: list[tuple[float, float]], positions: int) -> dict[str, float]:
    cpu = [c for c, _ in times]
    wall = [w for _, w in times]
    return {"positions_per_cpu_s_best": positions / min(cpu), "positions_per_cpu_s_median": positions / statistics.median(cpu),
            "positions_per_wall_s_best": positions / min(wall), "batches": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="an imported SpliceAI run (default: random SpliceAI-10k weights)")
    parser.add_argument("--keras-python", help="python of an environment with tensorflow and keras")
    parser.add_argument("--keras-models", help="folder with spliceai1.h5 … spliceai5.h5")
    parser.add_argument("--workloads", default="4x5000,32x101",
                        help="BATCHxSL,...: windows per batch × scored positions per window (101: score-variants -D 50)")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="splice_speed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    info = machine(threads=1)
    members, weights = sciarch_models(args.run)
    workloads = [tuple(int(v) for v in w.split("x")) for w in args.workloads.split(",")]
    keras_reason = None
    if not args.keras_python or not Path(args.keras_python).exists():
        keras_reason = f"no Keras environment (--keras-python {args.keras_python or 'not given'})"
    elif not args.keras_models or not all((Path(args.keras_models) / f"spliceai{i}.h5").is_file() for i in range(1, 6)):
        keras_reason = f"no spliceai1.h5 … spliceai5.h5 in --keras-models {args.keras_models}"
    if keras_reason:
        print(f"Keras SpliceAI skipped: {keras_reason}", file=sys.stderr)
    keys = ("sciarch_single", "sciarch_single_padded", "keras_single", "sciarch_ensemble", "keras_ensemble")
    times = {w: {k: [] for k in keys} for w in workloads}
    keras_versions: dict[str, str] = {}
    for r in range(args.rounds):
        for batch, sl in workloads:
            codes = np.random.default_rng(args.seed).integers(0, 4, (batch, sl + 10000))
            x = torch.nn.functional.one_hot(torch.from_numpy(codes), 4).permute(0, 2, 1).float().contiguous()
            for key, value in time_sciarch(members, x, args.repeats).items():
                times[(batch, sl)][f"sciarch_{key}"] += value
            if not keras_reason:
                k = time_keras(args.keras_python, args.keras_models, batch, sl, args.repeats, args.seed)
                times[(batch, sl)]["keras_single"] += k["single"]
                times[(batch, sl)]["keras_ensemble"] += k["ensemble"]
                keras_versions = {"tensorflow": k["tensorflow"], "keras": k["keras"]}
            print(f"round {r + 1}, {batch}x{sl}: done", file=sys.stderr)
    labels = {"sciarch_single": "sciarch SpliceAI-10k, 1 model",
              "sciarch_single_padded": "sciarch, padded graph (the previous path), 1 model",
              "keras_single": "Keras SpliceAI, 1 model", "sciarch_ensemble": "sciarch, ensemble of 5",
              "keras_ensemble": "Keras SpliceAI, ensemble of 5"}
    results, lines = [], ["| windows | model | positions / CPU-s (best) | (median) | positions / wall-s (best) | batches |",
                          "|---|---|---:|---:|---:|---:|"]
    for (batch, sl), per in times.items():
        rows = {k: summarise(v, batch * sl) for k, v in per.items() if v}
        ratios = {w: rows[f"sciarch_{w}"]["positions_per_cpu_s_best"] / rows[f"keras_{w}"]["positions_per_cpu_s_best"]
                  for w in ("single", "ensemble") if f"keras_{w}" in rows}
        results.append({"batch": batch, "sl": sl, "context": 10000, "rows": rows, "sciarch_over_keras_per_cpu_s": ratios,
                        "raw_seconds": per})
        for key in keys:
            if key in rows:
                row = rows[key]
                lines.append(f"| {batch} × ({sl:,} + 10,000) | {labels[key]} | {row['positions_per_cpu_s_best']:,.0f} | "
                             f"{row['positions_per_cpu_s_median']:,.0f} | {row['positions_per_wall_s_best']:,.0f} | "
                             f"{row['batches']} |")
    payload = {"machine": info, "loadavg_at_end": list(os.getloadavg()), "weights": weights,
               "workloads": results, "bases": f"random, seed {args.seed}", "repeats": args.repeats, "rounds": args.rounds,
               "keras": keras_versions or {"skipped": keras_reason}, "command": " ".join([Path(sys.executable).name, *sys.argv])}
    table = "\n".join(lines) + "\n\n"
    table += (f"Random bases, one thread per process; {weights}; rounds alternate sciarch and Keras "
              f"({keras_versions or 'Keras skipped: ' + str(keras_reason)}). ")
    for res in results:
        if res["sciarch_over_keras_per_cpu_s"]:
            ratio = res["sciarch_over_keras_per_cpu_s"]
            table += (f"SL {res['sl']:,}: sciarch / Keras per CPU-second {ratio['single']:.2f}× (one model), "
                      f"{ratio['ensemble']:.2f}× (five). ")
    table += f"Load average at the end {[round(v, 2) for v in payload['loadavg_at_end']]}.\n\nCommand: `{payload['command']}`"
    _, md_path = write_results(args.name, payload, table)
    print(md_path.read_text())


if __name__ == "__main__":
    main()
