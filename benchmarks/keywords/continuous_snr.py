"""False rejects at 1 false alarm per hour on continuous synthetic audio at a chosen SNR (issue 13: 5-10 dB).

Recordings of the test voices (keywords among other words, 35 % keywords) with the corpus's
background noise re-drawn every 10 s at an SNR from ``--snr LOW,HIGH`` against the average speech
level, scored with the run's own detector (``KeywordSpotting.continuous_test``):

    python benchmarks/keywords/continuous_snr.py --run NAME=RUN [--run ...] --minutes 60 --snr 5,10

Writes benchmarks/results/keywords_continuous_snr.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import RESULTS, built_runs, loadavg, machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--snr", default="5,10")
    parser.add_argument("--seed", type=int, default=77)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sciarch-keywords-snr"))
    parser.add_argument("--out", type=Path, default=RESULTS / "keywords_continuous_snr")
    args = parser.parse_args()

    import torch
    from sciarch_datasets.audio.continuous import generate_recording, write_events
    from sciarch_datasets.audio.espeak import Voice
    from sciarch_datasets.audio.speech_commands import background_noise
    from sciarch_datasets.audio.wav import write_wav

    torch.set_num_threads(1)
    low, high = (float(x) for x in args.snr.split(","))
    result = {"benchmark": f"keywords: continuous synthetic audio at {low:g}-{high:g} dB SNR",
              "machine": machine(threads=1), "command": "python benchmarks/keywords/continuous_snr.py "
              + " ".join(sys.argv[1:]), "runs": []}
    recording = None
    for name, path, run, datamodule, task in built_runs(args.run):
        if recording is None:  # one recording for every run: the first run's corpus gives voices and noise
            root = datamodule.root()
            meta = json.loads((root / "corpus.json").read_text())
            voices = [Voice(*v.split("+", 1)) for v in meta["voices"]["testing"]]
            started = time.process_time()
            audio, events = generate_recording(args.minutes, voices, noise=list(background_noise(root).values()),
                                               snr_db=(low, high), seed=args.seed)
            args.work.mkdir(parents=True, exist_ok=True)
            recording = (args.work / f"snr{low:g}-{high:g}.wav", args.work / f"snr{low:g}-{high:g}.csv")
            write_wav(recording[0], audio)
            write_events(recording[1], events)
            result["recording"] = {"minutes": args.minutes, "words": len(events),
                                   "keywords": sum(e.keyword for e in events), "snr_db": [low, high],
                                   "synthesis_cpu_seconds": round(time.process_time() - started, 1)}
        started = time.process_time()
        scored = task.continuous_test([recording], args.work / name)
        row = {"name": name, "run": path, **{k: v for k, v in scored.items() if k != "det"},
               "scoring_cpu_seconds": round(time.process_time() - started, 1),
               "synthetic_test_accuracy": run.summary.get("test", {}).get("test/acc")}
        result["runs"].append(row)
        print(json.dumps(row, indent=1))
    result["machine"]["loadavg_at_end"] = loadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    m, rec = result["machine"], result["recording"]
    lines = [f"# Continuous synthetic audio at {low:g}–{high:g} dB SNR", "",
             f"Machine: {m['cpu']}, 1 thread; load average {m['loadavg_at_start']} → {m['loadavg_at_end']}; "
             f"{m['date']}, commit {m['commit']}.", "", f"Command: `{result['command']}`", "",
             f"One recording of {rec['minutes']:g} min by the test voices: {rec['words']} words, {rec['keywords']} "
             "keywords; noise from the corpus (white, pink, brown, babble) re-drawn every 10 s.", "",
             "| run | FRR @ 0.5 FA/h | FRR @ 1 FA/h | threshold @ 1 FA/h |", "|---|---|---|---|"]
    for r in result["runs"]:
        lines.append(f"| {r['name']} | {100 * r['frr_at_0.5fa_per_h']:.1f} % | {100 * r['frr_at_1fa_per_h']:.1f} % | "
                     f"{r['threshold_at_1fa_per_h']:.3f} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
