"""Front ends side by side: log-mel, PCEN and the frozen speech embedding, on the same clips.

Runs the three checks of this folder, one after the other, over the same trained runs, and joins
their figures in one table:

1. real human speech (``real_speech.py``: the PocketSphinx test data, 6 keywords, 118 other words);
2. accents (``accents.py``: the English words read by eSpeak NG voices of ten languages the
   generator never uses, against the run's held-out English voices; the gap in points);
3. continuous synthetic audio at 5–10 dB SNR (``continuous_snr.py``: the false-reject rate at
   1 false alarm per hour, one recording for every run).

    python benchmarks/keywords/frontends.py --run log-mel=RUN1 --run pcen=RUN2 --run speech-embedding=RUN3 \\
        [--train-log log-mel=LOG1 ...] [--minutes 30] [--note TEXT]

``--train-log`` names the ``/usr/bin/time -v`` output of each training, for its CPU seconds.
Writes benchmarks/results/keywords_frontends.json and .md, and each check's own json and md as
``keywords_frontends_<check>``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import RESULTS, loadavg, machine  # noqa: E402

HERE = Path(__file__).parent


def training_cpu(log: Path) -> float | None:
    """User + system CPU seconds from a ``/usr/bin/time -v`` log."""
    text = log.read_text(errors="replace")
    found = [float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", text)]
    return round(sum(found), 1) if found else None


def frr_further(det_csv: Path) -> dict:
    """The lowest false-reject rate at 10 and 100 false alarms per hour, from a DET curve CSV."""
    import csv

    if not det_csv.is_file():
        return {}
    points = list(csv.DictReader(det_csv.open()))
    out = {}
    for rate in (10, 100):
        ok = [float(p["false_reject_rate"]) for p in points if float(p["false_alarms_per_hour"]) <= rate]
        out[f"frr_at_{rate}fa_per_h"] = min(ok) if ok else 1.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR")
    parser.add_argument("--train-log", action="append", default=[], metavar="NAME=LOG")
    parser.add_argument("--minutes", type=float, default=30.0, help="of the continuous recording")
    parser.add_argument("--source", default=None, help="the PocketSphinx tarball (real_speech.py --source)")
    parser.add_argument("--accent-variants", type=int, default=None, help="accents.py --variants (a dry run)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/sciarch-keywords-snr"),
                        help="continuous_snr.py --work (its DET curves are read from there)")
    parser.add_argument("--tables-only", action="store_true",
                        help="join the checks' json files already written, without running them again")
    parser.add_argument("--note", default="", help="a line written under the table")
    parser.add_argument("--out", type=Path, default=RESULTS / "keywords_frontends")
    args = parser.parse_args()

    runs = [r.partition("=") for r in args.run]
    run_args = [x for name, _, path in runs for x in ("--run", f"{name}={path}")]
    out = args.out
    result = {"benchmark": "keywords: front ends side by side (real speech, accents, continuous 5-10 dB SNR)",
              "machine": machine(threads=1),
              "command": "python benchmarks/keywords/frontends.py " + " ".join(
                  a for a in sys.argv[1:] if a != args.note).replace("--note", "--note NOTE"), "checks": {}}
    real_extra = ["--source", args.source] if args.source else []
    checks = {"real_speech": ["real_speech.py", *real_extra],
              "accents": ["accents.py", *(["--variants", str(args.accent_variants)] if args.accent_variants else [])],
              "continuous_snr": ["continuous_snr.py", "--minutes", f"{args.minutes:g}", "--work", str(args.work)]}
    for check, command in checks.items():
        if args.tables_only:
            continue
        target = out.with_name(f"{out.name}_{check}")
        started, cpu = time.time(), time.process_time()
        subprocess.run([sys.executable, str(HERE / command[0]), *command[1:], *run_args, "--out", str(target)],
                       check=True)
        result["checks"][check] = {"file": target.with_suffix(".json").name,
                                   "seconds": round(time.time() - started, 1)}
    logs = dict(item.partition("=")[::2] for item in args.train_log)
    real = json.loads(out.with_name(f"{out.name}_real_speech").with_suffix(".json").read_text())
    accents = json.loads(out.with_name(f"{out.name}_accents").with_suffix(".json").read_text())
    snr = json.loads(out.with_name(f"{out.name}_continuous_snr").with_suffix(".json").read_text())
    rows = []
    for name, _, path in runs:
        r = next(x for x in real["runs"] if x["name"] == name)
        a = next(x for x in accents["runs"] if x["name"] == name)
        c = next(x for x in snr["runs"] if x["name"] == name)
        summary = json.loads((Path(path) / "summary.json").read_text())
        r = {k: v for k, v in r.items() if k != "context_rows"}
        rows.append({"name": name, "run": path, "recipe": summary.get("recipe"),
                     "command": summary.get("command"), "epochs": summary.get("epochs"),
                     "train_wall_seconds": summary.get("train_seconds"),
                     "train_cpu_seconds": training_cpu(Path(logs[name])) if name in logs else None,
                     "synthetic_test_accuracy": summary.get("test", {}).get("test/acc"),
                     "real_speech": r, "accents": {k: a[k] for k in ("english_held_out", "foreign_mean",
                                                                       "foreign_min", "foreign_max", "gap_points")},
                     "continuous_snr": {**{k: c[k] for k in ("frr_at_0.5fa_per_h", "frr_at_1fa_per_h",
                                                             "threshold_at_1fa_per_h", "keywords")},
                                        **frr_further(args.work / name / "det_curve.csv")}})
    result["runs"] = rows
    result["recording"] = snr.get("recording")
    result["machine"]["loadavg_at_end"] = loadavg()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f} %"

    result["machine_of_checks"] = {"real_speech": real["machine"], "accents": accents["machine"],
                                   "continuous_snr": snr["machine"]}
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    m, first, last = result["machine"], real["machine"], snr["machine"]
    lines = ["# Keyword front ends side by side", "",
             f"Machine: {m['cpu']}, 1 thread; the checks ran {first['date']} – {last['date']} at commit "
             f"{first['commit']}, load average {first['loadavg_at_start']} → {last['loadavg_at_end']}; "
             f"table joined {m['date']}.", "", f"Command: `{result['command']}`", "",
             "Same clips for every run: the PocketSphinx test speech (6 keywords, 118 other words, speakers "
             "never heard), eSpeak NG voices of ten languages the generator never uses against the held-out "
             f"English voices, and one {snr['recording']['minutes']:g}-minute recording at 5–10 dB SNR "
             f"({snr['recording']['keywords']} keywords). Details: `{out.name}_<check>.md`.", "",
             "| front end | epochs | training CPU s (wall s) | synthetic test acc. | real keywords right, in context "
             "| real other words taken, in context | real keywords right, isolated | real other words taken, "
             "isolated | median own peak | accents: English / foreign mean | gap (points) | FRR @ 1 FA/h, 5–10 dB "
             "| FRR @ 10 / 100 FA/h, 5–10 dB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        r, a, c = row["real_speech"], row["accents"], row["continuous_snr"]
        ctx, iso = r["words_in_context"], r["isolated_clips"]
        cpu = "–" if row["train_cpu_seconds"] is None else f"{row['train_cpu_seconds']:.0f}"
        wall = "–" if row["train_wall_seconds"] is None else f"{row['train_wall_seconds']:.0f}"
        peak = ctx.get("median_own_peak")
        lines.append(
            f"| {row['name']} | {row['epochs']} | {cpu} ({wall}) | {pct(row['synthetic_test_accuracy'])} | "
            f"{ctx['keywords_right']}/{ctx['keyword_words']} | {ctx['other_taken_for_keyword']}/{ctx['other_words']} "
            f"({pct(ctx['other_taken_rate'])}) | {iso['keywords_right']}/{iso['keyword_words']} | "
            f"{iso['other_taken_for_keyword']}/{iso['other_words']} ({pct(iso['other_taken_rate'])}) | "
            f"{'–' if peak is None else f'{peak:.2f}'} | "
            f"{pct(a['english_held_out']['accuracy'])} / {pct(a['foreign_mean'])} | {a['gap_points']:.1f} | "
            f"{pct(c['frr_at_1fa_per_h'])} | {pct(c.get('frr_at_10fa_per_h'))} / {pct(c.get('frr_at_100fa_per_h'))} |")
    if args.note:
        lines += ["", args.note]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
