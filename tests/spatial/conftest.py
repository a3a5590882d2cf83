"""Stand-ins for `msjax.model.Model` (the duck-typed interface the spatial package reads)."""

import jax.numpy as jnp
import numpy as np
import pytest


class LinearModel:
    """`A <-> B` with rates k_f, k_b and degradation of B at rate g: conserves A+B when g = 0."""

    species_names = ("A", "B")
    parameter_names = ("kf", "kb", "g")
    initial_state = jnp.array([1.0, 0.0])

    def parameters(self, **overrides):
        values = {"kf": 1.0, "kb": 0.5, "g": 0.0} | overrides
        return jnp.array([values[n] for n in self.parameter_names])

    def rhs(self, t, x, theta):
        flux = theta[0] * x[0] - theta[1] * x[1]
        return jnp.stack([-flux, flux - theta[2] * x[1]])


class BirthDeath:
    """`0 -> X` at rate k, `X -> 0` at rate g x: stationary Poisson(k / g)."""

    species_names = ("X",)
    parameter_names = ("k", "g")
    initial_state = jnp.array([0.0])
    stoichiometry = np.array([[1, -1]])  # [S, R]

    def parameters(self, **overrides):
        values = {"k": 10.0, "g": 1.0} | overrides
        return jnp.array([values[n] for n in self.parameter_names])

    def rhs(self, t, x, theta):
        return jnp.stack([theta[0] - theta[1] * x[0]])

    def propensities(self, n, theta, volume):
        return jnp.stack([theta[0] * volume, theta[1] * n[0]])


@pytest.fixture
def linear_model():
    return LinearModel()


@pytest.fixture
def birth_death():
    return BirthDeath()
