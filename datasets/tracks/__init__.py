"""Bubble-chamber pictures: a physics simulator and a reader of COCO-format picture folders.

The simulator (:mod:`.simulator`, :mod:`.physics`, :mod:`.optics`) makes pictures of charged
particles in a liquid-hydrogen bubble chamber with the truth of every track; :mod:`.coco` writes
them as images + COCO JSON and reads any COCO folder (a user's scanned photographs) the same way.
"""

from .physics import CHARGED, LIQUID_HYDROGEN, PARTICLES, Medium, Species
from .simulator import ChamberConfig

#: bumped whenever a change to the simulator changes the pictures it makes (caches key on it)
SIMULATOR_VERSION = 3

__all__ = ["CHARGED", "LIQUID_HYDROGEN", "PARTICLES", "SIMULATOR_VERSION", "ChamberConfig", "Medium", "Species"]
