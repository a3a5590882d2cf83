"""Identifiability: synthetic data from known parameters are recovered within their profile
intervals; structural null spaces are named as the sparsest identifiable combinations."""

import math

import jax
import numpy as np
import pytest

import msjax
from msjax.inference import (
    Measurement,
    Normal,
    Observable,
    Parameter,
    Problem,
    fit,
    profile,
)
from msjax.inference._analysis import _combination, identifiable_directions

TRUE = {"k": 10.0, "gamma": 0.5}
TIMES = np.linspace(0.5, 8.0, 16)


def _birth_death_problem(data):
    """``x(t) = k/γ (1 − e^{−γt})`` with 10 % log-normal noise."""
    return Problem(
        msjax.models.birth_death(),
        [Observable("x", "X", noise="0.1", noise_model=Normal("log"))],
        [Measurement("x", float(t), float(y)) for t, y in zip(TIMES, data, strict=True)],
        [
            Parameter("k", "log10", 1e-2, 1e3, TRUE["k"]),
            Parameter("gamma", "log10", 1e-2, 1e2, TRUE["gamma"]),
        ],
    )


@pytest.mark.slow  # run by .ci/run's inference step
def test_fit_recovers_known_parameters_within_profile_intervals():
    exact = TRUE["k"] / TRUE["gamma"] * (1 - np.exp(-TRUE["gamma"] * TIMES))
    z = np.asarray(jax.random.normal(jax.random.key(3), TIMES.shape, dtype=float))
    problem = _birth_death_problem(exact * np.exp(0.1 * z))
    truth = np.log10([TRUE["k"], TRUE["gamma"]])
    result = fit(problem, n_starts=8, key=jax.random.key(0))
    assert float(result.fun) <= float(problem.objective(truth))
    prof = profile(problem, result.x, n_points=12, width=0.3, steps=20)
    assert not prof.flat.any()
    assert np.all(np.isfinite(prof.ci))
    assert np.all((prof.ci[:, 0] < truth) & (truth < prof.ci[:, 1]))
    assert np.all((prof.ci[:, 0] < result.x) & (result.x < prof.ci[:, 1]))
    # the interval is the likelihood-ratio one: the profile at each end is min + 1.92
    threshold = 0.5 * 3.841458820694124
    for k in range(2):
        for end in prof.ci[k]:
            value = np.interp(end, prof.values[k], prof.nllh[k])
            assert value - float(result.fun) == pytest.approx(threshold, abs=0.02)


@pytest.mark.parametrize(
    ("null", "names", "expected"),
    [
        ([[1, -1]], ("k1", "k2"), ("k1 · k2",)),
        # s·M and P measured for ∅ → M (k_m), M → M + P (k_p): k_m ↑ c, k_p ↓ c, s ↓ c
        ([[1, 0, -1, 0, -1]], ("k_m", "g_m", "k_p", "g_p", "s"), ("k_m · k_p", "k_m · s")),
        # a ratio: only k1/k2 identifiable when both scale together
        ([[1, 1, 0]], ("k1", "k2", "k3"), ("k1 · k2^-1",)),
    ],
)
def test_identifiable_combinations_are_the_sparsest(null, names, expected):
    null = np.asarray(null, dtype=float).T
    null = null / np.linalg.norm(null, axis=0)
    touched = np.any(np.abs(null) > 1e-3, axis=1)
    directions = identifiable_directions(null, touched)
    assert tuple(_combination(v, names, tol=1e-3, exact=True) for v in directions) == expected
    for v in directions:  # each is orthogonal to the null space
        assert np.abs(null.T @ v).max() < 1e-12 * math.sqrt(len(names))
