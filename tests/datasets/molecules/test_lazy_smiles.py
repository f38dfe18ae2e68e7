"""Canonical SMILES made on demand: the same strings as written with the graph, and the same duplicates."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from sciarch_datasets.molecules import featurise as fz
from sciarch_datasets.molecules.duplicates import find_duplicates
from sciarch_datasets.molecules.embedded import embedded_file
from sciarch_datasets.molecules.graphs import CanonicalSmiles, identities, molecule_store, store_keys
from sciarch_datasets.molecules.store import GraphStore

Chem = fz.Chem

#: as test_featurise's: stereo (atoms, bonds, pseudo-asymmetric), isotopes, radicals, metals,
#: charges made by sanitisation, mixtures, a ring closure across a dot, explicit hydrogens
ODD_MOLECULES = ["CCO", "C/C=C/[C@H](F)Cl", "C[C@H]1CC[C@@H](C)CC1", "[2H]C([2H])Cl", "[13CH4]", "[CH3]", "[CH2]C",
                 "[Na+].[Cl-]", "CC(=O)[O-].[NH4+]", "C1.C1", "[Fe]", "[Cu+2].O", "O=N(=O)c1ccccc1", "N#[N+][O-]",
                 "c1cc[nH]c1", "C[S@@](=O)c1ccccc1", "[H][H]", "[H]", "C", "C#N", "F/C=C\\F", "O=C1CC[C@@H](N1)C(=O)O",
                 "C1CC2CCC1CC2", "c1ccc2ccccc2c1", "B(O)(O)c1ccccc1", "[Si](C)(C)(C)C", "CS(=O)(=O)O",
                 "[O-][Cl+3]([O-])([O-])O", "C[C@@H]1CC[C@@H](C)CC1", "[13CH3]C", "CC[C@@](C)(F)Cl"]


def _freesolv() -> list[str]:
    with open(embedded_file("freesolv"), newline="") as handle:
        return [row["smiles"] for row in csv.DictReader(handle)]


def _eager(smiles: str) -> str:
    """What the featuriser wrote before: the SMILES of the molecule it featurised, after featurising."""
    mol, _ = fz.parse_smiles(smiles)
    assert not isinstance(fz._arrays(mol, smiles.strip()), str)
    return Chem.MolToSmiles(mol)


def keys(featuriser, items):
    """The graph keys of the graphs ``featuriser`` makes of ``items``, as a store makes them."""
    graphs = [featuriser(item) for item in items]
    assert not any(isinstance(g, str) for g in graphs), graphs
    for g in graphs:
        g.pop("smiles", None)
        g.pop("notes")
    return store_keys(GraphStore.from_graphs(graphs, np.zeros((len(graphs), 1)), {})).tolist()


def test_smiles_made_on_demand_are_those_written_with_the_graph():
    featuriser = fz.Featuriser()
    for smiles in ODD_MOLECULES + _freesolv() + [" C[C@H](N)C(=O)O\n"]:
        graph = featuriser((smiles,))
        assert "smiles" not in graph, smiles
        assert fz.smiles_of(graph, (smiles,)) == _eager(smiles), smiles
    standardised = fz.Featuriser(standardise=True)(("CC(=O)[O-].[Na+]",))
    assert standardised["smiles"] == "CC(=O)O"  # a standardised molecule's SMILES is written at once


def test_the_graph_key_does_not_depend_on_how_the_molecule_is_written():
    rng = np.random.default_rng(0)
    featuriser = fz.Featuriser()
    for smiles in ODD_MOLECULES + _freesolv()[::7]:
        mol = Chem.MolFromSmiles(smiles)
        again = []
        for attempt in range(3):  # the atoms in another order, written in that order (Kekulé once)
            order = [int(i) for i in rng.permutation(mol.GetNumAtoms())]
            again.append(Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), canonical=False,
                                          kekuleSmiles=attempt == 2))
        assert len(set(keys(featuriser, [(s,) for s in [smiles, *again]]))) == 1, (smiles, again)
        for text in again:
            assert fz.smiles_of(featuriser((text,)), (text,)) == _eager(smiles), (smiles, text)
    # stereoisomers share a key (told apart by their SMILES); constitutional isomers do not
    found = keys(featuriser, [(s,) for s in ("C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "CC(N)C(=O)O", "F/C=C/F",
                                               "F/C=C\\F", "Cc1ccccc1C", "Cc1cccc(C)c1", "Cc1ccc(C)cc1", "CCO",
                                               "COC", "[13CH4]", "C")])
    assert found[0] == found[1] == found[2] and found[3] == found[4] and found[10] == found[11]
    assert len({found[0], found[3], *found[5:10], found[10]}) == 8


def test_graph_keys_of_a_store_are_those_of_each_graph_alone():
    featuriser = fz.Featuriser()
    items = [(s,) for s in ODD_MOLECULES]
    together = keys(featuriser, items)
    assert together == [keys(featuriser, [item])[0] for item in items]  # the stacking offsets do not matter
    assert len(set(together)) == len(together) - 3  # stereoisomers and isotopologues in the list share keys
    # two SMILES columns: the column markers are not in the key (a swapped row shares it: its SMILES tell)
    two = fz.Featuriser(components=2)
    pair = keys(two, [("CCO", "O"), ("O", "CCO"), ("OCC", "O"), ("CCN", "O")])
    assert pair[0] == pair[1] == pair[2] != pair[3]


ROWS = ["CCO", "OCC", "C[C@H](N)C(=O)O", "N[C@@H](C)C(=O)O", "C[C@@H](N)C(=O)O", "c1ccccc1", "C1=CC=CC=C1",
        "F/C=C/F", "F/C=C\\F", "Cc1ccc(C)cc1", "Cc1cccc(C)c1", "CC(=O)O"]


@pytest.mark.parametrize("components", [1, 2])
def test_duplicates_are_found_as_with_every_smiles_made(tmp_path, components):
    path = tmp_path / "m.csv"
    if components == 1:
        path.write_text("smiles,y\n" + "".join(f"{s},{i}\n" for i, s in enumerate(ROWS)))
        columns = None
    else:  # a solute and a solvent: the identity is both, joined
        path.write_text("solute,solvent,y\n" + "".join(f"{s},O,{i}\n" for i, s in enumerate(ROWS)))
        columns = ["solute", "solvent"]
    featuriser = fz.Featuriser(components=components)
    for attempt in ("written", "hit"):
        store = molecule_store(path, featuriser, smiles_columns=columns, targets=["y"], quiet=True)
        assert store.meta["cache"] == attempt
        smiles = store.meta["smiles"]
        assert isinstance(smiles, CanonicalSmiles) and smiles.made() == 0
        found = identities(smiles, store_keys(store))
        # made only where another record shares the graph key: not for the xylenes and acetic acid
        assert smiles.made() == len(ROWS) - 3 and found[-3:] == [(None, 9), (None, 10), (None, 11)]
        eager = [_eager(s) if components == 1 else f"{_eager(s)}.O" for s in ROWS]
        assert list(smiles) == eager
        y = np.arange(len(ROWS), dtype=np.float32)[:, None]
        lazy_groups = find_duplicates(found, y, [str(i) for i in range(len(ROWS))], ["y"]).groups
        eager_groups = find_duplicates(eager, y, [str(i) for i in range(len(ROWS))], ["y"]).groups
        assert sorted(lazy_groups.values()) == sorted(eager_groups.values()) == [[0, 1], [2, 3], [5, 6]]


def test_stores_of_two_files_find_duplicates_across_them_still_on_demand(tmp_path):
    from sciarch_molecules.data import concat_stores

    first, second = tmp_path / "train.csv", tmp_path / "test.csv"
    first.write_text("smiles,y\nCCO,1\nc1ccccc1,2\nCC(=O)O,3\n")
    second.write_text("smiles,y\nOCC,4\nCCN,5\n")
    stores = [molecule_store(p, fz.Featuriser(), targets=["y"], quiet=True) for p in (first, second)]
    both = concat_stores(stores)
    assert isinstance(both.meta["smiles"], CanonicalSmiles) and both.meta["smiles"].made() == 0
    found = identities(both.meta["smiles"], store_keys(both))
    assert found[0] == found[3] == "CCO" and both.meta["smiles"].made() == 2
    assert len(set(found)) == 4
    assert list(both.meta["scaffolds"]) == ["", "c1ccccc1", "", "", ""]


def test_without_canonical_smiles_there_are_no_smiles_to_make(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("smiles,y\nCCO,1\nOCC,2\n")
    store = molecule_store(path, fz.Featuriser(canonical_smiles=False), targets=["y"], quiet=True)
    assert "canonical_smiles" not in store.meta and store.meta["smiles"] == ["", ""]


def _eager_data(data):
    """``data`` with every record's canonical SMILES made first: the identities of before."""
    data.identities = lambda: list(data.store.meta["smiles"])
    return data


@pytest.mark.parametrize("split", ["random", "scaffold", "kfold", "predefined"])
def test_the_data_module_makes_smiles_only_where_keys_are_shared_and_splits_as_before(tmp_path, split, capsys):
    from sciarch_molecules.data import MoleculeData

    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    rows = ROWS + [f"{'C' * k}O" for k in range(3, 40)] + [f"c1ccccc1{'C' * k}N" for k in range(1, 12)]
    train.write_text("smiles,y\n" + "".join(f"{s},{i % 7}\n" for i, s in enumerate(rows)))
    test.write_text("smiles,y\nOCC,1\nNCC,2\nc1ccccc1CN,3\nCCCCCCCCCCCO,4\n")
    settings = {"targets": ["y"], "split": split, "split_seed": 3, "test_path": str(test) if split == "predefined"
                else None}
    lazy, eager = MoleculeData(path=str(train), **settings), _eager_data(MoleculeData(path=str(train), **settings))
    for data in (lazy, eager):
        data.prepare_data()
        data.setup("fit")
    smiles = lazy.store.meta["smiles"]
    assert isinstance(smiles, CanonicalSmiles)
    keys = store_keys(lazy.store)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    assert smiles.made() == int((counts[inverse] > 1).sum()) < len(smiles) / 3  # only those, after setup
    for part in ("train", "val", "test"):
        assert lazy.split_indices[part].tolist() == eager.split_indices[part].tolist(), part
    assert lazy.duplicates.groups == eager.duplicates.groups and lazy.duplicates.groups
    assert lazy.store.meta["notes"] == eager.store.meta["notes"]
    if split == "predefined":  # the test file's OCC, c1ccccc1CN and CCCCCCCCCCCO are training molecules
        said = capsys.readouterr()
        assert "3 molecule(s) of the test file are also in the training file" in said.out + said.err
    made = smiles.made()
    domain, before = lazy.domain().to_dict(), eager.domain().to_dict()
    assert smiles.made() == made  # the domain profiles the input SMILES: no canonical SMILES made for it
    assert domain["molecules"] == before["molecules"] and domain["elements"] == before["elements"]
    assert domain["heavy_atoms"] == before["heavy_atoms"]
    for name, bounds in before["descriptors"].items():
        assert domain["descriptors"][name] == pytest.approx(bounds, abs=1e-9), name
    lazy._write_data_report(tmp_path / "lazy")
    eager._write_data_report(tmp_path / "eager")
    assert (tmp_path / "lazy" / "data_report.csv").read_text() == (tmp_path / "eager" / "data_report.csv").read_text()
    assert [lazy.describe_record(i) for i in range(len(smiles))] == [eager.describe_record(i) for i in
                                                                      range(len(smiles))]


def test_a_store_cached_with_eager_smiles_is_not_read_as_one_made_on_demand(tmp_path):
    from sciarch_datasets.molecules.graphs import featurise_table, file_format, read_table
    from sciarch_datasets.molecules.store import cache_path

    path = tmp_path / "m.csv"
    path.write_text("smiles,y\nOCC,1\nCCO,2\n")
    featuriser = fz.Featuriser()
    # where the eager layout (SMILES in meta["smiles"], no "canonical_smiles" setting) was cached
    settings = {"reader": file_format(path), "smiles_columns": None, "targets": ["y"], "limit": None,
                **{k: v for k, v in featuriser.settings().items() if k != "canonical_smiles"}}
    old = featurise_table(read_table(path, targets=["y"]), fz.Featuriser(canonical_smiles=False))
    old.meta["smiles"] = ["stale", "stale"]  # would show if it were read
    GraphStore(old.tensors, {k: v for k, v in old.meta.items() if k != "scaffolds"}).save(
        cache_path("graphs", settings, path))
    store = molecule_store(path, featuriser, targets=["y"], quiet=True)
    assert store.meta["cache"] == "written" and list(store.meta["smiles"]) == ["CCO", "CCO"]
