"""SMILES CSV and SDF readers: targets by name, missing values masked, bad rows reported by row."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sciarch
from sciarch_datasets.molecules.embedded import embedded_file
from sciarch_datasets.molecules.featurise import Featuriser
from sciarch_datasets.molecules.graphs import molecule_store
from sciarch_datasets.molecules.tables import read_sdf, read_smiles_csv

CSV = """smiles,solubility,toxicity,note
CCO,-0.77,,ok
C1CC(,1.5,0,broken ring
c1ccccc1O,0.0,1,phenol
N(C)(C)(C)(C)C,2.0,1,pentavalent N
CCN,abc,0,text target
CC(=O)O,-0.2,0,acid
"""


@pytest.fixture
def table_csv(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(CSV)
    return path


def test_csv_targets_by_name_and_missing_values_masked(table_csv):
    table = read_smiles_csv(table_csv, targets=["solubility", "toxicity"])
    # the text target row is skipped by the reader; invalid SMILES are found later, by featurisation
    assert len(table) == 5
    assert table.target_names == ["solubility", "toxicity"]
    assert table.molecules[0] == ("CCO",)
    assert table.targets.shape == (5, 2)
    assert table.targets[0, 0] == pytest.approx(-0.77)
    assert math.isnan(table.targets[0, 1])  # empty cell: masked, the row is kept
    assert table.rows == [1, 2, 3, 4, 6]
    assert table.report.count == 1
    assert table.report.records[0].record == "row 5 (line 6)"
    assert "'abc'" in table.report.records[0].reason


def test_default_targets_are_the_numeric_columns(table_csv):
    table = read_smiles_csv(table_csv)
    # 'solubility' has a text value, 'note' is text: only 'toxicity' is numeric throughout
    assert table.target_names == ["toxicity"]


def test_unknown_column_is_an_error_naming_the_file_and_columns(table_csv):
    with pytest.raises(sciarch.DataError) as err:
        read_smiles_csv(table_csv, targets=["logP"])
    assert "mixed.csv" in str(err.value) and "'logP'" in str(err.value) and "solubility" in str(err.value)


def test_invalid_smiles_are_skipped_with_row_and_rdkit_reason(table_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    store = molecule_store(table_csv, Featuriser(), targets=["solubility"], quiet=True)
    assert len(store) == 3  # CCO, phenol, acetic acid
    assert store.meta["rows"] == [1, 3, 6]
    bad = store.meta["bad"]
    assert bad["skipped"] == 3
    by_record = {r["record"]: r["reason"] for r in bad["records"]}
    assert "syntax error" in by_record["row 2 (line 3)"]
    assert "Explicit valence for atom # 0 N, 5" in by_record["row 4 (line 5)"]
    assert "not a number" in by_record["row 5 (line 6)"]
    assert bad["reasons"] == {"invalid SMILES": 2, "non-numeric target": 1}


def test_strict_mode_makes_the_first_bad_record_an_error(table_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(sciarch.DataError, match=r"row 2 \(line 3\).*invalid SMILES 'C1CC\('"):
        molecule_store(table_csv, Featuriser(), targets=["toxicity"], strict=True, quiet=True)
    # a cached store with bad records is refused in strict mode too
    molecule_store(table_csv, Featuriser(), targets=["toxicity"], quiet=True)
    with pytest.raises(sciarch.DataError, match="row 2"):
        molecule_store(table_csv, Featuriser(), targets=["toxicity"], strict=True, quiet=True)


def test_line_numbers_follow_quoted_fields_over_several_lines(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('smiles,y,comment\nCCO,1,"two\nlines"\nC1CC(,2,x\n')
    table = read_smiles_csv(path, targets=["y"])
    assert table.labels == ["row 1 (line 2)", "row 2 (line 4)"]


def test_limit_reads_the_first_rows_only(table_csv):
    assert read_smiles_csv(table_csv, targets=["toxicity"], limit=2).rows == [1, 2]


def test_solubility_sdf_reads_sd_fields_as_targets():
    table = read_sdf(embedded_file("solubility-test"), targets=["SOL"])
    assert len(table) == 257
    assert table.report.count == 0
    assert table.targets.shape == (257, 1)
    assert table.targets[0, 0] == pytest.approx(-3.68)  # 3-methylpentane, the first record
    assert table.labels[0] == "record 1 (3-methylpentane)"


def test_sdf_with_a_broken_record_skips_it_with_its_number(tmp_path):
    from rdkit import Chem

    good = Chem.MolFromSmiles("CCO")
    good.SetProp("pIC50", "6.5")
    block = Chem.MolToMolBlock(good) + "> <pIC50>\n6.5\n\n$$$$\n"
    broken = "broken\n  junk\n\n  2  1  0  0  0  0            999 V2000\nnot an atom line\n$$$$\n"
    path = tmp_path / "mixed.sdf"
    path.write_text(block + broken + block)
    table = read_sdf(path, targets=["pIC50"])
    assert len(table) == 2
    assert table.rows == [1, 3]
    assert table.report.count == 1 and table.report.records[0].record == "record 2"


def test_freesolv_ships_642_molecules_with_expt():
    table = read_smiles_csv(embedded_file("freesolv"), targets=["expt"])
    assert len(table) == 642 and table.report.count == 0
    assert np.isfinite(table.targets).all()


def test_an_infinite_target_is_called_infinite_and_counted_apart(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text("smiles,y\nCCO,1\nCC,inf\nCO,2\n")
    assert read_smiles_csv(path).target_names == ["y"]  # a column with an infinity is still a target
    path.write_text("smiles,y\nCCO,1\nCC,inf\nCCC,-Infinity\nCCCC,wet\nCO,2\n")
    table = read_smiles_csv(path, targets=["y"])
    assert len(table) == 2
    bad = {r["record"]: r["reason"] for r in table.report.to_dict()["records"]}
    assert bad["row 2 (line 3)"].startswith("target 'y' is an infinite value 'inf'")
    assert "not a number" not in bad["row 2 (line 3)"] and "infinite value '-Infinity'" in bad["row 3 (line 4)"]
    assert bad["row 4 (line 5)"] == "target 'y' is not a number: 'wet'"
    assert table.report.to_dict()["reasons"] == {"infinite target": 2, "non-numeric target": 1}
