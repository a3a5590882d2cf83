"""The reaction-network reading of SBML models: stochastic methods, conservation laws and
steady states run on `load_sbml` / `load_antimony` models as on Python `Model`s."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax
from msjax import MassAction, Model, Reaction, Species
from msjax.model._antimony import load_antimony

BIRTH_DEATH = """
    J1: -> X; k
    J2: X -> ; g*X
    X = 5; k = 10; g = 0.1
"""
ENZYME = """
    compartment c = 2
    species E in c, S in c, ES in c, P in c
    J1: E + S -> ES; c*k1*E*S
    J2: ES -> E + S; c*km1*ES
    J3: ES -> E + P; c*k2*ES
    J4: P -> S; c*k3*P
    E = 1; S = 10; ES = 0; P = 0; k1 = 1; km1 = 0.5; k2 = 0.3; k3 = 0.1
"""


def _enzyme_model() -> Model:
    return Model(
        [Species(name, value, "c") for name, value in {"E": 1, "S": 10, "ES": 0, "P": 0}.items()],
        [
            Reaction("E + S -> ES", MassAction("k1")),
            Reaction("ES -> E + S", MassAction("km1")),
            Reaction("ES -> E + P", MassAction("k2")),
            Reaction("P -> S", MassAction("k3")),
        ],
        {"k1": 1.0, "km1": 0.5, "k2": 0.3, "k3": 0.1},
        {"c": 2.0},
    )


def test_gillespie_on_sbml_equals_the_python_model_draw_for_draw():
    """Same propensities, same key: the same trajectories, event for event."""
    loaded = load_antimony(BIRTH_DEATH)
    model = Model(
        [Species("X", 5.0, amount=True)],
        [Reaction("-> X", MassAction("k")), Reaction("X ->", MassAction("g"))],
        {"k": 10.0, "g": 0.1},
    )
    ts = jnp.linspace(0.0, 30.0, 16)
    key = jax.random.PRNGKey(3)
    got = msjax.simulate(loaded, msjax.Gillespie(), ts, key=key, n=64)
    want = msjax.simulate(model, msjax.Gillespie(), ts, key=key, n=64)
    np.testing.assert_array_equal(got.ys, want.ys)
    assert got["X"].shape == (64, 16)


def test_birth_death_from_sbml_is_poisson():
    """X(t) ~ Poisson(X0 e^(-gt) ∘ binomial thinning + k/g (1 - e^(-gt))): mean = variance
    for X0 = 0; here with X0 = 5 the mean is 5e^(-gt) + k/g(1 - e^(-gt))."""
    loaded = load_antimony(BIRTH_DEATH)
    t, n = 20.0, 4000
    sol = msjax.simulate(
        loaded, msjax.Gillespie(), jnp.asarray([0.0, t]), key=jax.random.PRNGKey(0), n=n
    )
    x = np.asarray(sol["X"][:, -1], dtype=float)
    decay = np.exp(-0.1 * t)
    mean = 5 * decay + 100 * (1 - decay)
    variance = 5 * decay * (1 - decay) + 100 * (1 - decay)  # binomial survivors + Poisson
    assert abs(x.mean() - mean) < 5 * np.sqrt(variance / n)
    assert abs(x.var(ddof=1) - variance) < 5 * variance * np.sqrt(2 / (n - 1))


def test_network_structure_and_conservation_laws():
    loaded = load_antimony(ENZYME)
    model = _enzyme_model()
    order = [loaded.state_names.index(s) for s in model.species_names]
    np.testing.assert_array_equal(loaded.stoichiometry[order], model.stoichiometry)
    laws = loaded.conservation_laws()[:, order]
    # the same moieties: enzyme E + ES and substrate S + ES + P (up to order)
    assert sorted(map(tuple, laws)) == sorted(map(tuple, model.conservation_laws()))


def test_steady_state_of_sbml_model_matches_python_model():
    loaded = load_antimony(ENZYME)
    model = _enzyme_model()
    got = msjax.steady_state(loaded)
    want = msjax.steady_state(model)
    amounts = loaded.observe(jnp.zeros(1), got.x[None], names=model.species_names, amounts=True)
    np.testing.assert_allclose(amounts[0], model.amounts(want.x), rtol=1e-9, atol=1e-12)
    assert float(jnp.max(jnp.abs(loaded.rhs(0.0, got.x, loaded.parameter_values)))) < 1e-10


@pytest.mark.parametrize(
    ("text", "method", "reason"),
    [
        (BIRTH_DEATH + "E1: at (time > 5): X = 0", msjax.CLE(), "events (the model has E1)"),
        (BIRTH_DEATH + "k' = 1", msjax.Gillespie(), "'k' changes other than by reactions"),
        (
            "J1: A -> B; k1*A - k2*B; A = 10; B = 0; k1 = 1; k2 = 1",
            msjax.Gillespie(),
            "'J1' is reversible with a net",
        ),
        (
            BIRTH_DEATH.replace("J1: -> X", "J1: -> 0.5 X"),
            msjax.Gillespie(),
            "stoichiometry 0.5",
        ),
    ],
)
def test_models_without_a_stochastic_reading_are_refused(text, method, reason):
    """Gillespie and TauLeap execute events; the CLE refuses them by name."""
    loaded = load_antimony(text)
    with pytest.raises(msjax.MsjaxError, match=re.escape(reason)):
        msjax.simulate(loaded, method, jnp.linspace(0, 1, 3), key=jax.random.PRNGKey(0))
