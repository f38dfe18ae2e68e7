"""The GPU benchmark runs end to end in --dry mode on a CPU, so the GPU run wastes no GPU time."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.needs_all_extras
def test_the_gpu_benchmark_runs_dry_on_a_cpu(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SCIARCH_CACHE": str(tmp_path / "cache"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu" / "run.sh"), str(tmp_path / "out"), "--dry"],
                            capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "gpu_results.json").read_text())
    assert report["dry"] is True
    recipes = {row["recipe"]: row for row in report["training"]}
    assert set(recipes) == {"molecules/freesolv", "splice/spliceai-10k", "keywords/tts-12", "tracks/arc-net"}
    for row in recipes.values():
        assert row["steps"] == 2 and row["examples_per_s"] > 0 and 0 <= row["data_wait_share"] < 1
        assert math.isfinite(row["loss_start"]) and math.isfinite(row["loss_end"])
        assert row["test"], row["recipe"]  # the test split was scored
    units = {row["model"]: row for row in report["inference"]}
    assert units["splice/spliceai-10k"]["positions_per_s"] > 0 and units["keywords/wavenet"]["clips_per_s"] > 0
    assert units["splice/spliceai-10k"]["macs_per_position"] > 1e6  # SpliceAI-10k: millions of MACs per base
    assert "| splice/spliceai-10k |" in (tmp_path / "out" / "gpu_results.md").read_text()
