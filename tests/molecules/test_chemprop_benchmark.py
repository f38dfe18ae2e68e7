"""The chemprop side-by-side benchmark: without chemprop it says so and measures nothing; the rows it
gives chemprop are the rows of sciarch's split."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "molecules" / "chemprop.py"


def _script():
    spec = importlib.util.spec_from_file_location("chemprop_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_chemprop_it_is_skipped_with_a_message(monkeypatch, capsys, tmp_path):
    module = _script()
    monkeypatch.delenv("SCIARCH_CHEMPROP", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["chemprop.py"])
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    assert module.main() == 0
    said = capsys.readouterr().out
    assert "chemprop not found" in said and "pip install chemprop" in said and "nothing was measured" in said
    assert not (tmp_path / "results").exists()


@pytest.mark.slow  # featurises FreeSolv with its 217 descriptors (~20 s)
def test_the_split_files_hold_the_rows_of_sciarchs_split(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    module = _script()
    rows = module.source_rows("freesolv")
    split = module.sciarch_split("freesolv", 3)
    files = module.write_split_csvs(rows, split, tmp_path / "s3", "expt")
    (source,) = rows
    for part in ("train", "val", "test"):
        with open(files[part]) as handle:
            written = [(r["smiles"], float(r["expt"])) for r in csv.DictReader(handle)]
        assert written == [rows[source][row - 1] for _, row in split[part]]
    with open(files["all"]) as handle:
        parts = [r["split"] for r in csv.DictReader(handle)]
    assert parts.count("train") == 513 and parts.count("val") == 64 and parts.count("test") == 65
    assert split != module.sciarch_split("freesolv", 4)  # the split seed reaches the split
