"""What a chemist checks before a molecule is used: refusals, notes, and optional standardisation.

Every molecule goes through :func:`inspect`, whatever the settings:

- **refused** (the record is skipped and reported, or gets an ``error`` in a prediction file):
  dummy atoms (``*``, atomic number 0: a placeholder, not an element) and elements beyond 100,
  which the featuriser has no column for (element 118 would look like "some other element");
- **noted** (used, and said so per record): several fragments (a salt, a mixture, a solvate),
  metal atoms (a bare metal ion, an organometallic), isotope labels, radicals.

With ``standardise: true`` the molecule is first standardised with RDKit's ``rdMolStandardize``
(the steps in :class:`Standardiser`, in this order), and each change is noted the same way:

1. ``cleanup``: RDKit's ``Cleanup`` (hydrogens removed, bonds to metals broken, functional groups
   normalised, e.g. nitro and N-oxides drawn one way, acids reionised so the strongest is charged);
2. fragments: ``largest`` keeps the largest organic fragment (a salt's counter-ion, a solvent
   of crystallisation go), ``keep`` keeps a mixture whole;
3. ``neutralise``: charges removed where a hydrogen can be added or taken (``Uncharger``);
   quaternary ammonium and similar stay charged;
4. ``isotopes``: isotope labels removed (a deuterated analogue becomes its parent);
5. ``tautomers``: RDKit's canonical tautomer, **off by default**: the canonical tautomer is a
   naming convention, not the dominant tautomer in water, and it can change stereo and
   aromaticity in ways that hurt more than help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sciarch import require

Chem = require("rdkit.Chem", "chemistry")
rdBase = require("rdkit.rdBase", "chemistry")

#: elements the featuriser encodes (its one-hot runs over atomic numbers 1-100)
MAX_ELEMENT = 100
#: hydrogen, noble gases and the non-metals and metalloids of the p block; every other element
#: (alkali, alkaline-earth, transition, post-transition metals, lanthanides, actinides) is a metal
NON_METALS = {1, 2, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32, 33, 34, 35, 36, 51, 52, 53, 54, 85, 86, 117, 118}


def refusal(mol: Any) -> str | None:
    """Why ``mol`` cannot be used at all, or None."""
    numbers = [a.GetAtomicNum() for a in mol.GetAtoms()]
    if 0 not in numbers and max(numbers, default=0) <= MAX_ELEMENT:
        return None
    dummies = [i + 1 for i, z in enumerate(numbers) if z == 0]
    if dummies:
        return (f"dummy atom '*' (atom {', '.join(map(str, dummies[:5]))}): a placeholder, not an element; "
                "replace it with the real group")
    beyond = sorted({f"{a.GetSymbol()} ({a.GetAtomicNum()})" for a in mol.GetAtoms()
                     if a.GetAtomicNum() > MAX_ELEMENT})
    return f"element {', '.join(beyond)} is outside the elements 1-{MAX_ELEMENT} the features encode"


def notes(mol: Any) -> list[str]:
    """What a chemist would want to know about a molecule that is used as it is."""
    out = []
    fragments = len(Chem.GetMolFrags(mol, asMols=False, sanitizeFrags=False))
    if fragments > 1:
        out.append(f"mixture: {fragments} fragments used together (a salt, mixture or solvate)")
    metals, isotopes, radicals = set(), set(), 0
    for atom in mol.GetAtoms():  # one pass: most molecules have none of these
        if atom.GetAtomicNum() not in NON_METALS:
            metals.add(atom.GetSymbol())
        if atom.GetIsotope():
            isotopes.add(f"{atom.GetIsotope()}{atom.GetSymbol()}")
        radicals += atom.GetNumRadicalElectrons()
    if metals:
        if mol.GetNumAtoms() == 1:
            out.append(f"metal: a bare metal ion ({Chem.MolToSmiles(mol)}), no organic part")
        else:
            out.append(f"metal: contains {', '.join(sorted(metals))}")
    if isotopes:
        out.append(f"isotopes: {', '.join(sorted(isotopes))} labelled (the mass feature differs from the parent's)")
    if radicals:
        out.append(f"radical: {radicals} unpaired electron(s)")
    return out


@dataclass(frozen=True)
class Standardiser:
    """The optional standardisation steps (see the module's documentation)."""

    cleanup: bool = True
    fragments: str = "largest"  # or "keep"
    neutralise: bool = True
    isotopes: bool = True
    tautomers: bool = False

    def __post_init__(self) -> None:
        if self.fragments not in ("largest", "keep"):
            from sciarch import UsageError

            raise UsageError(f"fragments must be 'largest' or 'keep', got {self.fragments!r}")

    def __call__(self, mol: Any) -> tuple[Any, list[str]]:
        """``(standardised molecule, what changed)``; the input is not modified."""
        from rdkit.Chem.MolStandardize import rdMolStandardize as std

        changes: list[str] = []
        before = Chem.MolToSmiles(mol)

        def step(name: str, new: Any, describe: Any = None) -> Any:
            nonlocal before
            after = Chem.MolToSmiles(new)
            if after != before:
                changes.append(describe(before, after) if describe else f"{name}: {before} -> {after}")
                before = after
            return new

        with rdBase.CaptureErrorLog():  # the standardiser logs every step it takes at INFO level
            if self.cleanup:
                mol = step("cleanup", std.Cleanup(mol))
            if self.fragments == "largest" and len(Chem.GetMolFrags(mol)) > 1:
                whole = set(Chem.MolToSmiles(mol).split("."))
                mol = step("largest fragment", std.LargestFragmentChooser(preferOrganic=True).choose(mol),
                           lambda b, a: f"largest fragment: kept {a}, removed "
                                        f"{'.'.join(sorted(whole - set(a.split('.'))))}")
            if self.neutralise:
                mol = step("neutralised", std.Uncharger().uncharge(mol))
            if self.isotopes and any(a.GetIsotope() for a in mol.GetAtoms()):
                # deuterium becomes plain hydrogen, still explicit: removed to give the parent's graph
                mol = step("isotopes removed", Chem.RemoveHs(std.IsotopeParent(mol, skipStandardize=True)))
            if self.tautomers:
                mol = step("tautomer", std.TautomerEnumerator().Canonicalize(mol))
        return mol, [f"standardised: {c}" for c in changes]
