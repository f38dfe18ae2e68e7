"""The shipped data sets: present, complete, licensed, and the chemistry extra without datamol."""

from __future__ import annotations

import hashlib
import importlib.metadata
import re

from packaging.requirements import Requirement
from sciarch_datasets.molecules.embedded import DATA_DIR, EMBEDDED, embedded_file

#: what NOTICE.md records for each file: the bytes shipped are the bytes described
SHA256 = {
    "freesolv.csv": "ab5895d914ee87cb563bd7b9611e869527bba45bec6b014d34dc495a0f9dcb72",
    "solubility.train.sdf": "184a7df425f4a5403d8572c7cf898d259801332f0b7f4fcfab91ccb9aba2994e",
    "solubility.test.sdf": "71fbac86a75146b2f7a142f8939c159435d20813fbc0022f9fce0510f0e7ee02",
}


def chemistry_requirements() -> list[Requirement]:
    out = []
    for text in importlib.metadata.requires("sciarch") or []:
        requirement = Requirement(text)
        if requirement.marker is not None and requirement.marker.evaluate({"extra": "chemistry"}) \
                and not requirement.marker.evaluate({"extra": ""}):
            out.append(requirement)
    return out


def test_chemistry_extra_names_no_datamol():
    names = {re.sub(r"[-_.]+", "-", r.name).lower() for r in chemistry_requirements()}
    assert "rdkit" in names and "torch-geometric" in names  # the metadata was really read
    assert "datamol" not in names


def test_shipped_files_match_their_notice():
    notice = (DATA_DIR / "NOTICE.md").read_text()
    assert (DATA_DIR / "LICENSE-RDKit.txt").read_text().startswith("BSD 3-Clause License")
    assert "CC BY 4.0" in notice and "Mobley" in notice and "Huuskonen" in notice
    for name, (filename, _) in EMBEDDED.items():
        path = embedded_file(name)
        assert path.name == filename
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == SHA256[filename] and digest in notice


def test_shipped_files_hold_what_the_specs_say():
    assert len(embedded_file("freesolv").read_text().splitlines()) == 1 + 642
    assert embedded_file("solubility-train").read_text().count("$$$$") == 1025
    assert embedded_file("solubility-test").read_text().count("$$$$") == 257


def test_dataset_specs_state_licence_and_source():
    from sciarch_molecules import plugin

    specs = {s.name: s for s in plugin.sciarch_datasets()}
    for name in ("freesolv", "solubility"):
        assert "datamol" not in specs[name].source + specs[name].license
        assert "NOTICE.md" in specs[name].source and specs[name].citation
