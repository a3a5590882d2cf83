"""Models used by the spatial tests: real msjax Models."""

import pytest

import msjax
from msjax import MassAction, Model, Reaction


@pytest.fixture
def linear_model():
    """``A ⇌ B`` (kf, kb) and ``B → ∅`` (g): conserves A + B when g = 0."""
    return Model(
        {"A": 1.0, "B": 0.0},
        [Reaction("A <-> B", MassAction("kf", "kb")), Reaction("B ->", MassAction("g"))],
        {"kf": 1.0, "kb": 0.5, "g": 0.0},
    )


@pytest.fixture
def birth_death():
    """``∅ → X`` at rate k, ``X → ∅`` at rate g x: stationary Poisson(k / g)."""
    return msjax.models.birth_death(k=10.0, gamma=1.0)
