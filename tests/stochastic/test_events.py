"""SBML events in exact SSA and tau-leaping: time triggers between reactions (and leaps end at
them), state triggers after each reaction or leap."""

from functools import cache
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as sps

import msjax
from msjax.stochastic import CLE, Gillespie, TauLeap, ensemble_stats, ensemble_trajectories

SUITE = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "sbml-stochastic"
IMMIGRATION_DEATH = (SUITE / "00028" / "00028-sbml-l3v2.xml").read_text()  # t ≥ 25: X = 50


def _immigration_death(trigger_time=25, value=50):
    text = IMMIGRATION_DEATH.replace('<cn type="integer"> 25 </cn>', f"<cn> {trigger_time} </cn>")
    return msjax.load_sbml(text.replace('<cn type="integer"> 50 </cn>', f"<cn> {value} </cn>"))


def _moments_ok(x, mean, var):
    """Sample mean and variance of ``x`` [n] within 5 standard errors of ``mean`` and ``var``
    (the variance's SE from the sample's fourth central moment)."""
    n = x.size
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / n), (x.mean(), mean)
    var_se = np.sqrt((np.mean((x - x.mean()) ** 4) - x.var() ** 2) / n)
    assert abs(x.var(ddof=1) - var) < 5 * var_se, (x.var(ddof=1), var)


@cache
def _immigration(event: str):
    """High-copy pure immigration ``∅ → X`` at rate α = 1000 with one event: every leap is
    exact in law (a Poisson count of a constant rate), so tau-leaping has a known answer."""
    return msjax.load_antimony(f"J1: -> X; alpha\nX = 0; alpha = 1000; tr = 4.95\nE1: {event}\n")


@pytest.mark.parametrize("method", [Gillespie(), TauLeap()], ids=["gillespie", "tauleap"])
def test_time_trigger_between_reactions_is_exact(method):
    """Event ``t ≥ 24.5: X = 50`` with no save time there: at t = 25, X is Poisson(10(1 − e^{−γ/2}))
    plus Binomial(50, e^{−γ/2}) (α = 1, γ = 0.1): mean and variance within 5 SE. At t = 24 the
    event has not fired (X ~ Poisson(10(1 − e^{−2.4}))). TauLeap takes exact steps at these
    counts, so this checks its exact steps with events."""
    n = 4000
    model = _immigration_death(24.5)
    ts = jnp.array([0.0, 24.0, 25.0])
    sol = msjax.simulate(model, method, ts, key=jax.random.PRNGKey(0), n=n)
    x = np.asarray(sol["X"]).astype(float)
    survive = np.exp(-0.05)
    mean = 10 * (1 - survive) + 50 * survive
    var = 10 * (1 - survive) + 50 * survive * (1 - survive)
    _moments_ok(x[:, 2], mean, var)
    _moments_ok(x[:, 1], 10 * (1 - np.exp(-2.4)), 10 * (1 - np.exp(-2.4)))
    assert x[:, 1].max() < 30 < x[:, 2].min()  # before: ~9 ± 3; after: 50 less ~2.5 deaths


def test_tauleap_leap_ends_at_a_time_trigger():
    """Pure immigration (α = 1000) with ``t ≥ 4.95: X = 0`` and saves at 4.9 and 5: the leap
    from 4.9 must stop at 4.95 (one leaping past it would fire at 5 and record 0), so X(5) ~
    Poisson(50) and X(4.9) ~ Poisson(4900), mean and variance within 5 SE; all steps are leaps.
    With the trigger at a save time (``tr = 5``), X(5) = 0 in every trajectory (recorded after
    the event) and X(5.1) ~ Poisson(100)."""
    n = 4000
    model = _immigration("at (time >= tr): X = 0")
    sol = msjax.simulate(
        model, TauLeap(), jnp.array([0.0, 4.9, 5.0]), key=jax.random.PRNGKey(0), n=n
    )
    x = np.asarray(sol["X"]).astype(float)
    _moments_ok(x[:, 1], 4900.0, 4900.0)
    _moments_ok(x[:, 2], 50.0, 50.0)
    assert int(sol.stats["num_ssa_steps"].sum()) == 0
    assert int(sol.stats["num_leaps"].sum()) == 3 * n  # to 4.9, to the trigger at 4.95, to 5
    sol = msjax.simulate(
        model,
        TauLeap(),
        jnp.array([0.0, 5.0, 5.1]),
        params=model.parameters(tr=5.0),
        key=jax.random.PRNGKey(1),
        n=n,
    )
    x = np.asarray(sol["X"]).astype(float)
    assert (x[:, 1] == 0).all()
    _moments_ok(x[:, 2], 100.0, 100.0)


def test_tauleap_state_trigger_fires_after_each_leap():
    """Pure immigration with ``X > 5000: X = X − 4000`` and a save every unit (one leap each, at
    most one crossing): X(t) = f(N(t)) with N ~ Poisson(1000 t), f(N) = N up to 5000, then
    1001 + (N − 5001) mod 4000 (exact SSA resets at 5001). The leap that crosses 5000 fires at
    its end with its end counts, which has the same law: mean and variance of f(N) within 5 SE
    at every save; X ≤ 5000 at every save."""
    n = 2000
    model = _immigration("at (X > 5000): X = X - 4000")
    ts = jnp.linspace(0.0, 10.0, 11)
    sol = msjax.simulate(model, TauLeap(), ts, key=jax.random.PRNGKey(2), n=n)
    x = np.asarray(sol["X"]).astype(float)
    assert x.max() <= 5000 and int(sol.stats["num_ssa_steps"].sum()) == 0
    for i, t in enumerate(np.asarray(ts[1:]), start=1):
        lam = 1000.0 * t
        counts = np.arange(int(lam - 12 * np.sqrt(lam)), int(lam + 12 * np.sqrt(lam)))
        f = np.where(counts <= 5000, counts, 1001 + (counts - 5001) % 4000)
        p = sps.poisson.pmf(counts, lam)
        mean = np.sum(p * f)
        _moments_ok(x[:, i], mean, np.sum(p * (f - mean) ** 2))
    assert (x[:, 5] < 2000).any() and (x[:, 9] < 2000).any()  # resets near t = 5 and t = 9


def test_event_at_a_save_time_is_recorded_after_it():
    """``t ≥ 25: X = 50`` with a save at 25: every trajectory shows 50 there (DSMTS 00028)."""
    model = _immigration_death()
    ts = jnp.array([0.0, 25.0, 26.0])
    sol = msjax.simulate(model, Gillespie(), ts, key=jax.random.PRNGKey(1), n=200)
    x = np.asarray(sol["X"])
    assert (x[:, 1] == 50).all() and (x[:, 2] <= 51).all() and x[:, 2].min() < 50


@pytest.mark.parametrize("method", [Gillespie(), TauLeap()], ids=["gillespie", "tauleap"])
def test_state_trigger_fires_after_the_reaction_that_makes_it_true(method):
    """Dimerisation with ``P2 > 30: P = 100, P2 = 0`` (DSMTS 00033, made to fire often by a
    faster k1): P2 never exceeds 30 at any save (it is reset at once) and P + 2 P2 = 100."""
    text = (SUITE / "00033" / "00033-sbml-l3v2.xml").read_text()
    model = msjax.load_sbml(text)
    theta = model.parameters(k1=0.01) if "k1" in model.parameter_names else None
    ts = jnp.linspace(0.0, 50.0, 51)
    sol = msjax.simulate(model, method, ts, params=theta, key=jax.random.PRNGKey(2), n=300)
    ys = np.asarray(sol.ys)
    assert ys[..., 1].max() <= 30
    np.testing.assert_array_equal(ys[..., 0] + 2 * ys[..., 1], 100)
    assert (np.diff(ys[..., 1], axis=1) < -5).any()  # resets happened


@pytest.mark.slow  # three compilations (~15 s)
def test_events_same_key_same_trajectories():
    """Lanes and chunks do not change Gillespie's event trajectories."""
    model = _immigration_death(3.5)
    ts = jnp.linspace(0.0, 6.0, 7)
    key = jax.random.PRNGKey(3)
    a = np.asarray(msjax.simulate(model, Gillespie(), ts, key=key, n=40).ys)
    b = np.asarray(msjax.simulate(model, Gillespie(lanes=7), ts, key=key, n=40).ys)
    np.testing.assert_array_equal(a, b)
    stats = ensemble_stats(model, Gillespie(), ts, key=key, n=40, chunk_size=16)
    np.testing.assert_allclose(stats.mean, a.mean(0), rtol=1e-12)


@pytest.mark.slow  # three compilations (~30 s)
def test_tauleap_events_same_key_same_trajectories():
    """Chunks do not change TauLeap's event trajectories (leaps, exact steps, both triggers):
    immigration–death (α = 1000, γ = 0.1) with ``t ≥ 3.5: X = 20`` and ``X > 600: X = 300``."""
    model = msjax.load_antimony(
        "J1: -> X; alpha\nJ2: X -> ; g*X\nX = 0; alpha = 1000; g = 0.1\n"
        "E1: at (time >= 3.5): X = 20\nE2: at (X > 600): X = 300\n"
    )
    ts = jnp.linspace(0.0, 6.0, 7)
    key = jax.random.PRNGKey(3)
    sol = msjax.simulate(model, TauLeap(), ts, key=key, n=40)
    a = np.asarray(sol.ys)
    b, _ = ensemble_trajectories(model, TauLeap(), ts, key=key, n=40, chunk_size=16)
    np.testing.assert_array_equal(a, b)
    stats = ensemble_stats(model, TauLeap(), ts, key=key, n=40, chunk_size=7)
    np.testing.assert_allclose(stats.mean, a.mean(0), rtol=1e-12)
    assert (a[:, 1:] <= 600).all()  # reset at once to 300 whenever X passes 600
    assert int(sol.stats["num_leaps"].sum()) > 0 and int(sol.stats["num_ssa_steps"].sum()) > 0


def test_non_count_assignment_is_an_error():
    with pytest.raises(msjax.ModelError, match="reset.*2.5"):
        msjax.simulate(
            _immigration_death(value=2.5),
            Gillespie(),
            jnp.array([0.0, 30.0]),
            key=jax.random.PRNGKey(0),
        )


def test_tauleap_computed_non_count_assignment_is_a_result_code():
    """A leap's event assigning ``X − 0.5`` (not a count) ends the trajectory with the result
    ``invalid_counts``; every trajectory passes 5000 by t = 6 (X ~ Poisson(6000))."""
    sol = msjax.simulate(
        _immigration("at (X > 5000): X = X - 0.5"),
        TauLeap(),
        jnp.array([0.0, 4.0, 6.0]),
        key=jax.random.PRNGKey(0),
        n=20,
        throw=False,
    )
    assert (np.asarray(sol.result._value) == msjax.RESULTS.invalid_counts._value).all()
    assert (np.asarray(sol["X"])[:, 1] < 5000).all()  # saves before the bad event are kept


def test_cle_refuses_events():
    with pytest.raises(msjax.ModelError, match="CLE does not execute SBML events.*reset"):
        msjax.simulate(
            _immigration_death(), CLE(dt=0.1), jnp.array([0.0, 30.0]), key=jax.random.PRNGKey(0)
        )


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("k' = 1", "'k' changes other than by reactions"),
        ("J3: X -> ; k*X - g", "'J3' is reversible with a net rate law"),
    ],
)
def test_event_models_are_checked_for_the_rest(extra, reason):
    """Events aside, the stochastic reading is checked as without them (rate rules, net rates)."""
    text = "J1: -> X; k\nJ2: X -> ; g*X\nX = 5; k = 10; g = 0.1\nE1: at (time > 5): X = 0\n"
    with pytest.raises(msjax.ModelError, match=reason):
        msjax.simulate(
            msjax.load_antimony(text + extra),
            Gillespie(),
            jnp.array([0.0, 1.0]),
            key=jax.random.PRNGKey(0),
        )
