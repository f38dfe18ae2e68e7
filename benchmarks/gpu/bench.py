"""Every plugin's recipe trained on one GPU, and bf16 inference throughput, in one prepared run.

    bash benchmarks/gpu/run.sh OUT_DIR          # on the GPU machine (about 8 minutes on an H200)
    bash benchmarks/gpu/run.sh OUT_DIR --dry    # on any CPU: tiny sizes, the same code paths

For each plugin it trains the recipe's ``gpu`` variant (``variants: gpu:`` in the recipe: the batch
size, width, data size and workers its guide recommends for one GPU) for a fixed number of
optimizer steps in bf16 mixed precision, then tests it, and records: steps/s and examples/s (after
warm-up steps), peak GPU memory, the GPU's utilisation (sampled), the share of wall time spent
waiting for the data loader (and the copy to the device), and the training loss over the first and
the last steps (it must fall). Then it measures the inference throughput of SpliceAI-10k
(positions/s) and of the keywords WaveNet (one-second clips/s) in bf16, eager and compiled, and
places each against the chip's bf16 roofline for its multiply–accumulates (counted by torch's
FLOP counter, as ``sciarch inspect`` does; the peak measured with a bf16 matrix product on the same
chip, and the vendor's dense bf16 figure quoted beside it).

Writes ``OUT_DIR/gpu_results.json`` and ``OUT_DIR/gpu_results.md`` (GPU, driver, torch, CUDA, and
the command). ``--dry`` uses each recipe's smoke variant on the CPU in float32 with two steps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: (recipe, optimizer steps on the GPU, overrides that bound the run's data preparation and testing)
PLANS: list[tuple[str, int, list[str]]] = [
    ("molecules/freesolv", 300, ["trainer.limit_val_batches=4"]),
    ("splice/spliceai-10k", 200, ["trainer.limit_val_batches=4", "trainer.limit_test_batches=8"]),
    ("keywords/tts-12", 300, ["trainer.limit_val_batches=4", "trainer.limit_test_batches=8",
                              "data.args.continuous_minutes=1.0"]),
    ("tracks/arc-net", 150, ["trainer.limit_val_batches=2", "trainer.limit_test_batches=4"]),
]
WARMUP_STEPS = 10
#: published dense bf16 tensor-core peaks (no sparsity), FLOP/s, for the record beside the measured one
VENDOR_BF16 = {"H200": 989.4e12, "H100": 989.4e12, "A100": 312e12}


class Probe:
    """A Lightning callback timing each training step and the wait for its batch."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # built lazily so --help needs no Lightning
        from lightning.pytorch.callbacks import Callback

        class _Probe(Callback):
            def __init__(self, cuda: bool) -> None:
                self.cuda = cuda
                self.steps: list[float] = []
                self.waits: list[float] = []
                self.examples: list[int] = []
                self.losses: list[float] = []
                self._ended: float | None = None
                self._started = 0.0
                self.utilisation: list[float] = []
                self._sampler: threading.Thread | None = None
                self._stop = threading.Event()

            def _sync(self) -> None:
                if self.cuda:
                    import torch

                    torch.cuda.synchronize()

            def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
                if self.cuda:
                    import torch

                    torch.cuda.reset_peak_memory_stats()
                    self._sampler = threading.Thread(target=self._sample, daemon=True)
                    self._sampler.start()

            def _sample(self) -> None:
                import torch

                while not self._stop.wait(0.2):
                    with contextlib.suppress(Exception):
                        self.utilisation.append(float(torch.cuda.utilization()))
                        continue
                    with contextlib.suppress(Exception):
                        out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                             capture_output=True, text=True, timeout=5).stdout
                        self.utilisation.append(float(out.split()[0]))

            def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
                now = time.perf_counter()
                if self._ended is not None:
                    self.waits.append(now - self._ended)
                self._started = now

            def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
                self._sync()
                now = time.perf_counter()
                self.steps.append(now - self._started)
                self._ended = now
                self.examples.append(examples_in(batch))
                loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
                if loss is not None and hasattr(loss, "item"):
                    self.losses.append(float(loss.detach().float().item()))

            def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
                self._stop.set()

            def report(self) -> dict[str, Any]:
                steps, waits = self.steps[WARMUP_STEPS:] or self.steps, self.waits[WARMUP_STEPS:] or self.waits
                busy = sum(steps) + sum(waits)
                examples = self.examples[WARMUP_STEPS:] or self.examples
                k = max(1, min(10, len(self.losses) // 4))
                out = {
                    "steps": len(self.steps),
                    "steps_per_s": len(steps) / busy if busy else None,
                    "examples_per_s": sum(examples) / busy if busy else None,
                    "batch_examples": statistics.median(self.examples) if self.examples else None,
                    "data_wait_share": sum(waits) / busy if busy else None,
                    "loss_start": statistics.fmean(self.losses[:k]) if self.losses else None,
                    "loss_end": statistics.fmean(self.losses[-k:]) if self.losses else None,
                    "gpu_utilisation_mean": statistics.fmean(self.utilisation) if self.utilisation else None,
                }
                if self.cuda:
                    import torch

                    out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
                return out

        return _Probe(*args, **kwargs)


def examples_in(batch: Any) -> int:
    """How many examples a batch holds (graphs, clips, windows or pictures)."""
    graphs = getattr(batch, "num_graphs", None)
    if isinstance(graphs, int):
        return graphs
    first = batch[0] if isinstance(batch, (list, tuple)) and batch else batch
    graphs = getattr(first, "num_graphs", None)
    if isinstance(graphs, int):
        return graphs
    if hasattr(first, "shape") and len(first.shape):
        return int(first.shape[0])
    if isinstance(first, (list, tuple)):
        return len(first)
    return 1


def train_plan(recipe: str, steps: int, overrides: list[str], *, dry: bool, runs: Path) -> dict[str, Any]:
    import torch
    from sciarch.config import load
    from sciarch.training import train

    cuda = not dry and torch.cuda.is_available()
    if dry:  # the gpu variant is resolved too (a typo in it fails here, not on the GPU), then shrunk
        resolved = load(recipe, variant="gpu", smoke=True,
                        overrides=["trainer.max_steps=2", "trainer.max_epochs=1", "trainer.limit_val_batches=1",
                                   "trainer.limit_test_batches=1", "trainer.precision=32-true"])
        for key in ("num_workers", "workers", "simulate_workers", "generator_workers"):
            if key in resolved.data.args:
                resolved.data.args[key] = 0 if key == "num_workers" else 1
    else:
        resolved = load(recipe, variant="gpu", overrides=[f"trainer.max_steps={steps}", "trainer.max_epochs=1000",
                                                          "trainer.accelerator=gpu", "trainer.devices=1",
                                                          "trainer.precision=bf16-mixed", *overrides])
    probe = Probe(cuda)
    run_dir = runs / recipe.replace("/", "-")
    started = time.perf_counter()
    train(resolved, run_dir=run_dir, quiet=True, callbacks=[probe])
    wall = time.perf_counter() - started
    summary = json.loads((run_dir / "summary.json").read_text())
    row = {"recipe": recipe, "variant": "smoke (dry)" if dry else "gpu", "wall_s": round(wall, 1),
           "precision": summary.get("precision"), "device": summary.get("device"),
           "test": summary.get("test", {}), **probe.report()}
    row["loss_fell"] = (row["loss_end"] is not None and row["loss_start"] is not None
                        and row["loss_end"] < row["loss_start"])
    return row


def _time(fn: Any, cuda: bool, repeats: int) -> float:
    import torch

    fn()
    if cuda:
        torch.cuda.synchronize()
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return best


def inference(dry: bool, peak_bf16: float | None) -> list[dict[str, Any]]:
    """SpliceAI-10k positions/s and the keywords WaveNet's clips/s, bf16 autocast on the GPU."""
    import torch
    from sciarch.inspection import count_flops
    from sciarch.plugins import get_host

    cuda = not dry and torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    host = get_host()
    rows = []
    cases = [
        ("splice/spliceai-10k", {}, "positions", (4 if dry else 64), 500 if dry else 5000),
        ("keywords/wavenet", {"num_classes": 12, "layers": 24, "residual_channels": 16, "gate_channels": 32,
                              "skip_channels": 32}, "clips", (4 if dry else 2048), 16000),
    ]
    for name, args, unit, batch, length in cases:
        model = host.get("model", name).load()(**args).eval().to(device)
        if unit == "positions":
            x = torch.zeros(batch, 4, length + model.context, device=device)
            x[:, 0] = 1.0
            per_example = length
        else:
            x = torch.randn(batch, length, device=device) * 0.1
            per_example = 1
        with torch.no_grad():
            flops_one = count_flops(lambda m=model, x=x: m(x[:1].float()))
        macs_per_unit = flops_one / 2 / per_example
        for compiled in (False, True):
            if compiled and dry:
                continue  # compiling takes minutes on a CPU; the GPU run measures it
            run_model = torch.compile(model) if compiled else model

            def forward(run_model: Any = run_model, x: Any = x) -> Any:
                with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
                    return run_model(x)

            seconds = _time(forward, cuda, repeats=2 if dry else 10)
            per_s = batch * per_example / seconds
            achieved = per_s * macs_per_unit * 2
            rows.append({"model": name, "unit": unit, "batch": batch, "compiled": compiled,
                         f"{unit}_per_s": per_s, "macs_per_" + unit.rstrip("s"): macs_per_unit,
                         "achieved_flops": achieved,
                         "share_of_measured_bf16_peak": achieved / peak_bf16 if peak_bf16 else None,
                         "dtype": "bf16 autocast" if cuda else "float32"})
    return rows


def gpu_facts() -> dict[str, Any]:
    import torch

    facts: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
                             "cpu_cores": os.cpu_count()}
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
        facts["gpu_memory_gib"] = torch.cuda.get_device_properties(0).total_memory / 2 ** 30
        with contextlib.suppress(Exception):
            facts["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                             capture_output=True, text=True, timeout=10).stdout.strip()
    return facts


def markdown(result: dict[str, Any]) -> str:
    facts = result["machine"]

    def f(value: Any, spec: str = "{:.3g}") -> str:
        return "-" if value is None else spec.format(value)

    lines = [f"# GPU run{' (dry: CPU, smoke sizes)' if result['dry'] else ''}", "",
             f"Machine: {facts.get('gpu', 'no GPU')} ({f(facts.get('gpu_memory_gib'), '{:.0f}')} GiB), driver "
             f"{facts.get('driver', '-')}, torch {facts['torch']}, CUDA {facts.get('cuda')}, {facts['cpu_cores']} CPU cores.",
             f"Command: `{result['command']}`; {result['wall_s']:.0f} s in all.", "",
             "| recipe | steps | steps/s | examples/s | peak memory GiB | GPU util % | data wait | loss first → last | test |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in result["training"]:
        test = ", ".join(f"{k.split('/')[-1]} {v:.3g}" for k, v in sorted(row.get("test", {}).items())[:4])
        lines.append(f"| {row['recipe']} | {row['steps']} | {f(row['steps_per_s'])} | {f(row['examples_per_s'])} | "
                     f"{f(row.get('peak_memory_gib'))} | {f(row['gpu_utilisation_mean'])} | "
                     f"{f(row['data_wait_share'], '{:.0%}')} | {f(row['loss_start'])} → {f(row['loss_end'])}"
                     f"{'' if row['loss_fell'] else ' (did not fall)'} | {test} |")
    lines += ["", f"Inference (peak bf16 measured by a matrix product: {f(result.get('peak_bf16'))} FLOP/s; "
                  f"vendor's dense bf16: {f(result.get('vendor_bf16'))} FLOP/s):", "",
              "| model | compiled | batch | throughput | MACs per unit | achieved FLOP/s | share of measured peak |",
              "|---|---|---|---|---|---|---|"]
    for row in result["inference"]:
        unit = row["unit"]
        lines.append(f"| {row['model']} | {row['compiled']} | {row['batch']} | {f(row[f'{unit}_per_s'])} {unit}/s | "
                     f"{f(row['macs_per_' + unit.rstrip('s')])} | {f(row['achieved_flops'])} | "
                     f"{f(row['share_of_measured_bf16_peak'], '{:.1%}')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_results.json and .md")
    parser.add_argument("--dry", action="store_true", help="CPU, smoke sizes, two steps per recipe")
    parser.add_argument("--only", nargs="*", default=None, help="only these recipes (and no inference if empty)")
    args = parser.parse_args(argv)
    import torch

    if not args.dry and not torch.cuda.is_available():
        print("no CUDA device: run with --dry on a CPU", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs = Path(tempfile.mkdtemp(prefix="sciarch-gpu-runs-"))
    result: dict[str, Any] = {"dry": args.dry, "machine": gpu_facts(), "command": " ".join(["bash benchmarks/gpu/run.sh", str(args.out)] + (["--dry"] if args.dry else [])),
                              "training": [], "inference": []}
    try:
        for recipe, steps, overrides in PLANS:
            if args.only is not None and recipe not in args.only:
                continue
            row = train_plan(recipe, steps, overrides, dry=args.dry, runs=runs)
            result["training"].append(row)
            print(json.dumps(row, default=str), flush=True)
        if args.only is None:
            peak = None
            if not args.dry:
                from sciarch.inspection import machine_peaks

                peaks = machine_peaks("cuda")
                peak = peaks.get("peak_flops_bf16")
                result["peak_fp32"] = peaks.get("peak_flops")
                name = result["machine"].get("gpu", "")
                result["vendor_bf16"] = next((v for k, v in VENDOR_BF16.items() if k in name), None)
            result["peak_bf16"] = peak
            result["inference"] = inference(args.dry, peak)
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    result["wall_s"] = time.perf_counter() - started
    (args.out / "gpu_results.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "gpu_results.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
