"""Generated protein–ligand complexes in the PDBbind layout, for smoke runs, tests and demos.

Real files, written with RDKit: each complex is a short peptide (``Chem.MolFromSequence``,
embedded with ETKDG, hydrogens included, written as a PDB file with residue records) and a small
drug-like ligand (an ETKDG conformer, randomly rotated and placed against the peptide without
clashes, written as an SDF file). Some pockets also carry a crystallographic water and a zinc ion
as HETATM records, so the reader's handling of both is exercised. The affinity is a fixed
function of the written geometry (so a 3D model has something real to learn):

    pK = 2 + 0.15 · (ligand–protein heavy-atom pairs within 4.5 Å)
           + 0.5 · (ligand N/O – protein N/O pairs within 3.5 Å) + 0.1 · (ligand heavy atoms) + noise

clipped to [2, 11], noise N(0, 0.1²). The set is a function of ``(n, seed)`` and is written once
into the cache (atomically) and reused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import sciarch

GENERATOR_VERSION = 1
PEPTIDES = ["GHKDWSY", "ACDEYKN", "RNWSGHT", "KYEDTCW", "SFHNQRD", "TWKEGYH"]
LIGANDS = ["c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "OC(=O)c1ccccc1O", "NCCc1ccc(O)c(O)c1", "c1ccc2[nH]ccc2c1",
           "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "Nc1ncnc2[nH]cnc12", "OCC1OC(O)C(O)C(O)C1O", "CN1CCC[C@H]1c1cccnc1",
           "O=C(O)c1ccncc1"]


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _embed(mol: Any, seed: int) -> Any:
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(mol, addResidueInfo=True)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True
        if AllChem.EmbedMolecule(mol, params) != 0:
            raise RuntimeError(f"ETKDG failed on {Chem.MolToSmiles(mol)}")
    return mol


def affinity(z_lig: np.ndarray, pos_lig: np.ndarray, z_prot: np.ndarray, pos_prot: np.ndarray,
             rng: np.random.Generator) -> float:
    """The generated pK of a pose (heavy atoms only), as documented above."""
    d = np.linalg.norm(pos_lig[:, None] - pos_prot[None], axis=-1)
    contacts = int((d < 4.5).sum())
    polar_lig, polar_prot = np.isin(z_lig, (7, 8)), np.isin(z_prot, (7, 8))
    polar = int((d[polar_lig][:, polar_prot] < 3.5).sum())
    pk = 2.0 + 0.15 * contacts + 0.5 * polar + 0.1 * len(z_lig) + rng.normal(0, 0.1)
    return float(np.clip(pk, 2.0, 11.0))


def _hetatm(serial: int, name: str, residue: str, number: int, pos: np.ndarray, element: str) -> str:
    return (f"HETATM{serial:5d} {name:<4s} {residue:>3s} B{number:4d}    "
            f"{pos[0]:8.3f}{pos[1]:8.3f}{pos[2]:8.3f}  1.00 20.00          {element:>2s}\n")


def write_complexes(root: str | Path, n: int = 16, seed: int = 0) -> Path:
    """Write ``n`` complexes and ``index.csv`` (id, pK) under ``root``; return the index path."""
    from rdkit import Chem

    root = Path(root)
    rng = np.random.default_rng(seed)
    peptides = []
    for k, sequence in enumerate(PEPTIDES[: max(1, min(len(PEPTIDES), (n + 3) // 4))]):
        peptide = _embed(Chem.MolFromSequence(sequence), seed=seed * 100 + k)
        peptides.append(peptide)
    rows = []
    for i in range(n):
        cid = f"g{i:03d}"
        peptide = peptides[i % len(peptides)]
        pos_pep = peptide.GetConformer().GetPositions()
        z_pep = np.array([a.GetAtomicNum() for a in peptide.GetAtoms()])
        heavy_pep = z_pep > 1
        ligand = _embed(Chem.MolFromSmiles(LIGANDS[int(rng.integers(len(LIGANDS)))]), seed=int(rng.integers(1 << 30)))
        pos_lig = ligand.GetConformer().GetPositions()
        pos_lig = (pos_lig - pos_lig.mean(0)) @ _rotation(rng).T
        anchor = pos_pep[heavy_pep][int(rng.integers(heavy_pep.sum()))]
        outward = anchor - pos_pep[heavy_pep].mean(0)
        outward /= np.linalg.norm(outward) + 1e-9
        offset = np.linalg.norm(pos_lig, axis=1).max() * 0.5
        # slide out along the outward direction until no heavy atom pair is closer than 2.9 Å
        z_lig = np.array([a.GetAtomicNum() for a in ligand.GetAtoms()])
        heavy_lig = z_lig > 1
        while True:
            placed = pos_lig + anchor + outward * offset
            closest = np.linalg.norm(placed[heavy_lig][:, None] - pos_pep[heavy_pep][None], axis=-1).min()
            if closest >= 2.9:
                break
            offset += 0.25
        conformer = ligand.GetConformer()
        for j, p in enumerate(placed):
            conformer.SetAtomPosition(j, p.tolist())
        pk = affinity(z_lig[heavy_lig], placed[heavy_lig], z_pep[heavy_pep], pos_pep[heavy_pep], rng)

        folder = root / cid
        folder.mkdir(parents=True, exist_ok=True)
        block = Chem.MolToPDBBlock(peptide, flavor=2 | 32).replace("END\n", "")  # no CONECT; TER after the chain
        extra, serial = "", peptide.GetNumAtoms() + 1
        if i % 2 == 0:  # a water next to the ligand: dropped by the reader unless keep_waters
            extra += _hetatm(serial, "O", "HOH", 201, placed[heavy_lig].mean(0) + outward * 3.0, "O")
            serial += 1
        if i % 3 == 0:  # a zinc ion near the peptide: kept as a pocket atom
            extra += _hetatm(serial, "ZN", "ZN", 202, anchor + outward * 2.2, "ZN")
        (folder / f"{cid}_pocket.pdb").write_text(block + extra + "END\n")
        ligand.SetProp("_Name", cid)
        ligand.SetProp("pK", f"{pk:.3f}")
        writer = Chem.SDWriter(str(folder / f"{cid}_ligand.sdf"))
        writer.write(ligand)
        writer.close()
        rows.append((cid, pk))
    index = root / "index.csv"
    index.write_text("id,pK\n" + "".join(f"{cid},{pk:.3f}\n" for cid, pk in rows))
    return index


def generated_complexes(n: int = 16, seed: int = 0) -> Path:
    """The folder of a generated set (written into the cache once, atomically)."""
    key = sciarch.content_key({"generator": GENERATOR_VERSION, "n": n, "seed": seed})
    folder = sciarch.cache_dir("molecules", "generated-complexes") / key
    if not (folder / "index.csv").is_file():
        with sciarch.atomic_dir(folder) as tmp:
            write_complexes(tmp, n=n, seed=seed)
    return folder
