"""Accent robustness: the English keywords read by eSpeak NG voices of languages the generator never uses.

The test split's speaker variants (never heard in training) read the keywords and a few other
English words with the pronunciation rules of ten other languages (German, French, Spanish,
Italian, Portuguese, Dutch, Polish, Russian, Hindi, Turkish): foreign-accented English, as far as
eSpeak NG can make it. The same clip layout as the corpus (rate, pitch, level and place in the
1 s clip drawn as the generator draws them). Scored like the test split, word clips only (no
silence clips), against the held-out English voices' word clips of the run's own test split:

    python benchmarks/keywords/accents.py --run base=RUN [--run other=RUN2] [--languages de,fr,...]

Writes benchmarks/results/keywords_accents.json and .md (``--out`` for another name).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from common import RESULTS, built_runs, loadavg, machine  # noqa: E402

LANGUAGES = ("de", "fr", "es", "it", "pt", "nl", "pl", "ru", "hi", "tr")


def foreign_clips(settings, variants: list[str], languages: tuple[str, ...], fillers_per_voice: int):
    from sciarch_datasets.audio.espeak import Voice
    from sciarch_datasets.audio.tts import synthesize_voice

    settings = replace(settings, fillers_per_voice=fillers_per_voice)
    out = {}
    for language in languages:
        clips = []
        for variant in variants:
            made, _ = synthesize_voice(settings, Voice(language, variant), "testing")
            clips += [(u.word, audio, (int(u.start_s * 16000), int(u.end_s * 16000))) for u, audio in made]
        out[language] = clips
    return out


def accuracy(task, clips) -> dict:
    import torch
    from sciarch_datasets.audio import UNKNOWN

    names = list(task.class_names)
    correct = keyword_right = keyword_n = unknown_right = unknown_n = 0
    for first in range(0, len(clips), 256):
        batch = clips[first: first + 256]
        wave = torch.from_numpy(np.stack([c[1] for c in batch]).astype(np.float32))
        with torch.inference_mode():
            predicted = task.clip_scores(task.model(wave)).argmax(dim=1).tolist()
        for (word, _, _), p in zip(batch, predicted, strict=True):
            truth = word if word in names else UNKNOWN
            ok = names[p] == truth
            correct += ok
            if truth == UNKNOWN:
                unknown_n += 1
                unknown_right += ok
            else:
                keyword_n += 1
                keyword_right += ok
    return {"clips": len(clips), "accuracy": correct / len(clips),
            "keyword_accuracy": keyword_right / max(1, keyword_n), "unknown_accuracy": unknown_right / max(1, unknown_n)}


def english_clips(datamodule):
    from sciarch_datasets.audio import SILENCE

    test = datamodule.datasets["test"]
    names = datamodule.class_names()
    return [(names[int(test.labels[i])] if names[int(test.labels[i])] != SILENCE else SILENCE,
             np.asarray(test.audio[i], dtype=np.float32) / 32768.0, tuple(test.spans[i])) for i in range(len(test.labels))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR")
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--variants", type=int, default=None, help="at most this many test variants (default: all)")
    parser.add_argument("--fillers-per-voice", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "keywords_accents")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    languages = tuple(args.languages.split(","))
    result = {"benchmark": "keywords: English keywords read by eSpeak NG voices of other languages",
              "machine": machine(threads=1),
              "command": "python benchmarks/keywords/accents.py " + " ".join(sys.argv[1:]), "runs": []}
    foreign = None
    for name, path, _run, datamodule, task in built_runs(args.run):
        datamodule.setup()
        corpus = datamodule.corpus()
        variants = corpus["variants"]["testing"][: args.variants]
        if foreign is None:
            started, cpu = time.time(), time.process_time()
            foreign = foreign_clips(datamodule.settings(), variants, languages, args.fillers_per_voice)
            result["synthesis"] = {"seconds": round(time.time() - started, 1),
                                   "cpu_seconds": round(time.process_time() - cpu, 1), "variants": variants,
                                   "clips_per_language": {k: len(v) for k, v in foreign.items()}}
        from sciarch_datasets.audio import SILENCE

        english = [c for c in english_clips(datamodule) if c[0] != SILENCE]
        row = {"name": name, "run": path, "english_held_out": accuracy(task, english)}
        row["languages"] = {lang: accuracy(task, clips) for lang, clips in foreign.items()}
        accs = [v["accuracy"] for v in row["languages"].values()]
        row["foreign_mean"], row["foreign_min"], row["foreign_max"] = float(np.mean(accs)), min(accs), max(accs)
        row["gap_points"] = 100 * (row["english_held_out"]["accuracy"] - row["foreign_mean"])
        result["runs"].append(row)
        print(json.dumps(row, indent=1))
    result["machine"]["loadavg_at_end"] = loadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    m = result["machine"]
    lines = ["# Accent robustness: English keywords read by eSpeak NG voices of other languages", "",
             f"Machine: {m['cpu']}, 1 thread; load average {m['loadavg_at_start']} → {m['loadavg_at_end']}; "
             f"{m['date']}, commit {m['commit']}.", "", f"Command: `{result['command']}`", "",
             "Word clips only (10 keywords + other words); the English figure is the run's own test split "
             "(held-out voices) without its silence clips.", "",
             "| run | English, held-out voices | " + " | ".join(languages) + " | mean | gap (points) |",
             "|---|---|" + "---|" * len(languages) + "---|---|"]
    for r in result["runs"]:
        lines.append(f"| {r['name']} | {100 * r['english_held_out']['accuracy']:.1f} % | "
                     + " | ".join(f"{100 * r['languages'][x]['accuracy']:.1f}" for x in languages)
                     + f" | {100 * r['foreign_mean']:.1f} % | {r['gap_points']:.1f} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
