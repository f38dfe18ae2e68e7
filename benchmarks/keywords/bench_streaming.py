"""Streaming cost per 10 ms hop on one CPU thread, against recomputing the whole window every hop.

For the default 24-layer WaveNet KWS (and optionally other depths): the streaming step in eager
PyTorch, the same step traced with TorchScript, the step exported to ONNX and run by onnxruntime,
and, as the baseline, the offline model run over one receptive field of audio every hop (what a
non-streaming model must do to give a fresh score every 10 ms). Weights are random: the cost does
not depend on them.

    python benchmarks/keywords/bench_streaming.py [--hops 3000] [--repeats 5]

Writes benchmarks/results/keywords_streaming.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

from common import RESULTS, loadavg, machine  # noqa: E402


def time_per_call(fn, calls: int, repeats: int) -> dict[str, float]:
    """Median and best wall time per call (ms) over ``repeats`` runs of ``calls`` calls, and the
    median CPU time of this process per call (on a busy machine the wall time includes waiting for
    a core; the CPU time is the work itself)."""
    runs, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls * 1e3)
        cpu.append((time.process_time() - start_cpu) / calls * 1e3)
    return {"median_ms": statistics.median(runs), "best_ms": min(runs), "cpu_ms": statistics.median(cpu),
            "runs_ms": [round(r, 4) for r in runs]}


def bench_model(layers: int, hops: int, repeats: int) -> dict:
    import numpy as np
    import onnxruntime as ort
    import torch
    from sciarch_keywords.export import export_streaming_onnx
    from sciarch_keywords.streaming import StreamingWaveNet
    from sciarch_keywords.wavenet import wavenet_kws

    torch.manual_seed(0)
    model = wavenet_kws(12, layers=layers).eval()
    step = StreamingWaveNet(model).eval()
    hop = torch.randn(1, step.hop_length) * 0.1
    out = {"layers": layers, "receptive_field_frames": model.receptive_field,
           "receptive_field_s": round(model.receptive_field_seconds, 3),
           "parameters": sum(p.numel() for p in model.parameters()), "macs_per_frame": model.macs_per_frame()}

    with torch.inference_mode():
        state = step.initial_state(1)

        def eager():
            nonlocal state
            _, state = step(hop, state)

        for _ in range(200):
            eager()
        out["eager"] = time_per_call(eager, hops, repeats)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(step, (hop, step.initial_state(1)), check_trace=False)
        tstate = step.initial_state(1)

        def scripted():
            nonlocal tstate
            _, tstate = traced(hop, tstate)

        for _ in range(200):
            scripted()
        out["torchscript"] = time_per_call(scripted, hops, repeats)

        window = torch.randn(1, (model.receptive_field - 1) * 160 + 400) * 0.1

        def recompute():
            model(window)

        for _ in range(5):
            recompute()
        out["recompute_window"] = time_per_call(recompute, max(50, hops // 20), repeats)

    with tempfile.TemporaryDirectory() as tmp:
        export_streaming_onnx(model, Path(tmp) / "step.onnx", hops=20)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(Path(tmp) / "step.onnx"), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        feed = {n: s.numpy() for n, s in zip(names[1:], step.initial_state(1), strict=True)}
        samples = hop.numpy().astype(np.float32)

        def onnx_step():
            nonlocal feed
            outputs = session.run(None, {"samples": samples, **feed})
            feed = dict(zip(names[1:], outputs[1:], strict=True))

        for _ in range(200):
            onnx_step()
        out["onnxruntime"] = time_per_call(onnx_step, hops, repeats)
    for key in ("eager", "torchscript", "onnxruntime", "recompute_window"):
        out[key]["real_time_factor"] = round(out[key]["median_ms"] / 10.0, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hops", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", type=int, nargs="+", default=[24, 12])
    parser.add_argument("--out", type=Path, default=RESULTS / "keywords_streaming")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    result = {"benchmark": "keywords streaming cost per 10 ms hop", "machine": machine(threads=1),
              "command": "python benchmarks/keywords/bench_streaming.py " + " ".join(sys.argv[1:]), "models": []}
    for layers in args.layers:
        result["models"].append(bench_model(layers, args.hops, args.repeats))
        print(json.dumps(result["models"][-1], indent=1))
    result["machine"]["loadavg_at_end"] = loadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    lines = ["# Keyword spotting: streaming cost per 10 ms hop (one CPU thread)", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['threads_used']} thread; load average "
             f"{m['loadavg_at_start']} at start, {m['loadavg_at_end']} at end (shared machine). "
             f"torch {m['torch']}, {m['date']}.", "",
             f"Command: `{result['command']}`", "",
             "| layers | receptive field | params | streaming, eager | streaming, TorchScript | streaming, onnxruntime "
             "| recompute window every hop |",
             "|---|---|---|---|---|---|---|"]
    def cell(r: dict, k: str) -> str:
        return (f"{r[k]['median_ms']:.3f} ms (RTF {r[k]['real_time_factor']:.3f}; best {r[k]['best_ms']:.3f}, "
                f"CPU {r[k]['cpu_ms']:.3f})")

    for r in result["models"]:
        lines.append(f"| {r['layers']} | {r['receptive_field_frames']} frames, {r['receptive_field_s']} s | "
                     f"{r['parameters']:,} | {cell(r, 'eager')} | {cell(r, 'torchscript')} | {cell(r, 'onnxruntime')} | "
                     f"{cell(r, 'recompute_window')} |")
    lines += ["", "Wall time per hop: median over repeats of the mean (best repeat and this process's CPU time "
              "per hop in brackets); RTF = median wall time per hop / 10 ms. Streaming: the one-hop step with "
              "per-layer caches; recompute: the offline model over one receptive field of audio every hop."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
