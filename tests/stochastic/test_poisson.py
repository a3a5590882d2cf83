"""The tau-leap Poisson sampler: inversion below λ = 10, PTRS candidates above."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from msjax.stochastic._poisson import log_factorial, poisson_candidate


@pytest.mark.parametrize("lam", [0.5, 3.0, 9.99, 10.0, 37.0, 1e4, 1e6])
def test_accepted_candidates_are_poisson(lam):
    """200,000 candidates: the accepted ones pass a chi-square test against Poisson(λ) over the
    bins with expected count ≥ 5 (tails pooled); mean within 5 SE."""
    n = 200_000
    words = jax.random.bits(jax.random.PRNGKey(int(lam * 10)), (2, n), dtype=jnp.uint32)
    k, accepted = jax.jit(poisson_candidate)(jnp.full((n,), lam), words[0], words[1])
    k = np.asarray(k)[np.asarray(accepted)]
    assert k.size > 0.7 * n  # PTRS accepts about 0.75 (λ = 10) to 0.89 (large λ)
    assert abs(k.mean() - lam) < 5 * np.sqrt(lam / k.size)
    lo, hi = int(stats.poisson.ppf(1e-5, lam)), int(stats.poisson.isf(1e-5, lam))
    values = np.arange(lo, hi + 1)
    expected = k.size * stats.poisson.pmf(values, lam)
    observed = np.bincount(np.clip(k - lo, 0, hi - lo), minlength=hi - lo + 1)[: hi - lo + 1]
    keep = expected >= 5
    observed, expected = observed[keep], expected[keep]
    _, p = stats.chisquare(observed, expected * observed.sum() / expected.sum())
    assert p > 1e-4, p


def test_zero_mean_gives_zero():
    words = jnp.arange(8, dtype=jnp.uint32)
    k, accepted = jax.jit(poisson_candidate)(jnp.zeros(8), words, words)
    assert (np.asarray(k) == 0).all() and np.asarray(accepted).all()


def test_log_factorial_matches_lgamma():
    k = jnp.asarray(np.concatenate([np.arange(0.0, 60.0), np.logspace(2, 9, 30).round()]))
    np.testing.assert_allclose(log_factorial(k), jax.lax.lgamma(k + 1.0), rtol=1e-13, atol=1e-13)
