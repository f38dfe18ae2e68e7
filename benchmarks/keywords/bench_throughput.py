"""Training throughput on CPU: clips per second through a full training step, data loading included.

Each configuration runs the real pipeline: the synthesised corpus's training split with its
augmentation (speed perturbation, time shift, noise), the front end, SpecAugment, forward, loss,
backward and an AdamW step, batch 64, for ``--steps`` steps after ``--warmup`` steps.

    python benchmarks/keywords/bench_throughput.py [--threads 1 2] [--steps 30]

Writes benchmarks/results/keywords_throughput.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import RESULTS, loadavg, machine  # noqa: E402

CONFIGS = {
    "wavenet-24 (end_of_keyword)": ("wavenet_kws", {"layers": 24}, "end_of_keyword"),
    "tc-resnet8 (clip)": ("tc_resnet", {}, "clip"),
}


def measure(name: str, threads: int, steps: int, warmup: int, batch_size: int) -> dict:
    import torch
    from sciarch_keywords import tc_resnet, wavenet
    from sciarch_keywords.data import TTSCommandsData
    from sciarch_keywords.task import KeywordSpotting

    torch.set_num_threads(threads)
    builder, args, objective = CONFIGS[name]
    data = TTSCommandsData(batch_size=batch_size)
    data.prepare_data()
    data.setup()
    build = getattr(wavenet if builder == "wavenet_kws" else tc_resnet, builder)
    torch.manual_seed(0)
    # as in the recipes: tts-12 precedes half the clips by another (2 s sequences), the baseline does not
    task = KeywordSpotting(build(12, **args), class_names=data.class_names(), objective=objective,
                           context_probability=0.5)
    task.train()
    optimizer = torch.optim.AdamW(task.parameters(), lr=1e-3)
    batches = iter(data.train_dataloader())
    timings, cpu = [], []
    for i in range(warmup + steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        wave, labels, spans = next(batches)
        if task.context_probability > 0:
            wave, labels, spans = task.with_context(wave, labels, spans)
        loss = task._loss(task._logits(wave, augment=True), labels, spans)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i >= warmup:
            timings.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    seconds, cpu_seconds = sum(timings), sum(cpu)
    # clips per second of wall time, and per second of this process's CPU time (all its threads):
    # on a busy machine the first includes waiting for a core
    return {"model": name, "threads": threads, "batch_size": batch_size, "steps": steps,
            "clips_per_s": round(steps * batch_size / seconds, 1), "ms_per_step": round(1e3 * seconds / steps, 1),
            "clips_per_cpu_s": round(steps * batch_size / cpu_seconds, 1), "loadavg_after": loadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=RESULTS / "keywords_throughput")
    args = parser.parse_args()
    result = {"benchmark": "keywords training throughput on CPU (data loading and augmentation included)",
              "machine": machine(threads=max(args.threads)),
              "command": "python benchmarks/keywords/bench_throughput.py " + " ".join(sys.argv[1:]),
              "gpu_note": "no GPU was available to this benchmark; GPU throughput not measured",
              "runs": []}
    for name in CONFIGS:
        for threads in args.threads:
            result["runs"].append(measure(name, threads, args.steps, args.warmup, args.batch_size))
            print(json.dumps(result["runs"][-1]))
    result["machine"]["loadavg_at_end"] = loadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    lines = ["# Keyword spotting: training throughput on CPU", "",
             f"Machine: {m['cpu']}, {m['cores']} cores; load average {m['loadavg_at_start']} at start, "
             f"{m['loadavg_at_end']} at end (shared machine: figures under contention). torch {m['torch']}, "
             f"{m['date']}. No GPU was available.", "",
             f"Command: `{result['command']}`", "",
             "| model | threads | batch | clips/s (wall) | ms/step (wall) | clips per CPU-second | load after |",
             "|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        lines.append(f"| {r['model']} | {r['threads']} | {r['batch_size']} | {r['clips_per_s']} | {r['ms_per_step']} "
                     f"| {r['clips_per_cpu_s']} | {r['loadavg_after']} |")
    lines += ["", "A step: load and augment a batch of 1 s clips, log-mel, SpecAugment, forward, loss, backward, "
              "AdamW; for the WaveNet, each clip preceded by another as in `tts-12` (2 s sequences). "
              "Clips per CPU-second: clips over the CPU time of this process, all its threads together."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
