"""The bubble-chamber simulator's physics: helix radius, bending, energy loss, scattering, decays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sciarch_datasets.tracks import PARTICLES, ChamberConfig
from sciarch_datasets.tracks.physics import (
    decay_length_sample,
    helix_radius,
    highland_angle,
    mass_stopping_power_mev,
    two_body_decay,
)
from sciarch_datasets.tracks.simulator import transport

# a chamber with every effect but the field switched off: the path must be an exact helix
IDEAL = dict(energy_loss=False, multiple_scattering=False, delta_rays=False, decays=False)


def fit_circle(xy: np.ndarray) -> tuple[float, float, float]:
    """Least-squares (Kåsa) circle through points: centre x, centre y, radius."""
    a = np.column_stack([2 * xy[:, 0], 2 * xy[:, 1], np.ones(len(xy))])
    b = (xy ** 2).sum(axis=1)
    (cx, cy, c), *_ = np.linalg.lstsq(a, b, rcond=None)
    return cx, cy, math.sqrt(c + cx * cx + cy * cy)


def run(species: str, p_vec, cfg: ChamberConfig, start=None, seed: int = 0):
    start = np.array([cfg.chamber_width_m / 2, cfg.height_m / 2, 0.0]) if start is None else np.asarray(start)
    return transport(PARTICLES[species], start, np.asarray(p_vec, dtype=float), cfg, np.random.default_rng(seed))


@pytest.mark.parametrize("p_t", [0.1, 0.5, 2.0])
@pytest.mark.parametrize("field", [0.5, 1.5, 3.5])
def test_radius_is_pt_over_0_3_b(p_t: float, field: float) -> None:
    radius = helix_radius(p_t, field)
    assert radius == pytest.approx(p_t / (0.299792458 * field))
    cfg = ChamberConfig(image_size=(400, 400), chamber_width_m=3 * radius, depth_m=10.0, field_tesla=field, **IDEAL)
    moved = run("pi+", [p_t, 0.0, 0.0], cfg)
    _, _, fitted = fit_circle(moved.path[:, :2])
    assert fitted == pytest.approx(radius, rel=2e-3)


def test_radius_uses_the_transverse_momentum_of_a_dipping_track() -> None:
    p, dip, field = 0.8, 0.4, 1.5
    radius = p * math.cos(dip) / (0.299792458 * field)
    cfg = ChamberConfig(image_size=(300, 300), chamber_width_m=3 * radius, depth_m=50.0, field_tesla=field, **IDEAL)
    moved = run("mu-", [p * math.cos(dip), 0.0, p * math.sin(dip)], cfg)
    _, _, fitted = fit_circle(moved.path[:, :2])
    assert fitted == pytest.approx(radius, rel=2e-3)
    # and it rises along the field by 2πR tan λ per turn
    dz_per_turn = 2 * math.pi * radius * math.tan(dip)
    turned = np.unwrap(np.arctan2(np.diff(moved.path[:, 1]), np.diff(moved.path[:, 0])))
    assert (moved.path[-1, 2] - moved.path[0, 2]) / (abs(turned[-1] - turned[0]) / (2 * math.pi)) == \
        pytest.approx(dz_per_turn, rel=0.02)


def test_positive_and_negative_tracks_bend_opposite_ways() -> None:
    cfg = ChamberConfig(image_size=(200, 200), chamber_width_m=2.0, field_tesla=1.5, **IDEAL)
    start = [0.2, 1.0, 0.0]
    plus = run("pi+", [0.3, 0.0, 0.0], cfg, start=start)
    minus = run("pi-", [0.3, 0.0, 0.0], cfg, start=start)
    # B along +z: F = q v × B pushes a positive particle moving along +x towards −y (clockwise)
    cx_plus, cy_plus, _ = fit_circle(plus.path[:, :2])
    cx_minus, cy_minus, _ = fit_circle(minus.path[:, :2])
    assert cy_plus < 1.0 < cy_minus
    assert cx_plus == pytest.approx(0.2, abs=1e-3) and cx_minus == pytest.approx(0.2, abs=1e-3)
    assert plus.path[10, 1] < 1.0 < minus.path[10, 1]


def test_a_slow_electron_spirals_inwards_and_stops() -> None:
    field = 1.5
    cfg = ChamberConfig(image_size=(400, 400), chamber_width_m=1.0, field_tesla=field, delta_rays=False, decays=False,
                        multiple_scattering=False)
    p0 = 0.020  # 20 MeV/c: R₀ = 4.4 cm
    moved = run("e-", [p0, 0.0, 0.0], cfg)
    assert moved.end == "stopped"
    xy = moved.path[:, :2]
    heading = np.unwrap(np.arctan2(np.diff(xy[:, 1]), np.diff(xy[:, 0])))
    turns = abs(heading[-1] - heading[0]) / (2 * math.pi)
    assert turns > 3.0, f"only {turns:.2f} turns"
    # the radius of the first turn is p/(0.3B); a late turn is much tighter
    first = np.searchsorted(np.abs(heading - heading[0]), 2 * math.pi)
    _, _, r_first = fit_circle(xy[:first])
    late_start = np.searchsorted(np.abs(heading - heading[0]), 2 * math.pi * (turns - 1.2))
    late_end = np.searchsorted(np.abs(heading - heading[0]), 2 * math.pi * (turns - 0.2))
    _, _, r_late = fit_circle(xy[late_start:late_end])
    assert r_first == pytest.approx(helix_radius(p0, field), rel=0.25)
    assert r_late < 0.35 * r_first
    # it never leaves the circle of its first turn: it spirals in, it does not drift away
    assert np.linalg.norm(xy - xy[0], axis=1).max() < 2.2 * helix_radius(p0, field)


def test_the_same_electron_without_energy_loss_keeps_its_radius() -> None:
    cfg = ChamberConfig(image_size=(400, 400), chamber_width_m=1.0, field_tesla=1.5, **IDEAL)
    moved = run("e-", [0.020, 0.0, 0.0], cfg)
    assert moved.end == "steps"  # circles until the step limit, never stops
    _, _, radius = fit_circle(moved.path[:, :2])
    assert radius == pytest.approx(helix_radius(0.020, 1.5), rel=2e-3)


def test_bethe_bloch_minimum_in_liquid_hydrogen_matches_the_pdg_table() -> None:
    mass = PARTICLES["mu+"].mass
    bg = np.logspace(-0.5, 2.5, 300)
    loss = np.array([mass_stopping_power_mev(b * mass, mass) for b in bg])
    assert loss.min() == pytest.approx(4.034, rel=0.01)  # PDG: 4.034 MeV cm²/g at minimum
    assert 3.0 < bg[loss.argmin()] < 4.5
    # a slow proton ionises far more: 1/β² times a logarithm that shrinks at low βγ
    p_slow = 0.3
    beta = p_slow / math.hypot(p_slow, PARTICLES["p"].mass)
    ratio = mass_stopping_power_mev(p_slow, PARTICLES["p"].mass) / loss.min()
    assert 0.5 / beta ** 2 < ratio < 1 / beta ** 2
    assert ratio > 6


def test_stepwise_scattering_adds_up_to_highland() -> None:
    p, length = 0.5, 0.10
    # a chamber exactly `length` wide: the pion crosses it and leaves
    cfg = ChamberConfig(image_size=(300, 300), chamber_width_m=length, depth_m=1.0, field_tesla=1e-9,
                        energy_loss=False, delta_rays=False, decays=False)
    start = [1e-9, 0.5 * length, 0.0]
    angles = []
    rng = np.random.default_rng(7)
    for _ in range(400):
        moved = transport(PARTICLES["pi+"], np.array(start), np.array([p, 0.0, 0.0]), cfg, rng)
        assert moved.end == "exit"
        direction = moved.momentum_end / np.linalg.norm(moved.momentum_end)
        angles.append(math.atan2(direction[1], direction[0]))
    expected = highland_angle(p, PARTICLES["pi+"].mass, length)
    assert np.std(angles) == pytest.approx(expected, rel=0.12)


@pytest.mark.parametrize("name", ["K0S", "Lambda"])
def test_v0_decay_lengths_are_exponential_with_mean_beta_gamma_c_tau(name: str) -> None:
    from scipy import stats

    species = PARTICLES[name]
    p = 1.2
    rng = np.random.default_rng(11)
    lengths = np.array([decay_length_sample(rng, p, species) for _ in range(20000)])
    mean = p / species.mass * species.ctau
    assert lengths.mean() == pytest.approx(mean, rel=3 / math.sqrt(len(lengths)))
    assert stats.kstest(lengths, "expon", args=(0, mean)).pvalue > 0.01
    # and not some other mean: a 10 % longer lifetime is rejected
    assert stats.kstest(lengths, "expon", args=(0, 1.1 * mean)).pvalue < 1e-6


def test_v0_daughters_rebuild_the_parent_mass_and_momentum() -> None:
    rng = np.random.default_rng(3)
    parent = np.array([0.6, -0.3, 0.2])
    for name, (m1, m2) in {"K0S": ("pi+", "pi-"), "Lambda": ("p", "pi-")}.items():
        mass = PARTICLES[name].mass
        a, b = two_body_decay(rng, parent, mass, PARTICLES[m1].mass, PARTICLES[m2].mass)
        energy = math.hypot(np.linalg.norm(a), PARTICLES[m1].mass) + math.hypot(np.linalg.norm(b), PARTICLES[m2].mass)
        total = a + b
        assert np.allclose(total, parent, atol=1e-9)
        assert math.sqrt(energy ** 2 - total @ total) == pytest.approx(mass, rel=1e-9)


def test_v0s_in_simulated_pictures_decay_at_exponential_distances() -> None:
    from sciarch_datasets.tracks.simulator import generate_event
    from scipy import stats

    cfg = ChamberConfig(image_size=(64, 64), tracks=(2, 2), beam_tracks=(0, 0), v0_probability=1.0, delta_rays=False)
    rng = np.random.default_rng(5)
    scaled = []  # decay length / (βγcτ): exponential with mean 1 whatever the momentum
    for _ in range(300):
        for v0 in generate_event(cfg, rng).v0s:
            species = PARTICLES[v0.species]
            scaled.append(v0.decay_length_m / (np.linalg.norm(v0.momentum) / species.mass * species.ctau))
    scaled = np.array(scaled)
    assert len(scaled) >= 300
    assert scaled.mean() == pytest.approx(1.0, rel=4 / math.sqrt(len(scaled)))
    assert stats.kstest(scaled, "expon").pvalue > 0.01


def test_charged_pions_decay_into_muons_with_a_kink() -> None:
    cfg = ChamberConfig(image_size=(200, 200), chamber_width_m=20.0, depth_m=20.0, field_tesla=1.5,
                        multiple_scattering=False, delta_rays=False, energy_loss=False)
    rng = np.random.default_rng(1)
    ends = []
    for _ in range(200):
        moved = transport(PARTICLES["pi+"], np.array([10.0, 10.0, 0.0]), np.array([0.05, 0.0, 0.0]), cfg, rng)
        ends.append(moved.end)
        if moved.end == "decay":
            (name, where, momentum, origin), = moved.secondaries
            assert name == "mu+" and origin == "decay"
            assert np.allclose(where, moved.path[-1])
    # a 50 MeV/c pion travels βγcτ = 2.8 m on average; most decay within the 20 m chamber
    assert ends.count("decay") > 150


def test_slow_protons_leave_denser_bubbles_than_fast_pions() -> None:
    from sciarch_datasets.tracks.optics import bubbles_along
    from sciarch_datasets.tracks.simulator import Particle

    cfg = ChamberConfig(image_size=(200, 200), chamber_width_m=1.0, **IDEAL)
    rng = np.random.default_rng(2)
    density = {}
    for name, p in (("p", 0.4), ("pi+", 1.0)):
        moved = run(name, [p, 0.0, 0.0], cfg, start=[0.0 + 1e-6, 0.5, 0.0])
        particle = Particle(0, PARTICLES[name], "primary", -1, moved.path[0], np.array([p, 0, 0]), moved.path,
                            moved.betas, moved.end)
        centres, _ = bubbles_along(particle, cfg, rng)
        length = np.linalg.norm(np.diff(moved.path, axis=0), axis=1).sum()
        density[name] = len(centres) / (length * 100)
    beta_p = 0.4 / math.hypot(0.4, PARTICLES["p"].mass)
    assert density["pi+"] == pytest.approx(cfg.bubbles_per_cm / (1.0 / math.hypot(1.0, 0.1396)) ** 2, rel=0.15)
    assert density["p"] / density["pi+"] == pytest.approx(min(1 / beta_p ** 2, cfg.ionisation_cap) * 0.98, rel=0.15)
