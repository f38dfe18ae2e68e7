"""Charged particles through a bubble chamber: events, transport in a uniform field, truth per track.

A picture is a snapshot of one beam pulse: a few beam tracks enter parallel from the left, some
interact and make stars of secondaries; further vertices inside the chamber emit tracks of a
chosen species mix. Every charged particle is stepped through the liquid (:func:`transport`): it
turns about the field (B along z, towards the camera) by dφ = −0.3 z B ds / p, loses energy by
ionisation (Bethe–Bloch) and, for electrons, bremsstrahlung, so slow electrons spiral in; multiple
Coulomb scattering (Highland) kinks it; it knocks out δ-rays; it decays in flight or at rest
(π → μ → e, K → μν, K → ππ⁰) or, for a beam particle, interacts. Neutral V0s (K⁰s → π⁺π⁻,
Λ → pπ⁻) fly straight, unseen, for an exponentially distributed distance and decay into two tracks.

Event generation is a simple phenomenological model (multiplicities, momentum spectra, species
fractions are parameters), not a physics event generator; the transport is the physics.
Everything draws from one ``numpy.random.Generator``, so a picture is fixed by its seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .physics import (
    C_LIGHT,
    CHARGED_DECAYS,
    ELECTRON_MASS,
    FAMILIES,
    LIQUID_HYDROGEN,
    PARTICLES,
    V0_DECAYS,
    Medium,
    Species,
    bremsstrahlung_loss,
    decay_length_sample,
    delta_ray_cos_angle,
    delta_ray_rate,
    ionisation_loss,
    isotropic_direction,
    max_energy_transfer,
    michel_electron,
    sample_delta_ray_energy,
    two_body_decay,
)

DEFAULT_SPECIES_MIX = {"pi": 0.62, "p": 0.14, "K": 0.08, "e": 0.08, "mu": 0.08}


@dataclass(frozen=True)
class ChamberConfig:
    """Everything that fixes a simulated picture but its seed.

    Geometry and physics: ``image_size`` (width, height) in pixels over ``chamber_width_m``
    (so a pixel is ``chamber_width_m / width`` metres), ``depth_m`` along the field, ``field_tesla``,
    the liquid. Events: ``tracks`` (fewest, most) primary charged tracks per picture, the
    ``species_mix`` of vertex products (families e, mu, pi, K, p; charge signs drawn with
    ``antiparticle_fraction``, antiprotons with ``antiproton_fraction``), their momentum range
    (log-uniform), the beam (species, momentum, count range, interaction length), V0s per vertex.
    Optics: bubble density at minimum ionisation, bubble and blur widths, lighting, fiducial
    marks, film grain and dust. Switches turn single physics effects off (tests use them).
    """

    image_size: tuple[int, int] = (512, 512)
    chamber_width_m: float = 1.0
    depth_m: float = 0.5
    field_tesla: float = 1.5
    medium: Medium = LIQUID_HYDROGEN
    tracks: tuple[int, int] = (5, 40)
    species_mix: tuple[tuple[str, float], ...] = tuple(DEFAULT_SPECIES_MIX.items())
    antiparticle_fraction: float = 0.5
    antiproton_fraction: float = 0.08
    momentum_range_gev: tuple[float, float] = (0.05, 2.0)
    max_dip_rad: float = 0.5
    beam_tracks: tuple[int, int] = (0, 6)
    beam_species: str = "pi-"
    beam_momentum_gev: float = 4.0
    beam_interaction_length_m: float = 3.0
    v0_probability: float = 0.3
    delta_ray_min_mev: float = 3.0
    # optics
    bubbles_per_cm: float = 3.0
    ionisation_cap: float = 8.0
    bubble_radius_px: float = 0.6
    blur_px: float = 0.5
    lighting: float = 0.25
    fiducials: bool = True
    film_noise: float = 0.035
    dust: int = 30
    # what counts as a track in the truth
    min_track_px: float = 8.0
    min_hits: int = 5
    mask_radius_px: int = 1
    # physics switches
    energy_loss: bool = True
    multiple_scattering: bool = True
    delta_rays: bool = True
    decays: bool = True
    max_particles: int = 1000

    def __post_init__(self) -> None:
        if isinstance(self.species_mix, Mapping):
            object.__setattr__(self, "species_mix", tuple(self.species_mix.items()))
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        object.__setattr__(self, "tracks", tuple(int(v) for v in self.tracks))
        object.__setattr__(self, "beam_tracks", tuple(int(v) for v in self.beam_tracks))
        object.__setattr__(self, "momentum_range_gev", tuple(float(v) for v in self.momentum_range_gev))
        problems = []
        if min(self.image_size) < 16:
            problems.append(f"image_size {self.image_size} is smaller than 16 pixels")
        if not 0 <= self.tracks[0] <= self.tracks[1]:
            problems.append(f"tracks {self.tracks} must be (fewest, most) with 0 <= fewest <= most")
        if self.field_tesla <= 0:
            problems.append(f"field_tesla must be positive, got {self.field_tesla}")
        unknown = [name for name, _ in self.species_mix if name not in FAMILIES]
        if unknown:
            problems.append(f"unknown species {unknown} in species_mix (known: {', '.join(FAMILIES)})")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def pixel_size_m(self) -> float:
        return self.chamber_width_m / self.image_size[0]

    @property
    def height_m(self) -> float:
        return self.pixel_size_m * self.image_size[1]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["species_mix"] = dict(self.species_mix)
        out["pixel_size_m"] = self.pixel_size_m
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChamberConfig:
        data = dict(data)
        data.pop("pixel_size_m", None)
        if isinstance(data.get("medium"), Mapping):
            medium = dict(data["medium"])
            medium["sternheimer"] = tuple(medium.get("sternheimer", LIQUID_HYDROGEN.sternheimer))
            data["medium"] = Medium(**medium)
        for key in ("image_size", "tracks", "beam_tracks", "momentum_range_gev"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    def with_(self, **changes: Any) -> ChamberConfig:
        return replace(self, **changes)


@dataclass
class Particle:
    """The truth of one charged particle in a picture (positions in metres, chamber frame)."""

    index: int
    species: Species
    origin: str  # beam, primary, interaction, v0, decay, delta, annihilation
    parent: int  # index of the parent particle, -1 for none
    vertex: np.ndarray  # (3,) start position, m
    momentum: np.ndarray  # (3,) momentum at the start, GeV/c
    path: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (N, 3) m
    betas: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (N,) β at each path point
    end: str = ""  # exit, stopped, decay, interaction, steps
    decay_length_m: float = math.nan  # for V0 daughters: the V0's flight distance

    @property
    def p(self) -> float:
        return float(np.linalg.norm(self.momentum))

    @property
    def p_t(self) -> float:
        return float(math.hypot(self.momentum[0], self.momentum[1]))

    @property
    def dip(self) -> float:
        return float(math.atan2(self.momentum[2], self.p_t))


@dataclass
class V0:
    """A neutral V0: where it was made, its momentum, and where (if seen) it decayed."""

    species: str
    vertex: np.ndarray
    momentum: np.ndarray
    decay_length_m: float
    decay_point: np.ndarray
    visible: bool
    daughters: tuple[int, ...] = ()


class _Randoms:
    """Normals and uniforms drawn in blocks: a Python step loop calling the generator once per
    number would spend most of its time in call overhead."""

    def __init__(self, rng: np.random.Generator, block: int = 4096) -> None:
        self.rng, self.block = rng, block
        self._normal = rng.standard_normal(block)
        self._uniform = rng.random(block)
        self._i = self._j = 0

    def normal(self) -> float:
        if self._i >= self.block:
            self._normal, self._i = self.rng.standard_normal(self.block), 0
        self._i += 1
        return float(self._normal[self._i - 1])

    def uniform(self) -> float:
        if self._j >= self.block:
            self._uniform, self._j = self.rng.random(self.block), 0
        self._j += 1
        return float(self._uniform[self._j - 1])


@dataclass
class Transported:
    """What :func:`transport` returns: the path, β along it, how it ended and what it made."""

    path: np.ndarray
    betas: np.ndarray
    end: str
    momentum_end: np.ndarray
    secondaries: list[tuple[str, np.ndarray, np.ndarray, str]]  # (species, position, momentum, origin)


def _inside(cfg: ChamberConfig, x: float, y: float, z: float) -> bool:
    return 0.0 <= x <= cfg.chamber_width_m and 0.0 <= y <= cfg.height_m and abs(z) <= 0.5 * cfg.depth_m


def transport(species: Species, position: np.ndarray, momentum: np.ndarray, cfg: ChamberConfig,
              rng: np.random.Generator, *, randoms: _Randoms | None = None, interaction_length_m: float = math.inf,
              allow_delta_rays: bool = True, max_steps: int = 20000) -> Transported:
    """Step one charged particle through the chamber until it leaves, stops, decays or interacts.

    Steps are at most three pixels long, turn the momentum by at most 0.05 rad and lose at most 5 %
    of the kinetic energy, so the path is a smooth helix between scatters (a 3-pixel chord of a
    60-pixel circle departs from the arc by 0.02 pixel). Returns the path
    (N, 3) in metres and the secondaries it made (δ-rays, decay products, interaction products).
    """
    randoms = randoms or _Randoms(rng)
    mass, charge = species.mass, species.charge
    medium, bz = cfg.medium, cfg.field_tesla
    is_electron = mass == ELECTRON_MASS
    x, y, z = (float(v) for v in position)
    p = float(np.linalg.norm(momentum))
    ux, uy, uz = (float(v) / p for v in momentum)
    # the log term of Highland's formula is evaluated at a 10 cm reference length, so that many
    # short steps add up to the scattering Highland gives for a track of that length
    log_reference = 0.1
    step_max = 3 * cfg.pixel_size_m
    t_stop = 0.2e-3 if is_electron else 1.0e-3
    t_cut = cfg.delta_ray_min_mev * 1e-3
    decay_at = -math.log(1.0 - randoms.uniform()) * species.ctau if (cfg.decays and math.isfinite(species.ctau)) \
        else math.inf
    interact_at = -math.log(1.0 - randoms.uniform()) * interaction_length_m if math.isfinite(interaction_length_m) \
        else math.inf
    proper = travelled = 0.0
    points = [(x, y, z)]
    energy = math.hypot(p, mass)
    betas = [p / energy]
    secondaries: list[tuple[str, np.ndarray, np.ndarray, str]] = []
    end = "steps"
    for _ in range(max_steps):
        energy = math.hypot(p, mass)
        kinetic = energy - mass
        if kinetic < t_stop:
            end = "stopped"
            break
        dedx = 0.0
        if cfg.energy_loss:
            dedx = ionisation_loss(p, mass, charge, medium)
            if is_electron:
                dedx += bremsstrahlung_loss(energy, medium)
        radius_3d = p / (C_LIGHT * bz * abs(charge))
        ds = min(step_max, 0.05 * radius_3d)
        if dedx > 0:
            ds = min(ds, 0.05 * kinetic / dedx)
        ds = max(ds, 2e-5)
        if cfg.delta_rays and allow_delta_rays and randoms.uniform() < delta_ray_rate(p, mass, t_cut, charge, medium) * ds:
            t_max = max_energy_transfer(p, mass)
            t_delta = sample_delta_ray_energy(rng, t_cut, t_max)
            p_delta = math.sqrt(t_delta * (t_delta + 2 * ELECTRON_MASS))
            cos_t = delta_ray_cos_angle(t_delta, p, mass)
            direction = _tilt(np.array([ux, uy, uz]), math.acos(cos_t), 2 * math.pi * randoms.uniform())
            secondaries.append(("e-", np.array([x, y, z]), p_delta * direction, "delta"))
        # the Lorentz force turns the transverse direction by dφ = −0.3 z B ds / p; turning half
        # before and half after the move keeps the chord on the circle (second-order accurate)
        half = -0.5 * C_LIGHT * charge * bz * ds / p
        c, s = math.cos(half), math.sin(half)
        ux, uy = c * ux - s * uy, s * ux + c * uy
        x += ux * ds
        y += uy * ds
        z += uz * ds
        travelled += ds
        ux, uy = c * ux - s * uy, s * ux + c * uy
        if cfg.multiple_scattering:
            b = p / energy
            theta0 = 0.0136 / (b * p) * abs(charge) * math.sqrt(ds / medium.radiation_length_m) * \
                max(0.0, 1.0 + 0.038 * math.log(log_reference / medium.radiation_length_m / (b * b)))
            ux, uy, uz = _scatter(ux, uy, uz, theta0 * randoms.normal(), theta0 * randoms.normal())
        if dedx > 0:
            energy_new = energy - dedx * ds
            if energy_new <= mass:
                points.append((x, y, z))
                betas.append(0.0)
                end = "stopped"
                p = 0.0
                break
            p = math.sqrt(energy_new * energy_new - mass * mass)
        points.append((x, y, z))
        betas.append(p / math.hypot(p, mass))
        proper += ds * mass / p
        if proper >= decay_at:
            end = "decay"
            break
        if travelled >= interact_at:
            end = "interaction"
            break
        if not _inside(cfg, x, y, z):
            end = "exit"
            break
    momentum_end = p * np.array([ux, uy, uz])
    where = np.array([x, y, z])
    if end in ("decay", "stopped") and cfg.decays and _inside(cfg, x, y, z):
        secondaries.extend(_decay_products(species, where, momentum_end, rng))
    return Transported(np.array(points), np.array(betas), end, momentum_end, secondaries)


def _tilt(u: np.ndarray, theta: float, phi: float) -> np.ndarray:
    """``u`` turned by polar angle ``theta`` about itself at azimuth ``phi``."""
    e1, e2 = _perpendiculars(float(u[0]), float(u[1]), float(u[2]))
    out = math.cos(theta) * u + math.sin(theta) * (math.cos(phi) * np.array(e1) + math.sin(phi) * np.array(e2))
    return out / np.linalg.norm(out)


def _perpendiculars(ux: float, uy: float, uz: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    if abs(uz) < 0.9:  # e1 = u × z
        ax, ay, az = uy, -ux, 0.0
    else:  # e1 = u × x
        ax, ay, az = 0.0, uz, -uy
    n = math.sqrt(ax * ax + ay * ay + az * az)
    ax, ay, az = ax / n, ay / n, az / n
    return (ax, ay, az), (uy * az - uz * ay, uz * ax - ux * az, ux * ay - uy * ax)


def _scatter(ux: float, uy: float, uz: float, a: float, b: float) -> tuple[float, float, float]:
    (e1x, e1y, e1z), (e2x, e2y, e2z) = _perpendiculars(ux, uy, uz)
    vx, vy, vz = ux + a * e1x + b * e2x, uy + a * e1y + b * e2y, uz + a * e1z + b * e2z
    n = math.sqrt(vx * vx + vy * vy + vz * vz)
    return vx / n, vy / n, vz / n


def _decay_products(species: Species, where: np.ndarray, momentum: np.ndarray,
                    rng: np.random.Generator) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """Charged daughters of a decay in flight or at rest (a zero ``momentum`` is at rest)."""
    name = species.name
    if name in CHARGED_DECAYS:
        if float(np.linalg.norm(momentum)) == 0.0 and name in ("pi-", "K-"):
            return []  # negative mesons stopping in hydrogen are captured, not decayed
        modes = CHARGED_DECAYS[name]
        weights = np.array([w for *_, w in modes])
        daughter, other_mass, _ = modes[int(rng.choice(len(modes), p=weights / weights.sum()))]
        seen, _ = two_body_decay(rng, momentum, species.mass, PARTICLES[daughter].mass, other_mass)
        return [(daughter, where.copy(), seen, "decay")]
    if name in ("mu-", "mu+"):
        return [("e-" if name == "mu-" else "e+", where.copy(), michel_electron(rng, momentum), "decay")]
    if name == "pbar" and float(np.linalg.norm(momentum)) == 0.0:
        n_pairs = 1 + int(rng.random() < 0.55)  # p̄p annihilation at rest: on average about 3 charged pions
        out = []
        for sign in ["pi+", "pi-"] * n_pairs:
            p = 0.15 + 0.35 * rng.random()
            out.append((sign, where.copy(), p * isotropic_direction(rng), "annihilation"))
        return out
    return []


# -- events ------------------------------------------------------------------------------------


def _draw_species(cfg: ChamberConfig, rng: np.random.Generator, charge: int | None = None) -> str:
    names = [n for n, _ in cfg.species_mix]
    weights = np.array([w for _, w in cfg.species_mix], dtype=float)
    family = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    negative, positive = FAMILIES[family]
    if charge is not None:
        return positive if charge > 0 else negative
    anti = cfg.antiproton_fraction if family == "p" else cfg.antiparticle_fraction
    # the "antiparticle" of e, mu is the positive one; of pi, K the negative; of p the antiproton
    if family in ("e", "mu"):
        return positive if rng.random() < anti else negative
    return negative if rng.random() < anti else positive


def _direction(rng: np.random.Generator, max_dip: float, phi: float | None = None) -> np.ndarray:
    phi = 2 * math.pi * rng.random() if phi is None else phi
    dip = (2 * rng.random() - 1) * max_dip
    return np.array([math.cos(dip) * math.cos(phi), math.cos(dip) * math.sin(phi), math.sin(dip)])


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(math.log(low) + rng.random() * (math.log(high) - math.log(low))))


def _star(cfg: ChamberConfig, rng: np.random.Generator, vertex: np.ndarray, n_charged: int,
          origin: str) -> tuple[list[tuple[str, np.ndarray, np.ndarray, str]], list[tuple[str, np.ndarray]]]:
    """Charged tracks (and V0s) from one vertex inside the chamber."""
    low, high = cfg.momentum_range_gev
    tracks = []
    for _ in range(n_charged):
        name = _draw_species(cfg, rng)
        p = _log_uniform(rng, low, high)
        tracks.append((name, vertex.copy(), p * _direction(rng, cfg.max_dip_rad), origin))
    v0s = []
    if rng.random() < cfg.v0_probability:
        v0s.append((_draw_v0(rng), _log_uniform(rng, 0.3, 3.0) * _direction(rng, cfg.max_dip_rad)))
    return tracks, v0s


def _draw_v0(rng: np.random.Generator) -> str:
    u = rng.random()
    return "K0S" if u < 0.6 else ("Lambda" if u < 0.95 else "Lambdabar")


def _interaction(cfg: ChamberConfig, rng: np.random.Generator, vertex: np.ndarray, momentum: np.ndarray,
                 charge: int, budget: int) -> tuple[list[tuple[str, np.ndarray, np.ndarray, str]],
                                                    list[tuple[str, np.ndarray]]]:
    """A beam particle's interaction with a target proton: an even, charge-balanced star.

    Charge is conserved (beam + proton); each secondary takes a Dirichlet share of about 70 % of
    the beam momentum along the beam and an exponential transverse momentum (mean 0.35 GeV/c).
    """
    total_charge = charge + 1
    n = max(2, min(budget, 2 * int(rng.choice([1, 2, 3, 4], p=[0.35, 0.35, 0.2, 0.1])) + abs(total_charge)))
    n_pos = (n + total_charge) // 2
    n_neg = n - n_pos
    names = []
    for i in range(n_pos):
        names.append("p" if i == 0 and rng.random() < 0.45 else ("K+" if rng.random() < 0.07 else "pi+"))
    for _ in range(n_neg):
        names.append("K-" if rng.random() < 0.05 else "pi-")
    p_beam = float(np.linalg.norm(momentum))
    axis = momentum / p_beam
    shares = rng.dirichlet(np.ones(len(names))) * 0.7 * p_beam
    tracks = []
    for name, p_long in zip(names, shares, strict=True):
        p_t = rng.exponential(0.35)
        direction = _tilt(axis, math.atan2(p_t, max(p_long, 1e-3)), 2 * math.pi * rng.random())
        tracks.append((name, vertex.copy(), math.hypot(p_t, p_long) * direction, "interaction"))
    v0s = []
    if rng.random() < cfg.v0_probability:
        p_v0 = (0.05 + 0.25 * rng.random()) * p_beam
        v0s.append((_draw_v0(rng), p_v0 * _tilt(axis, abs(rng.normal(0, 0.15)), 2 * math.pi * rng.random())))
    return tracks, v0s


@dataclass
class Event:
    """Every particle of one picture, with the V0s; ``n_primary`` counts the primary charged tracks."""

    particles: list[Particle]
    v0s: list[V0]
    n_primary: int


def _v0_daughters(cfg: ChamberConfig, rng: np.random.Generator, name: str, vertex: np.ndarray,
                  momentum: np.ndarray) -> tuple[V0, list[tuple[str, np.ndarray, np.ndarray, str]]]:
    species = PARTICLES[name]
    p = float(np.linalg.norm(momentum))
    length = decay_length_sample(rng, p, species)
    point = vertex + length * momentum / p
    positive, negative, branching = V0_DECAYS[name]
    visible = bool(cfg.decays and _inside(cfg, *point) and rng.random() < branching)
    v0 = V0(name, vertex.copy(), momentum.copy(), length, point, visible)
    if not visible:
        return v0, []
    p_pos, p_neg = two_body_decay(rng, momentum, species.mass, PARTICLES[positive].mass, PARTICLES[negative].mass)
    return v0, [(positive, point.copy(), p_pos, "v0"), (negative, point.copy(), p_neg, "v0")]


def generate_event(cfg: ChamberConfig, rng: np.random.Generator) -> Event:
    """Draw and transport the particles of one picture."""
    randoms = _Randoms(rng)
    width, height = cfg.chamber_width_m, cfg.height_m
    n_total = int(rng.integers(cfg.tracks[0], cfg.tracks[1] + 1))
    n_beam = min(n_total, int(rng.integers(cfg.beam_tracks[0], cfg.beam_tracks[1] + 1)))
    beam = PARTICLES[cfg.beam_species]
    # (species, vertex, momentum, origin, parent, extra)
    queue: list[tuple[str, np.ndarray, np.ndarray, str, int, float]] = []
    v0_queue: list[tuple[str, np.ndarray, np.ndarray, int]] = []
    for _ in range(n_beam):
        y = height * (0.1 + 0.8 * rng.random())
        z = cfg.depth_m * 0.2 * (2 * rng.random() - 1)
        angle = rng.normal(0.0, 0.01)
        p = cfg.beam_momentum_gev * (1 + rng.normal(0, 0.01))
        queue.append((beam.name, np.array([1e-6, y, z]), p * np.array([math.cos(angle), math.sin(angle), 0.0]),
                      "beam", -1, math.nan))
    remaining = n_total - n_beam
    while remaining > 0:
        vertex = np.array([width * (0.05 + 0.9 * rng.random()), height * (0.05 + 0.9 * rng.random()),
                           cfg.depth_m * 0.3 * (2 * rng.random() - 1)])
        prongs = min(remaining, int(rng.choice([1, 2, 3, 4, 5, 6], p=[0.25, 0.25, 0.15, 0.15, 0.1, 0.1])))
        tracks, v0s = _star(cfg, rng, vertex, prongs, "primary")
        queue.extend((name, v, m, origin, -1, math.nan) for name, v, m, origin in tracks)
        v0_queue.extend((name, vertex, m, -1) for name, m in v0s)
        remaining -= prongs
    particles: list[Particle] = []
    v0_list: list[V0] = []
    head = 0
    while head < len(queue) or v0_queue:
        while v0_queue:
            name, vertex, momentum, parent = v0_queue.pop(0)
            v0, daughters = _v0_daughters(cfg, rng, name, vertex, momentum)
            if daughters:
                first = len(queue)
                queue.extend((d, pos, mom, origin, parent, v0.decay_length_m) for d, pos, mom, origin in daughters)
                v0.daughters = (first, first + 1)
            v0_list.append(v0)
        if head >= len(queue) or len(particles) >= cfg.max_particles:
            break
        name, vertex, momentum, origin, parent, decay_length = queue[head]
        head += 1
        species = PARTICLES[name]
        index = len(particles)
        moved = transport(species, vertex, momentum, cfg, rng, randoms=randoms,
                          interaction_length_m=cfg.beam_interaction_length_m if origin == "beam" else math.inf,
                          allow_delta_rays=origin != "delta")
        particles.append(Particle(index, species, origin, parent, vertex.copy(), momentum.copy(), moved.path,
                                  moved.betas, moved.end, decay_length))
        secondaries = list(moved.secondaries)
        if moved.end == "interaction":
            budget = max(2, n_total)  # an interaction never makes more tracks than the picture is meant to hold
            tracks, v0s = _interaction(cfg, rng, moved.path[-1], moved.momentum_end, species.charge, budget)
            secondaries.extend(tracks)
            v0_queue.extend((n, moved.path[-1].copy(), m, index) for n, m in v0s)
        queue.extend((n, pos, mom, org, index, math.nan) for n, pos, mom, org in secondaries)
    # V0 daughters point at the queue; map queue positions to particle indices (they coincide
    # because every queued particle is transported in order)
    return Event(particles, v0_list, n_total)
