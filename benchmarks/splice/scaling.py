"""Time and peak memory against sequence length for the dilated CNN and the SSM; inference bases/s.

For each model and each window length L (1 kb to 200 kb, batch 1) it measures, each in a fresh
process so peak memory is that measurement's own:

- ``forward``: inference (no gradients, eval mode), seconds per window;
- ``train``: forward + backward (training mode), seconds per window;
- peak resident memory of the process, and the same minus the memory before the first forward.

Models: SpliceAI-10k (dilated residual CNN, receptive field fixed at 10 kb), SpliceAI-400, and the
bidirectional S4D SSM (receptive field = the whole window) pure and hybrid, at the recipe's size.
Inference throughput in labelled bases per second follows as ``(L − context) / t_forward``.

    python benchmarks/splice/scaling.py                     # all, writes benchmarks/results/splice_scaling.*
    python benchmarks/splice/scaling.py --lengths 1000 10000 --models ssm
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

sys.path.insert(0, str(Path(__file__).parent))
from common import loadavg, machine, write_results  # noqa: E402

MODELS = {
    "spliceai-400": ("sciarch_splice.spliceai:spliceai_400", {}),
    "spliceai-10k": ("sciarch_splice.spliceai:spliceai_10k", {}),
    "ssm": ("sciarch_splice.ssm:splice_ssm", {"d_model": 32, "n_layers": 4, "state": 32}),
    "ssm-hybrid": ("sciarch_splice.ssm:splice_ssm_hybrid", {"d_model": 32, "n_layers": 4, "state": 32,
                                                            "front_units": 4}),
}
LENGTHS = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000]


def rss_mb() -> float:
    """Peak resident memory (VmHWM: reset at exec, unlike ru_maxrss which a child inherits)."""
    from sciarch_datasets.genomics.prepare import peak_rss_mb

    return peak_rss_mb()


def one(model_name: str, length: int, mode: str, threads: int, device: str, repeats: int) -> dict:
    import importlib

    import torch

    torch.set_num_threads(threads)
    reference, options = MODELS[model_name]
    module, attr = reference.split(":")
    builder = getattr(importlib.import_module(module), attr)
    probe = builder(**options) if "ssm" not in model_name else None
    context = probe.context if probe is not None else max(2, (length // 2) // 2 * 2)  # SSM: half the window
    if length <= context:
        return {"status": "n/a", "why": f"window shorter than the model's context {context}"}
    model = probe if probe is not None else builder(context=context, **options)
    model = model.to(device)
    model.train(mode == "train")
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, length)), 4).permute(0, 2, 1).float().to(device)
    dtype = torch.bfloat16 if device == "cuda" else None

    def step() -> None:
        with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
            if mode == "train":
                out = model(x)
                out.float().square().mean().backward()
            else:
                with torch.no_grad():
                    model(x)
        if device == "cuda":
            torch.cuda.synchronize()

    before = rss_mb()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats + 1):  # the first is a warm-up
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    seconds = statistics.median(times[1:]) if len(times) > 1 else times[0]
    out = {"status": "ok", "seconds": round(seconds, 4), "context": context, "labelled": length - context,
           "bases_per_second": round((length - context) / seconds, 1), "peak_rss_mb": round(rss_mb(), 1),
           "peak_rss_over_baseline_mb": round(rss_mb() - before, 1), "repeats": repeats,
           "parameters": sum(p.numel() for p in model.parameters())}
    if device == "cuda":
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--lengths", nargs="*", type=int, default=LENGTHS)
    parser.add_argument("--modes", nargs="*", default=["forward", "train"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=300, help="seconds per measurement")
    parser.add_argument("--name", default="splice_scaling")
    parser.add_argument("--one", nargs=3, metavar=("MODEL", "LENGTH", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.one[2], args.threads, args.device, args.repeats)))
        return
    info = machine(args.threads)
    rows = []
    for model_name in args.models:
        skip_rest = {m: False for m in args.modes}
        for length in args.lengths:
            for mode in args.modes:
                if skip_rest[mode]:
                    rows.append({"model": model_name, "length": length, "mode": mode, "status": "skipped",
                                 "why": "a shorter window already timed out"})
                    continue
                env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
                load = loadavg()
                repeats = args.repeats if length <= 20_000 else 1
                cmd = [sys.executable, __file__, "--one", model_name, str(length), mode, "--threads",
                       str(args.threads), "--device", args.device, "--repeats", str(repeats)]
                try:
                    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
                    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {
                        "status": "failed", "why": (done.stderr.strip().splitlines() or ["?"])[-1][:300]}
                except subprocess.TimeoutExpired:
                    result = {"status": "timeout", "why": f"over {args.timeout} s"}
                    skip_rest[mode] = True
                row = {"model": model_name, "length": length, "mode": mode, "loadavg": load, **result}
                rows.append(row)
                print(json.dumps(row), flush=True)
    payload = {"benchmark": "splice context scaling", "machine": info, "device": args.device, "batch": 1,
               "command": " ".join([Path(sys.executable).name, *sys.argv]), "rows": rows}
    lines = ["| model | window L | context | forward s | forward MB | train s | train MB | labelled bases/s (inference) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for model_name in args.models:
        for length in args.lengths:
            cell = {r["mode"]: r for r in rows if r["model"] == model_name and r["length"] == length}
            fwd, trn = cell.get("forward", {}), cell.get("train", {})
            if fwd.get("status") == "n/a":
                continue

            def show(r: dict, key: str) -> str:
                return str(r[key]) if r.get("status") == "ok" else r.get("status", "-")

            lines.append(f"| {model_name} | {length:,} | {fwd.get('context', trn.get('context', '-'))} | "
                         f"{show(fwd, 'seconds')} | {show(fwd, 'peak_rss_over_baseline_mb')} | {show(trn, 'seconds')} | "
                         f"{show(trn, 'peak_rss_over_baseline_mb')} | {show(fwd, 'bases_per_second')} |")
    note = ("\nBatch 1, float32 on CPU; MB = peak resident memory of the measuring process above its level before "
            "the first forward pass. SpliceAI-10k's receptive field is fixed at 10 kb whatever L; the SSM's is the "
            "whole window (its context is set to L/2 here, so half the window is scored). The load average at each "
            "measurement is in the JSON.\n")
    json_path, md_path = write_results(args.name, payload, "\n".join(lines) + "\n" + note)
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
