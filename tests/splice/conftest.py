"""Fixtures for the splice plugin's tests: a motif "model" whose answers are known exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class MotifModel(nn.Module):
    """Scores a base as a donor when GT follows it and as an acceptor when AG precedes it.

    Context 4 (two bases each side), so output ``i`` is input base ``i + 2``. Probabilities are
    ~1 where the motif is and ~0 elsewhere: the test of predict and score-variants then knows the
    exact answer for every position and every allele.
    """

    context = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, g, t = x[:, 0], x[:, 2], x[:, 3]
        length = x.shape[-1] - 4
        acceptor = a[:, 0:length] * g[:, 1:length + 1]          # A, G at input i, i+1; site at i+2
        donor = g[:, 3:length + 3] * t[:, 4:length + 4]         # G, T at input i+3, i+4; site at i+2
        none = torch.zeros_like(acceptor)
        return torch.stack([none, 30 * acceptor - 15, 30 * donor - 15], dim=1)


@pytest.fixture
def motif_model() -> MotifModel:
    return MotifModel()
