"""Start-up of the ``sciarch`` command: wall and CPU seconds to its first line, today and before.

    python benchmarks/startup.py [--repeats 3] [--before 1781684]

Each command is started as a user starts it (the ``sciarch`` script of this environment) and
timed until it prints its first line on standard output or standard error; the CPU seconds are
the process's own (user + system, from ``/proc``) at that moment. A command still running then
(a training run) is stopped. "before" is the core (``sciarch``, the ``core/`` folder) as of the
given commit, taken from git into a temporary folder that comes first on ``PYTHONPATH``; the
plugins are today's in both. Runs alternate between today and before, ``--repeats`` times each;
the table gives the median. The FreeSolv cache is warm (one untimed run first), as it is for a
user's second run. Writes ``benchmarks/results/startup.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import loadavg, machine, results_header, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "1781684"

COMMANDS = [
    ("help", ["--help"]),
    ("list plugins", ["plugins"]),
    ("usage error: no recipe", ["train"]),
    ("usage error: unknown recipe", ["train", "no-such-recipe"]),
    ("bad recipe: misspelt model argument", ["train", "molecules/freesolv", "--set", "model.args.hiden=3"]),
    ("bad recipe: misspelt Trainer argument", ["train", "molecules/freesolv", "--set", "trainer.max_epoch=3"]),
    ("print the resolved recipe", ["train", "molecules/freesolv", "--print-config"]),
    ("train (first line, then stopped)", ["train", "molecules/freesolv", "--smoke"]),
]
#: commands left running after their first line would train: stopped there
STOPPED = {"train (first line, then stopped)"}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def first_line(args: list[str], env: dict[str, str], timeout: float = 300.0, stop: bool = False) -> dict:
    """Wall and CPU seconds until the command's first line, the line; unless ``stop`` (then it is
    stopped there), the exit status and the wall seconds to the end."""
    script = Path(sys.executable).parent / "sciarch"
    started = time.perf_counter()
    process = subprocess.Popen([str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               start_new_session=True)
    streams = {process.stdout.fileno(): b"", process.stderr.fileno(): b""}
    line, cpu, wall = None, None, None
    while line is None and time.perf_counter() - started < timeout:
        ready, _, _ = select.select(list(streams), [], [], 0.005)
        for fd in ready:
            chunk = os.read(fd, 65536)
            streams[fd] += chunk
            if b"\n" in streams[fd]:
                wall = time.perf_counter() - started
                try:
                    cpu = _cpu_seconds(process.pid)
                except (OSError, IndexError):  # already gone: its whole life was before the line
                    cpu = None
                line = streams[fd].split(b"\n", 1)[0].decode(errors="replace")
                break
        if line is None and process.poll() is not None and not ready:
            break
    if not stop:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.communicate(timeout=timeout)
    ended = time.perf_counter() - started
    code = process.poll()
    if code is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    else:
        process.wait()
    if cpu is None:  # /proc unreadable (the child is a zombie until reaped, so this is rare)
        cpu = float("nan")
    return {"wall_seconds": round(wall, 3) if wall is not None else None, "cpu_seconds": round(cpu, 3),
            "first_line": line, "exit_status": code, "wall_seconds_to_exit": None if stop else round(ended, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", default=BEFORE, help="the commit whose core is 'before'")
    args = parser.parse_args()
    record = {"benchmark": "sciarch start-up: seconds to the first line", "machine": machine(1),
              "command": " ".join([Path(sys.executable).name, *sys.argv]), "before": args.before,
              "loadavg_start": loadavg(), "rows": []}
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        old = Path(tmp) / "before"
        old.mkdir()
        archive = subprocess.run(["git", "archive", args.before, "core"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        (old / "core").rename(old / "sciarch")
        base = {**os.environ, "SCIARCH_CACHE": str(Path(tmp) / "cache"), "SCIARCH_RUNS": str(Path(tmp) / "runs"),
                "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
        envs = {"today": base, f"before ({args.before})": {**base, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(old), os.environ.get("PYTHONPATH", "")]))}}
        first_line(["train", "molecules/freesolv", "--print-config"], base)  # warm the FreeSolv cache
        for name, command in COMMANDS:
            runs: dict[str, list[dict]] = {label: [] for label in envs}
            for _ in range(args.repeats):
                for label, env in envs.items():
                    runs[label].append(first_line(command, env, stop=name in STOPPED))
            for label, measured in runs.items():
                row = {"command": "sciarch " + " ".join(command), "what": name, "code": label,
                       "wall_seconds": statistics.median(m["wall_seconds"] or float("nan") for m in measured),
                       "cpu_seconds": statistics.median(m["cpu_seconds"] for m in measured),
                       "first_line": measured[-1]["first_line"], "exit_status": measured[-1]["exit_status"],
                       "wall_seconds_to_exit": None if name in STOPPED else statistics.median(
                           m["wall_seconds_to_exit"] for m in measured),
                       "runs": measured, "loadavg": loadavg()}
                record["rows"].append(row)
                print({k: v for k, v in row.items() if k != "runs"}, flush=True)
    record["loadavg_end"] = loadavg()
    write_results("startup", record, markdown(record))
    return 0


def markdown(record: dict) -> str:
    lines = [*results_header(record, "a shared machine: CPU seconds are the steadier figure"),
             "Seconds from starting `sciarch` to its first line (standard output or error), the median of "
             "alternating runs; CPU: the process's user + system seconds at that line. \"before\": the core of "
             f"commit {record['before']} with today's plugins. A training run is stopped after its first line.",
             "", "| command | code | first line: wall s | CPU s | exit | wall s to exit | first line |",
             "|---|---|---|---|---|---|---|"]
    for r in record["rows"]:
        shown = (r["first_line"] or "").replace("|", "\\|")
        shown = shown if len(shown) <= 90 else shown[:87] + "..."
        exit_status = "running (stopped)" if r["exit_status"] is None else r["exit_status"]
        to_exit = "-" if r["wall_seconds_to_exit"] is None else f"{r['wall_seconds_to_exit']:.2f}"
        lines.append(f"| `{r['command']}` | {r['code']} | {r['wall_seconds']:.2f} | {r['cpu_seconds']:.2f} | "
                     f"{exit_status} | {to_exit} | {shown} |")
    return "\n".join(lines + [""])


if __name__ == "__main__":
    raise SystemExit(main())
