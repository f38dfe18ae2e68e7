"""A hostile table, as a chemist would write one to try the plugin: nothing is used silently.

Whitespace inside a SMILES, a salt, a bare metal ion, a tin compound, element 118, a dummy atom,
an isotope label, duplicates and a conflicting duplicate, a 300-carbon alkane, an infinite
target: training reports each with its row, and ``predict`` writes every row with a reason, a
note or a domain flag.
"""

from __future__ import annotations

import csv

from sciarch.cli import main
from sciarch_datasets.molecules.embedded import embedded_file

HOSTILE = [  # (name, SMILES, target)
    ("space", "CC O", "-5.0"),
    ("salt", "CC(=O)[O-].[Na+]", "-9.0"),
    ("sodium", "[Na+]", "-90"),
    ("element 118", "[Og]", "1.0"),
    ("dummy", "*CC", "1.0"),
    ("isotope", "[13CH3]O", "-5.1"),
    ("infinite", "CCCO", "inf"),
    ("ethanol again", "OCC", "-5.0"),  # FreeSolv row 'ethanol' says -5.0: a duplicate
    ("ethanol conflict", "C(O)C", "-2.0"),  # the same molecule, another value
]


def _rows():
    with open(embedded_file("freesolv")) as handle:
        rows = [(r["iupac"], r["smiles"], r["expt"]) for r in list(csv.DictReader(handle))[:60]]
    return rows + [("ethanol", "CCO", "-5.0")] + HOSTILE


def test_a_hostile_table_trains_with_every_problem_reported_and_predicts_with_domain_flags(tmp_path, capsys, caplog):
    data = tmp_path / "hostile.csv"
    with open(data, "w", newline="") as handle:
        csv.writer(handle).writerows([("name", "smiles", "dG"), *_rows()])
    run = tmp_path / "run"
    # not -q: under -q the skipped rows are one summary line per input (the reliability suite checks both)
    assert main(["train", "molecules/freesolv", "--smoke", "--run-dir", str(run),
                 "--set", "data.name=molecules/smiles-csv", "--set", f"data.args.path={data}",
                 "--set", "data.args.targets=[dG]", "--set", "data.args.limit=null"]) == 0
    captured = capsys.readouterr()
    # a fresh read logs each skipped row as it goes (on stderr in the CLI; pytest captures the log)
    said = captured.out + captured.err + "\n" + "\n".join(r.getMessage() for r in caplog.records)
    row = {name: 1 + k for k, (name, _, _) in enumerate(_rows())}
    for name, words in [("space", "whitespace inside the SMILES 'CC O'"), ("element 118", "Og (118)"),
                        ("dummy", "dummy atom"), ("infinite", "is an infinite value 'inf'")]:
        assert f"row {row[name]} (line {row[name] + 1}): " in said and words in said, name
    assert "not a number: 'inf'" not in said and "... and" not in said.split("skipped 4 bad record(s)")[1][:200]
    assert "molecule(s) appear more than once" in said and "1 with conflicting target values" in said
    a, b, c = row["ethanol"], row["ethanol again"], row["ethanol conflict"]
    assert f"CCO: dG row {a} (line {a + 1}): -5; row {b} (line {b + 1}): -5; row {c} (line {c + 1}): -2" in said
    with open(run / "data_report.csv") as handle:
        report = {r["record"]: r["notes"] for r in csv.DictReader(handle)}
    assert "mixture: 2 fragments" in report[f"row {row['salt']} (line {row['salt'] + 1})"]
    assert "bare metal ion" in report[f"row {row['sodium']} (line {row['sodium'] + 1})"]
    assert "conflicting duplicate" in report[f"row {c} (line {c + 1})"]

    inputs = tmp_path / "to_predict.csv"
    with open(inputs, "w", newline="") as handle:
        csv.writer(handle).writerows([("name", "smiles"), *[(n, s) for n, s, _ in HOSTILE],
                                      ("n-C300", "C" * 300), ("tributyltin chloride", "CCCC[Sn](CCCC)(CCCC)Cl")])
    out = tmp_path / "predictions.csv"
    assert main(["predict", "--checkpoint", str(run), "--input", str(inputs), "--output", str(out)]) == 0
    said = capsys.readouterr()
    with open(out) as handle:
        predicted = {r["name"]: r for r in csv.DictReader(handle)}
    assert len(predicted) == len(HOSTILE) + 2  # every row, in the file
    for name in ("space", "element 118", "dummy"):
        assert predicted[name]["error"] and predicted[name]["dG"] == "" and predicted[name]["in_domain"] == ""
    for name, r in predicted.items():
        if not r["error"]:  # every prediction carries its flag, and a reason when it is outside
            assert r["in_domain"] in ("yes", "no") and (r["in_domain"] == "yes") == (r["domain"] == ""), name
    assert predicted["n-C300"]["in_domain"] == "no" and "300 heavy atoms" in predicted["n-C300"]["domain"]
    assert "element: Sn never in training" in predicted["tributyltin chloride"]["domain"]
    assert predicted["ethanol again"]["in_domain"] == "yes"
    assert "duplicate: the same molecule as" in predicted["ethanol again"]["notes"]
    assert "metal: contains Sn" in predicted["tributyltin chloride"]["notes"]
    assert "prediction(s) outside the training domain" in said.out + said.err
    assert "outside domain: 2" in said.out + said.err
