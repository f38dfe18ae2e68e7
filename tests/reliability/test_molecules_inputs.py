"""Hostile molecule inputs through ``sciarch train`` and ``sciarch predict``: SMILES CSV and SDF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import MOLECULES, molecule_csv, molecule_recipe

GOOD = [(s, f"{i * 0.25:.2f}") for i, s in enumerate(MOLECULES)]


def _kept(run: Path) -> int:
    return sum(json.loads((run / "splits.json").read_text())["counts"].values())


# -- files no molecule can be read from: exit 2 naming the file ----------------------------------------

UNUSABLE = {
    "header only": ("smiles,y\n", "no usable molecules in {path} (0 row(s) skipped)"),
    "every SMILES invalid": ("smiles,y\nXX,1\nQQ,2\nC1CC,3\n", "no usable molecules in {path} (3 row(s) skipped)"),
    "empty file": ("", "{name}: empty file (no header row)"),
    "semicolon delimiter": ("smiles;y\nCCO;1\nCC;2\n", "{name}: no target column 'y'; columns: smiles;y"),
    "duplicated column": ("smiles,y,y\nCCO,1,2\n", "{name}: header: duplicated column name(s) y"),
    "no SMILES column": ("name,y\nethanol,1\n", "{name}: no SMILES column"),
    "every target non-numeric": ("smiles,y\nCCO,high\nCC,low\n", "no usable molecules in {path} (2 row(s) skipped)"),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_a_csv_without_usable_molecules_is_exit_2_naming_the_file(case, tmp_path, sciarch):
    text, message = UNUSABLE[case]
    data = tmp_path / "bad.csv"
    data.write_text(text, encoding="utf-8")
    sciarch("train", molecule_recipe(tmp_path, data), "-q", "--run-dir", tmp_path / "run").check(
        2, message.format(name=data.name, path=data))


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_a_csv_in_another_encoding_is_exit_2_naming_the_line(encoding, tmp_path, sciarch):
    data = tmp_path / "enc.csv"
    data.write_bytes(("smiles,y,note\nCCO,1,café\nCC,2,über\n").encode(encoding))
    result = sciarch("train", molecule_recipe(tmp_path, data), "-q", "--run-dir", tmp_path / "run")
    result.check(2, f"{data.name}", "not a readable CSV file")


def test_an_empty_sdf_is_exit_2_naming_the_file(tmp_path, sciarch):
    data = tmp_path / "empty.sdf"
    data.write_bytes(b"")
    sciarch("train", molecule_recipe(tmp_path, data), "-q", "--run-dir", tmp_path / "run").check(
        2, "empty.sdf: empty file (0 bytes")


def test_an_sdf_of_text_is_exit_2_naming_the_file(tmp_path, sciarch):
    data = tmp_path / "words.sdf"
    data.write_text("this is not a MOL block\n$$$$\n")
    sciarch("train", molecule_recipe(tmp_path, data), "-q", "--run-dir", tmp_path / "run").check(2, "words.sdf")


# -- bad rows among good ones: skipped, named, counted; the rest trains ---------------------------------

BAD_ROWS = {
    "invalid SMILES": (("C1CC", "1.0"), "invalid SMILES 'C1CC'"),
    "huge invalid SMILES": (("X" * 100_000, "1.0"), "invalid SMILES"),
    "non-numeric target": (("CCO", "wet"), "target 'y' is not a number: 'wet'"),
    "infinite target": (("CCO", "inf"), "infinite value 'inf'"),
    "extra field": (("CCO,1.0", "2.0"), "3 fields, the header has 2"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_a_bad_row_is_named_counted_and_the_rest_kept(case, tmp_path, sciarch):
    row, reason = BAD_ROWS[case]
    data = molecule_csv(tmp_path / "mixed.csv", GOOD[:6] + [row] + GOOD[6:])
    run = tmp_path / "run"
    result = sciarch("train", molecule_recipe(tmp_path, data), "--run-dir", run)
    result.check(0, "mixed.csv: skipped 1 bad record(s)", "row 7 (line 8)", reason)
    assert _kept(run) == len(GOOD)
    quiet = sciarch("train", molecule_recipe(tmp_path, data), "-q", "--run-dir", tmp_path / "quiet")
    quiet.check(0, "mixed.csv: skipped 1 bad record(s)")  # -q: the summary line, not the records
    assert "row 7 (line 8)" not in quiet.text


def test_a_missing_target_is_kept_and_masked(tmp_path, sciarch):
    data = molecule_csv(tmp_path / "gaps.csv", GOOD[:5] + [("CCO", ""), ("CC", "nan")] + GOOD[5:])
    run = tmp_path / "run"
    sciarch("train", molecule_recipe(tmp_path, data), "-q", "--run-dir", run).check(0)
    assert _kept(run) == len(GOOD) + 2


def test_strict_stops_at_the_first_bad_row(tmp_path, sciarch):
    data = molecule_csv(tmp_path / "strict.csv", GOOD[:3] + [("CCO", "wet")] + GOOD[3:])
    sciarch("train", molecule_recipe(tmp_path, data, strict="true"), "-q", "--run-dir", tmp_path / "run").check(
        2, "strict.csv: row 4 (line 5): target 'y' is not a number")


def test_a_split_of_one_molecule_trains_and_reports_what_it_can(tmp_path, sciarch):
    data = molecule_csv(tmp_path / "ten.csv", GOOD[:10])  # 8 / 1 / 1
    run = tmp_path / "run"
    sciarch("train", molecule_recipe(tmp_path, data), "-q", "--run-dir", run).check(0, "test/rmse")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and "test/rmse" in summary["test"]
    assert "test/r2" not in summary["test"]  # R² of one molecule is undefined: left out, not a crash
    assert _kept(run) == 10


# -- prediction inputs ---------------------------------------------------------------------------------


def test_predict_with_a_smiles_column_the_file_lacks_is_exit_2(molecule_run, tmp_path, sciarch):
    data = tmp_path / "in.csv"
    data.write_text("name,smi\nethanol,CCO\n")
    out = tmp_path / "out.csv"
    sciarch("predict", "--checkpoint", molecule_run, "--input", data, "--output", out,
            "--option", "smiles_column=smiles").check(2, "in.csv: header: no column 'smiles'", "columns: name, smi")
    assert not out.exists()


def test_predict_keeps_every_row_and_names_the_bad_ones(molecule_run, tmp_path, sciarch):
    data = tmp_path / "in.csv"
    data.write_text("smiles\nCCO\nC1CC\nCC,extra\nc1ccccc1\n")
    out = tmp_path / "out.csv"
    sciarch("predict", "--checkpoint", molecule_run, "--input", data, "--output", out).check(
        0, "in.csv: skipped 2 bad record(s)", "predicted: 2")
    rows = out.read_text().splitlines()
    assert len(rows) == 1 + 4
    assert rows[2].endswith("unclosed ring for input: 'C1CC'") or "C1CC" in rows[2]


def test_predict_on_an_empty_sdf_is_exit_2(molecule_run, tmp_path, sciarch):
    data = tmp_path / "none.sdf"
    data.write_bytes(b"")
    sciarch("predict", "--checkpoint", molecule_run, "--input", data, "--output", tmp_path / "o.csv").check(
        2, "none.sdf: empty file")


# -- PDBbind-style complex folders ---------------------------------------------------------------------

COMPLEXES = 6


@pytest.fixture(scope="module")
def complex_folder(tmp_path_factory) -> Path:
    from sciarch_datasets.molecules.generated import write_complexes

    root = tmp_path_factory.mktemp("complexes") / "pdbbind"
    write_complexes(root, n=COMPLEXES, seed=0)
    return root


def _damage_complex(root: Path, case: str) -> str:
    """Damage complex g002 one way; returns the reason the reader must give."""
    folder = root / "g002"
    if case == "missing ligand":
        (folder / "g002_ligand.sdf").unlink()
        return "no g002_ligand.sdf or g002_ligand.mol2"
    if case == "0-byte ligand":
        (folder / "g002_ligand.sdf").write_bytes(b"")
        return "g002_ligand.sdf"
    if case == "missing pocket":
        (folder / "g002_pocket.pdb").unlink()
        return "no g002_pocket.pdb or g002_protein.pdb"
    if case == "pocket without atoms":
        (folder / "g002_pocket.pdb").write_text("REMARK nothing here\nEND\n")
        return "g002_pocket.pdb: no protein atoms"
    if case == "non-numeric affinity":
        index = root / "index.csv"
        index.write_text(index.read_text().replace("g002,", "g002,strong #", 1).replace("#", ""))
        return "pK is not a number"
    raise ValueError(case)


@pytest.mark.parametrize("case", ["missing ligand", "0-byte ligand", "missing pocket", "pocket without atoms",
                                  "non-numeric affinity"])
def test_a_broken_complex_is_named_counted_and_the_rest_kept(case, complex_folder, tmp_path):
    import shutil

    from sciarch_datasets.molecules.complexes import PocketSettings, complexes_store

    root = tmp_path / "pdbbind"
    shutil.copytree(complex_folder, root)
    reason = _damage_complex(root, case)
    store = complexes_store(root, None, PocketSettings(), workers=0, cache=False, quiet=True)
    bad = store.meta["bad"]
    assert bad["skipped"] == 1, bad
    [record] = bad["records"]
    assert reason in record["reason"] and ("g002" in record["record"] or "row 3" in record["record"])
    assert len(store) == COMPLEXES - 1
