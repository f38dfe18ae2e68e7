"""A user's CSV with invalid SMILES mixed in trains and predicts through the CLI, each bad row
reported, no good row lost; an ensemble's predictions carry their spread."""

from __future__ import annotations

import csv
import json
import logging
import math

import pytest
import sciarch
from sciarch.cli import main
from sciarch_datasets.molecules.embedded import embedded_file

BAD = {5: "C1CC(", 12: "N(C)(C)(C)(C)C", 20: "c1cccc1", 27: "CCX"}


@pytest.fixture
def mixed_csv(tmp_path):
    """40 FreeSolv molecules with four invalid SMILES put in at known rows."""
    with open(embedded_file("freesolv")) as handle:
        rows = list(csv.DictReader(handle))[:40]
    path = tmp_path / "mixed.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["compound", "smiles", "dG"])
        for number, row in enumerate(rows, start=1):
            writer.writerow([row["iupac"], BAD.get(number, row["smiles"]), row["expt"]])
    return path


def _train(tmp_path, data, extra=(), quiet=True):
    run = tmp_path / "run"
    args = ["train", "molecules/freesolv", "--smoke", "--run-dir", str(run), *(["-q"] if quiet else []),
            "--set", "data.name=molecules/smiles-csv", "--set", f"data.args.path={data}",
            "--set", "data.args.targets=[dG]", "--set", "data.args.limit=null", *extra]
    assert main(args) == 0
    return run


def test_invalid_smiles_are_reported_by_row_and_every_good_row_is_used(tmp_path, mixed_csv, caplog, capsys):
    with caplog.at_level(logging.WARNING, logger="sciarch.data"):
        run = _train(tmp_path, mixed_csv, quiet=False)  # -q reports the skips as one summary line
    printed = capsys.readouterr().err
    assert printed.count("skipped 4 bad record(s)") == 1, printed  # once, not again when testing
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for number, smiles in BAD.items():
        assert f"row {number} (line {number + 1}): invalid SMILES '{smiles}'" in logged
    split = json.loads((run / "splits.json").read_text())
    used = sorted(r for part in ("train", "val", "test") for r in split[part][str(mixed_csv)])
    assert used == [n for n in range(1, 41) if n not in BAD]  # 36 good rows, none lost
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and "test/rmse" in summary["test"]
    assert (run / "evaluation" / "parity.png").stat().st_size > 1000

    out = tmp_path / "predictions.csv"
    assert main(["predict", "--checkpoint", str(run), "--input", str(mixed_csv), "--output", str(out)]) == 0
    with open(out) as handle:
        predicted = list(csv.DictReader(handle))
    assert len(predicted) == 40
    assert [row["compound"] for row in predicted][:3] == ["4-methoxy-N,N-dimethyl-benzamide",
                                                         "methanesulfonyl chloride", "3-methylbut-1-ene"]
    for number, row in enumerate(predicted, start=1):
        if number in BAD:
            assert row["dG_pred"] == "" and row["error"], row
        else:
            assert row["error"] == "" and math.isfinite(float(row["dG_pred"]))
    assert "syntax error" in predicted[4]["error"] and "valence" in predicted[11]["error"]


def test_ensemble_predictions_report_the_spread_across_members(tmp_path, mixed_csv):
    run = _train(tmp_path, mixed_csv, ["--set", "ensemble=2"])
    assert sorted(p.name for p in run.glob("member-*")) == ["member-0", "member-1"]
    split = [json.loads((run / m / "splits.json").read_text()) for m in ("member-0", "member-1")]
    assert split[0]["test"] == split[1]["test"]  # members share the split (split_seed), not the init
    out = tmp_path / "predictions.csv"
    assert main(["predict", "--checkpoint", str(run), "--input", str(mixed_csv), "--output", str(out)]) == 0
    with open(out) as handle:
        predicted = list(csv.DictReader(handle))
    good = [row for row in predicted if not row["error"]]
    assert len(predicted) == 40 and len(good) == 36
    spreads = [float(row["dG_pred_sd"]) for row in good]
    assert all(s >= 0 for s in spreads) and max(spreads) > 0  # two differently seeded members disagree

    # the ensemble is also scored on its combined (mean) prediction: the RMSE of the members'
    # averaged test predictions, each member's written by its own test pass
    summary = json.loads((run / "summary.json").read_text())
    members = []
    for m in ("member-0", "member-1"):
        with open(run / m / "evaluation" / "test_predictions.csv") as handle:
            members.append({row["record"]: (float(row["dG"]), float(row["dG_pred"])) for row in csv.DictReader(handle)})
    assert members[0].keys() == members[1].keys() and members[0]
    errors = [(members[0][r][1] + members[1][r][1]) / 2 - members[0][r][0] for r in members[0]]
    rmse = math.sqrt(sum(e * e for e in errors) / len(errors))
    assert summary["combined_test"]["test/rmse"] == pytest.approx(rmse, rel=1e-4)
    member_rmse = summary["test"]["test/rmse"]["values"]
    assert summary["combined_test"]["test/rmse"] <= max(member_rmse) + 1e-6  # convexity of the squared error
    report = sciarch.evaluate(sciarch.Run(run))  # evaluate scores the combined prediction the same way
    assert report["combined"]["test/rmse"] == pytest.approx(summary["combined_test"]["test/rmse"], rel=1e-5)


def test_strict_mode_stops_at_the_first_invalid_smiles(tmp_path, mixed_csv, capsys):
    status = main(["train", "molecules/freesolv", "--smoke", "--run-dir", str(tmp_path / "run"), "-q",
                   "--set", "data.name=molecules/smiles-csv", "--set", f"data.args.path={mixed_csv}",
                   "--set", "data.args.targets=[dG]", "--set", "data.args.strict=true"])
    assert status == 2
    assert "row 5 (line 6): invalid SMILES 'C1CC('" in capsys.readouterr().err


def test_a_3d_model_trains_on_smiles_with_etkdg_conformers(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "molecules/freesolv", "--smoke", "--run-dir", str(run), "-q",
                 "--set", "data.args.limit=40", "--set", "data.args.conformers=true",
                 "--set", "model={name: molecules/schnet, args: {hidden: 16, filters: 16, interactions: 2}}"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and math.isfinite(summary["test"]["test/rmse"])


def test_a_3d_model_without_conformers_says_how_to_get_them(tmp_path, capsys):
    status = main(["train", "molecules/freesolv", "--smoke", "--run-dir", str(tmp_path / "run"), "-q",
                   "--set", "data.args.limit=40",
                   "--set", "model={name: molecules/egnn, args: {hidden: 16, layers: 1}}"])
    assert status == 2
    assert "conformers: true" in capsys.readouterr().err


def test_complex_runs_predict_every_complex_of_a_folder(tmp_path):
    from sciarch_datasets.molecules.generated import generated_complexes

    run = tmp_path / "run"
    assert main(["train", "molecules/pdbbind-egnn", "--smoke", "--run-dir", str(run), "-q"]) == 0
    folder = generated_complexes(n=16, seed=0)
    index = tmp_path / "to_score.csv"
    index.write_text("id\ng000\ng001\nnot-there\n")
    out = tmp_path / "scores.csv"
    for cid in ("g000", "g001"):
        (tmp_path / cid).symlink_to(folder / cid)
    assert main(["predict", "--checkpoint", str(run), "--input", str(index), "--output", str(out)]) == 0
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == ["g000", "g001", "not-there"]
    assert math.isfinite(float(rows[0]["pK"])) and rows[0]["error"] == ""
    assert rows[2]["pK"] == "" and "no folder" in rows[2]["error"]


def test_multi_task_classification_with_missing_labels_trains_and_reports_per_target(tmp_path):
    with open(embedded_file("freesolv")) as handle:
        rows = list(csv.DictReader(handle))[:80]
    path = tmp_path / "labels.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "has_N", "has_O"])
        for k, row in enumerate(rows):
            smiles = row["smiles"]
            writer.writerow([smiles, int("N" in smiles or "n" in smiles), "" if k % 4 == 0 else int("O" in smiles)])
    run = tmp_path / "run"
    assert main(["train", "molecules/freesolv", "--smoke", "--run-dir", str(run), "-q",
                 "--set", "data.name=molecules/smiles-csv", "--set", f"data.args.path={path}",
                 "--set", "data.args.targets=[has_N, has_O]", "--set", "data.args.task_type=classification",
                 "--set", "data.args.limit=null", "--set", "checkpoint.monitor=val/roc_auc",
                 "--set", "checkpoint.mode=max"]) == 0
    test = json.loads((run / "summary.json").read_text())["test"]
    for key in ("test/roc_auc", "test/pr_auc", "test/roc_auc/has_N", "test/roc_auc/has_O"):
        assert 0.0 <= test[key] <= 1.0, key
    assert (run / "evaluation" / "roc.png").is_file()
    with open(run / "evaluation" / "test_predictions.csv") as handle:
        predicted = list(csv.DictReader(handle))
    assert all(0.0 < float(r["has_N_pred"]) < 1.0 for r in predicted)
    from rdkit import Chem

    written = {}
    with open(path) as handle:
        for row in csv.DictReader(handle):
            written[Chem.MolToSmiles(Chem.MolFromSmiles(row["smiles"]))] = row["has_O"]
    for r in predicted:  # a missing label stays missing (masked), a present one is reported as given
        assert r["has_O"] == ("" if written[r["smiles"]] == "" else f"{float(written[r['smiles']]):.6g}")
