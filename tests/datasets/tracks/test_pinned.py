"""A few simulated pictures pinned to their truth: a change to the simulator that changes what a
(seed, index) gives must say so here (and bump ``SIMULATOR_VERSION``, which caches key on).

Version 3 (the vectorised simulator) changed every picture's realisation, not its physics. The
formulas, step rules and distributions are those of version 2; what changed is the order in which
random numbers are drawn: the particles of a picture are stepped together, a step's scattering
normals and δ-ray uniform come from a stream per picture in the order of its particles, decays and
interactions draw as they happen during the common stepping, the bubbles of all particles are drawn
at once, a vertex's prongs are drawn together, and film grain comes from 16 random bits per pixel
through the normal quantiles. dE/dx, the δ-ray rate and Highland's coefficient are interpolated in
tables of the same formulas (relative error ≤ 10⁻⁵ but at kinks). The physics tests (helix radius,
spiralling, Bethe–Bloch, Highland, decay lengths, V0 kinematics, bubble density) hold for both.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from sciarch_datasets.tracks import ChamberConfig
from sciarch_datasets.tracks.optics import simulate_picture

CONFIG = ChamberConfig(image_size=(256, 256), tracks=(20, 20))

# (seed, index): particles, hits, annotated tracks, digest of the truth, the first particle's truth
PINNED = {
    (0, 0): (38, 6075, 34, "04fc89134e50fba6", [0, "pi-", -1, "beam", -1, "exit", 3.978573, 3.978573, 288, True]),
    (0, 1): (38, 6132, 35, "93cf76d34e0c45ac", [0, "pi-", -1, "beam", -1, "exit", 3.977022, 3.977022, 298, True]),
    (7, 3): (31, 7473, 28, "3af8546bee7355be", [0, "pi-", -1, "beam", -1, "exit", 3.983538, 3.983538, 311, True]),
}
# version 2 (per-particle Python stepping), for the record
PINNED_V2 = {
    (0, 0): (32, 6488, 28, "1d46998e5f9131df", [0, "pi+", 1, "primary", -1, "exit", 0.260387, 0.260301, 163, True]),
    (0, 1): (42, 6215, 37, "e29d222a9aa71343", [0, "pi-", -1, "beam", -1, "interaction", 4.000983, 4.000983, 237, True]),
    (7, 3): (32, 5527, 26, "f49a08a2fc0b84c0", [0, "pi-", -1, "beam", -1, "interaction", 4.028325, 4.028325, 55, True]),
}


def truth(picture) -> list[list]:
    """Per particle: index, species, charge, origin, parent, how it ended, p and p_T, hits, annotated."""
    rows = []
    for track in picture.tracks:
        p = track.particle
        rows.append([p.index, p.species.name, p.species.charge, p.origin, p.parent, p.end, round(p.p, 6),
                     round(p.p_t, 6), len(track.hits), bool(track.annotated)])
    return rows


@pytest.mark.parametrize(("seed", "index"), sorted(PINNED))
def test_pictures_keep_their_pinned_truth(seed: int, index: int) -> None:
    rows = truth(simulate_picture(CONFIG, seed, index))
    particles, hits, annotated, digest, first = PINNED[seed, index]
    assert rows[0] == first
    assert (len(rows), sum(r[8] for r in rows), sum(r[9] for r in rows)) == (particles, hits, annotated)
    assert hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16] == digest
