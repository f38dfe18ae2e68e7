"""Duplicates by canonical identity: reported, conflicts with both values, one side of every split."""

from __future__ import annotations

import numpy as np
import pytest
from sciarch_datasets.molecules import splits
from sciarch_datasets.molecules.duplicates import find_duplicates


def test_duplicates_are_found_and_conflicts_reported_with_every_value():
    ids = ["CCO", "c1ccccc1", "CCO", "CCN", "c1ccccc1", "CCN"]
    y = np.array([[-5.0], [-0.9], [-3.2], [1.0], [-0.9], [np.nan]])
    labels = [f"row {i + 1}" for i in range(6)]
    found = find_duplicates(ids, y, labels, ["dG"])
    assert found.groups == {"CCO": [0, 2], "c1ccccc1": [1, 4], "CCN": [3, 5]}
    assert found.conflicts == ["CCO"]  # equal values agree; a missing value is no conflict
    assert found.conflict_lines == ["CCO: dG row 1: -5; row 3: -3.2"]
    assert found.notes[0] == ["duplicate: the same molecule (CCO) as row 3", "conflicting duplicate: dG row 1: -5; row 3: -3.2"]
    assert found.notes[1] == ["duplicate: the same molecule (c1ccccc1) as row 5"]
    assert found.records == 6


def test_featurised_identities_are_canonical_and_keep_stereo(tmp_path):
    from sciarch_datasets.molecules.featurise import Featuriser, smiles_of

    smiles = ["CCO", "OCC", "C(O)C", "C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "CC(=O)[O-].[Na+]", "CC(=O)O"]
    ids = [smiles_of(Featuriser()((s,)), (s,)) for s in smiles]
    assert ids[0] == ids[1] == ids[2] and ids[3] != ids[4] and ids[5] != ids[6]
    standardised = [Featuriser(standardise=True)((s,))["smiles"] for s in smiles]
    assert standardised[5] == standardised[6]  # the sodium salt is its acid once standardised


@pytest.mark.parametrize("seed", range(6))
def test_every_split_keeps_one_molecule_on_one_side(seed):
    rng = np.random.default_rng(seed)
    groups = [f"m{int(k)}" for k in rng.integers(0, 40, size=120)]  # many molecules three times over

    def sides(parts):
        where = {}
        for k, part in enumerate(parts):
            for i in part:
                where.setdefault(groups[int(i)], set()).add(k)
        return where

    for parts in (splits.random_split(120, (0.8, 0.1, 0.1), seed, groups=groups),
                  *(splits.kfold_split(120, 5, f, 0.1, seed, groups=groups) for f in range(5))):
        assert sorted(np.concatenate(parts).tolist()) == list(range(120))
        assert all(len(s) == 1 for s in sides(parts).values())
    train, val, test = splits.predefined_split(120, 10, 0.2, seed, groups=groups)
    assert all(len(s) == 1 for s in sides((train, val)).values()) and len(test) == 10
    # without the groups the same data would put molecules on both sides: the test can fail
    assert any(len(s) > 1 for s in sides(splits.random_split(120, (0.8, 0.1, 0.1), seed)).values())


def test_the_data_module_reports_duplicates_and_conflicts(tmp_path, capsys):
    from sciarch_molecules.data import MoleculeData

    rows = ["CCO,-5.0", "OCC,-3.2", "c1ccccc1,-0.9", "c1ccccc1,-0.9"] + [f"{'C' * k}O,{-k / 2}" for k in range(3, 30)]
    path = tmp_path / "dups.csv"
    path.write_text("smiles,dG\n" + "\n".join(rows) + "\n")
    data = MoleculeData(path=str(path), targets=["dG"], cache=False)
    data.prepare_data()
    data.setup("fit")
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "2 molecule(s) appear more than once (4 records" in out
    assert "1 with conflicting target values" in out and "CCO: dG row 1 (line 2): -5; row 2 (line 3): -3.2" in out
    assert data.store.meta["notes"][1][0] == "duplicate: the same molecule (CCO) as row 1 (line 2)"
    where = {int(i): part for part, idx in data.split_indices.items() for i in idx}
    assert where[0] == where[1] and where[2] == where[3]
