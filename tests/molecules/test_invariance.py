"""Symmetry tests that a broken architecture fails.

A molecule is the same whatever order its atoms are listed in: every model's prediction must not
change (to 1e-5) when the atoms (and bonds) of each molecule are permuted. A complex is the same
wherever it sits and however it is turned: SchNet, DimeNet++ and EGNN must predict the same for a
rotated and translated complex, and EGNN's output coordinates must rotate and translate with it.
Each check is also run on a deliberately broken model, to show it can fail.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from sciarch_datasets.molecules.featurise import ATOM_FEATURES, BOND_FEATURES, Featuriser
from sciarch_molecules.models.attentivefp import AttentiveFP
from sciarch_molecules.models.dimenet import DimeNetPlusPlus
from sciarch_molecules.models.dmpnn import DMPNN
from sciarch_molecules.models.egnn import EGNN
from sciarch_molecules.models.gine import GINE
from sciarch_molecules.models.schnet import SchNet
from torch_geometric.data import Batch, Data

SMILES = ["CC(=O)Nc1ccc(O)cc1", "C[C@H](N)C(=O)O", "c1ccc2[nH]ccc2c1", "OCC1OC(O)C(O)C(O)C1O", "[Na+].[Cl-]"]

TWO_D = {
    "dmpnn": lambda: DMPNN(ATOM_FEATURES, BOND_FEATURES, out_features=2, hidden=32, ffn_hidden=16),
    "gine": lambda: GINE(ATOM_FEATURES, BOND_FEATURES, out_features=2, hidden=32, depth=3, ffn_hidden=16),
    "attentivefp": lambda: AttentiveFP(ATOM_FEATURES, BOND_FEATURES, out_features=2, hidden=32, depth=2, timesteps=2),
}
THREE_D = {
    "schnet": lambda: SchNet(out_features=2, hidden=32, filters=32, interactions=2, cutoff=4.0, cutoff_inter=5.0,
                             max_neighbours=None),
    "dimenet": lambda: DimeNetPlusPlus(out_features=2, hidden=16, blocks=2, int_emb_size=8, basis_emb_size=4,
                                       out_emb_channels=16, cutoff=4.0, cutoff_inter=5.0, max_neighbours=None,
                                       output_initializer="glorot_orthogonal"),  # zeros would predict 0 for all
    "egnn": lambda: EGNN(out_features=2, hidden=32, layers=3, cutoff=4.0, cutoff_inter=5.0, max_neighbours=None),
}


@functools.cache
def _featurised(conformers: bool) -> tuple:
    return tuple(Featuriser(conformers=conformers)((smiles,)) for smiles in SMILES)


def molecules(conformers: bool = False) -> list[Data]:
    out = []
    for g in _featurised(conformers):
        data = Data(x=torch.from_numpy(g["x"]), edge_index=torch.from_numpy(g["edge_index"]),
                    edge_attr=torch.from_numpy(g["edge_attr"]), z=torch.from_numpy(g["z"]))
        if conformers:
            data.pos = torch.from_numpy(g["pos"])
        out.append(data)
    return out


def complexes(n: int = 3, seed: int = 0) -> list[Data]:
    """Ligand + pocket point clouds: a compact ligand and protein atoms around it."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        n_lig, n_prot = 9, 23
        ligand = torch.randn(n_lig, 3, generator=g) * 1.2
        protein = torch.randn(n_prot, 3, generator=g) * 2.5 + 1.5
        z = torch.cat([torch.randint(6, 9, (n_lig,), generator=g), torch.randint(6, 9, (n_prot,), generator=g)])
        z[-1] = 30  # a zinc ion in the pocket
        node_type = torch.cat([torch.zeros(n_lig, dtype=torch.long), torch.ones(n_prot, dtype=torch.long)])
        out.append(Data(z=z, pos=torch.cat([ligand, protein]), node_type=node_type))
    return out


def permuted(data: Data, generator: torch.Generator) -> Data:
    """The same graph with its atoms renumbered and its edges reordered."""
    n = data.num_nodes
    perm = torch.randperm(n, generator=generator)  # new position k holds old atom perm[k]
    new_index = torch.empty(n, dtype=torch.long)
    new_index[perm] = torch.arange(n)
    fields = {k: data[k][perm] for k in ("x", "z", "pos", "node_type") if data.get(k) is not None}
    if data.get("edge_index") is not None:
        order = torch.randperm(data.edge_index.shape[1], generator=generator)
        fields["edge_index"] = new_index[data.edge_index][:, order]
        fields["edge_attr"] = data.edge_attr[order]
    return Data(**fields)


def random_rigid_motion(generator: torch.Generator, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=dtype))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q, torch.randn(3, generator=generator, dtype=dtype) * 10


def moved(data: Data, rotation: torch.Tensor, shift: torch.Tensor) -> Data:
    out = data.clone()
    out.pos = data.pos @ rotation.T + shift
    return out


def assert_permutation_invariant(model: torch.nn.Module, graphs: list[Data], atol: float = 1e-5) -> None:
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        reference = model(Batch.from_data_list(graphs))
        for _ in range(3):
            shuffled = model(Batch.from_data_list([permuted(d, g) for d in graphs]))
            torch.testing.assert_close(shuffled, reference, atol=atol, rtol=0)


def assert_rigid_motion_invariant(model: torch.nn.Module, graphs: list[Data], atol: float = 1e-8) -> None:
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        reference = model(Batch.from_data_list(graphs))
        for _ in range(3):
            rotation, shift = random_rigid_motion(g)
            turned = model(Batch.from_data_list([moved(d, rotation, shift) for d in graphs]))
            torch.testing.assert_close(turned, reference, atol=atol, rtol=0)


@pytest.mark.parametrize("name", sorted(TWO_D))
def test_2d_models_ignore_atom_order(name):
    torch.manual_seed(0)
    model = TWO_D[name]().eval()
    out = model(Batch.from_data_list(molecules()))
    assert out.shape == (len(SMILES), 2) and out.std() > 0  # a constant model would pass trivially
    assert_permutation_invariant(model, molecules())


def as_double(graphs: list[Data]) -> list[Data]:
    out = [d.clone() for d in graphs]
    for d in out:
        d.pos = d.pos.double()
    return out


@pytest.mark.parametrize("name", sorted(THREE_D))
def test_3d_models_ignore_atom_order(name):
    # in float64: DimeNet++ sums hundreds of terms, and float32 rounding alone reaches 1e-5
    torch.manual_seed(0)
    model = THREE_D[name]().double().eval()
    assert_permutation_invariant(model, as_double(complexes()))
    assert_permutation_invariant(model, as_double(molecules(conformers=True)))


@pytest.mark.parametrize("name", sorted(THREE_D))
def test_3d_models_ignore_rotation_and_translation_of_a_complex(name):
    torch.manual_seed(0)
    model = THREE_D[name]().double().eval()
    graphs = as_double(complexes())
    with torch.no_grad():
        out = model(Batch.from_data_list(graphs))
    assert out.std() > 0
    assert_rigid_motion_invariant(model, graphs)


def test_egnn_output_coordinates_rotate_and_translate_with_the_input():
    torch.manual_seed(0)
    model = EGNN(hidden=32, layers=3, cutoff=4.0, cutoff_inter=5.0, max_neighbours=None).double().eval()
    for layer in model.layers:  # make the coordinate updates large enough to matter
        torch.nn.init.normal_(layer.phi_x[-1].weight, std=0.3)
    graphs = as_double(complexes())
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        _, x = model.encode(Batch.from_data_list(graphs))
        original = torch.cat([d.pos for d in graphs])
        assert (x - original).abs().max() > 1e-2  # the layers do move the atoms
        for _ in range(3):
            rotation, shift = random_rigid_motion(g)
            _, x_moved = model.encode(Batch.from_data_list([moved(d, rotation, shift) for d in graphs]))
            torch.testing.assert_close(x_moved, x @ rotation.T + shift, atol=1e-8, rtol=0)


def test_edge_types_separate_intra_and_inter_molecular_edges():
    from sciarch_molecules.models.geometry import complex_graph

    pos = torch.tensor([[0.0, 0, 0], [1.5, 0, 0], [0, 4.5, 0], [0, 4.5, 1.5]])
    node_type = torch.tensor([0, 0, 1, 1])
    edge_index, edge_type, distance = complex_graph(pos, None, node_type, cutoff_intra=2.0, cutoff_inter=5.0)
    pairs = {(int(j), int(i)): int(t) for (j, i), t in zip(edge_index.T, edge_type, strict=True)}
    assert pairs[(0, 1)] == 0 and pairs[(2, 3)] == 1  # ligand–ligand, protein–protein
    assert pairs[(0, 2)] == 2 and pairs[(2, 0)] == 2  # ligand–protein, within the inter cutoff
    assert (1, 3) in pairs  # 4.97 Å across: inside 5.0
    assert torch.all(distance[edge_type < 2] <= 2.0)
    _, only_intra, _ = complex_graph(pos, None, node_type, cutoff_intra=2.0, cutoff_inter=2.0)
    assert (only_intra < 2).all()


class _UsesRawCoordinates(torch.nn.Module):
    """A broken 3D model: it reads absolute positions."""

    def forward(self, batch):
        from sciarch_molecules.models.readout import graph_readout

        return graph_readout(batch.pos, batch.batch, batch.num_graphs, "sum")[:, :2]


class _OrderDependent(torch.nn.Module):
    """A broken 2D model: it weights atoms by their position in the list."""

    def forward(self, batch):
        from sciarch_molecules.models.readout import graph_readout

        weight = torch.arange(batch.num_nodes, dtype=batch.x.dtype)[:, None]
        return graph_readout(batch.x[:, 5:7] * weight, batch.batch, batch.num_graphs, "sum")  # C and N columns


def test_the_checks_catch_broken_models():
    with pytest.raises(AssertionError):
        assert_permutation_invariant(_OrderDependent(), molecules())
    with pytest.raises(AssertionError):
        assert_rigid_motion_invariant(_UsesRawCoordinates(), as_double(complexes()))


# -- the same molecule written as different SMILES ------------------------------------------------


@functools.cache
def freesolv_stereo_smiles() -> tuple[str, ...]:
    """The 60 FreeSolv molecules with a stereocentre or a stereo double bond (the set the issue measured)."""
    import csv

    from rdkit import Chem
    from sciarch_datasets.molecules.embedded import embedded_file

    out = []
    with open(embedded_file("freesolv")) as handle:
        for row in csv.DictReader(handle):
            mol = Chem.MolFromSmiles(row["smiles"])
            if any(a.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for a in mol.GetAtoms()) or \
                    any(b.GetStereo() != Chem.BondStereo.STEREONONE for b in mol.GetBonds()):
                out.append(row["smiles"])
    # pseudo-asymmetric centres (r/s), Z and E in and out of rings, a sulfoxide, an enantiomer pair
    return tuple(out) + ("C[C@H]1CC[C@@H](C)CC1", "C[C@H]1CC[C@H](C)CC1", "C1CCC/C=C/CCC1", "Cl/C=C\\Cl",
                         "C[S@](=O)c1ccccc1", "C[C@@H](N)C(=O)O", "C[C@H](N)C(=O)O")


def as_data(graph: dict) -> Data:
    return Data(x=torch.from_numpy(graph["x"]), edge_index=torch.from_numpy(graph["edge_index"]),
                edge_attr=torch.from_numpy(graph["edge_attr"]))


def random_smiles_graphs(smiles: tuple[str, ...], n: int, featuriser) -> list[list[Data]]:
    """For each of ``n`` rounds, every molecule from a different RDKit random SMILES (seeded)."""
    from rdkit import Chem

    rounds: list[list[Data]] = [[] for _ in range(n)]
    for k, s in enumerate(smiles):
        variants = Chem.MolToRandomSmilesVect(Chem.MolFromSmiles(s), n, randomSeed=k + 1)
        for r, variant in enumerate(variants):
            rounds[r].append(as_data(featuriser((variant,))))
    return rounds


def max_prediction_change(model: torch.nn.Module, rounds: list[list[Data]]) -> float:
    with torch.no_grad():
        outputs = [model(Batch.from_data_list(graphs)) for graphs in rounds]
    return max(float((out - outputs[0]).abs().max()) for out in outputs[1:])


@pytest.mark.parametrize("name", sorted(TWO_D))
def test_2d_models_give_one_prediction_whatever_the_smiles_of_a_stereo_molecule(name):
    smiles = freesolv_stereo_smiles()
    assert len(smiles) == 60 + 7
    rounds = random_smiles_graphs(smiles, 5, Featuriser())
    # the SMILES really differ in atom order (else the test would show nothing)
    assert sum(not torch.equal(a.x, b.x) for a, b in zip(rounds[0], rounds[1], strict=True)) > 40
    torch.manual_seed(0)
    model = TWO_D[name]().eval()
    out = model(Batch.from_data_list(rounds[0]))
    assert out.std() > 0
    assert max_prediction_change(model, rounds) <= 1e-5


def _chirality_columns() -> slice:
    from sciarch_datasets.molecules import featurise as fz

    start = 0
    for name, width in fz.ATOM_FEATURE_BLOCKS:
        if name == "chirality":
            return slice(start, start + width)
        start += width
    raise KeyError("chirality")


class _TagFeaturiser:
    """The old, broken encoding: RDKit's CW/CCW tag, relative to the order atoms were written in."""

    def __call__(self, item):
        from rdkit import Chem

        graph = Featuriser()(item)
        block = graph["x"][:, _chirality_columns()]  # a view: writing it writes the graph
        for atom in Chem.MolFromSmiles(item[0]).GetAtoms():
            tag = atom.GetChiralTag()
            if tag in (Chem.ChiralType.CHI_TETRAHEDRAL_CW, Chem.ChiralType.CHI_TETRAHEDRAL_CCW):
                block[atom.GetIdx()] = 0.0
                block[atom.GetIdx(), 1 if tag == Chem.ChiralType.CHI_TETRAHEDRAL_CW else 2] = 1.0
        return graph


def test_the_random_smiles_check_catches_order_dependent_stereo_features():
    rounds = random_smiles_graphs(freesolv_stereo_smiles(), 5, _TagFeaturiser())
    torch.manual_seed(0)
    model = TWO_D["dmpnn"]().eval()
    assert max_prediction_change(model, rounds) > 1e-3


def test_enantiomers_differ_in_the_chirality_columns_only():
    from sciarch_datasets.molecules import featurise as fz

    f = Featuriser()
    r, s, flat = f(("C[C@@H](N)C(=O)O",)), f(("C[C@H](N)C(=O)O",)), f(("CC(N)C(=O)O",))
    columns = _chirality_columns()
    assert r["x"][1, columns][fz.CHIRALITY.index("R")] == 1 and s["x"][1, columns][fz.CHIRALITY.index("S")] == 1
    for graph in (r, s):
        other = np.delete(graph["x"], np.arange(columns.start, columns.stop), axis=1)
        assert (other == np.delete(flat["x"], np.arange(columns.start, columns.stop), axis=1)).all()
