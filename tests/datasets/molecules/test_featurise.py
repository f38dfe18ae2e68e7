"""Atom/bond features, directed edges, conformers, the cache and parallel featurisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sciarch_datasets.molecules import featurise as fz
from sciarch_datasets.molecules.featurise import ATOM_FEATURES, BOND_FEATURES, Featuriser, featurise_all
from sciarch_datasets.molecules.graphs import molecule_store
from sciarch_datasets.molecules.store import GraphStore


def _block(name):
    start = 0
    for block, width in fz.ATOM_FEATURE_BLOCKS:
        if block == name:
            return slice(start, start + width)
        start += width
    raise KeyError(name)


def test_atom_features_encode_element_charge_aromaticity_ring_and_hydrogens():
    graph = Featuriser()(("C[NH3+].c1ccccc1",))
    x = graph["x"]
    assert x.shape == (8, ATOM_FEATURES)
    nitrogen = x[1]
    assert nitrogen[_block("element")][6] == 1  # atomic number 7 at position 6
    assert nitrogen[_block("formal_charge")][fz.FORMAL_CHARGES.index(1)] == 1
    assert nitrogen[_block("hydrogens")][3] == 1
    assert nitrogen[_block("hybridisation")][fz.HYBRIDISATIONS.index("SP3")] == 1
    ring_carbon = x[2]
    assert ring_carbon[_block("aromatic")][0] == 1 and ring_carbon[_block("in_ring")][0] == 1
    assert nitrogen[_block("aromatic")][0] == 0 and nitrogen[_block("in_ring")][0] == 0
    assert x[0, _block("mass")][0] == pytest.approx(0.12011, abs=1e-4)
    # every one-hot block has exactly one column set
    for name, _ in fz.ATOM_FEATURE_BLOCKS[:6]:
        assert (x[:, _block(name)].sum(1) == 1).all(), name


def test_chirality_and_bond_stereo_are_encoded_as_cip_labels():
    graph = Featuriser()(("C/C=C/[C@H](F)Cl",))
    chiral = graph["x"][3][_block("chirality")]
    assert chiral[fz.CHIRALITY.index("R")] == 1 and chiral.sum() == 1
    assert (graph["x"][[0, 1, 2, 4, 5]][:, _block("chirality")][:, fz.CHIRALITY.index("none")] == 1).all()
    stereo = graph["edge_attr"][:, 6:]
    assert stereo[:, fz.BOND_STEREO.index("E")].sum() == 2  # the double bond, both directions
    # written the other way round: RDKit's tag flips (CW <-> CCW), the label does not
    again = Featuriser()(("Cl[C@@H](F)/C=C/C",))
    assert again["x"][1][_block("chirality")][fz.CHIRALITY.index("R")] == 1
    # cis in RDKit's own terms (relative to the written neighbours) is Z by CIP
    z = Featuriser()(("Cl/C=C\\Cl",))["edge_attr"][:, 6:]
    assert z[:, fz.BOND_STEREO.index("Z")].sum() == 2
    # pseudo-asymmetric ring centres keep cis and trans apart
    cis, trans = Featuriser()(("C[C@H]1CC[C@H](C)CC1",)), Featuriser()(("C[C@H]1CC[C@@H](C)CC1",))
    assert cis["x"][1][_block("chirality")][fz.CHIRALITY.index("r")] == 1
    assert trans["x"][1][_block("chirality")][fz.CHIRALITY.index("s")] == 1


@pytest.mark.parametrize("labels", ["fast", "exact"])
def test_both_stereo_labellings_name_the_same_stereo_of_ordinary_molecules(labels):
    # L-alanine S, (R)-glyceraldehyde, (2Z)-but-2-ene, and a pseudo-asymmetric centre (the fast
    # labels leave it unnamed, so the new labeller names it)
    f = Featuriser(stereo_labels=labels)
    assert f(("C[C@H](N)C(=O)O",))["x"][1][_block("chirality")][fz.CHIRALITY.index("S")] == 1
    assert f(("OC[C@@H](O)C=O",))["x"][2][_block("chirality")][fz.CHIRALITY.index("R")] == 1
    assert f(("C/C=C\\C",))["edge_attr"][:, 6:][:, fz.BOND_STEREO.index("Z")].sum() == 2
    assert f(("C[C@H]1CC[C@@H](C)CC1",))["x"][1][_block("chirality")][fz.CHIRALITY.index("s")] == 1


def test_an_unknown_stereo_labelling_is_refused_by_name():
    with pytest.raises(ValueError, match="stereo_labels must be 'fast' or 'exact', not 'cip'"):
        Featuriser(stereo_labels="cip")


def test_sdf_records_with_explicit_hydrogens_give_the_graph_of_their_smiles():
    from rdkit import Chem
    from rdkit.Chem import AllChem

    smiles = "C[C@H](N)C(=O)O"
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    record = Chem.MolFromMolBlock(Chem.MolToMolBlock(mol), sanitize=False, removeHs=False)
    # 3D records carry chiral tags on every tetrahedral atom (here the methyl too): cleaned first
    assert record.GetAtomWithIdx(0).GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED
    from_sdf, from_smiles = Featuriser()(record), Featuriser()((smiles,))
    assert (from_sdf["x"] == from_smiles["x"]).all()
    assert (from_sdf["edge_attr"] == from_smiles["edge_attr"]).all()


def test_each_bond_becomes_two_directed_edges_with_equal_features():
    graph = Featuriser()(("CC(=O)O",))
    edge_index, edge_attr = graph["edge_index"], graph["edge_attr"]
    assert edge_index.shape == (2, 6) and edge_attr.shape == (6, BOND_FEATURES)
    for k in range(0, 6, 2):
        assert (edge_index[:, k] == edge_index[::-1, k + 1]).all()
        assert (edge_attr[k] == edge_attr[k + 1]).all()
    double = edge_attr[:, fz.BOND_TYPES.index("DOUBLE")]
    assert double.sum() == 2


def test_several_smiles_columns_make_one_graph_marking_each_atom_with_its_column():
    graph = Featuriser(components=2)(("CCO", "O"))
    assert graph["x"].shape == (4, ATOM_FEATURES + 2)
    assert graph["x"][:, -2:].tolist() == [[1, 0], [1, 0], [1, 0], [0, 1]]
    assert "smiles" not in graph and fz.smiles_of(graph, ("CCO", "O")) == "CCO.O"  # made on demand


def test_invalid_smiles_return_rdkit_reason():
    reason = Featuriser()(("C1CC(",))
    assert isinstance(reason, str) and reason.startswith("SMILES Parse Error: syntax error")
    assert Featuriser()(("",)) == "empty SMILES"


def test_conformers_give_heavy_atom_coordinates_with_sensible_bond_lengths():
    graph = Featuriser(conformers=True)(("CCO",))
    pos = graph["pos"]
    assert pos.shape == (3, 3)
    assert np.linalg.norm(pos[0] - pos[1]) == pytest.approx(1.52, abs=0.05)  # C–C
    assert np.linalg.norm(pos[1] - pos[2]) == pytest.approx(1.42, abs=0.05)  # C–O
    again = Featuriser(conformers=True)(("CCO",))["pos"]
    assert np.allclose(pos, again)  # seeded


def test_parallel_featurisation_matches_serial():
    items = [(s,) for s in ["CCO", "c1ccccc1", "C1CC(", "CC(=O)N", "O=C=O", "CCCl"] * 3]
    serial = featurise_all(Featuriser(), items, workers=0)
    parallel = featurise_all(Featuriser(), items, workers=2)
    assert len(serial) == len(parallel) == 18
    for a, b in zip(serial, parallel, strict=True):
        if isinstance(a, str):
            assert a == b
        else:
            assert np.array_equal(a["x"], b["x"]) and np.array_equal(a["edge_index"], b["edge_index"])


def test_store_round_trip_gives_back_each_graph(tmp_path):
    items = [("CCO",), ("c1ccccc1",), ("[Na+]",)]
    graphs = featurise_all(Featuriser(), items, workers=0)
    for g in graphs:
        assert "smiles" not in g  # made only when asked for (graphs.CanonicalSmiles)
        assert "scaffold" not in g  # made only when a scaffold split asks (graphs.Scaffolds)
    store = GraphStore.from_graphs(graphs, np.array([[1.0], [2.0], [np.nan]]), {"rows": [1, 2, 3]})
    store.save(tmp_path / "s.pt")
    loaded = GraphStore.load(tmp_path / "s.pt")
    assert len(loaded) == 3 and loaded.meta["rows"] == [1, 2, 3]
    benzene = loaded.get(1)
    assert benzene.num_nodes == 6 and benzene.edge_index.shape == (2, 12)
    assert int(benzene.edge_index.max()) == 5  # indices are local to the graph
    sodium = loaded.get(2)
    assert sodium.num_nodes == 1 and sodium.edge_index.shape == (2, 0) and torch.isnan(sodium.y).all()


def test_cache_is_keyed_by_content_and_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "t.csv"
    path.write_text("smiles,y\nCCO,1\nCCC,2\n")
    first = molecule_store(path, Featuriser(), targets=["y"], quiet=True)
    second = molecule_store(path, Featuriser(), targets=["y"], quiet=True)
    assert first.meta["cache"] == "written" and second.meta["cache"] == "hit"
    assert first.meta["cache_file"] == second.meta["cache_file"]
    with_pos = molecule_store(path, Featuriser(conformers=True), targets=["y"], quiet=True)
    assert with_pos.meta["cache"] == "written" and "pos" in with_pos.tensors
    path.write_text("smiles,y\nCCO,1\nCCC,2\nCCCC,3\n")  # same name, new content
    changed = molecule_store(path, Featuriser(), targets=["y"], quiet=True)
    assert changed.meta["cache"] == "written" and len(changed) == 3


def test_when_the_cip_labeller_gives_up_the_legacy_labels_are_used(monkeypatch):
    from rdkit.Chem import rdCIPLabeler

    def gives_up(*args, **kwargs):
        raise RuntimeError("MaxIterationsExceeded")

    expected = Featuriser()(("C[C@H](N)C(=O)O",))["x"]
    monkeypatch.setattr(rdCIPLabeler, "AssignCIPLabels", gives_up)
    assert (Featuriser()(("C[C@H](N)C(=O)O",))["x"] == expected).all()
    assert (Featuriser()((" C[C@H](N)C(=O)O\n",))["x"] == expected).all()  # the SMILES as it was parsed: stripped


def test_scaffolds_are_made_from_the_smiles_only_when_asked_for(tmp_path):
    from sciarch_datasets.molecules.featurise import murcko_scaffold
    from sciarch_datasets.molecules.graphs import Scaffolds, molecule_store

    path = tmp_path / "m.csv"
    path.write_text("smiles,y\nc1ccccc1CCO,1\nCCO,2\nO=C(O)C1CCCCC1,3\n[Na+].[Cl-],4\n")
    store = molecule_store(path, Featuriser(), targets=["y"], quiet=True)
    scaffolds = store.meta["scaffolds"]
    assert isinstance(scaffolds, Scaffolds) and scaffolds._values is None and len(scaffolds) == 4
    expected = [murcko_scaffold(fz.Chem.MolFromSmiles(s)) for s in ["c1ccccc1CCO", "CCO", "O=C(O)C1CCCCC1", "[Na+].[Cl-]"]]
    assert list(scaffolds[:4]) == expected == ["c1ccccc1", "", "C1CCCCC1", ""]
    again = molecule_store(path, Featuriser(), targets=["y"], quiet=True)  # from the cache: the same
    assert again.meta["cache"] == "hit" and list(again.meta["scaffolds"]) == expected


#: molecules that take every branch of the one-pass featuriser: stereo (atoms, bonds, pseudo-
#: asymmetric), isotopes, radicals, metals, charges made by sanitisation (a pentavalent nitro),
#: mixtures, a ring closure across a dot, explicit hydrogens, single atoms
ODD_MOLECULES = ["CCO", "C/C=C/[C@H](F)Cl", "C[C@H]1CC[C@@H](C)CC1", "[2H]C([2H])Cl", "[13CH4]", "[CH3]", "[CH2]C",
                 "[Na+].[Cl-]", "CC(=O)[O-].[NH4+]", "C1.C1", "[Fe]", "[Cu+2].O", "O=N(=O)c1ccccc1", "N#[N+][O-]",
                 "c1cc[nH]c1", "C[S@@](=O)c1ccccc1", "[H][H]", "[H]", "C", "C#N", "F/C=C\\F", "O=C1CC[C@@H](N1)C(=O)O",
                 "C1CC2CCC1CC2", "c1ccc2ccccc2c1", "B(O)(O)c1ccccc1", "[Si](C)(C)(C)C", "CS(=O)(=O)O", "[O-][Cl+3]([O-])([O-])O",
                 # a bond to a metal RDKit's parser makes dative, and one written dative
                 "CN(C)C[C-]12C3=C4C5=C1[Fe++]23456789[C-]%10C6=C7C8=C9%10", "N->[Pt](Cl)(Cl)<-N",
                 "[CH3][C@@H]1CC[C@H]([CH3])CC1", "C1=CC=CC=C1"]


def _one_by_one(mol, exact: bool):
    """The reference: :func:`atom_features` and :func:`bond_features` called atom by atom, bond by bond."""
    fz.assign_stereo_labels(mol, exact)
    x = np.stack([fz.atom_features(mol.GetAtomWithIdx(i)) for i in range(mol.GetNumAtoms())])
    rows, ends = [], []
    for k in range(mol.GetNumBonds()):
        bond = mol.GetBondWithIdx(k)
        rows += [fz.bond_features(bond)] * 2
        u, v = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        ends += [(u, v), (v, u)]
    edge_attr = np.stack(rows) if rows else np.zeros((0, BOND_FEATURES), dtype=np.float32)
    edge_index = np.array(ends, dtype=np.int64).T.reshape(2, -1)
    return x, edge_index, edge_attr


@pytest.mark.parametrize("labels", ["fast", "exact"])
def test_the_one_pass_features_are_those_of_atom_features_and_bond_features_one_by_one(labels):
    from rdkit import Chem
    from sciarch_datasets.molecules.embedded import embedded_file
    from sciarch_datasets.molecules.standardise import notes

    supplier = Chem.SDMolSupplier(str(embedded_file("solubility-train")), removeHs=False)
    records = [m for _, m in zip(range(150), supplier, strict=False) if m is not None]
    items = [(s,) for s in ODD_MOLECULES] + [(Chem.MolToSmiles(m),) for m in records] + records
    featuriser = Featuriser(stereo_labels=labels)
    for item in items:
        graph = featuriser(item)
        assert not isinstance(graph, str), (item, graph)
        if isinstance(item, tuple):
            mol = Chem.MolFromSmiles(item[0])
        else:  # an SDF record, prepared as the featuriser prepares it
            mol = Chem.RemoveHs(Chem.Mol(item), sanitize=False)
            mol.UpdatePropertyCache(strict=False)
        x, edge_index, edge_attr = _one_by_one(mol, labels == "exact")
        shown = item if isinstance(item, tuple) else Chem.MolToSmiles(item)
        assert graph["x"].dtype == np.float32 and np.array_equal(graph["x"], x), shown
        assert np.array_equal(graph["edge_index"], edge_index) and np.array_equal(graph["edge_attr"], edge_attr), shown
        assert graph["notes"] == notes(mol), shown
        assert fz.smiles_of(graph, item) == Chem.MolToSmiles(mol), shown
    # refusals are those of the checks one by one, too
    assert featuriser(("*CC",)).startswith("dummy atom '*'")
    assert "outside the elements 1-100" in featuriser(("[Og]",))


def test_without_canonical_smiles_the_graph_is_the_same_and_the_cache_key_differs(tmp_path, monkeypatch):
    plain, without = Featuriser(), Featuriser(canonical_smiles=False)
    for smiles in ODD_MOLECULES:
        a, b = plain((smiles,)), without((smiles,))
        assert "smiles" not in b and all(np.array_equal(a[k], b[k]) for k in ("x", "z", "edge_index", "edge_attr"))
    # a new cache key: stores cached with eager SMILES (no such setting) are not read as on-demand ones
    assert plain.settings()["canonical_smiles"] == f"on demand, graph keys {fz.GRAPH_KEY_VERSION}"
    assert without.settings()["canonical_smiles"] is False


def test_the_feature_row_tables_give_the_same_graphs_when_they_start_again(monkeypatch):
    # the tables of atom and bond rows grow (doubling) and start again past their capacity (between
    # molecules): one row to start with and a capacity of 2 make them grow within molecules and start
    # again before almost every one, and the graphs stay the same
    expected = [Featuriser(canonical_smiles=False)((s,)) for s in ODD_MOLECULES]
    monkeypatch.setattr(fz._Rows, "capacity", 2)
    monkeypatch.setattr(fz._Rows, "initial", 1)
    for table in (fz._ATOM_ROWS, fz._BOND_ROWS):
        table.reset()
    for smiles, graph in zip(ODD_MOLECULES, expected, strict=True):
        again = Featuriser(canonical_smiles=False)((smiles,))
        assert all(np.array_equal(graph[k], again[k]) for k in ("x", "z", "edge_index", "edge_attr")), smiles
    assert len(fz._ATOM_ROWS) < 2 + max(len(g["z"]) for g in expected)
