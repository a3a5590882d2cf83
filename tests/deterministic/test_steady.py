import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax
from msjax import MassAction, Model, Reaction


def cycle():
    """E + S ⇌ C → E + P, P → S: a closed cycle with two moieties."""
    return Model(
        {"E": 1.0, "S": 10.0, "C": 0.0, "P": 0.0},
        [
            Reaction("E + S <-> C", MassAction("kf", "kr")),
            Reaction("C -> E + P", MassAction("kcat")),
            Reaction("P -> S", MassAction("kb")),
        ],
        {"kf": 1.0, "kr": 0.5, "kcat": 0.3, "kb": 0.1},
    )


def test_isomerisation_fixed_point_and_derivative():
    model = msjax.models.isomerisation(a0=2.0, kf=3.0, kr=1.0)
    ss = msjax.steady_state(model)
    np.testing.assert_allclose(ss.x, [0.5, 1.5], rtol=1e-12)
    # B* = T kf/(kf + kr): dB*/dkf = T kr/(kf+kr)^2, dB*/dkr = -T kf/(kf+kr)^2
    grad = jax.grad(lambda th: msjax.steady_state(model, th).x[1])(model.parameter_values)
    np.testing.assert_allclose(grad, [2.0 * 1.0 / 16.0, -2.0 * 3.0 / 16.0], rtol=1e-10)


def test_birth_death_fixed_point():
    model = msjax.models.birth_death(k=7.0, gamma=0.5)
    ss = msjax.steady_state(model)
    np.testing.assert_allclose(ss.x, [14.0], rtol=1e-12)
    grad = jax.grad(lambda th: msjax.steady_state(model, th).x[0])(model.parameter_values)
    np.testing.assert_allclose(grad, [1 / 0.5, -7.0 / 0.25], rtol=1e-10)


def test_cooperative_switch_matches_hill_function():
    model = msjax.models.cooperative_switch()
    for x in (0.1, 0.5, 2.0):
        ss = msjax.steady_state(model, y0={"X": x})
        expected = 2.0 * x**3 / (0.5**3 + x**3)
        np.testing.assert_allclose(ss["Y"], expected, rtol=1e-10)


def test_conservation_laws_are_enforced_and_residual_vanishes():
    model = cycle()
    ss = msjax.steady_state(model)
    np.testing.assert_allclose(model.conserved_totals(ss.x), [1.0, 10.0], rtol=1e-12)
    assert float(ss.residual) < 1e-12
    # analytic: kb P = kcat C, and quasi-equilibrium of the binding
    e, s, c, p = np.asarray(ss.x)
    assert (1.0 * e * s - 0.5 * c - 0.3 * c) == pytest.approx(0.0, abs=1e-12)
    assert 0.1 * p == pytest.approx(0.3 * c, rel=1e-10)


def test_gradient_through_implicit_function_matches_finite_differences():
    model = cycle()
    theta = model.parameter_values

    def output(th):
        return msjax.steady_state(model, th).x[3]

    grad = jax.grad(output)(theta)
    eps = 1e-6
    fd = [
        (output(theta.at[i].add(eps)) - output(theta.at[i].add(-eps))) / (2 * eps)
        for i in range(theta.shape[0])
    ]
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_falls_back_to_integration_from_a_bad_start():
    """Newton from the Schlögl initial state runs negative; integration finds a stable state."""
    model = msjax.models.schlogl()
    ss = msjax.steady_state(model)
    assert float(ss.residual) < 1e-6 * float(ss.x[0])
    jac = model.jacobian(0.0, ss.x, model.parameter_values)
    assert float(jac[0, 0]) < 0  # a stable branch


def test_singular_jacobian_is_reported():
    # A ⇌ B with no reverse reaction for B, plus a non-isolated line of fixed points
    model = Model({"A": 1.0, "B": 0.0}, [Reaction("A -> B", "k * A * B")], {"k": 1.0})
    with pytest.raises(msjax.SolverError, match="singular|No steady state"):
        msjax.steady_state(model, y0={"A": 0.0, "B": 0.0})


def test_no_steady_state_is_reported():
    model = Model({"X": 0.0}, [Reaction("-> X", MassAction("k"))], {"k": 1.0})
    with pytest.raises(msjax.SolverError, match="steady state"):
        msjax.steady_state(model)
    result = msjax.steady_state(model, throw=False)
    assert result.result != msjax.RESULTS.successful


def test_timescales_separate_conserved_modes():
    model = msjax.models.isomerisation(kf=3.0, kr=1.0)
    scales = msjax.timescales(model, jnp.array([0.5, 0.5]))
    assert scales.n_conserved == 1
    np.testing.assert_allclose(scales.eigenvalues.real, [-4.0], rtol=1e-12)
    np.testing.assert_allclose(scales.timescales, [0.25], rtol=1e-12)


def test_timescales_of_enzyme_show_a_gap():
    model = msjax.models.michaelis_menten(e0=0.01, s0=10.0)
    scales = msjax.timescales(model, model.initial_state)
    assert scales.n_conserved == 2
    assert scales.timescales.shape == (2,)
    # the complex forms in ~1/(kf S0) while the substrate is used up much more slowly
    assert float(scales.timescales[0] / scales.timescales[1]) > 100
    full = np.linalg.eigvals(
        np.asarray(model.jacobian(0.0, model.initial_state, model.parameter_values))
    )
    nonzero = np.sort(np.abs(full.real))[2:]
    np.testing.assert_allclose(np.sort(np.abs(scales.eigenvalues.real)), nonzero, rtol=1e-8)
