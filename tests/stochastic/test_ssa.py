"""Known answers for Gillespie, TauLeap and CLE (birth–death Poisson, moments, limits)."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats as sps

import msjax
from msjax import models
from msjax.stochastic import CLE, Gillespie, TauLeap, ensemble_stats, ensemble_trajectories
from msjax.stochastic._common import AbstractStochasticMethod


def _poisson_moments_ok(x, lam):
    """Sample mean and variance of x within 5 standard errors of Poisson(λ)."""
    n = x.size
    mean_se = np.sqrt(lam / n)
    var_se = np.sqrt((lam + 3 * lam**2 - lam**2 * (n - 3) / (n - 1)) / n)
    assert abs(x.mean() - lam) < 5 * mean_se, (x.mean(), lam, mean_se)
    assert abs(x.var(ddof=1) - lam) < 5 * var_se, (x.var(ddof=1), lam, var_se)


def test_birth_death_poisson():
    """X(t) ~ Poisson(k/γ (1 − e^{−γt})) from X(0) = 0: moments and a chi-square test."""
    k, gamma, n = 10.0, 1.0, 4000
    model = models.birth_death(k=k, gamma=gamma)
    ts = jnp.array([0.0, 0.5, 2.0])
    sol = msjax.simulate(model, Gillespie(), ts, key=jax.random.PRNGKey(0), n=n)
    assert sol.ys.shape == (n, 3, 1) and sol.ys.dtype == jnp.int32
    assert sol["X"].shape == (n, 3)
    for i, t in enumerate(np.asarray(ts)):
        lam = k / gamma * (1 - np.exp(-gamma * t))
        x = np.asarray(sol["X"][:, i])
        if lam == 0:
            assert np.all(x == 0)
            continue
        _poisson_moments_ok(x, lam)
    x = np.asarray(sol["X"][:, -1])
    lam = k / gamma * (1 - np.exp(-2 * gamma))
    edges = np.arange(0, 21)
    observed = np.array([np.sum(x == v) for v in edges[:-1]] + [np.sum(x >= 20)])
    expected = n * np.append(sps.poisson.pmf(edges[:-1], lam), sps.poisson.sf(19, lam))
    keep = expected >= 5
    observed = np.append(observed[keep], observed[~keep].sum())
    expected = np.append(expected[keep], expected[~keep].sum())
    _, p = sps.chisquare(observed, expected)
    assert p > 1e-3, p


def test_single_trajectory_and_counts_convention():
    """n=None gives [T, S]; counts are round(Ω V x0) and ys are counts."""
    model = models.birth_death(k=10.0, gamma=1.0, x0=0.5)
    ts = jnp.linspace(0.0, 1.0, 5)
    sol = msjax.simulate(model, Gillespie(omega=10.0), ts, key=jax.random.PRNGKey(1))
    assert sol.ys.shape == (5, 1)
    assert int(sol.ys[0, 0]) == 5


def test_tauleap_accuracy_and_nonnegative():
    """TauLeap (ε = 0.03) on birth–death in the DSMTS regime (k = 10, γ = 0.1, X ≈ 100):
    mean and variance within 5 SE of Poisson; counts ≥ 0. Leaps would be shorter than
    ``ssa_factor/a₀`` here (the relaxation bound τ' ≤ ε/γ = 0.3), so exact steps are taken."""
    k, gamma, n = 10.0, 0.1, 3000
    model = models.birth_death(k=k, gamma=gamma)
    ts = jnp.linspace(0.0, 30.0, 4)
    sol = msjax.simulate(model, TauLeap(eps=0.03), ts, key=jax.random.PRNGKey(2), n=n)
    x = np.asarray(sol["X"]).astype(float)
    assert x.min() >= 0
    for i, t in enumerate(np.asarray(ts)[1:], start=1):
        _poisson_moments_ok(x[:, i], k / gamma * (1 - np.exp(-gamma * t)))
    assert int(sol.stats["num_ssa_steps"].sum()) > 0


def test_tauleap_high_copy_leaps_keep_the_variance():
    """High copy numbers (X ≈ 1000) and save times far apart (no clipping of leaps): leaps are
    taken and mean and variance stay within 5 SE of Poisson. With the CGP bound alone the
    leap near the steady state grows to τ ≫ 1/γ and explicit leaping inflates the variance
    by 1/(1 − γτ/2) (about 4x at ε = 0.03); the relaxation bound τ ≤ ε/γ prevents it."""
    k, n = 1000.0, 2000
    model = models.birth_death(k=k, gamma=1.0)
    ts = jnp.array([0.0, 10.0])
    sol = msjax.simulate(model, TauLeap(eps=0.03), ts, key=jax.random.PRNGKey(2), n=n)
    _poisson_moments_ok(np.asarray(sol["X"][:, -1]).astype(float), k * (1 - np.exp(-10.0)))
    assert int(sol.stats["num_leaps"].sum()) > 100 * n


def test_tauleap_critical_reactions_never_negative():
    """Low counts with a second-order consumer (dimerisation): never negative."""
    model = msjax.Model(
        species={"P": 12.0, "P2": 0.0},
        reactions=[
            msjax.Reaction("2 P -> P2", msjax.MassAction("k1"), name="dim"),
            msjax.Reaction("P2 -> 2 P", msjax.MassAction("k2"), name="dis"),
        ],
        parameters={"k1": 5.0, "k2": 0.5},
    )
    ts = jnp.linspace(0.0, 5.0, 11)
    sol = msjax.simulate(model, TauLeap(eps=0.1), ts, key=jax.random.PRNGKey(3), n=500)
    ys = np.asarray(sol.ys)
    assert ys.min() >= 0
    np.testing.assert_array_equal(ys[..., 0] + 2 * ys[..., 1], 12)


def test_cle_birth_death_moments():
    """CLE on a high-copy birth–death: mean and sd of the Ornstein–Uhlenbeck limit."""
    k, gamma, n = 400.0, 1.0, 2000
    model = models.birth_death(k=k, gamma=gamma, x0=400.0)
    ts = jnp.linspace(0.0, 2.0, 3)
    sol = msjax.simulate(model, CLE(dt=0.01), ts, key=jax.random.PRNGKey(4), n=n)
    x = np.asarray(sol["X"][:, -1])
    assert abs(x.mean() - k) < 5 * np.sqrt(k / n)
    assert abs(x.std() / np.sqrt(k) - 1) < 0.06


def test_thermodynamic_limit_cv_slope():
    """CV ∝ Ω^(-1/2): fitted slope of log CV on log Ω within −0.5 ± 0.05 over three decades,
    and the ensemble mean (concentration) → the ODE solution."""
    model = models.birth_death(k=1.0, gamma=1.0, x0=1.0)
    ts = jnp.linspace(0.0, 1.0, 3)
    omegas = np.array([1.0, 10.0, 100.0, 1000.0])
    cvs = []
    for i, omega in enumerate(omegas):
        method = Gillespie(omega=float(omega))
        sol = msjax.simulate(model, method, ts, key=jax.random.PRNGKey(10 + i), n=2000)
        x = np.asarray(sol["X"][:, -1]) / omega
        cvs.append(x.std(ddof=1) / x.mean())
        assert abs(x.mean() - 1.0) < 5 * np.sqrt(1.0 / omega / 2000)
    slope = np.polyfit(np.log(omegas), np.log(cvs), 1)[0]
    assert abs(slope + 0.5) < 0.05, slope


def test_float32_agrees_with_float64():
    """float32 mode: same distribution as float64 (telegraph protein mean and sd within 5 SE)."""
    model = models.telegraph_gene()
    ts = jnp.linspace(0.0, 20.0, 3)
    n = 2000
    x64 = msjax.simulate(model, Gillespie(), ts, key=jax.random.PRNGKey(5), n=n)
    x32 = msjax.simulate(model, Gillespie(float32=True), ts, key=jax.random.PRNGKey(6), n=n)
    a = np.asarray(x64["P"][:, -1]).astype(float)
    b = np.asarray(x32["P"][:, -1]).astype(float)
    se = np.sqrt(a.var() / n + b.var() / n)
    assert abs(a.mean() - b.mean()) < 5 * se
    assert abs(a.std() / b.std() - 1) < 5 * np.sqrt(1 / n)  # sd ratio SE ≈ √(1/n)·√(κ/2)
    assert sps.ks_2samp(a, b).pvalue > 1e-3


def test_ensemble_stats_matches_trajectories_and_poisson():
    """Streamed mean/var/quantiles equal those of the kept trajectories; Poisson moments."""
    model = models.birth_death(k=10.0, gamma=1.0)
    ts = jnp.array([0.0, 3.0])
    key = jax.random.PRNGKey(7)
    stats = ensemble_stats(model, Gillespie(), ts, key=key, n=3000, chunk_size=1000)
    ys, ok = ensemble_trajectories(model, Gillespie(), ts, key=key, n=3000, chunk_size=1000)
    assert ok.all() and stats.n == 3000 and stats.failures == 0
    np.testing.assert_allclose(stats.mean, ys.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.var, ys.var(0, ddof=1), rtol=1e-10)
    x = ys[:, -1, 0]
    np.testing.assert_array_equal(
        stats.quantiles[:, -1, 0], np.quantile(x, stats.quantile_levels, method="inverted_cdf")
    )
    assert stats.histogram[-1, 0].sum() == 3000
    _poisson_moments_ok(x, 10.0 * (1 - np.exp(-3.0)))


class _Counting(AbstractStochasticMethod):
    """Gillespie that reports the keys of the trajectories it simulates (host callback)."""

    inner: Gillespie

    def trajectories(self, model, ts, params, counts0, keys):
        jax.debug.callback(lambda k: _SIMULATED.append(np.asarray(k)), keys)
        return self.inner.trajectories(model, ts, params, counts0, keys)


_SIMULATED: list = []


def test_ensemble_stats_simulates_each_trajectory_once():
    """n = 2500 in chunks of 1000 (the first also sets the histogram range): 2500 distinct
    trajectory keys simulated, no more, and the statistics equal `ensemble_trajectories`'."""
    model = models.birth_death(k=10.0, gamma=1.0)
    ts = jnp.array([0.0, 1.0])
    key = jax.random.PRNGKey(8)
    _SIMULATED.clear()
    stats = ensemble_stats(model, _Counting(Gillespie()), ts, key=key, n=2500, chunk_size=1000)
    keys = np.concatenate(_SIMULATED)
    assert keys.shape[0] == 3000  # three chunks of 1000; the last 500 are padding
    assert np.unique(keys, axis=0).shape[0] == 3000
    ys, _ = ensemble_trajectories(model, Gillespie(), ts, key=key, n=2500, chunk_size=1000)
    np.testing.assert_allclose(stats.mean, ys.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.var, ys.var(0, ddof=1), rtol=1e-10)
