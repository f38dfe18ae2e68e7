"""Records that are the same molecule: found by canonical identity, reported, kept on one side of a split.

Two records are the same molecule when their canonical isomeric SMILES (RDKit's, with stereo,
of the molecule as used: after standardisation when that is on; every SMILES column together)
are equal. ``CCO``, ``OCC`` and ``C(O)C`` are one molecule; ``C[C@H](N)C(=O)O`` and its
enantiomer are two; with ``standardise: true`` a sodium salt and its free acid are one.

Duplicates are kept (a replicate measurement is data), but they are reported, each record is
noted with the rows it repeats, and a *conflict* (the same molecule with different target
values) is reported with every value. Splits put all records of one molecule on one side, so a
test molecule is never also a training molecule (:mod:`.splits`, ``groups=``).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Duplicates:
    """Groups of records (indices) that are one molecule, and what differs between them."""

    #: identity -> record indices, only identities with two or more records
    groups: dict[str, list[int]] = field(default_factory=dict)
    #: identities whose records disagree on a target value
    conflicts: list[str] = field(default_factory=list)
    #: per record: notes to add (empty list when the record is unique)
    notes: list[list[str]] = field(default_factory=list)
    #: one line per conflicting molecule, with every value
    conflict_lines: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(len(g) for g in self.groups.values())


def _value(v: float) -> str:
    return "missing" if math.isnan(v) else f"{v:g}"


def find_duplicates(identities: Sequence[Hashable], targets: np.ndarray, labels: Sequence[str],
                    target_names: Sequence[str], *, tolerance: float = 1e-6) -> Duplicates:
    """Duplicates among records; ``labels`` name records in reports ("mixed.csv row 12 (line 13)").
    ``identities`` are canonical SMILES, or anything hashable that no other record shares (the
    ``(None, index)`` of :func:`.graphs.identities`: never in a group, so never shown).

    Values that differ by more than ``tolerance`` (absolute) on a target both records have make
    a conflict; a value present in one record and missing in the other does not.
    """
    by_identity: dict[Hashable, list[int]] = {}
    for i, identity in enumerate(identities):
        by_identity.setdefault(identity, []).append(i)
    out = Duplicates(notes=[[] for _ in identities])
    y = np.asarray(targets, dtype=np.float64).reshape(len(identities), -1)
    for identity, members in by_identity.items():
        if len(members) < 2:
            continue
        out.groups[identity] = members
        differing = []
        for t, name in enumerate(target_names):
            values = y[members, t]
            known = values[~np.isnan(values)]
            if len(known) > 1 and float(known.max() - known.min()) > tolerance:
                differing.append((t, name))
        for i in members:
            others = ", ".join(labels[j] for j in members if j != i)
            out.notes[i].append(f"duplicate: the same molecule ({identity}) as {others}")
        if differing:
            out.conflicts.append(identity)
            parts = []
            for t, name in differing:
                values = "; ".join(f"{labels[i]}: {_value(y[i, t])}" for i in members)
                parts.append(f"{name} {values}")
            line = f"{identity}: {' | '.join(parts)}"
            out.conflict_lines.append(line)
            for i in members:
                out.notes[i].append(f"conflicting duplicate: {' | '.join(parts)}")
    return out
