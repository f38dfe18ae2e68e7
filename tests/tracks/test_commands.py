"""`sciarch tracks simulate | detect | crowding` and `sciarch predict` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sciarch.cli import main


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A smoke-trained Faster R-CNN (untrained in all but name: enough to exercise the commands)."""
    from sciarch.testing import check_smoke_run

    run = tmp_path_factory.mktemp("tracks-run") / "run"
    check_smoke_run("tracks/faster-rcnn", run)
    return run


def test_simulate_writes_a_coco_folder(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    assert main(["tracks", "simulate", "--n", "2", "--out", str(out), "--size", "64", "--tracks", "2", "4",
                 "--species", "pi=0.5,p=0.5", "--workers", "1"]) == 0
    coco = json.loads((out / "annotations.json").read_text())
    assert len(coco["images"]) == 2 and coco["annotations"]
    species = {a["attributes"]["species"] for a in coco["annotations"] if a["attributes"]["origin"] == "primary"}
    assert species <= {"pi+", "pi-", "p", "pbar"}
    assert (out / "images" / "000001.png").is_file() and (out / "hits" / "000001.npz").is_file()


def test_simulate_rejects_a_bad_species_mix(tmp_path: Path) -> None:
    assert main(["tracks", "simulate", "--n", "1", "--out", str(tmp_path / "x"), "--species", "gluon=1"]) == 2
    assert not (tmp_path / "x").exists()


def test_detect_writes_annotated_pictures_and_tracks_with_momenta(trained_run: Path, tmp_path: Path) -> None:
    pictures = tmp_path / "pictures"
    # few tracks, and a seed whose pictures image_hits finds bubbles in: at 96 pixels a crowded
    # picture is too dark for its background estimate (it then finds no hit, so no track)
    assert main(["tracks", "simulate", "--n", "2", "--out", str(pictures), "--size", "96", "--tracks", "5", "10",
                 "--seed", "1", "--workers", "1"]) == 0
    out = tmp_path / "found"
    assert main(["tracks", "detect", str(pictures / "images"), "--checkpoint", str(trained_run), "--out", str(out),
                 "--score-threshold", "0.0"]) == 0
    document = json.loads((out / "tracks.json").read_text())
    assert len(document["pictures"]) == 2 and document["field_tesla"] == 1.5
    tracks = [t for p in document["pictures"] for t in p["tracks"]]
    assert tracks, "an untrained detector at threshold 0 still reports boxes with hits"
    with_fit = [t for t in tracks if "pt_gev" in t]
    assert with_fit
    for t in with_fit:  # p_T = 0.3 B R
        assert t["pt_gev"] == pytest.approx(0.299792458 * 1.5 * t["radius_m"], rel=1e-6)
    assert (out / "000000_tracks.png").stat().st_size > 1000


def test_detect_names_a_missing_picture(trained_run: Path, tmp_path: Path) -> None:
    assert main(["tracks", "detect", str(tmp_path / "nowhere.png"), "--checkpoint", str(trained_run)]) == 2


def test_predict_uses_the_same_pipeline(trained_run: Path, tmp_path: Path) -> None:
    pictures = tmp_path / "pictures"
    main(["tracks", "simulate", "--n", "1", "--out", str(pictures), "--size", "96", "--workers", "1"])
    output = tmp_path / "predicted" / "tracks-of-one.json"
    assert main(["predict", "--checkpoint", str(trained_run), "--input", str(pictures / "images" / "000000.png"),
                 "--output", str(output), "--option", "score_threshold=0.0"]) == 0
    assert json.loads(output.read_text())["pictures"][0]["picture"].endswith("000000.png")


def test_crowding_measures_each_method_at_each_multiplicity(trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "crowding"
    assert main(["tracks", "crowding", "--out", str(out), "--run", f"two-stage={trained_run}",
                 "--run", f"soft={trained_run}@soft-gaussian", "--multiplicities", "2,6", "--pictures", "1",
                 "--validation-pictures", "1", "--size", "96", "--label", "test"]) == 0
    result = json.loads((out / "crowding.json").read_text())
    methods = ["two-stage", "soft", "hough", "true boxes", "true masks"]
    assert [(r["method"], r["primary_tracks"]) for r in result["rows"]] == [(m, n) for n in (2, 6) for m in methods]
    ceiling = {r["primary_tracks"]: r["efficiency"] for r in result["rows"] if r["method"] == "true masks"}
    assert min(ceiling.values()) > 0.5  # the true masks find most tracks of a sparse picture
    assert set(result["operating_thresholds"]) == {"two-stage", "soft"}
    hough = [r for r in result["rows"] if r["method"] == "hough"]
    assert all(0.0 <= r["efficiency"] <= 1.0 for r in hough)
    assert (out / "crowding.png").stat().st_size > 1000 and "| hough | 6 |" in (out / "crowding.md").read_text()


def test_evaluate_scores_a_run_with_its_saved_threshold_and_draws_its_pictures(trained_run: Path,
                                                                              tmp_path: Path) -> None:
    out = tmp_path / "evaluation"
    assert main(["evaluate", str(trained_run), "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert {"test/efficiency", "test/fake_rate", "test/box_ap", "test/score_threshold"} <= set(report["metrics"])
    saved = json.loads((out / "tracks_metrics.json").read_text())
    assert saved["score_threshold"] == pytest.approx(report["metrics"]["test/score_threshold"])
    assert (out / "picture_0.png").is_file() and (out / "momentum_resolution.png").is_file()
