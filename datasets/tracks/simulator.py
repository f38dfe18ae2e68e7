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
fractions are parameters), not a physics event generator; the transport is the physics. All the
particles of a picture, and of a batch of pictures, are stepped together as arrays
(:class:`~.stepping.Transport`, one vectorised step for all). Everything a picture draws comes
from its own ``numpy.random.Generator``, so a picture is fixed by its seed, whatever it is made with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .physics import (
    CHARGED_DECAYS,
    FAMILIES,
    LIQUID_HYDROGEN,
    PARTICLES,
    V0_DECAYS,
    Medium,
    Species,
    decay_length_sample,
    isotropic_direction,
    michel_electron,
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
              rng: np.random.Generator, *, interaction_length_m: float = math.inf, allow_delta_rays: bool = True,
              max_steps: int = 20000) -> Transported:
    """Step one charged particle through the chamber until it leaves, stops, decays or interacts.

    Steps are at most three pixels long, turn the momentum by at most 0.05 rad and lose at most 5 %
    of the kinetic energy, so the path is a smooth helix between scatters (a 3-pixel chord of a
    60-pixel circle departs from the arc by 0.02 pixel). Returns the path (N, 3) in metres and the
    secondaries it made (δ-rays, decay products), not transported. A picture's particles are
    transported together by :class:`~.stepping.Transport`; this is that for one particle.
    """
    from .stepping import Birth, Transport

    engine = Transport(cfg, [rng], on_end=_products(cfg, 0, None), follow=False, max_steps=max_steps)
    engine.add([Birth(0, species.name, np.asarray(position, dtype=np.float64), np.asarray(momentum, dtype=np.float64),
                      "primary", -1, interaction_length_m=interaction_length_m, delta_rays=allow_delta_rays)])
    engine.run()
    xyz, betas, _, (track,) = engine.paths()
    secondaries = [(b.species, b.position, b.momentum, b.origin) for b in engine.secondaries[0]]
    return Transported(xyz, betas, track.end, track.momentum_end, secondaries)


def _products(cfg: ChamberConfig, n_total: int, v0_lists: list[list[V0]] | None):
    """What a particle that ended makes: decay products (in flight or at rest, inside the chamber)
    and, for an interaction, the star (and its V0s' daughters, when ``v0_lists`` collects V0s)."""
    from .stepping import Birth

    def on_end(track, where: np.ndarray, rng: np.random.Generator) -> list:
        births = []
        if track.end in ("decay", "stopped") and cfg.decays and _inside(cfg, *where):
            for name, position, momentum, origin in _decay_products(track.species, where, track.momentum_end, rng):
                births.append(Birth(track.picture, name, position, momentum, origin, track.index))
        if track.end == "interaction" and v0_lists is not None:
            budget = max(2, n_total)  # an interaction never makes more tracks than the picture is meant to hold
            tracks, v0s = _interaction(cfg, rng, where, track.momentum_end, track.species.charge, budget)
            for name, position, momentum, origin in tracks:
                births.append(Birth(track.picture, name, position, momentum, origin, track.index))
            for name, momentum in v0s:
                births.extend(_v0_births(cfg, rng, track.picture, name, where.copy(), momentum, track.index,
                                         v0_lists[track.picture]))
        return births

    return on_end


def _v0_births(cfg: ChamberConfig, rng: np.random.Generator, picture: int, name: str, vertex: np.ndarray,
               momentum: np.ndarray, parent: int, v0s: list[V0]) -> list:
    from .stepping import Birth

    v0, daughters = _v0_daughters(cfg, rng, name, vertex, momentum)
    v0s.append(v0)
    return [Birth(picture, d, position, mom, origin, parent, decay_length_m=v0.decay_length_m, v0=v0)
            for d, position, mom, origin in daughters]


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


def _choice(rng: np.random.Generator, p: np.ndarray) -> int:
    """``rng.choice(len(p), p=p)`` as numpy's Generator makes it (one uniform against the
    normalised cumulative ``p``: the same draw, the same index), without its checks' overhead."""
    cdf = p.cumsum()
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


#: pion pairs of an interaction's star: 1, 2, 3, 4 with these probabilities
_PAIRS = np.array([0.35, 0.35, 0.2, 0.1])


def _decay_products(species: Species, where: np.ndarray, momentum: np.ndarray,
                    rng: np.random.Generator) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """Charged daughters of a decay in flight or at rest (a zero ``momentum`` is at rest)."""
    name = species.name
    if name in CHARGED_DECAYS:
        if float(np.linalg.norm(momentum)) == 0.0 and name in ("pi-", "K-"):
            return []  # negative mesons stopping in hydrogen are captured, not decayed
        modes = CHARGED_DECAYS[name]
        weights = np.array([w for *_, w in modes])
        daughter, other_mass, _ = modes[_choice(rng, weights / weights.sum())]
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


def _direction(rng: np.random.Generator, max_dip: float, phi: float | None = None) -> np.ndarray:
    phi = 2 * math.pi * rng.random() if phi is None else phi
    dip = (2 * rng.random() - 1) * max_dip
    return np.array([math.cos(dip) * math.cos(phi), math.cos(dip) * math.sin(phi), math.sin(dip)])


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(math.log(low) + rng.random() * (math.log(high) - math.log(low))))


def _star(cfg: ChamberConfig, rng: np.random.Generator, vertex: np.ndarray, n_charged: int,
          origin: str) -> tuple[list[tuple[str, np.ndarray, np.ndarray, str]], list[tuple[str, np.ndarray]]]:
    """Charged tracks (and V0s) from one vertex inside the chamber: species from the mix (charge
    signs by the antiparticle fractions), log-uniform momenta, directions uniform in azimuth and dip."""
    low, high = cfg.momentum_range_gev
    names = [n for n, _ in cfg.species_mix]
    weights = np.array([w for _, w in cfg.species_mix], dtype=float)
    u = rng.random((5, n_charged))  # family, charge sign, momentum, azimuth, dip
    families = np.minimum(np.searchsorted(np.cumsum(weights / weights.sum()), u[0], side="right"), len(names) - 1)
    momenta = np.exp(math.log(low) + u[2] * (math.log(high) - math.log(low)))
    phi, dip = 2 * math.pi * u[3], (2 * u[4] - 1) * cfg.max_dip_rad
    directions = np.stack([np.cos(dip) * np.cos(phi), np.cos(dip) * np.sin(phi), np.sin(dip)], axis=1)
    tracks = []
    for k in range(n_charged):
        family = names[int(families[k])]
        negative, positive = FAMILIES[family]
        anti = cfg.antiproton_fraction if family == "p" else cfg.antiparticle_fraction
        # the "antiparticle" of e, mu is the positive one; of pi, K the negative; of p the antiproton
        if family in ("e", "mu"):
            name = positive if u[1, k] < anti else negative
        else:
            name = negative if u[1, k] < anti else positive
        tracks.append((name, vertex.copy(), momenta[k] * directions[k], origin))
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
    n = max(2, min(budget, 2 * (1 + _choice(rng, _PAIRS)) + abs(total_charge)))
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
    #: every particle's path together (points, 3) and β (points,); particle k's are [offsets[k], offsets[k+1])
    points: np.ndarray | None = None
    betas: np.ndarray | None = None
    offsets: np.ndarray | None = None


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


#: the cumulative distribution of a vertex's charged prongs: 1, 2 (25 % each), 3, 4 (15 %), 5, 6 (10 %)
_PRONGS = np.cumsum([0.25, 0.25, 0.15, 0.15, 0.1])


def _primaries(cfg: ChamberConfig, rng: np.random.Generator, picture: int, v0s: list[V0]) -> tuple[list, int]:
    """The beam tracks and the vertices' tracks of one picture (with its V0s' daughters), and how
    many primary charged tracks the picture was meant to hold."""
    from .stepping import Birth

    width, height = cfg.chamber_width_m, cfg.height_m
    n_total = int(rng.integers(cfg.tracks[0], cfg.tracks[1] + 1))
    n_beam = min(n_total, int(rng.integers(cfg.beam_tracks[0], cfg.beam_tracks[1] + 1)))
    beam = PARTICLES[cfg.beam_species]
    births = []
    for _ in range(n_beam):
        y = height * (0.1 + 0.8 * rng.random())
        z = cfg.depth_m * 0.2 * (2 * rng.random() - 1)
        angle = rng.normal(0.0, 0.01)
        p = cfg.beam_momentum_gev * (1 + rng.normal(0, 0.01))
        births.append(Birth(picture, beam.name, np.array([1e-6, y, z]),
                            p * np.array([math.cos(angle), math.sin(angle), 0.0]), "beam", -1,
                            interaction_length_m=cfg.beam_interaction_length_m))
    remaining = n_total - n_beam
    pending_v0s = []
    while remaining > 0:
        vertex = np.array([width * (0.05 + 0.9 * rng.random()), height * (0.05 + 0.9 * rng.random()),
                           cfg.depth_m * 0.3 * (2 * rng.random() - 1)])
        prongs = min(remaining, 1 + int(np.searchsorted(_PRONGS, rng.random(), side="right")))
        tracks, star_v0s = _star(cfg, rng, vertex, prongs, "primary")
        births.extend(Birth(picture, name, v, m, origin, -1) for name, v, m, origin in tracks)
        pending_v0s.extend((name, vertex, m) for name, m in star_v0s)
        remaining -= prongs
    for name, vertex, momentum in pending_v0s:
        births.extend(_v0_births(cfg, rng, picture, name, vertex, momentum, -1, v0s))
    return births, n_total


def generate_events(cfg: ChamberConfig, rngs: list[np.random.Generator]) -> list[Event]:
    """Draw the particles of one picture per generator and transport them all together (each
    picture's particles draw from its own generator only, so a picture does not depend on the others)."""
    from .stepping import Transport

    v0_lists: list[list[V0]] = [[] for _ in rngs]
    births, totals = [], []
    for picture, rng in enumerate(rngs):
        mine, n_total = _primaries(cfg, rng, picture, v0_lists[picture])
        births.extend(mine)
        totals.append(n_total)
    engine = Transport(cfg, rngs, on_end=_products_per_picture(cfg, totals, v0_lists))
    engine.add(births)
    engine.run()
    every_xyz, every_beta, starts, tracks = engine.paths()  # each picture's points a contiguous part
    events = []
    first = 0
    for picture in range(len(rngs)):
        last = first
        while last < len(tracks) and tracks[last].picture == picture:
            last += 1
        xyz = every_xyz[starts[first]:starts[last]]
        beta = every_beta[starts[first]:starts[last]]
        offsets = starts[first:last + 1] - starts[first]
        at = offsets.tolist()
        particles = [Particle(t.index, t.species, t.origin, t.parent, t.vertex, t.momentum, xyz[at[k]:at[k + 1]],
                              beta[at[k]:at[k + 1]], t.end, t.decay_length_m)
                     for k, t in enumerate(tracks[first:last])]
        events.append(Event(particles, v0_lists[picture], totals[picture], xyz, beta, offsets))
        first = last
    return events


def _products_per_picture(cfg: ChamberConfig, totals: list[int], v0_lists: list[list[V0]]):
    handlers = [_products(cfg, total, v0_lists) for total in totals]

    def on_end(track, where, rng):
        return handlers[track.picture](track, where, rng)

    return on_end


def generate_event(cfg: ChamberConfig, rng: np.random.Generator) -> Event:
    """Draw and transport the particles of one picture."""
    return generate_events(cfg, [rng])[0]
