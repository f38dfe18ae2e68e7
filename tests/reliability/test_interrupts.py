"""Kill -9 during preparation, and two runs preparing one empty cache at once.

Both prepare a simulated genome into one folder as the splice data module does into its cache
(``prepare_splice_sites``, written with :func:`sciarch.atomic_dir`), in processes of their own. A killed preparation leaves nothing a
later run would trust; the next run prepares the same windows a clean run does. Two runs racing
on one empty cache both succeed and read identical prepared data.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PREPARE = """
import json, sys
from sciarch_datasets.genomics.prepare import prepare_splice_sites

fasta, gtf, out = sys.argv[1:4]
print("starting", flush=True)
prepare_splice_sites(gtf, out, fasta=fasta, block_length=500, context=400, progress=False)
print(json.dumps({"prepared": out}), flush=True)
"""


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> tuple[Path, Path]:
    from sciarch_datasets.genomics.simulate import simulated_genome

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCIARCH_CACHE", str(tmp_path_factory.mktemp("genome")))
        fasta, gtf = simulated_genome(seed=1, chromosomes=6, genes_per_chromosome=10)
    return Path(fasta), Path(gtf)


def _start(genome: tuple[Path, Path], out: Path) -> subprocess.Popen:
    """Prepare ``genome`` into ``out`` (as the splice data module does into its cache) in a new process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", PREPARE, *map(str, genome), str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> Path:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    return Path(json.loads(out.strip().splitlines()[-1])["prepared"])


def _digest(folder: Path) -> dict[str, str]:
    """Hashes of every prepared file; of the manifest, what does not depend on time or place."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "manifest.json":
                manifest = json.loads(data)
                data = json.dumps({k: manifest[k] for k in ("shards", "stats", "block_length", "context")},
                                  sort_keys=True).encode()
            out[str(path.relative_to(folder))] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture(scope="module")
def clean(genome, tmp_path_factory) -> dict[str, str]:
    """What an undisturbed preparation writes."""
    return _digest(_finish(_start(genome, tmp_path_factory.mktemp("clean") / "prepared")))


def test_kill_during_preparation_leaves_nothing_trusted_and_the_next_run_prepares_it_whole(genome, tmp_path, clean):
    prepared_root = tmp_path / "cache"
    out = prepared_root / "key"
    process = _start(genome, out)
    assert process.stdout is not None
    assert process.stdout.readline().startswith("starting")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(prepared_root.glob(".*.tmp")) and process.poll() is None:
        time.sleep(0.002)  # the preparation has started writing beside its final name
    assert list(prepared_root.glob(".*.tmp")), "the preparation never started"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    finished = [p for p in prepared_root.iterdir() if not p.name.startswith(".")]
    assert finished == [], "a killed preparation must not leave a folder under its final name"
    assert not out.exists()
    assert _digest(_finish(_start(genome, out))) == clean


def test_two_runs_preparing_one_empty_cache_at_once_agree(genome, tmp_path, clean):
    out = tmp_path / "cache" / "key"
    first, second = _start(genome, out), _start(genome, out)
    a, b = _finish(first), _finish(second)
    assert a == b
    assert _digest(a) == clean
    assert [p.name for p in a.parent.iterdir() if not p.name.startswith(".")] == [a.name]
