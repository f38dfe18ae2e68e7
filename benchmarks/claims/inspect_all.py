"""``sciarch inspect`` on every registered model (as an architecture), every recipe (as a model)
and a run of each plugin (as a fit model): that each works, how long it takes on this CPU, and the
figures it measures, in one table.

    python benchmarks/claims/inspect_all.py            # writes benchmarks/results/inspect_all.{json,md}

Each target is inspected in a fresh process (``sciarch inspect NAME --json``), so its time includes
start-up and preparing the smoke data it is probed with (cached after the first run). The runs are
trained first with ``sciarch train RECIPE --smoke`` (not timed: only their inspection is).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import RESULTS, loadavg, machine  # noqa: E402

# one run per plugin: the recipe of the plugin's main job (else its first recipe), trained with --smoke
RUN_RECIPES = {"keywords": "keywords/tts-12", "molecules": "molecules/freesolv", "splice": "splice/spliceai-400",
               "tracks": "tracks/arc-net"}


def targets() -> list[tuple[str, str]]:
    from sciarch.plugins import get_host

    host = get_host()
    found = [("architecture", name) for name in sorted(host.specs("model"))]
    found += [("model", name) for name in sorted(host.specs("recipe"))]
    return found


def run_recipes() -> list[str]:
    from sciarch.plugins import get_host

    recipes = sorted(get_host().specs("recipe"))
    plugins = sorted({name.split("/")[0] for name in recipes})
    return [RUN_RECIPES.get(p) if RUN_RECIPES.get(p) in recipes else next(r for r in recipes if r.startswith(p + "/"))
            for p in plugins]


def train_run(recipe: str, root: Path) -> str:
    run_dir = root / recipe.replace("/", "-")
    subprocess.run([sys.executable, "-m", "sciarch", "train", recipe, "--smoke", "-q", "--run-dir", str(run_dir)],
                   check=True, capture_output=True, text=True, timeout=3600)
    return str(run_dir)


def inspect_one(kind: str, name: str) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    extra = ["--as", {"architecture": "architecture", "model": "model", "fit model": "run"}[kind]]
    result = subprocess.run([sys.executable, "-m", "sciarch", "inspect", name, *extra, "--json"],
                            capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row = {"kind": kind, "name": name, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "ok": result.returncode == 0}
    if result.returncode == 0:
        report = json.loads(result.stdout)[0]
        rf = report.get("receptive_field") or {}
        row.update(parameters=report.get("parameters"), macs_per_example=report.get("macs_per_example"),
                   forward_activation_bytes=report.get("forward_activation_bytes"),
                   training_activation_bytes=report.get("training_activation_bytes"),
                   receptive_field=rf.get("measured"), receptive_field_computed=rf.get("computed"),
                   hops=report.get("message_passing_hops"), intensity=report.get("arithmetic_intensity"),
                   examples_per_s=(report.get("throughput") or {}).get("examples_per_s"), note=report.get("note", ""))
    else:
        row["error"] = (result.stderr.strip().splitlines() or ["?"])[-1][:300]
    return row


def _fmt(value, spec="{:.3g}") -> str:
    return "-" if value is None else spec.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="inspect only these names")
    parser.add_argument("--no-runs", action="store_true", help="skip training and inspecting a run of each plugin")
    parser.add_argument("--merge", action="store_true",
                        help="with --only: replace those rows in the committed table, keep the others")
    args = parser.parse_args()
    import torch

    info = machine(torch.get_num_threads())
    rows = []
    for kind, name in targets():
        if args.only and name not in args.only:
            continue
        rows.append(inspect_one(kind, name))
        print(json.dumps(rows[-1]), flush=True)
    if not args.no_runs:
        import tempfile

        with tempfile.TemporaryDirectory() as root:
            for recipe in run_recipes():
                if args.only and recipe not in args.only:
                    continue
                row = inspect_one("fit model", train_run(recipe, Path(root)))
                row["name"] = f"run of {recipe} --smoke"
                rows.append(row)
                print(json.dumps(rows[-1]), flush=True)
    if args.merge and (RESULTS / "inspect_all.json").is_file():
        previous = json.loads((RESULTS / "inspect_all.json").read_text())
        fresh = {(r["kind"], r["name"]) for r in rows}
        order = [(k, n) for k, n in targets()] + [("fit model", f"run of {r} --smoke") for r in run_recipes()]
        kept = [r for r in previous["rows"] if (r["kind"], r["name"]) not in fresh and (r["kind"], r["name"]) in order]
        rows = sorted(kept + rows, key=lambda r: order.index((r["kind"], r["name"])) if (r["kind"], r["name"]) in order
                      else len(order))
        info["merged"] = f"rows {sorted(n for _, n in fresh)} re-measured; the others from {previous['machine']['date']}"
    info_end = {'loadavg_at_end': loadavg()}
    out = {"machine": info, "machine_at_end": info_end, "command": " ".join(["python", *sys.argv]), "rows": rows}
    (RESULTS / "inspect_all.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = ["# `sciarch inspect` on every registered model, every recipe and a run of each plugin", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, {info['threads_used']} threads; "
             f"load average at start {info['loadavg_at_start']}, at end {info_end['loadavg_at_end']} "
             "(other jobs shared the cores: CPU seconds are the steadier figure).",
             f"Command: `{out['command']}` (each target in a fresh process; time includes start-up and the probe's smoke data)."
             + (f" {info['merged']}." if info.get("merged") else ""),
             "", "Targets over 30 s of CPU: " + (", ".join(r["name"] for r in rows if r["cpu_s"] > 30) or "none") + ".",
             "", "| kind | name | ok | wall s | CPU s | parameters | MACs/example | activations fwd / train | receptive field (gradient / computed) | hops | FLOP/B | examples/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        act = f"{_fmt(r.get('forward_activation_bytes'), '{:.3g}')} / {_fmt(r.get('training_activation_bytes'), '{:.3g}')} B"
        rf = f"{_fmt(r.get('receptive_field'), '{}')} / {_fmt(r.get('receptive_field_computed'), '{}')}"
        lines.append(f"| {r['kind']} | {r['name']} | {'yes' if r['ok'] else 'no: ' + r.get('error', '')} | {r['wall_s']} | "
                     f"{r['cpu_s']} | {_fmt(r.get('parameters'), '{:,}')} | {_fmt(r.get('macs_per_example'))} | {act} | "
                     f"{rf} | {_fmt(r.get('hops'), '{}')} | {_fmt(r.get('intensity'))} | {_fmt(r.get('examples_per_s'))} |")
    (RESULTS / "inspect_all.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
