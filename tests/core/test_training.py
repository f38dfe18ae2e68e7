"""Training runs end to end: the run directory, evaluation, prediction, ensembles, resume."""

from __future__ import annotations

import csv
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from sciarch.cli import main
from sciarch.config import load
from sciarch.errors import DataError
from sciarch.io import load_checkpoint
from sciarch.runs import Run, evaluate
from sciarch.training import train

# 40 000 samples: 32 000 training samples, 500 batches of 64 per epoch, so a kill lands mid-epoch.
LONG = ["--set", "data.args.n=40000", "--set", "trainer.max_epochs=2", "--set", "checkpoint.every_n_train_steps=10",
        "--set", "model.args.dropout=0.1", "--set", "scheduler.warmup_steps=100", "-q"]
STEPS_PER_EPOCH = 500


def test_smoke_run_writes_a_complete_run_directory(host, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "toy/default", "--smoke", "--run-dir", str(run_dir), "-q"]) == 0
    assert "test/rmse" in capsys.readouterr().err
    for name in ("config.yaml", "summary.json", "metrics.csv", "checkpoints/last.ckpt", "checkpoints/best.ckpt",
                 "evaluation/test_predictions.csv"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["global_step"] == 2 * math.ceil(204 / 64)  # 256 samples: 204 train, 2 epochs
    assert summary["filled_from_data"] == {"model.args.in_features": 8}
    assert summary["best_checkpoint"] == "checkpoints/best.ckpt" and summary["monitor"] == "val/rmse"
    assert set(summary["test"]) == {"test/loss", "test/rmse", "test/mae"}
    with open(run_dir / "metrics.csv") as handle:
        logged = list(csv.DictReader(handle))
    assert any(row.get("val/rmse") for row in logged)
    # the saved config rebuilds the same run
    assert Run(run_dir).config.model.args["in_features"] == 8


def test_evaluate_and_predict_a_run(host, tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(load("toy/default", smoke=True, host=host), run_dir=run_dir, quiet=True)
    trained = json.loads((run_dir / "summary.json").read_text())["test"]
    report = evaluate(Run(run_dir))
    assert report["metrics"]["test/rmse"] == pytest.approx(trained["test/rmse"], rel=1e-5)
    assert json.loads((run_dir / "evaluation" / "metrics.json").read_text())["split"] == "test"
    assert main(["evaluate", str(run_dir / "checkpoints" / "last.ckpt"), "--split", "val", "--json"]) == 0
    assert "val/rmse" in json.loads(capsys.readouterr().out)["metrics"]

    rows = tmp_path / "x.csv"
    rows.write_text("0,0,0,0,0,0,0,0\n1,2,3,4,5,6,7,8\n")
    out = tmp_path / "pred.csv"
    assert main(["predict", "--checkpoint", str(run_dir), "--input", str(rows), "--output", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "prediction" and len(out.read_text().splitlines()) == 3
    rows.write_text("1,2,x\n")
    assert main(["predict", "--checkpoint", str(run_dir), "--input", str(rows), "--output", str(out)]) == 2
    assert "x.csv: line 1: not a row of numbers" in capsys.readouterr().err


def test_ensemble_reports_mean_and_spread(host, tmp_path):
    run_dir = tmp_path / "ens"
    train(load("toy/default", smoke=True, host=host, overrides=["ensemble=2"]), run_dir=run_dir, quiet=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["members"] == ["member-0", "member-1"] and summary["status"] == "completed"
    rmse = summary["test"]["test/rmse"]
    assert len(rmse["values"]) == 2 and rmse["values"][0] != rmse["values"][1]  # seeds 0 and 1 differ
    assert rmse["mean"] == pytest.approx(sum(rmse["values"]) / 2)
    assert json.loads((run_dir / "member-1" / "summary.json").read_text())["seed"] == 1
    assert len(Run(run_dir).tasks()) == 2
    report = evaluate(Run(run_dir))
    assert set(report["metrics"]["test/rmse"]) == {"mean", "sd"}
    # the toy task does not say how to combine its members: no combined figures are made up
    assert "combined_test" not in summary and "combined" not in report


def _wait_for_checkpoint(run_dir: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not (run_dir / "checkpoints" / "last.ckpt").is_file():
        assert process.poll() is None, process.stderr.read()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["state_dict"]


def test_resume_after_kill_mid_epoch_matches_an_uninterrupted_run(host, tmp_path, cli_env, run_cli):
    full, killed = tmp_path / "full", tmp_path / "killed"
    done = run_cli(["train", "toy/default", *LONG, "--run-dir", full])
    assert done.returncode == 0, done.stderr

    process = subprocess.Popen([sys.executable, "-m", "sciarch", "train", "toy/default", *LONG, "--run-dir",
                                str(killed)], env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(killed, process)
    process.kill()  # SIGKILL: no chance to save anything more
    process.wait()
    at_kill = load_checkpoint(killed / "checkpoints" / "last.ckpt")
    assert at_kill["global_step"] % STEPS_PER_EPOCH > 0, "the kill should land mid-epoch"
    assert json.loads((killed / "summary.json").read_text())["status"] == "running"

    resumed = run_cli(["train", "--resume", killed, "-q"])
    assert resumed.returncode == 0, resumed.stderr
    a, b = (json.loads((d / "summary.json").read_text()) for d in (full, killed))
    assert a["global_step"] == b["global_step"] == 2 * STEPS_PER_EPOCH
    # same batches in the same order with the same dropout masks: the same weights, bit for bit
    wa, wb = _weights(full / "checkpoints" / "last.ckpt"), _weights(killed / "checkpoints" / "last.ckpt")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert b["test"]["test/rmse"] == a["test"]["test/rmse"]


def test_sigint_saves_and_resume_finishes(host, tmp_path, cli_env, run_cli):
    run_dir = tmp_path / "interrupted"
    process = subprocess.Popen([sys.executable, "-m", "sciarch", "train", "toy/default", *LONG, "--run-dir",
                                str(run_dir)], env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    _wait_for_checkpoint(run_dir, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "continue with --resume" in err and "Traceback" not in err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["global_step"] == summary["global_step"]

    # --resume with the recipe name finds the newest unfinished run under the runs root
    cli_env["SCIARCH_RUNS"] = str(tmp_path)
    (tmp_path / "toy-default").mkdir()
    run_dir.rename(tmp_path / "toy-default" / "20260101-000000")
    resumed = run_cli(["train", "toy/default", "--resume", "-q"])  # cli_env is the fixture run_cli uses
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads((tmp_path / "toy-default" / "20260101-000000" / "summary.json").read_text())
    assert final["status"] == "completed" and final["global_step"] == 2 * STEPS_PER_EPOCH


def test_resume_refuses_changes_and_missing_runs(host, tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "none")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["train", "toy/default", "--resume", str(tmp_path), "--set", "seed=2"]) == 2
    assert "cannot change it" in capsys.readouterr().err
    run_dir = tmp_path / "r"
    train(load("toy/default", smoke=True, host=host), run_dir=run_dir, quiet=True)
    assert main(["train", "toy/default", "--smoke", "--run-dir", str(run_dir)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_resuming_from_python_refuses_a_damaged_last_checkpoint_naming_it(host, tmp_path):
    run_dir = tmp_path / "r"
    resolved = load("toy/default", smoke=True, host=host)
    train(resolved, run_dir=run_dir, quiet=True)
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:100])  # cut short, as a full disk leaves it
    with pytest.raises(DataError, match=r"last.ckpt: truncated or empty checkpoint"):
        train(resolved, run_dir=run_dir, resume=True, quiet=True)


def test_checkpoints_never_unpickle_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must not run",))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Payload()}, path)
    with pytest.raises(DataError, match=r"evil.ckpt: not a sciarch checkpoint \(refused to unpickle objects\)"):
        load_checkpoint(path)


def test_ddp_on_two_cpu_processes_shards_the_data(tmp_path, run_cli):
    # Lightning's own DDP strategy (gloo on CPU) from the same recipe: each process takes half of
    # every epoch, so the run takes half the optimizer steps of a single process.
    run_dir = tmp_path / "ddp"
    result = run_cli(["train", "toy/default", "--smoke", "--devices", "2", "--strategy", "ddp",
                      "--run-dir", run_dir, "-q"])
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["world_size"] == 2
    assert summary["global_step"] == 2 * math.ceil(204 / 2 / 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp"]  # one run directory, shared by both ranks


def test_last_checkpoint_is_the_newest_state_even_when_the_monitor_stops_improving(host, tmp_path):
    # lr 0: the validation loss never improves after the first epoch, so best.ckpt stays at epoch 0
    run_dir = tmp_path / "run"
    train(load("toy/default", smoke=True, host=host, overrides=["optimizer.lr=0.0", "trainer.max_epochs=4"]),
          run_dir=run_dir, quiet=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    best = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)
    assert summary["global_step"] == 4 * math.ceil(204 / 64)
    assert last["global_step"] == summary["global_step"]
    assert last["epoch"] == 3
    assert best["global_step"] < last["global_step"]


def _first_batch(resolved, seed=None) -> torch.Tensor:
    from sciarch.building import build

    datamodule, _, _ = build(resolved, seed=seed)
    datamodule.setup("fit")
    return next(iter(datamodule.train_dataloader()))[0]


def test_an_ensemble_prints_its_data_reports_once_not_once_per_member(host, tmp_path, capsys, monkeypatch):
    import sciarch

    data_class = host.get("dataset", "toy/sine").load()
    setup = data_class.setup

    def reporting_setup(self, stage=None):  # reports once per datamodule, as the plugins' data do
        if not getattr(self, "reported", False):
            self.reported = True
            sciarch.console.print("sine.csv: 2 records skipped (a data report)")
        return setup(self, stage)

    monkeypatch.setattr(data_class, "setup", reporting_setup)
    train(load("toy/default", smoke=True, host=host, overrides=["ensemble=3"]), run_dir=tmp_path / "ens", quiet=True)
    assert capsys.readouterr().err.count("2 records skipped") == 1
    train(load("toy/default", smoke=True, host=host), run_dir=tmp_path / "one", quiet=True)
    assert capsys.readouterr().err.count("2 records skipped") == 1  # a single model still reports
    assert not sciarch.console.quiet


def test_the_run_seed_and_ensemble_members_reach_the_data(host):
    seed3 = load("toy/default", smoke=True, host=host, overrides=["seed=3"])
    seed7 = load("toy/default", smoke=True, host=host, overrides=["seed=7"])
    assert seed3.data.args["seed"] == 3 and seed7.data.args["seed"] == 7
    assert not torch.equal(_first_batch(seed3), _first_batch(seed7))
    assert torch.equal(_first_batch(seed3), _first_batch(load("toy/default", smoke=True, host=host,
                                                                overrides=["seed=3"])))
    # ensemble member 1 of a seed-3 run shuffles as seed 4, not as member 0
    assert not torch.equal(_first_batch(seed3, seed=4), _first_batch(seed3))
    assert torch.equal(_first_batch(seed3, seed=4), _first_batch(load("toy/default", smoke=True, host=host,
                                                                        overrides=["seed=4"])))
    # a data seed the recipe sets on purpose wins over the run's
    own = load("toy/default", smoke=True, host=host, overrides=["seed=3", "data.args.seed=11"])
    assert own.data.args["seed"] == 11


def test_a_saved_config_keeps_the_data_seed_it_ran_with(host, tmp_path):
    from sciarch.config import load_run_config

    run_dir = tmp_path / "run"
    train(load("toy/default", smoke=True, host=host, overrides=["seed=5", "trainer.max_epochs=1"]),
          run_dir=run_dir, quiet=True)
    saved = load_run_config(run_dir, host)
    assert saved.seed == 5 and saved.data.args["seed"] == 5


@pytest.mark.parametrize(("env", "rank"), [
    ({}, 0),
    ({"LOCAL_RANK": "1", "SLURM_PROCID": "0"}, 1),  # SLURM_PROCID can be set outside SLURM's own launch
    ({"RANK": "3", "LOCAL_RANK": "1"}, 3),
    ({"SLURM_PROCID": "2"}, 2),
    ({"NODE_RANK": "1"}, 1000),  # a node's first process that no launcher numbered is not rank zero
])
def test_process_rank_reads_the_launchers_variables_as_lightning_does(monkeypatch, env, rank):
    from sciarch.training import process_rank

    for name in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK", "NODE_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert process_rank() == rank
