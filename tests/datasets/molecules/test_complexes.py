"""PDBbind-style complexes: pocket selection and the deliberate handling of hydrogens, waters,
alternate locations, metal ions, other HETATM groups and unreadable complexes."""

from __future__ import annotations

import numpy as np
import pytest
import sciarch
from sciarch_datasets.molecules.complexes import (
    ATOMIC_NUMBER,
    ComplexReader,
    PocketSettings,
    complexes_store,
    read_index,
    read_pdb_atoms,
)


def atom(serial, name, residue, number, x, y, z, element, *, record="ATOM", altloc=" ", occupancy=1.0, chain="A"):
    return (f"{record:<6s}{serial:5d} {name:<4s}{altloc}{residue:>3s} {chain}{number:4d}    "
            f"{x:8.3f}{y:8.3f}{z:8.3f}{occupancy:6.2f} 20.00          {element:>2s}\n")


POCKET = "".join([
    atom(1, "N", "ALA", 1, 3.0, 0.0, 0.0, "N"),
    atom(2, "CA", "ALA", 1, 3.5, 1.0, 0.0, "C"),
    atom(3, "CB", "ALA", 1, 4.0, 0.0, 1.0, "C", altloc="A", occupancy=0.3),
    atom(4, "CB", "ALA", 1, 4.2, -0.5, 1.2, "C", altloc="B", occupancy=0.7),
    atom(5, "H", "ALA", 1, 2.5, -0.5, 0.0, "H"),
    atom(6, "CA", "GLY", 2, 30.0, 0.0, 0.0, "C"),  # far from the ligand: not in the pocket
    atom(7, "O", "HOH", 101, 0.0, 3.0, 0.0, "O", record="HETATM"),
    atom(8, "ZN", "ZN", 102, 0.0, 0.0, 2.5, "ZN", record="HETATM"),
    atom(9, "C1", "GOL", 103, 0.0, -2.5, 0.0, "C", record="HETATM"),  # glycerol from the buffer
    "TER\n", "ENDMDL\n",
    atom(10, "CA", "ALA", 1, 0.5, 0.5, 0.5, "C"),  # a second model: ignored
    "END\n",
])


def write_complex(root, cid="1abc", pocket=POCKET, ligand_smiles="CCO", ligand_format="sdf"):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    folder = root / cid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{cid}_pocket.pdb").write_text(pocket)
    if ligand_smiles is not None:
        mol = Chem.AddHs(Chem.MolFromSmiles(ligand_smiles))
        AllChem.EmbedMolecule(mol, randomSeed=0)
        conf = mol.GetConformer()
        centre = conf.GetPositions().mean(0)
        for i in range(mol.GetNumAtoms()):
            conf.SetAtomPosition(i, (conf.GetPositions()[i] - centre).tolist())
        if ligand_format == "sdf":
            writer = Chem.SDWriter(str(folder / f"{cid}_ligand.sdf"))
            writer.write(mol)
            writer.close()
    return folder


def test_pdb_reader_keeps_the_first_model_and_reads_elements():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.pdb"
        path.write_text(POCKET)
        atoms = read_pdb_atoms(path)
    assert len(atoms) == 9
    assert [a.element for a in atoms] == ["N", "C", "C", "C", "H", "C", "O", "ZN", "C"]
    assert atoms[3].altloc == "B" and atoms[3].occupancy == pytest.approx(0.7)


def test_pocket_rules_for_hydrogens_waters_altlocs_metals_and_hetero_groups(tmp_path):
    write_complex(tmp_path)
    graph = ComplexReader(PocketSettings(pocket_cutoff=6.0))((str(tmp_path / "1abc"), "1abc"))
    ligand = graph["node_type"] == 0
    assert graph["z"][ligand].tolist() == [6, 6, 8]  # ethanol's heavy atoms, hydrogens dropped
    protein_z = graph["z"][~ligand].tolist()
    # N, CA, one CB (the more occupied altloc), Zn; no H, no water, no glycerol, not the far GLY
    assert sorted(protein_z) == sorted([7, 6, 6, ATOMIC_NUMBER["ZN"]])
    cb = graph["pos"][~ligand][2]
    assert np.allclose(cb, [4.2, -0.5, 1.2])  # altloc B, occupancy 0.7
    kept = ComplexReader(PocketSettings(keep_waters=True, keep_hydrogens=True, keep_hetero=True))(
        (str(tmp_path / "1abc"), "1abc"))
    assert (kept["z"] == 1).sum() > 1  # ligand and protein hydrogens
    assert len(kept["z"]) == len(graph["z"]) + 1 + 1 + 1 + 6  # + water O, glycerol C, protein H, 6 ligand H


def test_pocket_cutoff_limits_the_protein_atoms(tmp_path):
    write_complex(tmp_path)
    near = ComplexReader(PocketSettings(pocket_cutoff=3.0))((str(tmp_path / "1abc"), "1abc"))
    far = ComplexReader(PocketSettings(pocket_cutoff=40.0))((str(tmp_path / "1abc"), "1abc"))
    assert (near["node_type"] == 1).sum() < (far["node_type"] == 1).sum()
    assert (far["node_type"] == 1).sum() == 5  # includes the far glycine CA
    lig = near["pos"][near["node_type"] == 0]
    for p in near["pos"][near["node_type"] == 1]:
        assert np.linalg.norm(lig - p, axis=1).min() <= 3.0


MOL2 = """@<TRIPOS>MOLECULE
methanol
 2 1 0 0 0
SMALL
NO_CHARGES

@<TRIPOS>ATOM
      1 C1          0.0000    0.0000    0.0000 C.3       1 MOH         0.0000
      2 O1          1.4000    0.0000    0.0000 O.3       1 MOH         0.0000
@<TRIPOS>BOND
     1     1     2    1
"""


def test_mol2_ligands_are_read_when_there_is_no_sdf(tmp_path):
    folder = write_complex(tmp_path, ligand_smiles=None)
    (folder / "1abc_ligand.mol2").write_text(MOL2)
    graph = ComplexReader(PocketSettings())((str(folder), "1abc"))
    assert graph["z"][graph["node_type"] == 0].tolist() == [6, 8]


def test_unreadable_complexes_are_skipped_with_id_and_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "set"
    write_complex(root, "good")
    write_complex(root, "noligand", ligand_smiles=None)
    write_complex(root, "farpocket", pocket=atom(1, "CA", "GLY", 1, 50.0, 0, 0, "C") + "END\n")
    bad = write_complex(root, "garbled", ligand_smiles=None)
    (bad / "garbled_ligand.sdf").write_text("not a molecule\n$$$$\n")
    (root / "index.csv").write_text("id,pK\ngood,6.5\nnoligand,5.0\nfarpocket,4.0\ngarbled,7.0\nmissing,3.0\n")
    store = complexes_store(root, None, PocketSettings(), quiet=True)
    assert store.meta["ids"] == ["good"] and store.targets.tolist() == [[6.5]]
    reasons = {r["record"].split()[1]: r["reason"] for r in store.meta["bad"]["records"]}
    assert set(reasons) == {"noligand", "farpocket", "garbled", "missing"}
    assert "no noligand_ligand.sdf or noligand_ligand.mol2" in reasons["noligand"]
    assert "no protein atom within 6.0" in reasons["farpocket"]
    assert "RDKit could not read" in reasons["garbled"]
    assert "no folder" in reasons["missing"]
    with pytest.raises(sciarch.DataError, match="noligand"):
        complexes_store(root, None, PocketSettings(), strict=True, quiet=True, cache=False)


def test_pdbbind_index_files_are_read(tmp_path):
    index = tmp_path / "INDEX_refined_data.2020"
    index.write_text("# ==== PDBbind refined set ====\n"
                     "# PDB code, resolution, release year, -logKd/Ki, Kd/Ki, reference, ligand name\n"
                     "2r58  2.00  2007   2.00  Kd=10mM       // 2r58.pdf (MLY)\n"
                     "3c2f  2.35  2008   2.00  Kd=10.1mM     // 3c2f.pdf (PRP)\n"
                     "broken line\n")
    report = sciarch.BadRecords(source=str(index))
    entries = read_index(index, report=report)
    assert [(c, v) for c, v, _ in entries] == [("2r58", 2.0), ("3c2f", 2.0)]
    assert report.count == 1 and report.records[0].record == "line 5"


def test_generated_complexes_are_real_files_rdkit_reads(tmp_path):
    from rdkit import Chem
    from sciarch_datasets.molecules.generated import write_complexes

    index = write_complexes(tmp_path, n=3, seed=0)
    rows = index.read_text().split()[1:]
    assert len(rows) == 3
    for row in rows:
        cid, pk = row.split(",")
        assert 2.0 <= float(pk) <= 11.0
        protein = Chem.MolFromPDBFile(str(tmp_path / cid / f"{cid}_pocket.pdb"), sanitize=False)
        ligand = next(iter(Chem.SDMolSupplier(str(tmp_path / cid / f"{cid}_ligand.sdf"))))
        assert protein.GetNumAtoms() > 50 and ligand.GetNumHeavyAtoms() >= 5
        assert protein.GetAtomWithIdx(0).GetPDBResidueInfo().GetResidueName() in ("GLY", "ALA", "ARG")
    graph = ComplexReader(PocketSettings())((str(tmp_path / "g000"), "g000"))
    assert ATOMIC_NUMBER["ZN"] in graph["z"].tolist()  # the generated zinc ion is kept
    assert 1 not in graph["z"].tolist()  # and the peptide's hydrogens dropped


@pytest.mark.parametrize(("content", "reason"), [
    ("", "empty file"),
    ("hello\n", "no @<TRIPOS>MOLECULE or @<TRIPOS>ATOM section"),
    ("@<TRIPOS>MOLECULE\nx\n 1 0\nSMALL\n\n@<TRIPOS>ATOM\n 1 C1 0 0 0 Xx.9 1 LIG 0\n", "Element 'Xx' not found"),
])
def test_an_unreadable_mol2_ligand_is_given_a_reason(tmp_path, content, reason):
    folder = write_complex(tmp_path, ligand_smiles=None)
    (folder / "1abc_ligand.mol2").write_text(content)
    message = ComplexReader(PocketSettings())((str(folder), "1abc"))
    assert isinstance(message, str) and message.startswith("1abc_ligand.mol2: ") and reason in message
    assert "(?)" not in message and "Stacktrace" not in message and "[" not in message
