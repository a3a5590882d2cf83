"""SBML events in exact SSA: time triggers between reactions, state triggers after reactions."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax
from msjax.stochastic import CLE, Gillespie, TauLeap, ensemble_stats

SUITE = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "sbml-stochastic"
IMMIGRATION_DEATH = (SUITE / "00028" / "00028-sbml-l3v2.xml").read_text()  # t ≥ 25: X = 50


def _immigration_death(trigger_time=25, value=50):
    text = IMMIGRATION_DEATH.replace('<cn type="integer"> 25 </cn>', f"<cn> {trigger_time} </cn>")
    return msjax.load_sbml(text.replace('<cn type="integer"> 50 </cn>', f"<cn> {value} </cn>"))


def test_time_trigger_between_reactions_is_exact():
    """Event ``t ≥ 24.5: X = 50`` with no save time there: at t = 25, X is Poisson(10(1 − e^{−γ/2}))
    plus Binomial(50, e^{−γ/2}) (α = 1, γ = 0.1): mean and variance within 5 SE. At t = 24 the
    event has not fired (X ~ Poisson(10(1 − e^{−2.4})))."""
    n = 4000
    model = _immigration_death(24.5)
    ts = jnp.array([0.0, 24.0, 25.0])
    sol = msjax.simulate(model, Gillespie(), ts, key=jax.random.PRNGKey(0), n=n)
    x = np.asarray(sol["X"]).astype(float)
    survive = np.exp(-0.05)
    mean = 10 * (1 - survive) + 50 * survive
    var = 10 * (1 - survive) + 50 * survive * (1 - survive)
    for value, (mu, v) in ((x[:, 2], (mean, var)), (x[:, 1], (10 * (1 - np.exp(-2.4)),) * 2)):
        assert abs(value.mean() - mu) < 5 * np.sqrt(v / n), (value.mean(), mu)
        var_se = np.sqrt((np.mean((value - value.mean()) ** 4) - value.var() ** 2) / n)
        assert abs(value.var(ddof=1) - v) < 5 * var_se, (value.var(ddof=1), v)
    assert x[:, 1].max() < 30 < x[:, 2].min()  # before: ~9 ± 3; after: 50 less ~2.5 deaths


def test_event_at_a_save_time_is_recorded_after_it():
    """``t ≥ 25: X = 50`` with a save at 25: every trajectory shows 50 there (DSMTS 00028)."""
    model = _immigration_death()
    ts = jnp.array([0.0, 25.0, 26.0])
    sol = msjax.simulate(model, Gillespie(), ts, key=jax.random.PRNGKey(1), n=200)
    x = np.asarray(sol["X"])
    assert (x[:, 1] == 50).all() and (x[:, 2] <= 51).all() and x[:, 2].min() < 50


def test_state_trigger_fires_after_the_reaction_that_makes_it_true():
    """Dimerisation with ``P2 > 30: P = 100, P2 = 0`` (DSMTS 00033, made to fire often by a
    faster k1): P2 never exceeds 30 at any save (it is reset at once) and P + 2 P2 = 100."""
    text = (SUITE / "00033" / "00033-sbml-l3v2.xml").read_text()
    model = msjax.load_sbml(text)
    theta = model.parameters(k1=0.01) if "k1" in model.parameter_names else None
    ts = jnp.linspace(0.0, 50.0, 51)
    sol = msjax.simulate(model, Gillespie(), ts, params=theta, key=jax.random.PRNGKey(2), n=300)
    ys = np.asarray(sol.ys)
    assert ys[..., 1].max() <= 30
    np.testing.assert_array_equal(ys[..., 0] + 2 * ys[..., 1], 100)
    assert (np.diff(ys[..., 1], axis=1) < -5).any()  # resets happened


@pytest.mark.slow  # three compilations (~15 s)
def test_events_same_key_same_trajectories():
    """Lanes and chunks do not change event trajectories."""
    model = _immigration_death(3.5)
    ts = jnp.linspace(0.0, 6.0, 7)
    key = jax.random.PRNGKey(3)
    a = np.asarray(msjax.simulate(model, Gillespie(), ts, key=key, n=40).ys)
    b = np.asarray(msjax.simulate(model, Gillespie(lanes=7), ts, key=key, n=40).ys)
    np.testing.assert_array_equal(a, b)
    stats = ensemble_stats(model, Gillespie(), ts, key=key, n=40, chunk_size=16)
    np.testing.assert_allclose(stats.mean, a.mean(0), rtol=1e-12)


def test_non_count_assignment_is_an_error():
    with pytest.raises(msjax.ModelError, match="reset.*2.5"):
        msjax.simulate(
            _immigration_death(value=2.5),
            Gillespie(),
            jnp.array([0.0, 30.0]),
            key=jax.random.PRNGKey(0),
        )


@pytest.mark.parametrize("method", [TauLeap(), CLE(dt=0.1)])
def test_methods_without_events_refuse_them(method):
    with pytest.raises(msjax.ModelError, match="does not execute SBML events.*reset"):
        msjax.simulate(
            _immigration_death(), method, jnp.array([0.0, 30.0]), key=jax.random.PRNGKey(0)
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
