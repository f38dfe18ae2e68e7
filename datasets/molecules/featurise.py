"""Molecules to graphs: RDKit parsing, atom and bond features, ETKDG conformers, in parallel.

A molecule becomes a directed graph: one node per heavy atom, two directed edges per bond
(``u -> v`` then ``v -> u``, stored next to each other). Node features are one-hot encodings of

====================  =======================================================================
element               atomic number 1–100, else "other"
degree                heavy-atom neighbours 0–5, else "other"
formal charge         −2 … +2, else "other"
chirality             CIP label: none, R, S, r, s (pseudo-asymmetric), else "other" (see below)
hydrogens             total attached H 0–4, else "other"
hybridisation         S, SP, SP2, SP3, SP3D, SP3D2, else "other"
aromaticity           one flag
ring membership       one flag
mass                  atomic mass / 100 (a real number, as in chemprop)
====================  =======================================================================

and edge features encode the bond type (single, double, triple, aromatic), conjugation, ring
membership and stereo (none, any, Z, E, else "other").

Stereo is encoded by CIP labels from RDKit's new CIP labeller (Hanson et al., J. Chem. Inf.
Model. 58, 1755, 2018; ``rdCIPLabeler``), never by RDKit's CW/CCW chiral tags or cis/trans bond
stereo, which are relative to the order atoms were written in: the same molecule written as
different SMILES gives the same graph, up to the order of its atoms. An enantiomer gets the
other label (R for S), so enantiomers are different graphs. A stereo element RDKit keeps but the
labeller cannot name (a labelling failure, an atropisomer bond) is "other". With several SMILES columns (a solute and a
solvent, say) the molecules form one disconnected graph and each atom also carries a one-hot of
the column it came from. ``z`` (atomic numbers) is always stored; ``pos`` (Å) when conformers are
asked for: RDKit's ETKDG v3 (Riniker & Landrum, J. Chem. Inf. Model. 55, 2562, 2015) with
hydrogens added for the embedding and an MMFF94 clean-up, or the coordinates an SDF record carries.

A molecule that cannot be used is returned as a string: RDKit's own reason, for the reader to
report with the record's row number. :func:`featurise_all` runs a pool of processes when the input
is large enough to be worth their start-up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sciarch import require

Chem = require("rdkit.Chem", "chemistry")
rdBase = require("rdkit.rdBase", "chemistry")

#: Bumped whenever the features below change, so cached graphs of an older layout are not reused.
FEATURISER_VERSION = 2

ELEMENTS = list(range(1, 101))
DEGREES = [0, 1, 2, 3, 4, 5]
FORMAL_CHARGES = [-2, -1, 0, 1, 2]
#: CIP labels of atoms ("r"/"s": pseudo-asymmetric centres, as in cis/trans-1,4-disubstituted rings)
CHIRALITY = ["none", "R", "S", "r", "s"]
HYDROGENS = [0, 1, 2, 3, 4]
HYBRIDISATIONS = ["S", "SP", "SP2", "SP3", "SP3D", "SP3D2"]
BOND_TYPES = ["SINGLE", "DOUBLE", "TRIPLE", "AROMATIC"]
#: bond stereo: none, "any" (a double bond drawn as unknown), CIP's Z or E; else "other"
BOND_STEREO = ["none", "any", "Z", "E"]

#: (name, number of columns) of the atom features, in order
ATOM_FEATURE_BLOCKS = [
    ("element", len(ELEMENTS) + 1), ("degree", len(DEGREES) + 1), ("formal_charge", len(FORMAL_CHARGES) + 1),
    ("chirality", len(CHIRALITY) + 1), ("hydrogens", len(HYDROGENS) + 1),
    ("hybridisation", len(HYBRIDISATIONS) + 1), ("aromatic", 1), ("in_ring", 1), ("mass", 1),
]
BOND_FEATURE_BLOCKS = [("bond_type", len(BOND_TYPES)), ("conjugated", 1), ("in_ring", 1),
                       ("stereo", len(BOND_STEREO) + 1)]
ATOM_FEATURES = sum(n for _, n in ATOM_FEATURE_BLOCKS)
BOND_FEATURES = sum(n for _, n in BOND_FEATURE_BLOCKS)


def _one_hot(value: Any, choices: Sequence[Any], out: np.ndarray, start: int, unknown: bool = True) -> int:
    """Set one column of ``out[start:]`` for ``value``; return the width used."""
    try:
        out[start + choices.index(value)] = 1.0
    except ValueError:
        if unknown:
            out[start + len(choices)] = 1.0
    return len(choices) + (1 if unknown else 0)


def atom_features(atom: Any) -> np.ndarray:
    """The feature vector of one RDKit atom (``ATOM_FEATURES`` long)."""
    out = np.zeros(ATOM_FEATURES, dtype=np.float32)
    i = 0
    i += _one_hot(atom.GetAtomicNum(), ELEMENTS, out, i)
    i += _one_hot(atom.GetDegree(), DEGREES, out, i)
    i += _one_hot(atom.GetFormalCharge(), FORMAL_CHARGES, out, i)
    i += _one_hot(atom_chirality(atom), CHIRALITY, out, i)
    i += _one_hot(atom.GetTotalNumHs(), HYDROGENS, out, i)
    i += _one_hot(str(atom.GetHybridization()), HYBRIDISATIONS, out, i)
    out[i] = float(atom.GetIsAromatic())
    out[i + 1] = float(atom.IsInRing())
    out[i + 2] = atom.GetMass() * 0.01
    return out


def bond_features(bond: Any) -> np.ndarray:
    """The feature vector of one RDKit bond (``BOND_FEATURES`` long)."""
    out = np.zeros(BOND_FEATURES, dtype=np.float32)
    i = _one_hot(str(bond.GetBondType()), BOND_TYPES, out, 0, unknown=False)
    out[i] = float(bond.GetIsConjugated())
    out[i + 1] = float(bond.IsInRing())
    _one_hot(bond_stereo(bond), BOND_STEREO, out, i + 2)
    return out


_NO_BOND_STEREO = (Chem.BondStereo.STEREONONE, Chem.BondStereo.STEREOANY)


def assign_stereo_labels(mol: Any) -> None:
    """Set CIP labels (``_CIPCode``) on the stereo atoms and bonds of ``mol``, in place.

    Spurious chiral tags (on atoms that are not stereocentres, as 3D SDF records carry) are
    cleaned first. A molecule without stereo costs nothing. Should the new labeller fail (it
    gives up on some very large, highly symmetric molecules), RDKit's legacy CIP codes are kept.
    """
    atom, bond = mol.GetAtomWithIdx, mol.GetBondWithIdx  # by index: RDKit's sequences are slow to walk
    has_stereo = (any(atom(i).GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for i in range(mol.GetNumAtoms()))
                  or any(bond(k).GetStereo() not in _NO_BOND_STEREO for k in range(mol.GetNumBonds())))
    if not has_stereo:
        return
    from rdkit.Chem import rdCIPLabeler

    with rdBase.CaptureErrorLog():
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
    atoms = [atom(i) for i in range(mol.GetNumAtoms())]
    legacy = {a.GetIdx(): a.GetProp("_CIPCode") for a in atoms if a.HasProp("_CIPCode")}
    for item in (*atoms, *(bond(k) for k in range(mol.GetNumBonds()))):
        if item.HasProp("_CIPCode"):
            item.ClearProp("_CIPCode")
    try:
        with rdBase.CaptureErrorLog():
            # ~1 s of work at most: highly symmetric structures can otherwise recurse for minutes
            rdCIPLabeler.AssignCIPLabels(mol, maxRecursiveIterations=1_000_000)
    except Exception:  # the labeller's iteration limit: legacy (still order-independent) labels
        for index, code in legacy.items():
            mol.GetAtomWithIdx(index).SetProp("_CIPCode", code)


def atom_chirality(atom: Any) -> str:
    """``none``, the atom's CIP label (``R``, ``S``, ``r``, ``s``), or ``other`` for a stereocentre
    RDKit keeps without a label. Needs :func:`assign_stereo_labels` on the molecule first."""
    if atom.GetChiralTag() == Chem.ChiralType.CHI_UNSPECIFIED:
        return "none"
    return atom.GetProp("_CIPCode") if atom.HasProp("_CIPCode") else "other"


def bond_stereo(bond: Any) -> str:
    """``none``, ``any``, the bond's CIP label (``Z``, ``E``) or ``other``; see :func:`atom_chirality`."""
    stereo = bond.GetStereo()
    if stereo == Chem.BondStereo.STEREONONE:
        return "none"
    if stereo == Chem.BondStereo.STEREOANY:
        return "any"
    return bond.GetProp("_CIPCode") if bond.HasProp("_CIPCode") else "other"


_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\] ")


def _rdkit_reason(messages: str, fallback: str, echo: str = "") -> str:
    """RDKit's log lines as one reason, without timestamps, echoes of the input or caret lines."""
    prefix = "SMILES Parse Error: "
    lines: list[str] = []
    parse_error = False
    for raw in messages.splitlines():
        line = _TIMESTAMP.sub("", raw).strip()
        if line.startswith("Stacktrace"):  # an invariant violation: the C++ frames after it say nothing
            break
        if line in ("****", "----------") or line.startswith(("Violation occurred", "Failed Expression")):
            continue
        if line.startswith(prefix):
            parse_error = True
            line = line[len(prefix):].rstrip(":")
        if (not line or set(line) <= {"~", "^"} or line == echo.strip() or line in lines
                or line.startswith("Failed parsing SMILES")):
            continue
        lines.append(line)
    if not lines:
        return fallback
    return (prefix if parse_error else "") + "; ".join(lines)


def parse_smiles(smiles: str) -> tuple[Any, str | None]:
    """``(mol, None)`` for a valid SMILES, ``(None, reason)`` with RDKit's reason otherwise."""
    if not smiles or not smiles.strip():
        return None, "empty SMILES"
    if re.search(r"\s", smiles.strip()):
        # RDKit would read "CC O" as ethane named "O"; a SMILES has no whitespace inside it
        return None, (f"whitespace inside the SMILES {smiles.strip()!r} (RDKit would read the part after "
                      "it as a name, not atoms)")
    with rdBase.CaptureErrorLog() as capture:
        mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None:
        return None, _rdkit_reason(capture.messages, f"RDKit could not parse SMILES {smiles!r}", echo=smiles)
    if mol.GetNumAtoms() == 0:
        return None, "SMILES has no atoms"
    return mol, None


def sanitise(mol: Any) -> str | None:
    """Sanitise in place; RDKit's reason on failure, None on success."""
    with rdBase.CaptureErrorLog() as capture:
        try:
            Chem.SanitizeMol(mol)
        except Exception as exc:  # RDKit raises several MolSanitizeException subclasses
            return f"{type(exc).__name__}: {exc}"
    del capture
    return None


def murcko_scaffold(mol: Any) -> str:
    """Canonical SMILES of the Bemis–Murcko scaffold (empty for an acyclic molecule)."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    try:
        return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)
    except Exception:  # a scaffold RDKit cannot write: put the molecule in a group of its own
        return Chem.MolToSmiles(mol)


@dataclass(frozen=True)
class Featuriser:
    """Settings that decide the graphs; their values key the on-disk cache.

    ``components`` is the number of SMILES columns (more than one appends a one-hot of the
    column to every atom). ``conformers`` adds 3D coordinates (ETKDG for SMILES input, the file's
    own coordinates for 3D SDF records, unless ``reembed``). ``descriptors`` adds RDKit's 2D
    descriptors of the whole molecule as a graph-level vector ``mol_x`` (see
    :func:`molecule_descriptors`).
    """

    components: int = 1
    conformers: bool = False
    conformer_seed: int = 0
    mmff: bool = True
    reembed: bool = False
    descriptors: bool = False
    #: the optional standardisation stage (sciarch_datasets.molecules.standardise)
    standardise: bool = False
    fragments: str = "largest"
    neutralise: bool = True
    tautomers: bool = False

    @property
    def atom_features(self) -> int:
        return ATOM_FEATURES + (self.components if self.components > 1 else 0)

    @property
    def bond_features(self) -> int:
        return BOND_FEATURES

    def settings(self) -> dict[str, Any]:
        return {"featuriser_version": FEATURISER_VERSION, **asdict(self)}

    # -- one molecule ------------------------------------------------------------------------

    def __call__(self, item: Any) -> dict[str, Any] | str:
        """Featurise one input: a tuple of SMILES (one per column) or an RDKit Mol (an SDF record)."""
        try:
            return self._featurise(item)
        except Exception as exc:  # never let one odd molecule take a whole data set down
            return f"featurisation failed ({type(exc).__name__}: {exc})"

    def _featurise(self, item: Any) -> dict[str, Any] | str:
        if isinstance(item, (tuple, list)):
            if len(item) != self.components:
                return f"expected {self.components} SMILES, got {len(item)}"
            mols = []
            for column, smiles in enumerate(item):
                mol, reason = parse_smiles(smiles)
                if mol is None:
                    return reason if self.components == 1 else f"SMILES column {column + 1}: {reason}"
                mols.append(mol)
            has_coordinates = False
        else:
            mol = Chem.Mol(item)
            reason = sanitise(mol)
            if reason is not None:
                return reason
            mol = Chem.RemoveHs(mol, sanitize=False)
            mol.UpdatePropertyCache(strict=False)  # else a removed H on N or O is not counted
            if mol.GetNumAtoms() == 0:
                return "record has no heavy atoms"
            mols = [mol]
            has_coordinates = mol.GetNumConformers() > 0 and mol.GetConformer().Is3D()

        mols, notes = self._inspect(mols)
        if isinstance(mols, str):
            return mols
        if self.standardise and has_coordinates:
            has_coordinates = mols[0].GetNumConformers() > 0 and mols[0].GetConformer().Is3D()
        graph = self._graph(mols)
        graph["notes"] = notes
        if self.descriptors:
            combined = mols[0]
            for other in mols[1:]:
                combined = Chem.CombineMols(combined, other)
            graph["mol_x"] = molecule_descriptors(combined)[None, :]
        if self.conformers:
            if has_coordinates and not self.reembed:
                graph["pos"] = np.asarray(mols[0].GetConformer().GetPositions(), dtype=np.float32)
            else:
                positions = []
                for column, mol in enumerate(mols):
                    pos = embed_conformer(mol, seed=self.conformer_seed, mmff=self.mmff)
                    if isinstance(pos, str):
                        return pos if len(mols) == 1 else f"SMILES column {column + 1}: {pos}"
                    positions.append(pos)
                graph["pos"] = np.concatenate(positions).astype(np.float32)
        return graph

    def _inspect(self, mols: list[Any]) -> tuple[list[Any] | str, list[str]]:
        """Refuse what cannot be used, standardise if asked, and note what a chemist would want to know."""
        from .standardise import Standardiser, notes, refusal

        standardiser = (Standardiser(fragments=self.fragments, neutralise=self.neutralise, tautomers=self.tautomers)
                        if self.standardise else None)
        out, said = [], []
        for column, mol in enumerate(mols):
            where = f"SMILES column {column + 1}: " if len(mols) > 1 else ""
            reason = refusal(mol)
            if reason is not None:
                return where + reason, []
            if standardiser is not None:
                mol, changes = standardiser(mol)
                said += [where + c for c in changes]
            said += [where + n for n in notes(mol)]
            out.append(mol)
        return out, said

    def _graph(self, mols: list[Any]) -> dict[str, Any]:
        """Node and edge features of all atoms and bonds at once (the same as :func:`atom_features`
        and :func:`bond_features` one by one), the canonical SMILES; no scaffold (computed only
        when a scaffold split asks for it: :func:`murcko_scaffold`)."""
        parts, z_parts, edge_parts, edge_feature_parts = [], [], [], []
        offset = 0
        for column, mol in enumerate(mols):
            assign_stereo_labels(mol)
            x, z = _atom_matrix(mol)
            if self.components > 1:
                marker = np.zeros((len(x), self.components), dtype=np.float32)
                marker[:, column] = 1.0
                x = np.concatenate([x, marker], axis=1)
            parts.append(x)
            z_parts.append(z)
            edges, features = _bond_matrix(mol)
            edge_parts.append(edges + offset)
            edge_feature_parts.append(features)
            offset += mol.GetNumAtoms()
        edges = np.concatenate(edge_parts, axis=1)
        return {
            "x": np.concatenate(parts),
            "z": np.concatenate(z_parts),
            "edge_index": edges,
            "edge_attr": np.concatenate(edge_feature_parts),
            "smiles": ".".join(Chem.MolToSmiles(m) for m in mols),
        }


def _columns(choices: Sequence[Any], start: int) -> tuple[dict[Any, int], int]:
    """Column of each choice of a one-hot block starting at ``start``, and its "other" column."""
    return {value: start + k for k, value in enumerate(choices)}, start + len(choices)


_STARTS = np.cumsum([0] + [n for _, n in ATOM_FEATURE_BLOCKS]).tolist()
_ELEMENT_COLUMNS, _ELEMENT_OTHER = _columns(ELEMENTS, _STARTS[0])
_DEGREE_COLUMNS, _DEGREE_OTHER = _columns(DEGREES, _STARTS[1])
_CHARGE_COLUMNS, _CHARGE_OTHER = _columns(FORMAL_CHARGES, _STARTS[2])
_CHIRALITY_COLUMNS, _CHIRALITY_OTHER = _columns(CHIRALITY, _STARTS[3])
_HYDROGEN_COLUMNS, _HYDROGEN_OTHER = _columns(HYDROGENS, _STARTS[4])
_HYBRID_COLUMNS, _HYBRID_OTHER = _columns([getattr(Chem.HybridizationType, h) for h in HYBRIDISATIONS], _STARTS[5])
_AROMATIC, _IN_RING, _MASS = _STARTS[6], _STARTS[7], _STARTS[8]
_BOND_TYPE_COLUMNS = {getattr(Chem.BondType, t): k for k, t in enumerate(BOND_TYPES)}
_STEREO_START = len(BOND_TYPES) + 2
_CHI_UNSPECIFIED = Chem.ChiralType.CHI_UNSPECIFIED


def _atom_matrix(mol: Any) -> tuple[np.ndarray, np.ndarray]:
    """(atoms, ATOM_FEATURES) features and atomic numbers of every atom of ``mol``."""
    n = mol.GetNumAtoms()
    hot: list[int] = []
    real: list[float] = []
    numbers: list[int] = []
    get = mol.GetAtomWithIdx
    for i in range(n):
        atom = get(i)
        number = atom.GetAtomicNum()
        numbers.append(number)
        if atom.GetChiralTag() == _CHI_UNSPECIFIED:
            chirality = "none"
        else:
            chirality = atom.GetProp("_CIPCode") if atom.HasProp("_CIPCode") else "other"
        hot += (_ELEMENT_COLUMNS.get(number, _ELEMENT_OTHER), _DEGREE_COLUMNS.get(atom.GetDegree(), _DEGREE_OTHER),
                _CHARGE_COLUMNS.get(atom.GetFormalCharge(), _CHARGE_OTHER),
                _CHIRALITY_COLUMNS.get(chirality, _CHIRALITY_OTHER),
                _HYDROGEN_COLUMNS.get(atom.GetTotalNumHs(), _HYDROGEN_OTHER),
                _HYBRID_COLUMNS.get(atom.GetHybridization(), _HYBRID_OTHER))
        real += (atom.GetIsAromatic(), atom.IsInRing(), atom.GetMass() * 0.01)
    x = np.zeros((n, ATOM_FEATURES), dtype=np.float32)
    np.put_along_axis(x, np.array(hot, dtype=np.intp).reshape(n, 6), 1.0, axis=1)
    x[:, _AROMATIC:_MASS + 1] = np.array(real, dtype=np.float32).reshape(n, 3)
    return x, np.array(numbers, dtype=np.int64)


_STEREO_COLUMNS = {value: _STEREO_START + k for k, value in enumerate(BOND_STEREO)}


def _bond_matrix(mol: Any) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges (2, 2 × bonds: u → v then v → u) and their features (2 × bonds, BOND_FEATURES)."""
    n = mol.GetNumBonds()
    ends: list[int] = []
    hot: list[int] = []
    flags: list[bool] = []
    get = mol.GetBondWithIdx
    other = _STEREO_START + len(BOND_STEREO)
    for k in range(n):
        bond = get(k)
        u, v = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        ends += (u, v, v, u)
        hot += (_BOND_TYPE_COLUMNS.get(bond.GetBondType(), -1), _STEREO_COLUMNS.get(bond_stereo(bond), other))
        flags += (bond.GetIsConjugated(), bond.IsInRing())
    features = np.zeros((n, BOND_FEATURES + 1), dtype=np.float32)  # a spare last column for unknown types
    if n:
        np.put_along_axis(features, np.array(hot, dtype=np.intp).reshape(n, 2), 1.0, axis=1)
        features[:, len(BOND_TYPES):len(BOND_TYPES) + 2] = np.array(flags, dtype=np.float32).reshape(n, 2)
    edges = np.array(ends, dtype=np.int64).reshape(n, 2, 2).transpose(2, 0, 1).reshape(2, 2 * n) if n else \
        np.zeros((2, 0), dtype=np.int64)
    return edges, np.repeat(features[:, :BOND_FEATURES], 2, axis=0)


def descriptor_names() -> list[str]:
    from rdkit.Chem import Descriptors

    return [name for name, _ in Descriptors._descList]


def molecule_descriptors(mol: Any) -> np.ndarray:
    """RDKit's 2D descriptors (``Descriptors.CalcMolDescriptors``, 217 in RDKit 2024–26), each
    squashed by ``sign(v)·log(1 + |v|)`` so counts, weights and ``Ipc`` (up to 1e10 and more)
    share a scale; a descriptor RDKit cannot compute is 0. The model standardises them further.
    """
    from rdkit.Chem import Descriptors

    with rdBase.CaptureErrorLog():
        values = Descriptors.CalcMolDescriptors(mol, missingVal=float("nan"))
    out = np.asarray([float(values.get(name, np.nan)) for name in descriptor_names()], dtype=np.float64)
    out = np.where(np.isfinite(out), out, 0.0)
    return (np.sign(out) * np.log1p(np.abs(out))).astype(np.float32)


def embed_conformer(mol: Any, *, seed: int = 0, mmff: bool = True) -> np.ndarray | str:
    """Heavy-atom coordinates (Å) of one ETKDG v3 conformer, or the reason there is none."""
    from rdkit.Chem import AllChem

    with_h = Chem.AddHs(mol)  # ETKDG places heavy atoms far better with explicit hydrogens
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    with rdBase.CaptureErrorLog():
        status = AllChem.EmbedMolecule(with_h, params)
        if status != 0:
            params.useRandomCoords = True  # the documented fallback for hard cases (macrocycles, cages)
            status = AllChem.EmbedMolecule(with_h, params)
    if status != 0:
        return "ETKDG could not embed a 3D conformer"
    if mmff:
        with rdBase.CaptureErrorLog():
            if AllChem.MMFFHasAllMoleculeParams(with_h):
                AllChem.MMFFOptimizeMolecule(with_h, maxIters=200)
    # AddHs appends the hydrogens after the heavy atoms, so the first atoms keep their order
    pos = np.asarray(with_h.GetConformer().GetPositions()[: mol.GetNumAtoms()], dtype=np.float32)
    return separate_fragments(mol, pos)


def separate_fragments(mol: Any, pos: np.ndarray, gap: float = 5.0) -> np.ndarray:
    """Lay the disconnected fragments of a molecule (a salt's ions) side by side along x.

    ETKDG gives no meaningful relative placement for disconnected fragments (two single-atom
    ions both land on the origin), so fragments are placed deliberately: each centred, then
    shifted so that consecutive fragments are ``gap`` Å apart.
    """
    fragments = Chem.GetMolFrags(mol, asMols=False, sanitizeFrags=False)
    if len(fragments) < 2:
        return pos
    out = pos.copy()
    cursor = 0.0
    for atoms in fragments:
        idx = list(atoms)
        centred = pos[idx] - pos[idx].mean(0)
        low, high = centred[:, 0].min(), centred[:, 0].max()
        out[idx] = centred + np.array([cursor - low, 0.0, 0.0], dtype=np.float32)
        cursor += (high - low) + gap
    return out


# -- many molecules ----------------------------------------------------------------------------

#: Below this many molecules a process pool costs more to start than it saves.
PARALLEL_THRESHOLD = 2000


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def featurise_all(featuriser: Featuriser, items: Sequence[Any], *, workers: int = -1,
                  description: str = "featurising") -> list[dict[str, Any] | str]:
    """Featurise every item, in order; ``workers=-1`` chooses (one process for small inputs)."""
    from sciarch import track

    if workers < 0:
        workers = default_workers() if len(items) >= PARALLEL_THRESHOLD else 0
    if workers <= 1:
        return [featuriser(item) for item in track(items, description)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the parent may hold OpenMP threads (torch) that a forked child would inherit
    context = multiprocessing.get_context("spawn")
    chunksize = max(16, len(items) // (workers * 16))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(track(pool.map(featuriser, items, chunksize=chunksize), description, total=len(items)))
