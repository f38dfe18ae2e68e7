"""Particle properties and the interactions of charged particles with a bubble-chamber liquid.

Units throughout: GeV, GeV/c, metres, tesla, radians. The formulas and constants are those of the
Review of Particle Physics (PDG), "Passage of particles through matter" and the particle listings:

* helix radius of the projected path, R = p_T / (0.3 |z| B)  (R in m, p_T in GeV/c, B in T);
* mean energy loss by ionisation (Bethe–Bloch with the Sternheimer density correction)

      -dE/dx = K z² (Z/A) ρ / β² [ ½ ln(2 m_e c² β²γ² T_max / I²) − β² − δ(βγ)/2 ],
      K = 0.307075 MeV cm²/mol;

* bremsstrahlung of electrons, -dE/dx = E / X₀;
* the Highland formula for the width of the projected multiple-scattering angle

      θ₀ = 13.6 MeV / (βcp) · |z| √(x/X₀) · [1 + 0.038 ln(x z² / (X₀ β²))];

* the number of δ-rays with kinetic energy above T_cut per unit length,
  dN/dx = ½ K z² (Z/A) ρ / β² · (1/T_cut − 1/T_max), with energies distributed as 1/T²;
* two-body decays (isotropic in the rest frame, boosted) and the Michel spectrum of muon decay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ELECTRON_MASS = 0.51099895e-3  # GeV
K_BETHE = 0.307075e-3  # GeV cm²/mol (0.307075 MeV cm²/mol)
#: the constant of R = p_T / (0.3 B): 0.299792458 GeV/c per (T m)
C_LIGHT = 0.299792458


@dataclass(frozen=True)
class Species:
    """A particle species: name, PDG code, mass (GeV), charge (units of e), cτ (m; inf if stable)."""

    name: str
    pdg: int
    mass: float
    charge: int
    ctau: float = math.inf


_SPECIES = [
    Species("e-", 11, ELECTRON_MASS, -1),
    Species("e+", -11, ELECTRON_MASS, +1),
    Species("mu-", 13, 0.1056583755, -1, 658.6384),
    Species("mu+", -13, 0.1056583755, +1, 658.6384),
    Species("pi+", 211, 0.13957039, +1, 7.8045),
    Species("pi-", -211, 0.13957039, -1, 7.8045),
    Species("K+", 321, 0.493677, +1, 3.7112),
    Species("K-", -321, 0.493677, -1, 3.7112),
    Species("p", 2212, 0.93827208816, +1),
    Species("pbar", -2212, 0.93827208816, -1),
    Species("K0S", 310, 0.497611, 0, 0.026844),
    Species("Lambda", 3122, 1.115683, 0, 0.07890),
    Species("Lambdabar", -3122, 1.115683, 0, 0.07890),
]
PARTICLES: dict[str, Species] = {s.name: s for s in _SPECIES}
#: the charged species a picture shows, in the order of the COCO categories
CHARGED = ("e-", "e+", "mu-", "mu+", "pi-", "pi+", "K-", "K+", "p", "pbar")
#: species without their charge sign, as a species mix names them
FAMILIES = {"e": ("e-", "e+"), "mu": ("mu-", "mu+"), "pi": ("pi-", "pi+"), "K": ("K-", "K+"), "p": ("pbar", "p")}


@dataclass(frozen=True)
class Medium:
    """A bubble-chamber liquid: density ρ (g/cm³), Z/A, mean excitation energy I (eV), radiation
    length X₀ (g/cm²), and the Sternheimer density-effect parameters (−C, x₀, x₁, a, k)."""

    name: str = "liquid hydrogen"
    density: float = 0.0708
    z_over_a: float = 0.99212
    mean_excitation_ev: float = 21.8
    radiation_length_g_cm2: float = 63.04
    sternheimer: tuple[float, float, float, float, float] = (3.2632, 0.4759, 1.9215, 0.13483, 5.6249)

    @property
    def radiation_length_m(self) -> float:
        return self.radiation_length_g_cm2 / self.density / 100.0


LIQUID_HYDROGEN = Medium()


def helix_radius(p_t: float, field_tesla: float, charge: int = 1) -> float:
    """Radius (m) of the projected circle of a particle of transverse momentum ``p_t`` (GeV/c)."""
    return p_t / (C_LIGHT * abs(charge) * field_tesla)


def transverse_momentum(radius_m: float, field_tesla: float, charge: int = 1) -> float:
    """p_T (GeV/c) = 0.3 |z| B R: the inverse of :func:`helix_radius`."""
    return C_LIGHT * abs(charge) * field_tesla * radius_m


def beta_gamma(p: float, mass: float) -> float:
    return p / mass


def beta(p: float, mass: float) -> float:
    return p / math.hypot(p, mass)


def density_correction(bg: float, medium: Medium = LIQUID_HYDROGEN) -> float:
    """Sternheimer's δ(βγ) for an insulator (δ₀ = 0)."""
    minus_c, x0, x1, a, k = medium.sternheimer
    x = math.log10(max(bg, 1e-9))
    two_ln10 = 2.0 * math.log(10.0)
    if x >= x1:
        return two_ln10 * x - minus_c
    if x >= x0:
        return two_ln10 * x - minus_c + a * (x1 - x) ** k
    return 0.0


def max_energy_transfer(p: float, mass: float) -> float:
    """T_max (GeV): the largest kinetic energy a collision can give a free electron."""
    if mass == ELECTRON_MASS:  # Møller: the faster of two identical electrons is called the primary
        return 0.5 * (math.hypot(p, mass) - mass)
    bg = p / mass
    gamma = math.sqrt(1.0 + bg * bg)
    ratio = ELECTRON_MASS / mass
    return 2.0 * ELECTRON_MASS * bg * bg / (1.0 + 2.0 * gamma * ratio + ratio * ratio)


def ionisation_loss(p: float, mass: float, charge: int = 1, medium: Medium = LIQUID_HYDROGEN) -> float:
    """Mean energy lost to ionisation per metre (GeV/m), Bethe–Bloch with the density effect.

    Below βγ ≈ 0.05 the formula no longer holds (shell corrections, charge pick-up); the loss is
    held at its βγ = 0.05 value there, which only affects the last fraction of a millimetre of a
    stopping track.
    """
    bg = max(p / mass, 0.05)
    b2 = bg * bg / (1.0 + bg * bg)
    t_max = max_energy_transfer(bg * mass, mass)
    excitation = medium.mean_excitation_ev * 1e-9
    log_term = 0.5 * math.log(2.0 * ELECTRON_MASS * bg * bg * t_max / (excitation * excitation))
    bracket = log_term - b2 - 0.5 * density_correction(bg, medium)
    per_cm = K_BETHE * charge * charge * medium.z_over_a * medium.density / b2 * bracket
    return max(per_cm, 0.0) * 100.0


def mass_stopping_power_mev(p: float, mass: float, charge: int = 1, medium: Medium = LIQUID_HYDROGEN) -> float:
    """Bethe–Bloch in the units the PDG tabulates: MeV cm²/g."""
    return ionisation_loss(p, mass, charge, medium) * 1e3 / 100.0 / medium.density


def bremsstrahlung_loss(energy: float, medium: Medium = LIQUID_HYDROGEN) -> float:
    """Mean radiative loss of an electron per metre (GeV/m): E / X₀."""
    return energy / medium.radiation_length_m


def highland_angle(p: float, mass: float, step_m: float, charge: int = 1,
                   medium: Medium = LIQUID_HYDROGEN) -> float:
    """θ₀ (rad), the width of the projected multiple-scattering angle after ``step_m`` of liquid."""
    if step_m <= 0:
        return 0.0
    b = beta(p, mass)
    t = step_m / medium.radiation_length_m
    correction = 1.0 + 0.038 * math.log(max(t * charge * charge / (b * b), 1e-12))
    return 0.0136 / (b * p) * abs(charge) * math.sqrt(t) * max(correction, 0.0)


def delta_ray_rate(p: float, mass: float, t_cut: float, charge: int = 1,
                   medium: Medium = LIQUID_HYDROGEN) -> float:
    """Expected δ-rays per metre with kinetic energy above ``t_cut`` (GeV)."""
    t_max = max_energy_transfer(p, mass)
    if t_max <= t_cut:
        return 0.0
    b2 = beta(p, mass) ** 2
    per_cm = 0.5 * K_BETHE * charge * charge * medium.z_over_a * medium.density / b2 * (1.0 / t_cut - 1.0 / t_max)
    return per_cm * 100.0


def sample_delta_ray_energy(rng: np.random.Generator, t_cut: float, t_max: float) -> float:
    """A δ-ray kinetic energy from the 1/T² spectrum between ``t_cut`` and ``t_max``."""
    u = rng.random()
    return 1.0 / (1.0 / t_cut - u * (1.0 / t_cut - 1.0 / t_max))


def delta_ray_cos_angle(t: float, p: float, mass: float) -> float:
    """cos θ of a δ-ray of kinetic energy ``t`` to its parent: (T/p_e)(p_max/T_max)."""
    t_max = max_energy_transfer(p, mass)
    p_e = math.sqrt(t * (t + 2 * ELECTRON_MASS))
    p_max = math.sqrt(t_max * (t_max + 2 * ELECTRON_MASS))
    return min(1.0, (t / p_e) * (p_max / t_max))


def two_body_momentum(mass: float, m1: float, m2: float) -> float:
    """Momentum of each daughter in the rest frame of a two-body decay M → m1 m2."""
    s = mass * mass
    return math.sqrt(max((s - (m1 + m2) ** 2) * (s - (m1 - m2) ** 2), 0.0)) / (2.0 * mass)


def isotropic_direction(rng: np.random.Generator) -> np.ndarray:
    cos_t = 2.0 * rng.random() - 1.0
    sin_t = math.sqrt(max(0.0, 1.0 - cos_t * cos_t))
    phi = 2.0 * math.pi * rng.random()
    return np.array([sin_t * math.cos(phi), sin_t * math.sin(phi), cos_t])


def boost(momentum: np.ndarray, energy: float, parent_momentum: np.ndarray, parent_mass: float) -> np.ndarray:
    """Lorentz-boost a four-momentum (``energy``, ``momentum``) from the parent's rest frame to the lab."""
    p_parent = float(np.linalg.norm(parent_momentum))
    if p_parent == 0.0:
        return momentum.copy()
    e_parent = math.hypot(p_parent, parent_mass)
    beta_vec = parent_momentum / e_parent
    b2 = float(beta_vec @ beta_vec)
    gamma = e_parent / parent_mass
    bp = float(beta_vec @ momentum)
    coefficient = (gamma - 1.0) * bp / b2 + gamma * energy
    return momentum + coefficient * beta_vec


def two_body_decay(rng: np.random.Generator, parent_momentum: np.ndarray, parent_mass: float, m1: float,
                   m2: float) -> tuple[np.ndarray, np.ndarray]:
    """Lab momenta of the two daughters of a decay, isotropic in the parent's rest frame."""
    p_star = two_body_momentum(parent_mass, m1, m2)
    direction = isotropic_direction(rng)
    d1 = p_star * direction
    e1 = math.hypot(p_star, m1)
    e2 = math.hypot(p_star, m2)
    return boost(d1, e1, parent_momentum, parent_mass), boost(-d1, e2, parent_momentum, parent_mass)


MUON_MICHEL_MAX = (0.1056583755 ** 2 + ELECTRON_MASS ** 2) / (2 * 0.1056583755)


def michel_electron(rng: np.random.Generator, parent_momentum: np.ndarray) -> np.ndarray:
    """Lab momentum of the electron of μ → e ν ν̄: energy from the Michel spectrum x²(3 − 2x)."""
    while True:  # rejection sampling; the spectrum peaks at x = 1 with value 1
        x = rng.random()
        if rng.random() < x * x * (3.0 - 2.0 * x):
            break
    energy = max(x * MUON_MICHEL_MAX, ELECTRON_MASS * 1.0001)
    p_star = math.sqrt(energy * energy - ELECTRON_MASS ** 2)
    rest = p_star * isotropic_direction(rng)
    return boost(rest, energy, parent_momentum, PARTICLES["mu+"].mass)


def decay_length_sample(rng: np.random.Generator, p: float, species: Species) -> float:
    """A decay distance (m) in the lab: exponential with mean βγcτ."""
    if not math.isfinite(species.ctau):
        return math.inf
    return -math.log(1.0 - rng.random()) * (p / species.mass) * species.ctau


#: charged decays in flight: (daughter seen, the other daughter's mass, branching weight)
CHARGED_DECAYS: dict[str, list[tuple[str, float, float]]] = {
    "pi+": [("mu+", 0.0, 1.0)],
    "pi-": [("mu-", 0.0, 1.0)],
    "K+": [("mu+", 0.0, 0.6356), ("pi+", 0.1349768, 0.2067)],
    "K-": [("mu-", 0.0, 0.6356), ("pi-", 0.1349768, 0.2067)],
}
#: neutral V0 decays seen as two tracks: (positive, negative, branching fraction)
V0_DECAYS: dict[str, tuple[str, str, float]] = {
    "K0S": ("pi+", "pi-", 0.6920),
    "Lambda": ("p", "pi-", 0.639),
    "Lambdabar": ("pi+", "pbar", 0.639),
}


# -- the same formulas on arrays (tables of the transport are built from these) -----------------


def density_correction_array(bg: np.ndarray, medium: Medium = LIQUID_HYDROGEN) -> np.ndarray:
    """:func:`density_correction` of an array of βγ."""
    minus_c, x0, x1, a, k = medium.sternheimer
    x = np.log10(np.maximum(bg, 1e-9))
    two_ln10 = 2.0 * math.log(10.0)
    return np.where(x >= x1, two_ln10 * x - minus_c,
                    np.where(x >= x0, two_ln10 * x - minus_c + a * np.abs(x1 - x) ** k, 0.0))


def max_energy_transfer_array(p: np.ndarray, mass: float | np.ndarray) -> np.ndarray:
    """:func:`max_energy_transfer` of an array of momenta (and masses)."""
    bg = p / mass
    gamma = np.sqrt(1.0 + bg * bg)
    ratio = ELECTRON_MASS / mass
    heavy = 2.0 * ELECTRON_MASS * bg * bg / (1.0 + 2.0 * gamma * ratio + ratio * ratio)
    return np.where(np.asarray(mass) == ELECTRON_MASS, 0.5 * (np.hypot(p, mass) - mass), heavy)


def ionisation_loss_array(p: np.ndarray, mass: float, charge: int = 1,
                          medium: Medium = LIQUID_HYDROGEN) -> np.ndarray:
    """:func:`ionisation_loss` (GeV/m) of an array of momenta."""
    bg = np.maximum(p / mass, 0.05)
    b2 = bg * bg / (1.0 + bg * bg)
    t_max = max_energy_transfer_array(bg * mass, mass)
    excitation = medium.mean_excitation_ev * 1e-9
    log_term = 0.5 * np.log(2.0 * ELECTRON_MASS * bg * bg * t_max / (excitation * excitation))
    bracket = log_term - b2 - 0.5 * density_correction_array(bg, medium)
    per_cm = K_BETHE * charge * charge * medium.z_over_a * medium.density / b2 * bracket
    return np.maximum(per_cm, 0.0) * 100.0


def delta_ray_rate_array(p: np.ndarray, mass: float, t_cut: float, charge: int = 1,
                         medium: Medium = LIQUID_HYDROGEN) -> np.ndarray:
    """:func:`delta_ray_rate` (per metre) of an array of momenta."""
    t_max = max_energy_transfer_array(p, mass)
    b2 = (p / np.hypot(p, mass)) ** 2
    per_cm = 0.5 * K_BETHE * charge * charge * medium.z_over_a * medium.density / b2 * (1.0 / t_cut - 1.0 / t_max)
    return np.where(t_max <= t_cut, 0.0, per_cm * 100.0)


def highland_coefficient_array(p: np.ndarray, mass: float, charge: int = 1, medium: Medium = LIQUID_HYDROGEN,
                               reference_m: float = 0.1) -> np.ndarray:
    """c(p) with θ₀ = c(p)·√(step) for one step: Highland's width with its log term taken at a fixed
    ``reference_m`` length, so that many short steps add up to Highland's θ₀ over that length."""
    b = p / np.hypot(p, mass)
    x0 = medium.radiation_length_m
    correction = np.maximum(0.0, 1.0 + 0.038 * np.log(reference_m / x0 / (b * b)))
    return 0.0136 / (b * p) * abs(charge) / math.sqrt(x0) * correction
