"""Applicability domain: is a molecule like the ones a model was trained on?

A model's prediction for a molecule unlike every training molecule is an extrapolation, and
graph networks extrapolate badly (a 300-carbon alkane from a FreeSolv model is a number, not a
prediction). :class:`Domain` records what the training split covered, from the molecules as
they were used (after standardisation):

- the heavy-atom count range;
- the elements seen;
- the range of a few RDKit descriptors that chemists use to judge similarity of property space
  (molecular weight, Crippen logP, TPSA, H-bond donors and acceptors, rotatable bonds, rings,
  net formal charge).

:meth:`Domain.check` lists every way a molecule falls outside (an empty list: inside). This is the
simple "bounding box" domain: cheap, explainable and conservative at its edges; it does not know
about holes inside the box, so inside is not a guarantee. An ensemble's spread (``<target>_sd``
in a prediction file) is the complementary, model-based signal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sciarch import require

Chem = require("rdkit.Chem", "chemistry")


def _descriptors() -> dict[str, Callable[[Any], float]]:
    from rdkit.Chem import Crippen, Descriptors, Lipinski, rdMolDescriptors

    return {
        "molecular weight": Descriptors.MolWt,
        "logP (Crippen)": Crippen.MolLogP,
        "TPSA": rdMolDescriptors.CalcTPSA,
        "H-bond donors": Lipinski.NumHDonors,
        "H-bond acceptors": Lipinski.NumHAcceptors,
        "rotatable bonds": rdMolDescriptors.CalcNumRotatableBonds,
        "rings": rdMolDescriptors.CalcNumRings,
        "net charge": Chem.GetFormalCharge,
    }


def profile(smiles: str) -> dict[str, Any] | None:
    """Heavy atoms, elements and descriptors of one molecule (canonical SMILES as used); None if unreadable."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    return {"heavy_atoms": mol.GetNumHeavyAtoms(),
            "elements": sorted({a.GetSymbol() for a in mol.GetAtoms()}),
            "descriptors": {name: float(f(mol)) for name, f in _descriptors().items()}}


@dataclass
class Domain:
    """What the training molecules covered."""

    molecules: int = 0
    heavy_atoms: tuple[int, int] = (0, 0)
    elements: list[str] = field(default_factory=list)
    descriptors: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, smiles: Sequence[str]) -> Domain:
        profiles = [p for p in (profile(s) for s in smiles) if p is not None]
        if not profiles:
            return cls()
        names = list(profiles[0]["descriptors"])
        return cls(
            molecules=len(profiles),
            heavy_atoms=(min(p["heavy_atoms"] for p in profiles), max(p["heavy_atoms"] for p in profiles)),
            elements=sorted({e for p in profiles for e in p["elements"]}),
            descriptors={n: (min(p["descriptors"][n] for p in profiles), max(p["descriptors"][n] for p in profiles))
                         for n in names})

    def to_dict(self) -> dict[str, Any]:
        return {"molecules": self.molecules, "heavy_atoms": list(self.heavy_atoms), "elements": self.elements,
                "descriptors": {k: list(v) for k, v in self.descriptors.items()},
                "method": "bounding box of the training split (sciarch_datasets.molecules.domain)"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Domain:
        return cls(molecules=int(data["molecules"]), heavy_atoms=tuple(data["heavy_atoms"]),
                   elements=list(data["elements"]),
                   descriptors={k: (float(v[0]), float(v[1])) for k, v in data["descriptors"].items()})

    def check(self, smiles: str) -> list[str]:
        """Every way the molecule is outside the domain (``kind: detail``); empty when inside."""
        p = profile(smiles)
        if p is None:
            return ["unreadable: the molecule could not be profiled"]
        out = []
        low, high = self.heavy_atoms
        if not low <= p["heavy_atoms"] <= high:
            out.append(f"size: {p['heavy_atoms']} heavy atoms, training {low}-{high}")
        unseen = [e for e in p["elements"] if e not in self.elements]
        if unseen:
            out.append(f"element: {', '.join(unseen)} never in training")
        outside = []
        for name, value in p["descriptors"].items():
            if name in self.descriptors:
                lo, hi = self.descriptors[name]
                if not lo - 1e-9 <= value <= hi + 1e-9:
                    outside.append(f"{name} {value:.4g} (training {lo:.4g} to {hi:.4g})")
        if outside:
            out.append(f"descriptors: {'; '.join(outside)}")
        return out


def kind(reason: str) -> str:
    """The kind of a :meth:`Domain.check` reason (``size``, ``element``, ``descriptors``)."""
    return reason.split(":", 1)[0]
