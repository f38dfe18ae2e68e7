"""Molecule data sources: SMILES tables, SDF files, PDBbind-style protein–ligand complexes.

Readers of the real formats (MoleculeNet-style SMILES CSV, SDF with SD data fields, PDBbind
folders of pocket/protein PDB and ligand SDF/MOL2 files with an affinity index), RDKit
featurisation into PyTorch Geometric graphs with an on-disk cache, splits, and the embedded
defaults that need no download (FreeSolv and the RDKit solubility set, shipped in ``data/``
with their licences; generated complexes). Submodules import RDKit and torch; this package itself does not.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "embedded_file": "embedded",
    "Featuriser": "featurise",
    "featurise_all": "featurise",
    "read_smiles_csv": "tables",
    "read_sdf": "tables",
    "MoleculeTable": "tables",
    "molecule_store": "graphs",
    "GraphStore": "store",
    "random_split": "splits",
    "scaffold_split": "splits",
    "kfold_split": "splits",
    "predefined_split": "splits",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sciarch_datasets.molecules' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
