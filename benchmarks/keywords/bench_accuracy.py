"""Accuracy on held-out voices of the synthesised corpus, and false rejects at 1 false alarm per hour.

Scores finished runs of ``keywords/tts-12`` (and of the TC-ResNet baseline), trained with::

    sciarch train keywords/tts-12 --run-dir RUN        # resumable in chunks: --resume RUN

on the test split (voices whose speaker variant is never heard in training), clean and with
background noise at ``--snr`` dB, and, for frame-level models, on ``--minutes`` of fresh continuous
recordings spoken by the test voices (keywords among other words and noise):

    python benchmarks/keywords/bench_accuracy.py --run wavenet=RUN [--run tc-resnet=RUN2] [--minutes 60]

Writes benchmarks/results/keywords_accuracy.json, .md and keywords_det.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import RESULTS, loadavg, machine  # noqa: E402


def score_run(name: str, run_dir: Path, minutes: float, recordings: int, snr: float, out: Path) -> dict:
    import sciarch
    from sciarch_datasets.audio.continuous import continuous_test_set

    run = sciarch.Run(run_dir)
    summary = run.summary
    datamodule, task = run.build()
    datamodule.setup()
    corpus = datamodule.corpus()
    train_clips = len(datamodule.datasets["train"])
    result = {
        "name": name, "run": str(run_dir), "recipe": summary.get("recipe"), "model": run.config.model.name,
        "model_args": run.config.model.args, "task_args": {k: v for k, v in run.config.task.args.items()
                                                           if k != "class_names"},
        "parameters": sum(p.numel() for p in task.model.parameters()),
        "trained_with": summary.get("command"), "seed": summary.get("seed"),
        "epochs": summary.get("epochs"), "steps": summary.get("global_step"),
        "train_seconds": summary.get("train_seconds"), "trained_on": summary.get("device"),
        "train_clips_per_epoch": train_clips,
        "test_voices": len(corpus["voices"]["testing"]), "train_voices": len(corpus["voices"]["train"]),
        "test_variants": corpus["variants"]["testing"],
        "test_accuracy_clean": summary.get("test", {}).get("test/acc"),
    }
    if result["epochs"] and result["train_seconds"]:
        # validation and checkpointing included: an end-to-end figure, not the step rate alone (after
        # fit, Lightning's current_epoch is the number of epochs completed)
        result["end_to_end_clips_per_s"] = round(train_clips * result["epochs"] / result["train_seconds"], 1)
    noisy = sciarch.evaluate(run, data_overrides={"eval_snr_db": snr}, out=out / f"eval-snr{snr:g}",
                             accelerator="cpu")
    result[f"test_accuracy_snr{snr:g}dB"] = noisy["metrics"].get("test/acc")
    if getattr(task.model, "frame_level", False) and minutes > 0:
        started = time.time()
        pairs = continuous_test_set(datamodule.root(), minutes, recordings=recordings, seed=2024)
        continuous = task.continuous_test(pairs, out / f"continuous-{name}")
        result["continuous"] = {k: v for k, v in continuous.items() if k != "det"}
        result["continuous"]["scoring_seconds"] = round(time.time() - started, 1)
        shutil.copy(out / f"continuous-{name}" / "det_curve.png", RESULTS / f"keywords_det_{name}.png")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR")
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes per continuous recording")
    parser.add_argument("--recordings", type=int, default=2)
    parser.add_argument("--snr", type=float, default=10.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sciarch-keywords-bench"))
    parser.add_argument("--out", type=Path, default=RESULTS / "keywords_accuracy")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    result = {"benchmark": "keywords: held-out-voice accuracy and continuous false rejects (synthesised corpus)",
              "machine": machine(threads=1),
              "command": "python benchmarks/keywords/bench_accuracy.py " + " ".join(sys.argv[1:]), "runs": []}
    args.work.mkdir(parents=True, exist_ok=True)
    for item in args.run:
        name, _, path = item.partition("=")
        result["runs"].append(score_run(name, Path(path), args.minutes, args.recordings, args.snr, args.work))
        print(json.dumps(result["runs"][-1], indent=1, default=str))
    result["machine"]["loadavg_at_end"] = loadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    m = result["machine"]
    snr_key = f"test_accuracy_snr{args.snr:g}dB"
    lines = ["# Keyword spotting on the synthesised corpus: held-out voices", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, scored on {m['threads_used']} thread; load average "
             f"{m['loadavg_at_start']} → {m['loadavg_at_end']} (shared machine). torch {m['torch']}, {m['date']}.",
             "", f"Command: `{result['command']}`", "",
             f"| model | params | epochs | train time | accuracy, clean | accuracy, {args.snr:g} dB SNR | "
             "FRR @ 0.5 FA/h | FRR @ 1 FA/h | continuous audio |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        c = r.get("continuous")
        frr = (f"{100 * c['frr_at_0.5fa_per_h']:.1f} % | {100 * c['frr_at_1fa_per_h']:.1f} % | "
               f"{60 * c['continuous_hours']:.0f} min, {c['keywords']} keywords") if c else "– | – | –"
        lines.append(f"| {r['name']} | {r['parameters']:,} | {r['epochs']} | {r['train_seconds'] / 60:.0f} min "
                     f"({r['trained_on']}) | {100 * r['test_accuracy_clean']:.2f} % | {100 * r[snr_key]:.2f} % | "
                     f"{frr} |")
    first = result["runs"][0]
    lines += ["", "Trained with: " + "; ".join(f"`{r['trained_with']}`" for r in result["runs"]
                                             if r.get("trained_with"))]
    lines += ["", f"Test split: {first['test_voices']} voices ({len(first['test_variants'])} eSpeak NG speaker "
              f"variants × accents) never heard in training ({first['train_voices']} training voices). 12 classes: "
              "10 keywords, unknown, silence. FRR: false-reject rate on continuous recordings by test voices "
              "(keywords among other words and background noise); FA/h: false alarms per hour."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
