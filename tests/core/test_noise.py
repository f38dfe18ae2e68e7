"""What sciarch prints is about the run: no advertisements, no warnings a user cannot act on, no
made-up columns, and no warning filters or log filters left behind in the user's process."""

from __future__ import annotations

import subprocess
import sys

import pytest

NOISE = ("💡", "Tip:", "litlogger", "litmodels", "Warning", "warn(", "weights_only", "FLOPs", "Total Flops",
         "already configured")


def _assert_quiet(output: str) -> None:
    for text in NOISE:
        assert text not in output, f"{text!r} in:\n{output}"


def test_train_evaluate_and_predict_print_no_noise(run_cli, tmp_path):
    run_dir = tmp_path / "run"
    trained = run_cli(["train", "toy/default", "--smoke", "--run-dir", run_dir])  # not -q: summary and epochs
    assert trained.returncode == 0, trained.stderr
    assert "Trainable params" in trained.stderr and "epoch 1" in trained.stderr
    _assert_quiet(trained.stdout + trained.stderr)
    evaluated = run_cli(["evaluate", run_dir])
    assert evaluated.returncode == 0, evaluated.stderr
    _assert_quiet(evaluated.stdout + evaluated.stderr)
    rows = tmp_path / "x.csv"
    rows.write_text("0,0,0,0,0,0,0,0\n")
    predicted = run_cli(["predict", "--checkpoint", run_dir, "--input", rows, "--output", tmp_path / "p.csv"])
    assert predicted.returncode == 0, predicted.stderr
    _assert_quiet(predicted.stdout + predicted.stderr)


def test_the_model_summary_has_no_flops_column_when_nothing_was_counted(caplog):
    import logging

    from sciarch.trainers import Summary

    columns = [("Name", ["model"]), ("Type", ["Linear"]), ("Params", ["10"]), ("Mode", ["train"]),
               ("FLOPs", ["0"])]
    with caplog.at_level(logging.INFO):
        Summary.summarize(columns, 10, 10, 0.0, {"train": 1, "eval": 0}, 0)
    assert "Trainable params" in caplog.text and "FLOPs" not in caplog.text and "Flops" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        Summary.summarize(columns[:-1] + [("FLOPs", ["2.0 K"])], 10, 10, 0.0, {"train": 1, "eval": 0}, 2000)
    assert "FLOPs" in caplog.text and "Total Flops" in caplog.text


LEAVES_FILTERS_ALONE = """
import logging, sys, warnings
before = list(warnings.filters)
from sciarch.config import load
from sciarch.training import train
from sciarch.runs import Run, evaluate
train(load("toy/default", smoke=True), run_dir=sys.argv[1], quiet=False)
evaluate(Run(sys.argv[1]))
import sciarch.plugins
host = sciarch.plugins.get_host()
for kind in ("model", "dataset", "task", "recipe"):
    for spec in host.specs(kind).values():
        if kind != "recipe":
            spec.load()
# libraries imported on the way (torch, scipy, sympy, lightning) add their own filters; none may
# hide what sciarch used to hide process-wide
ours = ("jit\\.script", "Spearman", "many workers", "LeafSpec", "logging interval", "not empty", "litlogger",
        "litmodels")
added = [f for f in warnings.filters if f not in before]
hidden = [f for f in added if f[1] is not None and any(text in f[1].pattern for text in ours)]
assert not hidden, hidden
for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
    logger = logging.getLogger(name)
    assert not logger.filters and not any(h.filters for h in logger.handlers), name
print("filters untouched")
"""


def test_library_code_sets_no_process_wide_warning_or_log_filters(cli_env, tmp_path):
    result = subprocess.run([sys.executable, "-c", LEAVES_FILTERS_ALONE, str(tmp_path / "run")], env=cli_env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "filters untouched" in result.stdout


@pytest.mark.needs_all_extras
def test_a_molecules_run_prints_no_library_warnings(run_cli, tmp_path):
    trained = run_cli(["train", "molecules/freesolv", "--smoke", "--run-dir", tmp_path / "run"])
    assert trained.returncode == 0, trained.stderr
    _assert_quiet(trained.stdout + trained.stderr)
