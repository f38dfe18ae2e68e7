"""Transport of every live particle of one or more pictures together, one vectorised step for all.

The particles' state is a structure of arrays (one row per quantity, one column per particle); a
step moves every column at once with the rules :func:`~.simulator.transport` documents: a step is
at most three pixels long, turns the momentum by at most 0.05 rad and loses at most 5 % of the
kinetic energy; the momentum turns about the field half before and half after the move; the energy
loss is Bethe–Bloch (plus E/X₀ for electrons); multiple scattering is Highland's; δ-rays are
knocked out at the Bethe–Bloch rate above ``delta_ray_min_mev``. Particles made along the way
(δ-rays, decay and interaction products, V0 daughters) join the arrays at the next step.

Pictures stay fixed by their own generator whatever else is transported with them:

* the random numbers of a step (two normals for scattering, a uniform for δ-rays) come from
  a stream per picture, drawn from its generator ``STREAM`` steps at a time, and each step takes
  the next ones in the order of that picture's particles (the order they were made in, which
  depends on that picture alone);
* decays, interactions and V0s draw from the picture's generator as they happen;
* arithmetic is element by element on contiguous arrays, so a particle's numbers do not depend on
  the other particles in the arrays.

The continuous quantities that depend on the momentum alone (dE/dx, the δ-ray rate, the Highland
coefficient) are tabulated per species on a grid of 4096 points in ln p between 10⁻⁴ and
10² GeV/c and interpolated linearly: relative error below 10⁻⁵, but within a grid cell of a kink
(Bethe–Bloch's βγ = 0.05 floor, the δ-ray threshold T_max = T_cut) below 10⁻³
(tests/datasets/tracks/test_render.py checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from . import compiled
from .physics import (
    _SPECIES,
    C_LIGHT,
    ELECTRON_MASS,
    PARTICLES,
    Medium,
    Species,
    delta_ray_rate_array,
    highland_coefficient_array,
    ionisation_loss_array,
    max_energy_transfer_array,
)

#: particle steps' worth of random numbers each picture draws at a time
STREAM = 4096
#: the momentum grid of the tables
GRID = 4096
LN_P_LOW, LN_P_HIGH = math.log(1e-4), math.log(1e2)
SPECIES_INDEX = {s.name: i for i, s in enumerate(_SPECIES)}
MASSES = np.array([s.mass for s in _SPECIES])
CHARGES = np.array([float(s.charge) for s in _SPECIES])
CTAUS = np.array([s.ctau for s in _SPECIES])
ENDS = ("", "stopped", "decay", "interaction", "exit", "steps")
_STOPPED, _DECAY, _INTERACTION, _EXIT, _STEPS = 1, 2, 3, 4, 5

# rows of the state array. 0-5 are what a step records: position, β, slot, point number
X, Y, Z, BETA, SLOT, POINT = range(6)
UX, UY, UZ, P, MASS, HALF_TURN, STEP_TURN, T_STOP, PROPER, TRAVELLED, DECAY_AT, INTERACT_AT, DELTAS, \
    TABLE, PICTURE = range(6, 21)
ROWS = 21


class _Columns(NamedTuple):
    """The state's rows and the end codes, as the compiled step reads them."""

    X: int = X
    Y: int = Y
    Z: int = Z
    BETA: int = BETA
    POINT: int = POINT
    UX: int = UX
    UY: int = UY
    UZ: int = UZ
    P: int = P
    MASS: int = MASS
    HALF_TURN: int = HALF_TURN
    STEP_TURN: int = STEP_TURN
    T_STOP: int = T_STOP
    PROPER: int = PROPER
    TRAVELLED: int = TRAVELLED
    DECAY_AT: int = DECAY_AT
    INTERACT_AT: int = INTERACT_AT
    DELTAS: int = DELTAS
    TABLE: int = TABLE
    STOPPED: int = _STOPPED
    DECAY: int = _DECAY
    INTERACTION: int = _INTERACTION
    EXIT: int = _EXIT
    STEPS: int = _STEPS


_COLUMNS = _Columns()


@lru_cache(maxsize=16)
def _tables(field_tesla: float, medium: Medium, delta_ray_min_mev: float, energy_loss: bool, delta_rays: bool,
            multiple_scattering: bool) -> np.ndarray:
    """(3, species × GRID): dE/dx (GeV/m), δ-rays per metre, Highland coefficient."""
    ln_p = np.linspace(LN_P_LOW, LN_P_HIGH, GRID)
    p = np.exp(ln_p)
    out = np.zeros((3, len(_SPECIES) * GRID))
    t_cut = delta_ray_min_mev * 1e-3
    for k, species in enumerate(_SPECIES):
        if species.charge == 0:
            continue
        part = slice(k * GRID, (k + 1) * GRID)
        mass, charge = species.mass, species.charge
        if energy_loss:
            dedx = ionisation_loss_array(p, mass, charge, medium)
            if mass == ELECTRON_MASS:
                dedx = dedx + np.hypot(p, mass) / medium.radiation_length_m
            out[0, part] = dedx
        if delta_rays:
            out[1, part] = delta_ray_rate_array(p, mass, t_cut, charge, medium)
        if multiple_scattering:
            out[2, part] = highland_coefficient_array(p, mass, charge, medium)
    return out


def lookup(table: np.ndarray, base: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The tabulated quantities (3, n) at momenta ``p`` of species whose rows start at ``base``."""
    position = (np.log(p) - LN_P_LOW) * ((GRID - 1) / (LN_P_HIGH - LN_P_LOW))
    np.maximum(position, 0.0, out=position)  # (np.clip, with more overhead)
    np.minimum(position, GRID - 1.000001, out=position)
    cell = position.astype(np.intp)
    weight = position - cell
    cell += base
    low = table.take(cell, axis=1)
    high = table.take(cell + 1, axis=1)
    high -= low
    high *= weight
    high += low
    return high


@dataclass
class Birth:
    """A particle to be made: its picture, what it is and where, and who made it."""

    picture: int
    species: str
    position: np.ndarray
    momentum: np.ndarray
    origin: str
    parent: int  # the parent's index within its picture, -1 for none
    decay_length_m: float = math.nan  # a V0 daughter's: the V0's flight distance
    interaction_length_m: float = math.inf
    delta_rays: bool = True
    v0: object = None  # the V0 whose daughter this is (its ``daughters`` get this particle's index)


@dataclass
class Track:
    """What the transport knows of one particle when it is done."""

    picture: int
    index: int  # within its picture
    species: Species
    origin: str
    parent: int
    vertex: np.ndarray
    momentum: np.ndarray
    decay_length_m: float
    end: str = ""
    momentum_end: np.ndarray | None = None


class Transport:
    """Steps the particles of several pictures together until every one has ended.

    ``cfg``: the :class:`~.simulator.ChamberConfig`; ``rngs``: one generator per picture.
    ``on_end(track, where, rng) -> list[Birth]`` gives what a particle that ended makes (decay
    products, an interaction's star); with ``follow=False`` only the particles added from outside
    are transported, and what they make is kept in :attr:`secondaries` (per picture). Call :meth:`add`, then :meth:`run`, then :meth:`paths`.
    """

    def __init__(self, cfg, rngs: list[np.random.Generator], *, on_end=None, follow: bool = True,
                 max_steps: int = 20000) -> None:
        self.cfg = cfg
        self.rngs = rngs
        self.made = [0] * len(rngs)  # particles made so far in each picture
        self.on_end = on_end
        self.follow = follow
        self.max_steps = max_steps
        self.table = _tables(float(cfg.field_tesla), cfg.medium, float(cfg.delta_ray_min_mev), bool(cfg.energy_loss),
                             bool(cfg.delta_rays), bool(cfg.multiple_scattering))
        self.state = np.zeros((ROWS, 0))
        # two flat buffers the state lives in by turns (a new state is written into the one it is
        # not in): arrays of the state's size made afresh at every step would each cost their
        # pages' faults (the allocator maps and unmaps blocks this large)
        self._buffers = [np.empty(0), np.empty(0)]
        self._in_buffer: int | None = None
        self.tracks: list[Track] = []  # by slot (the order they were made in, all pictures together)
        # every point recorded, step after step: x, y, z, β, slot, point number (6, used of capacity)
        self._records = np.empty((POINT + 1, 4096))
        self._recorded = 0
        # each picture's stream of random numbers for steps: 2 normals and a uniform per step
        self.length = max(STREAM, int(cfg.max_particles))
        self.stream = np.empty((3, len(rngs) * self.length))
        self.stream_base = np.arange(len(rngs)) * self.length
        self.cursor = np.full(len(rngs), self.length)
        self._counts = np.zeros(len(rngs), dtype=np.int64)  # (the compiled step's room)
        for picture in range(len(rngs)):
            self._fill(picture)
        self.secondaries: list[list[Birth]] = [[] for _ in rngs]
        self._pending: list[Birth] = []  # δ-rays of this step
        self._ended: list[tuple[Track, np.ndarray]] = []  # particles that ended this step, and where
        self.step_max = 3 * cfg.pixel_size_m
        self.half_width, self.half_height, self.half_depth = \
            0.5 * cfg.chamber_width_m, 0.5 * cfg.height_m, 0.5 * cfg.depth_m
        self.centre = np.array([[self.half_width], [self.half_height], [0.0]])
        self.centre_reach = np.array([[self.half_width], [self.half_height], [self.half_depth]])

    # -- making particles -----------------------------------------------------------------------

    def add(self, births: list[Birth]) -> None:
        """Make particles, in the order given (what matters is each picture's own order)."""
        cfg = self.cfg
        made, tracks = self.made, self.tracks
        slots, kinds, pictures, vertices, momenta, deltas, lengths = [], [], [], [], [], [], []
        for birth in births:
            picture = birth.picture
            if made[picture] >= cfg.max_particles:
                continue
            vertex = np.array(birth.position, dtype=np.float64)
            momentum = np.array(birth.momentum, dtype=np.float64)
            track = Track(picture, made[picture], PARTICLES[birth.species], birth.origin, birth.parent, vertex,
                          momentum, birth.decay_length_m)
            if birth.v0 is not None:
                birth.v0.daughters = (*birth.v0.daughters, track.index)
            made[picture] += 1
            slots.append(len(tracks))
            tracks.append(track)
            kinds.append(SPECIES_INDEX[birth.species])
            pictures.append(picture)
            vertices.append(vertex)
            momenta.append(momentum)
            deltas.append(1.0 if birth.delta_rays and birth.origin != "delta" else 0.0)
            lengths.append(birth.interaction_length_m)
        if not slots:
            return
        n = len(slots)
        new = np.empty((ROWS, n))
        kinds = np.array(kinds)
        new[X:Z + 1] = np.array(vertices).T
        momentum = np.array(momenta).T
        p = np.sqrt((momentum * momentum).sum(axis=0))
        mass, charge = MASSES[kinds], CHARGES[kinds]
        with np.errstate(divide="ignore", invalid="ignore"):
            new[UX:UZ + 1] = momentum / p
            new[STEP_TURN] = 0.05 / (C_LIGHT * cfg.field_tesla * np.abs(charge))
        new[P], new[MASS] = p, mass
        new[HALF_TURN] = -0.5 * C_LIGHT * charge * cfg.field_tesla
        new[T_STOP] = np.where(mass == ELECTRON_MASS, 0.2e-3, 1.0e-3)
        energy = np.sqrt(p * p + mass * mass)
        new[BETA] = p / energy
        new[SLOT] = slots
        new[POINT] = 0.0
        new[PROPER] = 0.0
        new[TRAVELLED] = 0.0
        new[DELTAS] = deltas
        new[TABLE] = kinds * GRID
        new[PICTURE] = pictures
        # from each picture's generator: where each of its new particles decays or interacts
        uniforms = np.empty((2, n))
        if len(self.rngs) == 1:
            uniforms[:] = self.rngs[0].random((n, 2)).T
        else:  # (grouped in Python: a few particles of a few pictures at a time)
            groups: dict[int, list[int]] = {}
            for j, picture in enumerate(pictures):
                groups.setdefault(picture, []).append(j)
            for picture, mine in groups.items():
                where = slice(mine[0], mine[-1] + 1) if mine[-1] - mine[0] + 1 == len(mine) else mine
                uniforms[:, where] = self.rngs[picture].random((len(mine), 2)).T
        ctau = CTAUS[kinds]
        length = np.array(lengths)
        with np.errstate(divide="ignore", invalid="ignore"):
            decays = bool(cfg.decays) & np.isfinite(ctau)
            new[DECAY_AT] = np.where(decays, -np.log(1.0 - uniforms[0]) * np.where(decays, ctau, 0.0), np.inf)
            finite = np.isfinite(length)
            new[INTERACT_AT] = np.where(finite, -np.log(1.0 - uniforms[1]) * np.where(finite, length, 0.0), np.inf)
        self._record(new)
        # a particle made below its tracking threshold stops where it is made
        stopped = (energy - mass) < new[T_STOP]
        if stopped.any():
            self._end(new[:, stopped], np.full(int(stopped.sum()), _STOPPED))
            new = new[:, ~stopped]
        if new.shape[1]:
            if not self.state.shape[1]:
                self.state, self._in_buffer = new.take(np.argsort(new[PICTURE], kind="stable"), axis=1), None
            elif len(self.rngs) == 1:
                self._become(lambda out: np.concatenate([self.state, new], axis=1, out=out),
                             self.state.shape[1] + new.shape[1])
            else:  # each picture's particles together, in their own order: new ones after its others
                new = new.take(np.argsort(new[PICTURE], kind="stable"), axis=1)
                old = self.state
                at = np.searchsorted(old[PICTURE], new[PICTURE], side="right").tolist()
                # the old columns in runs, each picture's new ones after its run (slices, not a scatter)
                pieces, done, first = [], 0, 0
                for k in range(1, len(at) + 1):
                    if k == len(at) or at[k] != at[first]:
                        pieces += [old[:, done:at[first]], new[:, first:k]]
                        done, first = at[first], k
                pieces.append(old[:, done:])
                self._become(lambda out: np.concatenate(pieces, axis=1, out=out), old.shape[1] + new.shape[1])

    def _record(self, state: np.ndarray) -> None:
        """Keep the points ``state``'s columns are at (its first six rows), after those kept so far."""
        n = state.shape[1]
        if self._recorded + n > self._records.shape[1]:
            grown = np.empty((POINT + 1, 2 * (self._recorded + n)))
            grown[:, :self._recorded] = self._records[:, :self._recorded]
            self._records = grown
        self._records[:, self._recorded:self._recorded + n] = state[:POINT + 1]
        self._recorded += n

    def _become(self, fill, columns: int) -> np.ndarray:
        """Make the state ``columns`` particles: ``fill(out)`` writes them into a (ROWS, columns)
        part of the buffer the state is not in (grown, to twice what it needs, when too small)."""
        spare = 1 if self._in_buffer == 0 else 0
        if len(self._buffers[spare]) < ROWS * columns:
            self._buffers[spare] = np.empty(ROWS * max(2 * columns, 256))
        out = self._buffers[spare][:ROWS * columns].reshape(ROWS, columns)
        fill(out)
        self.state, self._in_buffer = out, spare
        return out

    def _randoms(self, pictures: np.ndarray) -> np.ndarray:
        """(3, n) numbers for this step of particles of ``pictures`` (grouped by picture): each
        picture's next numbers in its stream, in its particles' order."""
        counts = np.bincount(pictures, minlength=len(self.rngs))
        low = self.cursor + counts > self.length
        if low.any():
            for picture in np.flatnonzero(low):
                self._fill(int(picture))
        first = np.cumsum(counts) - counts
        base = self.stream_base + self.cursor - first
        self.cursor += counts
        return self.stream.take(base.take(pictures) + np.arange(len(pictures)), axis=1)

    def _fill(self, picture: int) -> None:
        """Draw the used part of a picture's stream again (what is left moves to the front)."""
        start, used = picture * self.length, int(self.cursor[picture])
        stream = self.stream
        stream[:, start:start + self.length - used] = stream[:, start + used:start + self.length].copy()
        rng = self.rngs[picture]
        stream[:2, start + self.length - used:start + self.length] = rng.standard_normal((2, used))
        stream[2, start + self.length - used:start + self.length] = rng.random(used)
        self.cursor[picture] = 0

    # -- stepping -------------------------------------------------------------------------------

    def run(self) -> None:
        self._flush()
        # a zero dE/dx, a particle stopped dead, a direction along the field: divisions by zero
        # whose results are never used (set once here: np.errstate costs as much as a step's ufunc)
        with np.errstate(divide="ignore", invalid="ignore"):
            while self.state.shape[1]:
                self._step()

    def _step(self) -> None:
        if compiled.enabled():
            self._compiled_step()
            return
        cfg = self.cfg
        s = self.state
        x, y, z = s[X], s[Y], s[Z]
        ux, uy, uz = s[UX], s[UY], s[UZ]
        p, mass = s[P], s[MASS]
        energy = np.sqrt(p * p + mass * mass)
        kinetic = energy - mass
        dedx, rate, highland = lookup(self.table, s[TABLE].astype(np.intp), p)
        ds = s[STEP_TURN] * p
        np.minimum(ds, self.step_max, out=ds)
        if cfg.energy_loss:  # (a zero dE/dx: no limit)
            np.minimum(ds, 0.05 * kinetic / dedx, out=ds)
        np.maximum(ds, 2e-5, out=ds)
        randoms = self._randoms(s[PICTURE].astype(np.intp))
        if cfg.delta_rays:
            fired = randoms[2] < rate * ds * s[DELTAS]
            if fired.any():
                self._delta_rays(np.flatnonzero(fired))
        # the Lorentz force turns the transverse direction by dφ = −0.3 z B ds / p, half before and
        # half after the move (second-order accurate); sin and cos by their series where |half| is
        # small (always, but for the 2e-5 m floor on the step)
        half = s[HALF_TURN] * ds / p
        h2 = half * half
        sin = half * (1.0 - h2 * (1.0 / 6.0 - h2 * (1.0 / 120.0 - h2 / 5040.0)))
        cos = 1.0 - h2 * (0.5 - h2 * (1.0 / 24.0 - h2 / 720.0))
        wide = h2 > 1e-3
        if wide.any():
            sin[wide], cos[wide] = np.sin(half[wide]), np.cos(half[wide])
        ux1 = cos * ux - sin * uy
        uy1 = sin * ux + cos * uy
        x += ux1 * ds
        y += uy1 * ds
        z += uz * ds
        s[TRAVELLED] += ds
        ux2 = cos * ux1 - sin * uy1
        uy2 = sin * ux1 + cos * uy1
        if cfg.multiple_scattering:
            theta = highland * np.sqrt(ds)
            self._scatter(ux2, uy2, uz.copy(), theta * randoms[0], theta * randoms[1])
        else:
            s[UX], s[UY] = ux2, uy2
        stopped_now = None
        if cfg.energy_loss:
            energy_new = energy - dedx * ds
            stopped_now = energy_new <= mass
            p_new = np.sqrt(np.maximum(energy_new * energy_new - mass * mass, 0.0))
            s[P] = p_new
            s[BETA] = p_new / energy_new
            kinetic_next = energy_new - mass
        else:
            p_new = p
            s[BETA] = p / energy
            kinetic_next = kinetic
        s[PROPER] += ds * mass / p_new
        s[POINT] += 1.0
        self._record(s)
        # out of the chamber: |x − w/2| > w/2, |y − h/2| > h/2 or |z − 0| > d/2 (the three at once)
        outside = (np.abs(s[X:Z + 1] - self.centre) > self.centre_reach).any(axis=0)
        decayed = s[PROPER] >= s[DECAY_AT]
        interacted = s[TRAVELLED] >= s[INTERACT_AT]
        limit = s[POINT] >= self.max_steps
        ended = outside | decayed | interacted | limit | (kinetic_next < s[T_STOP])
        if stopped_now is not None:
            ended |= stopped_now
        if ended.any():
            which = np.flatnonzero(ended)
            # in order of precedence: too slow to go on (next step), steps used up, out of the
            # chamber, interacted, decayed, stopped by its energy loss within this step
            code = np.full(len(which), _STOPPED)
            code[limit[which]] = _STEPS
            code[outside[which]] = _EXIT
            code[interacted[which]] = _INTERACTION
            code[decayed[which]] = _DECAY
            if stopped_now is not None:
                code[stopped_now[which]] = _STOPPED
            finished = s[:, which]
            keep = np.flatnonzero(~ended)
            s = self._become(lambda out: s.take(keep, axis=1, out=out, mode="clip"), len(keep))
            self._end(finished, code)
        if self._pending or self._ended:
            self._flush()

    def _compiled_step(self) -> None:
        """:meth:`_step` with its arithmetic in two compiled kernels (the same numbers: the same
        operations in the same order; logarithms, and sines and cosines beyond the series, still
        by numpy)."""
        cfg = self.cfg
        s = self.state
        randoms = np.empty((3, s.shape[1]))
        if not compiled.stream_take(s, PICTURE, self.stream, self.stream_base, self.cursor, self.length,
                                    self._counts, randoms):
            randoms = self._randoms(s[PICTURE].astype(np.intp))
        dedx, highland, ds, fired, half, sin, cos, wide = compiled.step_start(
            s, np.log(s[P]), self.table, randoms,
            (GRID - 1) / (LN_P_HIGH - LN_P_LOW), LN_P_LOW, GRID - 1.000001, self.step_max, bool(cfg.energy_loss),
            bool(cfg.delta_rays), _COLUMNS)
        if cfg.delta_rays and fired.any():
            self._delta_rays(np.flatnonzero(fired))
        if wide:
            where = np.flatnonzero(half * half > 1e-3)
            sin[where], cos[where] = np.sin(half[where]), np.cos(half[where])
        codes = np.empty(s.shape[1], dtype=np.int64)
        ended = compiled.step_end(s, randoms, dedx, highland, ds, sin, cos, bool(cfg.energy_loss),
                                  bool(cfg.multiple_scattering), self.half_width, self.half_height, self.half_depth,
                                  float(self.max_steps), _COLUMNS, codes)
        self._record(s)
        if ended:
            which = np.flatnonzero(codes)
            finished = s[:, which]
            keep = np.flatnonzero(codes == 0)
            s = self._become(lambda out: s.take(keep, axis=1, out=out, mode="clip"), len(keep))
            self._end(finished, codes.take(which))
        if self._pending or self._ended:
            self._flush()

    def _scatter(self, ux: np.ndarray, uy: np.ndarray, uz: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        """Kink the directions ``u`` by small angles ``a``, ``b`` about two axes perpendicular to them."""
        s = self.state
        norm = np.sqrt(ux * ux + uy * uy)
        # e1 = u × z / |u × z| = (uy, −ux, 0)/n, e2 = u × e1 = (uz ux, uz uy, −n²)/n (n = 0: see steep)
        ai = a / norm
        bz = b * uz / norm
        bz += 1.0
        vx = ux * bz + ai * uy
        vy = uy * bz - ai * ux
        vz = uz - b * norm
        steep = np.flatnonzero(np.abs(uz) >= 0.9)
        if len(steep):  # near the field: e1 = u × x / |u × x| = (0, uz, −uy)/n
            sx, sy, sz, sa, sb = ux[steep], uy[steep], uz[steep], a[steep], b[steep]
            n = np.sqrt(sz * sz + sy * sy)
            e1y, e1z = sz / n, -sy / n
            vx[steep] = sx + sb * (sy * e1z - sz * e1y)
            vy[steep] = sy + sa * e1y - sb * sx * e1z
            vz[steep] = sz + sa * e1z + sb * sx * e1y
        length = np.sqrt(vx * vx + vy * vy + vz * vz)
        s[UX] = vx / length
        s[UY] = vy / length
        s[UZ] = vz / length

    def _delta_rays(self, which: np.ndarray) -> None:
        """δ-rays knocked out by the particles ``which`` where this step starts: energy from the
        1/T² spectrum, angle from the kinematics of a free electron, azimuth uniform (two uniforms
        each from the picture's generator, in the order of its particles)."""
        s = self.state
        t_cut = self.cfg.delta_ray_min_mev * 1e-3
        p, mass = s[P, which], s[MASS, which]
        t_top = max_energy_transfer_array(p, mass)
        pictures = s[PICTURE, which].astype(np.intp)
        u = np.empty((2, len(which)))
        for picture in np.unique(pictures):
            mine = np.flatnonzero(pictures == picture)
            u[:, mine] = self.rngs[picture].random((len(mine), 2)).T
        t = 1.0 / (1.0 / t_cut - u[0] * (1.0 / t_cut - 1.0 / t_top))
        p_e = np.sqrt(t * (t + 2 * ELECTRON_MASS))
        p_top = np.sqrt(t_top * (t_top + 2 * ELECTRON_MASS))
        cos_t = np.minimum(1.0, (t / p_e) * (p_top / t_top))
        direction = tilt(s[UX:UZ + 1, which], np.arccos(cos_t), 2 * math.pi * u[1])
        for k, column in enumerate(which):
            track = self.tracks[int(s[SLOT, column])]
            self._pending.append(Birth(track.picture, "e-", s[X:Z + 1, column].copy(),
                                       p_e[k] * direction[:, k], "delta", track.index, delta_rays=False))

    def _end(self, finished: np.ndarray, codes: np.ndarray) -> None:
        """Particles that ended: how, with what momentum; what they make is made in :meth:`_flush`."""
        momenta = np.ascontiguousarray((finished[P] * finished[UX:UZ + 1]).T)  # (n, 3): each column's p × u
        where = finished[X:Z + 1].T.copy()
        for k, (slot, code) in enumerate(zip(finished[SLOT].astype(np.intp).tolist(), codes.tolist(), strict=True)):
            track = self.tracks[slot]
            track.end = ENDS[int(code)]
            track.momentum_end = momenta[k]
            self._ended.append((track, where[k]))

    def _flush(self) -> None:
        """Make this step's secondaries: δ-rays first, then what the particles that ended make."""
        while self._pending or self._ended:
            births, self._pending = self._pending, []
            ended, self._ended = self._ended, []
            if self.on_end is not None:
                for track, where in ended:
                    births.extend(self.on_end(track, where, self.rngs[track.picture]))
            if self.follow:
                self.add(births)
            else:
                for birth in births:
                    self.secondaries[birth.picture].append(birth)

    # -- results --------------------------------------------------------------------------------

    def paths(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Track]]:
        """Every point of every particle (points, 3: x, y, z) and its β (points,), each particle's
        points together and in order, the particles in order of (picture, index); the start of each
        particle's points (particles + 1); and the particles in that order."""
        if not self._recorded:  # nothing was made (an empty chamber)
            return np.zeros((0, 3)), np.zeros(0), np.zeros(1, dtype=np.intp), []
        records = self._records[:, :self._recorded]
        slot = records[SLOT].astype(np.intp)
        # how many points each particle has: each of its points is recorded once
        counts = np.bincount(slot, minlength=len(self.tracks))
        # the particles by (picture, index): their slots are in the order they were made in
        pictures = np.array([track.picture for track in self.tracks], dtype=np.intp)
        order = np.argsort(pictures, kind="stable")
        starts = np.zeros(len(self.tracks) + 1, dtype=np.intp)
        starts[1:] = np.cumsum(counts[order])
        offset = np.empty(len(self.tracks), dtype=np.intp)
        offset[order] = starts[:-1]
        # every point put in place, coordinate by coordinate (a 1-d scatter is several times faster
        # than a 2-d one)
        xyz, beta = np.empty((int(starts[-1]), 3)), np.empty(int(starts[-1]))
        if compiled.enabled():
            compiled.place_points(records, offset, SLOT, POINT, xyz, beta)
            return xyz, beta, starts, [self.tracks[k] for k in order]
        x, y, z = xyz.T
        destination = offset.take(slot)
        destination += records[POINT].astype(np.intp)
        x[destination] = records[X]
        y[destination] = records[Y]
        z[destination] = records[Z]
        beta[destination] = records[BETA]
        return xyz, beta, starts, [self.tracks[k] for k in order]


def tilt(u: np.ndarray, theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Directions (3, n) ``u`` turned by polar angles ``theta`` about themselves at azimuths ``phi``."""
    ux, uy, uz = u
    flat = np.abs(uz) < 0.9
    ax = np.where(flat, uy, 0.0)
    ay = np.where(flat, -ux, uz)
    az = np.where(flat, 0.0, -uy)
    n = np.sqrt(ax * ax + ay * ay + az * az)
    ax, ay, az = ax / n, ay / n, az / n
    bx, by, bz = uy * az - uz * ay, uz * ax - ux * az, ux * ay - uy * ax
    c, s = np.cos(phi), np.sin(phi)
    st, ct = np.sin(theta), np.cos(theta)
    out = np.stack([ct * ux + st * (c * ax + s * bx), ct * uy + st * (c * ay + s * by), ct * uz + st * (c * az + s * bz)])
    return out / np.sqrt((out * out).sum(axis=0))
