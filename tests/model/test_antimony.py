"""Antimony models round-trip to the same trajectories as the equivalent Python `Model`."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax
from msjax import MassAction, MichaelisMenten, Model, Reaction
from msjax.model._antimony import load_antimony

TS = jnp.linspace(0.0, 10.0, 41)
METHOD = msjax.ODE(rtol=1e-10, atol=1e-12)


def _compare(text, model, names, **tol):
    loaded = load_antimony(text)
    sol = msjax.simulate(loaded, METHOD, TS)
    got = loaded.observe(sol.ts, sol.ys, None, names)  # concentrations
    ref = msjax.simulate(model, METHOD, TS)
    want = np.stack([np.asarray(ref[n]) for n in names], axis=-1)
    np.testing.assert_allclose(got, want, **({"rtol": 1e-7, "atol": 1e-10} | tol))


def test_reversible_mass_action_in_a_non_unity_compartment():
    # SBML kinetic laws are amount/time: k*[A]*V. The Python Model's laws are conc/time.
    text = """
        compartment cell = 2.5
        species A in cell, B in cell
        J1: A -> B; cell*(kf*A - kr*B)
        A = 1.2; B = 0.1; kf = 2; kr = 0.7
    """
    model = Model(
        [msjax.Species("A", 1.2, "cell"), msjax.Species("B", 0.1, "cell")],
        [Reaction("A <-> B", MassAction("kf", "kr"))],
        {"kf": 2.0, "kr": 0.7},
        {"cell": 2.5},
    )
    _compare(text, model, ["A", "B"])


def test_michaelis_menten_with_enzyme_parameter():
    text = """
        J1: S -> P; vmax*S/(km + S)
        S = 5; P = 0; vmax = 1.3; km = 0.8
    """
    model = Model(
        {"S": 5.0, "P": 0.0},
        [Reaction("S -> P", MichaelisMenten("vmax", "km"))],
        {"vmax": 1.3, "km": 0.8},
    )
    _compare(text, model, ["S", "P"])


def test_dimerisation_and_birth_death():
    text = """
        J1: 2 A -> B; k1*A^2
        J2: -> A; k0
        J3: B -> ; k2*B
        A = 0.3; B = 0; k0 = 0.4; k1 = 1.1; k2 = 0.25
    """
    model = Model(
        {"A": 0.3, "B": 0.0},
        [
            Reaction("2 A -> B", "k1*A^2"),
            Reaction("-> A", "k0"),
            Reaction("B -> 0", MassAction("k2")),
        ],
        {"k0": 0.4, "k1": 1.1, "k2": 0.25},
    )
    _compare(text, model, ["A", "B"])


def test_hill_repression_gene_circuit_with_function_definition():
    text = """
        function hill_rep(x, K, n)
            K^n/(K^n + x^n)
        end
        J1: -> M; a*hill_rep(P, K, n)
        J2: M -> ; dm*M
        J3: -> P; b*M
        J4: P -> ; dp*P
        M = 0; P = 0; a = 2; K = 1; n = 2; dm = 0.5; b = 1.5; dp = 0.3
    """
    model = Model(
        {"M": 0.0, "P": 0.0},
        [
            Reaction("-> M", "a*K^n/(K^n + P^n)"),
            Reaction("M -> 0", MassAction("dm")),
            Reaction("-> P", "b*M"),
            Reaction("P -> 0", MassAction("dp")),
        ],
        {"a": 2.0, "K": 1.0, "n": 2.0, "dm": 0.5, "b": 1.5, "dp": 0.3},
    )
    _compare(text, model, ["M", "P"])


def test_event_resets_a_decaying_species():
    """``A' = -k A`` with ``A := 10`` at t = 4: exact ``10 exp(-k (t - 4))`` afterwards."""
    loaded = load_antimony("""
        J1: A -> ; k*A
        A = 1; k = 0.5
        E1: at time > 4: A = 10
    """)
    sol = msjax.simulate(loaded, METHOD, TS)
    ts = np.asarray(TS)
    exact = np.where(ts < 4.0, np.exp(-0.5 * ts), 10.0 * np.exp(-0.5 * (ts - 4.0)))
    np.testing.assert_allclose(np.asarray(sol["A"]), exact, rtol=1e-7)


def test_rule_driven_model():
    """Rate rule ``x' = v``, assignment rule ``y = 2x``: ``y = 2 (x0 + v t)``."""
    loaded = load_antimony("""
        x' = v
        y := 2*x
        x = 1; v = 0.5
    """)
    sol = msjax.simulate(loaded, METHOD, TS)
    y = loaded.observe(sol.ts, sol.ys, None, ["y"])[:, 0]
    np.testing.assert_allclose(y, 2.0 * (1.0 + 0.5 * np.asarray(TS)), rtol=1e-9)


def test_a_short_pulse_is_never_stepped_over():
    """``X' = 100`` while ``ton ≤ t ≤ ton + width``, else 0: ``X(10) = 100 width`` and
    ``∂X(10)/∂width = 100``. On the flat stretch before it the steps grow past the pulse; the
    solve finds it only by stopping at the relations' switch times (`switch_times`)."""
    loaded = load_antimony("""
        X' = piecewise(100, time >= ton && time <= ton + width, 0)
        X = 0; ton = 5; width = 0.01
    """)
    theta = loaded.parameter_values
    np.testing.assert_allclose(loaded.switch_times(theta), [5.0, 5.01], rtol=1e-15)
    width = loaded.parameter_names.index("width")

    def final(w):
        method = msjax.ODE(rtol=1e-8, adjoint=diffrax.ForwardMode())
        ts = jnp.asarray([0.0, 10.0])
        return msjax.simulate(loaded, method, ts, params=theta.at[width].set(w)).ys[-1, 0]

    np.testing.assert_allclose(final(0.01), 1.0, rtol=1e-9)
    np.testing.assert_allclose(jax.jacfwd(final)(0.01), 100.0, rtol=1e-6)


def test_switch_times_are_those_of_relations_in_time_alone():
    """``2 (t − a) > b`` switches at ``a + b/2`` = 4; a relation that reads a state (an
    event's business) or is not affine in time (``t² > 2``) gives no switch time."""
    loaded = load_antimony("""
        X' = piecewise(1, 2*(time - a) > b, 0) + piecewise(1, X > 2, 0)
        Y' = piecewise(1, time*time > 2, 0)
        X = 0; Y = 0; a = 3; b = 2
    """)
    np.testing.assert_allclose(loaded.switch_times(loaded.parameter_values), [4.0], rtol=1e-15)


def test_initial_assignments_follow_the_parameters():
    """``S = 3 k`` (a concentration in a compartment of volume 2, state in amounts) and
    ``T = S + c``: ``initial_values(θ)`` re-evaluates both for new ``k``, and its gradient
    is the chain rule's; at the model's own parameters it is ``initial_state``."""
    loaded = load_antimony("""
        compartment C = 2
        species S in C, T in C
        J1: S -> T; k*S
        k = 2; c = 0.5
        S = 3*k
        T = S + c
    """)
    np.testing.assert_array_equal(
        loaded.initial_values(loaded.parameter_values), loaded.initial_state
    )
    k = loaded.parameter_names.index("k")
    theta = loaded.parameter_values.at[k].set(5.0)
    y0 = dict(zip(loaded.state_names, np.asarray(loaded.initial_values(theta)), strict=True))
    assert y0["S"] == pytest.approx(2 * 15.0) and y0["T"] == pytest.approx(2 * 15.5)
    grad = jax.grad(lambda th: loaded.initial_values(th)[loaded.species_index("T")])(theta)
    assert float(grad[k]) == pytest.approx(6.0)


def test_bad_antimony_is_an_sbml_error():
    with pytest.raises(msjax.SBMLError, match="Antimony"):
        load_antimony("J1: A -> ; k1*A*")


@pytest.mark.parametrize("rate", [1.0, 0.1, 1e-3])
def test_state_event_on_a_save_time_shows_the_state_after_it(rate):
    """``x' = r`` crosses ``x ≥ 1`` at ``t* = 1/r`` (a save time); ``p := 2`` there. The saved
    values are exact on both sides: no point at or next to the event time is dropped."""
    loaded = load_antimony(f"""
        x' = {rate}
        x = 0; p = 1
        E1: at x >= 1: p = 2
    """)
    t_event = 1.0 / rate
    ts = jnp.linspace(0.0, 2.0 * t_event, 21)  # t_event is ts[10]
    sol = msjax.simulate(loaded, METHOD, ts)
    p = loaded.observe(sol.ts, sol.ys, None, ["p"])[:, 0]
    np.testing.assert_array_equal(p, np.where(np.arange(21) < 10, 1.0, 2.0))
    np.testing.assert_allclose(np.asarray(sol["x"]), rate * np.asarray(ts), rtol=1e-9)


def test_ten_thousand_events():
    """A timer that fires every 0.01 for 100 time units: 10^4 event instants, counted."""
    loaded = load_antimony("""
        n = 0; reset = 0
        E1: at time - reset >= 0.01, persistent=false: reset = time, n = n + 1
    """)
    sol = msjax.simulate(loaded, msjax.ODE.nonstiff(), jnp.asarray([0.0, 50.0, 100.0]))
    n = loaded.observe(sol.ts, sol.ys, None, ["n"])[:, 0]
    np.testing.assert_allclose(n, [0, 5000, 10000], atol=1)
