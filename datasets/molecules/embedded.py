"""Data sets that ship inside this package, so nothing is downloaded and no extra library is needed.

``sciarch_datasets/molecules/data/`` holds, unchanged, with their licences and citations in
``data/NOTICE.md``:

- ``freesolv.csv``: FreeSolv (Mobley & Guthrie, J. Comput.-Aided Mol. Des. 28, 711, 2014;
  CC BY 4.0), 642 small neutral molecules with experimental hydration free energies (``expt``,
  kcal/mol) and the alchemical-free-energy estimate (``calc``). MoleculeNet uses ``expt``.
- ``solubility.train.sdf`` / ``solubility.test.sdf``: the aqueous solubility set of RDKit's
  documentation (BSD 3-Clause; 1025 + 257 molecules; log S in ``SOL``, a three-way class in
  ``SOL_classification``), originally from Huuskonen, J. Chem. Inf. Comput. Sci. 40, 773, 2000.
"""

from __future__ import annotations

from pathlib import Path

from sciarch import NotFoundError

#: Folder of the shipped files.
DATA_DIR = Path(__file__).resolve().parent / "data"

#: name -> (file in DATA_DIR, what it holds)
EMBEDDED = {
    "freesolv": ("freesolv.csv", "FreeSolv: 642 hydration free energies (kcal/mol), column 'expt'"),
    "solubility-train": ("solubility.train.sdf", "RDKit solubility set, training part (1025 molecules, log S)"),
    "solubility-test": ("solubility.test.sdf", "RDKit solubility set, test part (257 molecules, log S)"),
}


def embedded_file(name: str) -> Path:
    """Path of an embedded data set: ``freesolv``, ``solubility-train`` or ``solubility-test``."""
    if name not in EMBEDDED:
        raise NotFoundError(f"no embedded molecule data set {name!r}; known: {', '.join(EMBEDDED)}")
    path = DATA_DIR / EMBEDDED[name][0]
    if not path.is_file():
        raise NotFoundError(f"{path}: missing from this installation of sciarch (the package data of "
                            "sciarch_datasets.molecules); reinstall sciarch")
    return path
