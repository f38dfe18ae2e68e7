"""DimeNet++'s spherical basis computed numerically equals its definition and PyG's sympy layer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sciarch_molecules.models.dimenet import SphericalBasis, spherical_bessel_zeros, triplets


def test_zeros_are_zeros_of_the_spherical_bessel_functions():
    from scipy.special import spherical_jn

    zeros = spherical_bessel_zeros(5, 4)
    for order, row in enumerate(zeros):
        assert np.all(np.diff(row) > 0)
        assert np.abs(spherical_jn(order, np.asarray(row))).max() < 1e-10
    assert zeros[0] == pytest.approx([math.pi * k for k in range(1, 5)])
    assert zeros[1][0] == pytest.approx(4.493409, abs=1e-6)  # first zero of j_1 (tan x = x)


def test_basis_matches_its_definition():
    from scipy.special import eval_legendre, spherical_jn

    basis = SphericalBasis(4, 3, cutoff=5.0).double()
    d = torch.tensor([0.9, 2.5, 4.7], dtype=torch.float64)
    angle = torch.tensor([0.3, 2.0, 3.0], dtype=torch.float64)
    idx_kj = torch.tensor([0, 1, 2])
    out = basis(d, angle, idx_kj).view(3, 4, 3).numpy()
    zeros = spherical_bessel_zeros(4, 3)
    envelope = basis.envelope(d / 5.0).numpy()
    for t in range(3):
        for order in range(4):
            for n in range(3):
                z = zeros[order][n]
                radial = math.sqrt(2) / abs(spherical_jn(order + 1, z)) * spherical_jn(order, z * d[t].item() / 5.0)
                angular = math.sqrt((2 * order + 1) / (4 * math.pi)) * eval_legendre(order, math.cos(angle[t].item()))
                assert out[t, order, n] == pytest.approx(envelope[t] * radial * angular, rel=1e-9, abs=1e-12)


@pytest.mark.slow
def test_basis_matches_pyg_sympy_layer():
    from torch_geometric.nn.models.dimenet import SphericalBasisLayer

    reference = SphericalBasisLayer(4, 4, 5.0)  # builds sympy expressions: slow
    mine = SphericalBasis(4, 4, 5.0)
    g = torch.Generator().manual_seed(0)
    d = torch.rand(50, generator=g, dtype=torch.float64) * 4.5 + 0.5
    angle = torch.rand(80, generator=g, dtype=torch.float64) * math.pi
    idx = torch.randint(0, 50, (80,), generator=g)
    expected = reference(d, angle, idx)
    # PyG keeps its Bessel zeros in float32: agreement to that precision
    torch.testing.assert_close(mine(d, angle, idx), expected, atol=1e-5 * expected.abs().max().item(), rtol=0)


def test_triplets_enumerate_every_two_edge_path_without_backtracking():
    # a triangle 0-1-2 plus a pendant 3 on 2, all edges both ways
    pairs = [(0, 1), (1, 2), (2, 0), (2, 3)]
    edge_index = torch.tensor([[a for a, b in pairs] + [b for a, b in pairs],
                               [b for a, b in pairs] + [a for a, b in pairs]])
    i, j, idx_i, idx_j, idx_k, idx_kj, idx_ji = triplets(edge_index, 4)
    found = sorted(zip(idx_k.tolist(), idx_j.tolist(), idx_i.tolist(), strict=True))
    expected = sorted((k, jj, ii) for (jj, ii) in zip(edge_index[0].tolist(), edge_index[1].tolist(), strict=True)
                      for (k, j2) in zip(edge_index[0].tolist(), edge_index[1].tolist(), strict=True)
                      if j2 == jj and k != ii)
    assert found == expected
    assert torch.equal(edge_index[1][idx_kj], idx_j) and torch.equal(edge_index[0][idx_kj], idx_k)
    assert torch.equal(edge_index[0][idx_ji], idx_j) and torch.equal(edge_index[1][idx_ji], idx_i)
