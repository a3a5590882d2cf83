"""Large SBML models evaluate definitions by formula shape: the same numbers as the scalar
path on the test-suite models, and the same trajectories as a hand-written `Model`."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax
from msjax.model import _sbml_model
from msjax.model._sbml import load_sbml

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT.parent / "shared" / "testdata" / "sbml-semantic"
# Rules, events, conversion factors, variable stoichiometry, piecewise, compartments.
CASES = [
    "00025",
    "00026",
    "00029",
    "00031",
    "00036",
    "00051",
    "00057",
    "00060",
    "00972",
    "00975",
    "01106",
    "01282",
    "01531",
]


def _model(case):
    try:
        return load_sbml(SUITE / case / f"{case}-sbml-l3v2.xml")
    except msjax.SBMLError:
        return load_sbml(SUITE / case / f"{case}-sbml-l2v4.xml")


@pytest.mark.parametrize("case", CASES)
def test_vectorised_definitions_equal_the_scalar_path(case, monkeypatch):
    model = _model(case)
    theta = model.parameter_values
    key = jax.random.PRNGKey(int(case))
    y = model.initial_state * jax.random.uniform(key, model.initial_state.shape, minval=0.5)
    t = 0.7
    scalar_rhs = model.rhs(t, y, theta)
    scalar_env = model._env(t, y, theta)
    scalar_roots = model.event_roots(t, y, theta) if model.atoms else None
    monkeypatch.setattr(_sbml_model, "VECTORISE_FROM", 0)
    assert model._vectorised
    np.testing.assert_allclose(model.rhs(t, y, theta), scalar_rhs, rtol=1e-13, atol=1e-300)
    env = model._env(t, y, theta)
    for name, _ in model.definitions:
        np.testing.assert_allclose(env[name], scalar_env[name], rtol=1e-13, err_msg=name)
    if scalar_roots is not None:
        np.testing.assert_allclose(model.event_roots(t, y, theta), scalar_roots, rtol=1e-13)


def test_large_network_from_sbml_matches_the_hand_written_model():
    """The benchmark's 50-species, 100-reaction network (vectorised path) against `Model`."""
    sys.path.insert(0, str(ROOT / "bench"))
    from sbml import as_antimony, as_model, network

    from msjax.model._antimony import load_antimony

    reactions, initial = network()
    loaded = load_antimony(as_antimony(reactions, initial))
    assert loaded._vectorised
    hand = as_model(reactions, initial)
    ts = jnp.linspace(0.0, 20.0, 11)
    method = msjax.ODE(rtol=1e-10, atol=1e-12)
    got = msjax.simulate(loaded, method, ts)
    want = msjax.simulate(hand, method, ts)
    concentrations = loaded.observe(got.ts, got.ys, None, list(hand.species_names))
    np.testing.assert_allclose(concentrations, want.ys, rtol=1e-7, atol=1e-10)
