"""PDBbind-style protein–ligand complexes: folders of PDB + SDF/MOL2 files and an affinity index.

Layout (the PDBbind "refined"/"general" sets and anything shaped like them)::

    root/
      1abc/1abc_pocket.pdb   (or 1abc_protein.pdb)
      1abc/1abc_ligand.sdf   (or 1abc_ligand.mol2)
      ...
    index: a CSV with an id column and a pK column, or PDBbind's own INDEX_*.20xx text file
           ("code  resolution  year  -logKd/Ki  Kd/Ki=...", lines starting with # are comments)

Each complex becomes a point cloud: ligand heavy atoms and the protein heavy atoms within
``pocket_cutoff`` Å of any ligand heavy atom (the pocket), with atomic numbers, coordinates and a
node type (0 ligand, 1 protein). What is kept is decided here, on purpose:

- **Hydrogens** are dropped from both partners (unless ``keep_hydrogens``): crystal structures
  rarely resolve them, and files disagree on whether they were added, so keeping them would make
  the same complex look different depending on its preparation.
- **Waters** (HOH, WAT, H2O, DOD, SOL) are dropped (unless ``keep_waters``): most crystallographic
  waters are not conserved between structures of one protein.
- **Alternate locations**: for an atom with several (altLoc A, B, …) the one with the highest
  occupancy is kept (the first listed on a tie), so each atom appears once.
- **Metal ions** (Zn, Mg, Ca, Mn, Fe, …, as HETATM) are kept as pocket atoms when within the
  cutoff: they often coordinate the ligand and carry much of the binding.
- **Other HETATM groups** (buffer molecules, a second copy of the ligand, cofactors) are dropped
  (unless ``keep_hetero``), since nothing marks which are relevant to binding.
- **Multi-model files** (NMR ensembles): the first MODEL only.

The ligand is read with RDKit (SDF first, then MOL2). A ligand RDKit cannot sanitise is read
without sanitising: the 3D models use only elements and coordinates. A complex whose files are
missing or unreadable, with no ligand atoms, or with no protein atom inside the cutoff, is skipped
with its id and the reason.

PDB files are read by the fixed-column parser below rather than RDKit's, because RDKit keeps the
first alternate location whatever its occupancy and perceives bonds a point cloud does not need.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sciarch import BadRecords, DataError

WATERS = {"HOH", "WAT", "H2O", "DOD", "SOL", "TIP", "TIP3", "SPC"}
METALS = {"LI", "NA", "K", "MG", "CA", "MN", "FE", "CO", "NI", "CU", "ZN", "CD", "HG", "SR", "BA", "CS", "RB",
          "AL", "GA", "PT", "AU", "AG", "PB", "W", "MO", "V", "CR", "SN", "SB", "IN", "TL", "YB", "GD", "EU",
          "LA", "SM", "TB", "HO", "ER", "LU", "IR", "OS", "RU", "RH", "PD", "ZR", "Y", "SC", "TI"}
PERIODIC = ["H", "HE", "LI", "BE", "B", "C", "N", "O", "F", "NE", "NA", "MG", "AL", "SI", "P", "S", "CL", "AR",
            "K", "CA", "SC", "TI", "V", "CR", "MN", "FE", "CO", "NI", "CU", "ZN", "GA", "GE", "AS", "SE", "BR",
            "KR", "RB", "SR", "Y", "ZR", "NB", "MO", "TC", "RU", "RH", "PD", "AG", "CD", "IN", "SN", "SB", "TE",
            "I", "XE", "CS", "BA", "LA", "CE", "PR", "ND", "PM", "SM", "EU", "GD", "TB", "DY", "HO", "ER", "TM",
            "YB", "LU", "HF", "TA", "W", "RE", "OS", "IR", "PT", "AU", "HG", "TL", "PB", "BI", "PO", "AT", "RN"]
ATOMIC_NUMBER = {symbol: i + 1 for i, symbol in enumerate(PERIODIC)}
#: node types
LIGAND, PROTEIN = 0, 1


@dataclass(frozen=True)
class PocketSettings:
    """What a complex keeps; the values key the cache."""

    pocket_cutoff: float = 6.0
    keep_hydrogens: bool = False
    keep_waters: bool = False
    keep_hetero: bool = False


@dataclass
class PDBAtom:
    element: str
    position: tuple[float, float, float]
    residue: str
    hetero: bool
    occupancy: float
    key: tuple[str, ...]  # chain, residue number, insertion code, atom name: one atom's identity
    altloc: str


def _element(line: str) -> str:
    element = line[76:78].strip().upper() if len(line) >= 78 else ""
    if element and element[0].isalpha():
        return "".join(c for c in element if c.isalpha())
    # old files without the element columns: from the atom name (columns 13-14 hold it for metals)
    name = line[12:16]
    guess = name[:2].strip().upper() if name[0] != " " else name[1:2].upper()
    guess = "".join(c for c in guess if c.isalpha())
    if guess in ("CA", "CD", "NE", "HG") and line[0:6].strip() == "ATOM":
        return guess[0]  # alpha carbon, delta carbon, epsilon nitrogen ... in an amino acid
    return guess if guess in ATOMIC_NUMBER else guess[:1]


def read_pdb_atoms(path: str | Path) -> list[PDBAtom]:
    """ATOM/HETATM records of the first model, as written (no filtering)."""
    atoms: list[PDBAtom] = []
    path = Path(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            record = line[0:6].strip()
            if record == "ENDMDL":
                break
            if record not in ("ATOM", "HETATM"):
                continue
            try:
                x, y, z = float(line[30:38]), float(line[38:46]), float(line[46:54])
            except ValueError:
                raise DataError("coordinates not readable in columns 31-54", file=path, record=f"line {number}") from None
            occupancy_text = line[54:60].strip()
            atoms.append(PDBAtom(
                element=_element(line), position=(x, y, z), residue=line[17:20].strip().upper(),
                hetero=record == "HETATM", occupancy=float(occupancy_text) if occupancy_text else 1.0,
                key=(line[21:22], line[22:26].strip(), line[26:27], line[12:16].strip()), altloc=line[16:17].strip()))
    return atoms


def select_protein_atoms(atoms: list[PDBAtom], settings: PocketSettings) -> list[PDBAtom]:
    """The atoms a pocket may use, after the hydrogen, water, altloc, metal and HETATM rules."""
    best: dict[tuple[str, ...], PDBAtom] = {}
    order: list[tuple[str, ...]] = []
    for atom in atoms:
        if atom.element in ("H", "D") and not settings.keep_hydrogens:
            continue
        if atom.residue in WATERS:
            if not settings.keep_waters:
                continue
        elif atom.hetero and atom.element not in METALS and not settings.keep_hetero:
            continue
        if atom.key not in best:
            best[atom.key] = atom
            order.append(atom.key)
        elif atom.occupancy > best[atom.key].occupancy:
            best[atom.key] = atom  # another alternate location of the same atom, more occupied
    return [best[k] for k in order]


def read_ligand(folder: Path, complex_id: str) -> tuple[np.ndarray, np.ndarray, str]:
    """``(atomic numbers, coordinates, file used)`` of the ligand's heavy atoms (hydrogens too if kept)."""
    from rdkit import Chem, rdBase

    candidates = [folder / f"{complex_id}_ligand.sdf", folder / f"{complex_id}_ligand.mol2"]
    problems = []
    for path in candidates:
        if not path.is_file():
            continue
        mol = None
        with rdBase.CaptureErrorLog() as capture:
            for sanitize in (True, False):
                if path.suffix == ".sdf":
                    supplier = Chem.SDMolSupplier(str(path), sanitize=sanitize, removeHs=False)
                    mol = supplier[0] if len(supplier) else None
                else:
                    mol = Chem.MolFromMol2File(str(path), sanitize=sanitize, removeHs=False)
                if mol is not None:
                    break
        if mol is None or mol.GetNumConformers() == 0:
            problems.append(f"{path.name}: {_unreadable_ligand(path, mol, capture.messages)}")
            continue
        z = np.array([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=np.int64)
        pos = np.asarray(mol.GetConformer().GetPositions(), dtype=np.float32)
        return z, pos, path.name
    if not problems:
        raise FileNotFoundError(f"no {complex_id}_ligand.sdf or {complex_id}_ligand.mol2")
    raise ValueError("; ".join(problems))


def _unreadable_ligand(path: Path, mol: Any, messages: str) -> str:
    """Why RDKit could not use a ligand file: its own message, else what the file lacks."""
    from .featurise import _rdkit_reason

    if mol is not None:
        return "no coordinates in the file (a ligand needs its 3D pose)"
    text = path.read_text(errors="replace") if path.stat().st_size < 50_000_000 else ""
    if not text.strip():
        return "empty file"
    if path.suffix == ".mol2":
        missing = [tag for tag in ("@<TRIPOS>MOLECULE", "@<TRIPOS>ATOM") if tag not in text]
        fallback = (f"not a MOL2 file RDKit can read: no {' or '.join(missing)} section" if missing else
                    "RDKit could not build a molecule from its atoms and bonds (an unknown SYBYL atom type, "
                    "or charges it cannot assign)")
    else:
        fallback = "RDKit could not read the first MOL block (no 'M  END', or a counts line it cannot parse)"
    return _rdkit_reason(messages, fallback)


@dataclass(frozen=True)
class ComplexReader:
    """Reads one complex folder into a point cloud (picklable, for a process pool)."""

    settings: PocketSettings

    def __call__(self, item: tuple[str, str]) -> dict[str, Any] | str:
        folder, complex_id = Path(item[0]), item[1]
        try:
            return self.read(folder, complex_id)
        except (OSError, ValueError, DataError) as exc:
            return str(exc)
        except Exception as exc:  # one odd complex must not take a whole set down
            return f"{type(exc).__name__}: {exc}"

    def read(self, folder: Path, complex_id: str) -> dict[str, Any] | str:
        if not folder.is_dir():
            return f"no folder {folder}"
        z_lig, pos_lig, ligand_file = read_ligand(folder, complex_id)
        if not self.settings.keep_hydrogens:
            heavy = z_lig > 1
            z_lig, pos_lig = z_lig[heavy], pos_lig[heavy]
        if len(z_lig) == 0:
            return "ligand has no heavy atoms"
        for name in (f"{complex_id}_pocket.pdb", f"{complex_id}_protein.pdb"):
            protein_file = folder / name
            if protein_file.is_file():
                break
        else:
            return f"no {complex_id}_pocket.pdb or {complex_id}_protein.pdb"
        atoms = select_protein_atoms(read_pdb_atoms(protein_file), self.settings)
        if not atoms:
            return f"{protein_file.name}: no protein atoms"
        unknown = sorted({a.element for a in atoms if a.element not in ATOMIC_NUMBER})
        if unknown:
            return f"{protein_file.name}: unknown element(s) {', '.join(unknown)}"
        pos_prot = np.asarray([a.position for a in atoms], dtype=np.float32)
        z_prot = np.asarray([ATOMIC_NUMBER[a.element] for a in atoms], dtype=np.int64)
        # protein atoms within the cutoff of any ligand atom, in blocks to bound memory
        cutoff2 = self.settings.pocket_cutoff ** 2
        keep = np.zeros(len(atoms), dtype=bool)
        for start in range(0, len(atoms), 4096):
            block = pos_prot[start:start + 4096]
            d2 = ((block[:, None, :] - pos_lig[None, :, :]) ** 2).sum(-1)
            keep[start:start + 4096] = (d2 <= cutoff2).any(1)
        if not keep.any():
            return f"no protein atom within {self.settings.pocket_cutoff} Å of the ligand"
        z = np.concatenate([z_lig, z_prot[keep]])
        pos = np.concatenate([pos_lig, pos_prot[keep]])
        node_type = np.concatenate([np.full(len(z_lig), LIGAND), np.full(int(keep.sum()), PROTEIN)]).astype(np.int64)
        return {"z": z, "pos": pos.astype(np.float32), "node_type": node_type,
                "files": [ligand_file, protein_file.name]}


def read_index(path: str | Path, *, id_column: str = "id", affinity_column: str = "pK",
               report: BadRecords | None = None) -> list[tuple[str, float, str]]:
    """``[(id, pK, label)]`` from a CSV index or a PDBbind INDEX text file (pK may be NaN: unknown)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such index file", file=path)
    report = report or BadRecords(source=str(path))
    out: list[tuple[str, float, str]] = []
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            if id_column not in header:
                raise DataError(f"no id column {id_column!r}; columns: {', '.join(header)}", file=path)
            for number, row in enumerate(reader, start=1):
                label = f"row {number} (line {reader.line_num})"
                text = (row.get(affinity_column) or "").strip() if affinity_column in header else ""
                try:
                    value = float(text) if text else math.nan
                except ValueError:
                    report.skip(f"{affinity_column} is not a number: {text!r}", record=label, kind="bad affinity")
                    continue
                out.append(((row[id_column] or "").strip(), value, label))
        return out
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split()
            label = f"line {number}"
            try:
                out.append((fields[0], float(fields[3]), label))
            except (IndexError, ValueError):
                report.skip("not a PDBbind index line (code, resolution, year, pK, ...)", record=label,
                            kind="bad index line")
    return out


def complexes_store(root: str | Path, index: str | Path | None, settings: PocketSettings, *,
                    id_column: str = "id", affinity_column: str = "pK", limit: int | None = None,
                    strict: bool = False, workers: int = -1, cache: bool = True, quiet: bool = False) -> Any:
    """Point clouds of every complex listed in ``index`` (default ``root/index.csv``), cached."""
    from .featurise import featurise_all
    from .graphs import report_bad_records
    from .store import GraphStore, cache_path

    root = Path(root)
    if not root.is_dir():
        raise DataError("no such folder of complexes", file=root)
    index = Path(index) if index else root / "index.csv"
    report = BadRecords(source=str(index), strict=strict)
    entries = read_index(index, id_column=id_column, affinity_column=affinity_column, report=report)
    if limit is not None:
        entries = entries[:limit]
    if not entries:
        raise DataError("no complexes listed", file=index)
    files = sorted(p for cid, _, _ in entries for p in (root / cid).glob(f"{cid}_*") if p.is_file())
    settings_key = {"reader": "complexes", **asdict(settings), "entries": [(c, v) for c, v, _ in entries],
                    "id_column": id_column, "affinity_column": affinity_column}
    settings_key["files"] = [str(p.relative_to(root)) for p in files]
    where = cache_path("complexes", settings_key, *files)  # every file hashed by content
    store = GraphStore.load(where) if cache else None
    if store is not None:
        store.meta["cache"] = "hit"
        if strict and store.meta["bad"]["skipped"]:
            first = store.meta["bad"]["records"][0]
            raise DataError(first["reason"], file=first["file"], record=first["record"])
    else:
        results = featurise_all(ComplexReader(settings), [(str(root / cid), cid) for cid, _, _ in entries],
                                workers=workers if workers >= 0 else (0 if len(entries) < 200 else -1),
                                description=f"reading complexes in {root.name}")
        good = []
        for (cid, value, label), result in zip(entries, results, strict=True):
            if isinstance(result, str):
                report.skip(result, file=root / cid, record=f"complex {cid} ({index.name} {label})",
                            kind="unreadable complex")
            else:
                good.append((cid, value, result))
        meta = {"source": str(index), "target_names": [affinity_column], "ids": [c for c, _, _ in good],
                "rows": [c for c, _, _ in good], "labels": [f"complex {c}" for c, _, _ in good],
                "smiles": ["" for _ in good], "bad": report.to_dict()}
        for _, _, g in good:
            g.pop("files")
        store = GraphStore.from_graphs([g for _, _, g in good],
                                       np.asarray([[v] for _, v, _ in good], dtype=np.float32).reshape(-1, 1), meta)
        if cache:
            store.save(where)
        store.meta["cache"] = "written"
    store.meta["cache_file"] = str(where)
    if not quiet:
        report_bad_records(store.meta["bad"], show=20 if store.meta["cache"] == "hit" else 0)
    return store
