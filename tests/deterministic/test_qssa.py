"""QSSA model reduction: analytic Michaelis–Menten and occupancy laws, error scaling with ε,
gradients against finite differences, Newton vs closed form, fast-species suggestion, errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax
from msjax.deterministic._qssa import (
    qssa,
    qssa_expand,
    qssa_fast_values,
    qssa_inputs,
    qssa_reduction,
    reduction_error,
)
from msjax.deterministic._qssa_diagnostics import suggest_fast_species, timescale_profile
from msjax.deterministic._qssa_models import cooperative_promoter, dimer_switch, promoter_occupancy

TIGHT = msjax.ODE(rtol=1e-11, atol=1e-14)
# A reduced model is no longer stiff: an explicit method integrates it (and compiles) cheaply.
EXPLICIT = msjax.ODE.nonstiff(rtol=1e-11, atol=1e-14)


def mm(e0=0.1, s0=10.0):
    return msjax.models.michaelis_menten(e0=e0, s0=s0)  # kf = 1, kr = 1, kcat = 0.5


# --- structure -----------------------------------------------------------------------------


def test_mm_structure_enzyme_is_slaved_and_total_becomes_parameter():
    full = mm(e0=0.1)
    reduced = qssa(full, ["C"])
    r = qssa_reduction(reduced)
    assert reduced.species_names == ("S", "P")
    assert reduced.parameter_names == ("kf", "kr", "kcat", "E_total")
    assert r.algebraic_names == ("C", "E") and r.linear
    np.testing.assert_allclose(reduced.parameters()[-1], 0.1)


def test_mm_reduced_rate_is_the_analytic_michaelis_menten_law():
    full = mm()
    reduced = qssa(full, ["C"])
    theta, _ = qssa_inputs(reduced, {"kf": 2.0, "kr": 3.0, "kcat": 0.7}, {"E": 0.3})
    km, vmax = (3.0 + 0.7) / 2.0, 0.7 * 0.3
    for s in (0.01, 0.5, 1.85, 7.0, 100.0):
        dx = reduced.rhs(0.0, jnp.array([s, 1.0]), theta)
        v = vmax * s / (km + s)
        np.testing.assert_allclose(dx, [-v, v], rtol=1e-13)


def test_mm_reduced_trajectory_equals_michaelis_menten_model():
    full = mm(e0=0.2)
    reduced = qssa(full, ["C"])
    theta, y0 = qssa_inputs(reduced)
    reference = msjax.Model(
        {"S": 10.0, "P": 0.0},
        [msjax.Reaction("S -> P", msjax.MichaelisMenten("vmax", "km"))],
        {"vmax": 0.5 * 0.2, "km": 1.5},
    )
    ts = jnp.linspace(0.0, 200.0, 41)
    ours = msjax.simulate(reduced, EXPLICIT, ts, theta, y0)
    theirs = msjax.simulate(reference, EXPLICIT, ts)
    np.testing.assert_allclose(ours.ys, theirs.ys, rtol=1e-8, atol=1e-10)
    # the expanded state keeps the enzyme total exactly and C at its quasi-steady state
    expanded = qssa_expand(reduced, ours, theta)
    np.testing.assert_allclose(expanded["E"] + expanded["C"], 0.2, rtol=1e-13)
    s = np.asarray(ours["S"])
    np.testing.assert_allclose(expanded["C"], 0.2 * s / (1.5 + s), rtol=1e-12)
    assert set(qssa_fast_values(reduced, ours, theta)) == {"C", "E"}


def test_mm_reduction_error_falls_linearly_with_epsilon():
    """Segel & Slemrod (1989): the sQSSA error is O(ε), ε = E0/(S0 + Km). Fitted slope ≥ 0.9
    over two decades of ε."""
    s0, km = 10.0, 1.5
    full = mm(s0=s0)
    reduced = qssa(full, ["C"])
    eps = np.array([1e-3, 1e-2, 1e-1])
    errors = []
    for e in eps:
        e0 = e * (s0 + km)
        horizon = 5.0 * (s0 + km) / (0.5 * e0)  # several substrate-depletion times
        ts = jnp.linspace(0.0, horizon, 101)
        report = reduction_error(full, reduced, ts, y0={"E": e0})
        errors.append(float(report.max_error))
    slope = np.polyfit(np.log(eps), np.log(errors), 1)[0]
    assert slope >= 0.9, (slope, errors)
    assert errors[-1] < 2 * eps[-1]  # and the constant is O(1)


# --- cooperative binding: closed form for a linear block ---------------------------------


def test_cooperative_binding_steady_state_is_the_occupancy_function():
    n, k1, w = 4, 8.0, 4.0
    full = cooperative_promoter(n=n, k1=k1, cooperativity=w, kp=3.0, delta=1.5)
    reduced = qssa(full, [f"D{i}" for i in range(1, n + 1)])
    assert qssa_reduction(reduced).linear
    assert reduced.species_names == ("X", "Y")
    dissociation = k1 / w ** np.arange(n)
    for x in (0.05, 0.5, 1.0, 2.0, 20.0):
        ss = msjax.steady_state(reduced, y0={"X": x})
        expected = 3.0 / 1.5 * promoter_occupancy(x, dissociation)
        np.testing.assert_allclose(ss["Y"], expected, rtol=1e-10)


# --- Newton for a nonlinear block ---------------------------------------------------------


def test_newton_block_matches_analytic_quasi_steady_state():
    full = dimer_switch()
    reduced = qssa(full, ["X2", "G_on"])
    r = qssa_reduction(reduced)
    assert not r.linear and r.algebraic_names == ("X2", "G_on", "G")
    theta, y0 = qssa_inputs(reduced)
    sol = msjax.simulate(reduced, EXPLICIT, jnp.linspace(0.0, 5.0, 11), theta, y0)
    expanded = qssa_expand(reduced, sol, theta)
    x2 = 50.0 / 5000.0 * np.asarray(sol["X"]) ** 2
    np.testing.assert_allclose(expanded["X2"], x2, rtol=1e-10)
    np.testing.assert_allclose(expanded["G_on"], x2 / (x2 + 0.5 / 100.0), rtol=1e-10)
    np.testing.assert_allclose(expanded["G"] + expanded["G_on"], 1.0, rtol=1e-12)


@pytest.mark.slow
def test_newton_and_closed_form_agree_on_a_linear_block():
    full = mm(e0=0.3)
    linear, newton = qssa(full, ["C"]), qssa(full, ["C"], solver="newton")
    theta, y0 = qssa_inputs(linear)
    ts = jnp.linspace(0.0, 50.0, 11)
    a = msjax.simulate(linear, EXPLICIT, ts, theta, y0)
    b = msjax.simulate(newton, EXPLICIT, ts, theta, y0)
    np.testing.assert_allclose(a.ys, b.ys, rtol=1e-10, atol=1e-12)


# --- gradients ----------------------------------------------------------------------------


def _central_differences(f, theta, rel=1e-5):
    theta = np.asarray(theta, dtype=float)
    grad = np.zeros_like(theta)
    for i in range(theta.size):
        h = rel * theta[i]
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (float(f(jnp.asarray(up))) - float(f(jnp.asarray(down)))) / (2 * h)
    return grad


@pytest.mark.parametrize("case", ["closed_form", "newton"])
def test_gradient_through_reduced_model_matches_finite_differences(case):
    if case == "closed_form":
        full, fast, ts = mm(e0=0.1), ["C"], jnp.linspace(0.0, 60.0, 13)
    else:
        full, fast, ts = dimer_switch(), ["X2", "G_on"], jnp.linspace(0.0, 3.0, 13)
    reduced = qssa(full, fast)
    x0 = full.initial_state

    @eqx.filter_jit
    def loss(theta):
        theta_red, y0 = qssa_inputs(reduced, theta, x0)
        sol = msjax.simulate(reduced, EXPLICIT, ts, theta_red, y0)
        return jnp.sum(sol.ys[:, -1] ** 2) + jnp.sum(sol.ys[:, 0])

    theta = full.parameter_values
    grad = jax.grad(loss)(theta)
    np.testing.assert_allclose(grad, _central_differences(loss, theta), rtol=1e-5, atol=1e-9)


def test_no_recompilation_for_new_parameter_values():
    full = mm()
    reduced = qssa(full, ["C"])
    ts = jnp.linspace(0.0, 10.0, 5)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(model, theta):
        return msjax.simulate(model, EXPLICIT, ts, theta).ys

    for kf in (1.0, 2.0, 3.0):
        theta, _ = qssa_inputs(reduced, {"kf": kf})
        run(reduced, theta)
    run(qssa(full, ["C"]), theta)  # an equal reduction built again: same compiled program


@pytest.mark.slow
def test_vmap_over_parameters_matches_loop():
    reduced = qssa(mm(), ["C"])
    batch = jnp.stack([qssa_inputs(reduced, {"kcat": k})[0] for k in (0.2, 0.5, 0.9)])
    ts = jnp.linspace(0.0, 20.0, 5)
    together = msjax.simulate(reduced, EXPLICIT, ts, batch)
    for i in range(3):
        alone = msjax.simulate(reduced, EXPLICIT, ts, batch[i])
        np.testing.assert_allclose(together.ys[i], alone.ys, rtol=1e-9)


# --- diagnostics ----------------------------------------------------------------------------


def test_suggest_fast_species_finds_the_complex_with_a_large_gap():
    full = mm(e0=0.01)
    reduced = qssa(full, ["C"])
    report = reduction_error(full, reduced, jnp.linspace(0.0, 4000.0, 41))
    suggestion = suggest_fast_species(full, report.full.ys)  # states along the trajectory
    assert suggestion.fast == ("C",)
    assert suggestion.n_fast_modes == 1
    assert suggestion.gap > 100.0
    # and the reduction it suggests is accurate to about 1/gap
    assert float(report.max_error) < 10.0 / suggestion.gap


@pytest.mark.slow
def test_suggest_fast_species_simulates_the_trajectory_from_a_time_grid():
    suggestion = suggest_fast_species(mm(e0=0.01), ts=jnp.linspace(0.0, 4000.0, 21))
    assert suggestion.fast == ("C",) and suggestion.gap > 100.0


def test_suggest_fast_species_reverse_regime_picks_substrate():
    """With enzyme in excess (E0 ≫ S0) the substrate is the fast species (reverse QSSA)."""
    suggestion = suggest_fast_species(mm(e0=10.0, s0=1.0))
    assert suggestion.fast == ("S",)


def test_timescale_profile_matches_timescales_and_pointers_sum_to_mode_count():
    full = mm(e0=0.05)
    sol = msjax.simulate(full, msjax.ODE(), jnp.linspace(0.0, 100.0, 5))
    profile = timescale_profile(full, sol.ys, ts=sol.ts)
    for i in range(5):
        reference = msjax.timescales(full, sol.ys[i])
        np.testing.assert_allclose(profile.timescales[i], reference.timescales, rtol=1e-8)
    np.testing.assert_allclose(profile.pointers.sum(axis=-1), [[1.0, 2.0]] * 5, atol=1e-9)
    assert np.all(profile.gaps > 1.0)


# --- bad input ----------------------------------------------------------------------------


def test_unknown_fast_species_is_named():
    with pytest.raises(msjax.ModelError, match="unknown fast species 'Q'"):
        qssa(mm(), ["C", "Q"])


def test_singular_fast_subsystem_is_named():
    # P is only produced: its quasi-steady-state equation kcat C = 0 does not determine P
    with pytest.raises(msjax.ModelError, match=r"singular.*do not determine \['P'\]"):
        qssa(mm(), ["P"])


def test_boundary_and_repeated_species_are_refused():
    with pytest.raises(msjax.ModelError, match="'X' is a boundary"):
        qssa(cooperative_promoter(n=2), ["X"])
    with pytest.raises(msjax.ModelError, match="'C' is named twice"):
        qssa(mm(), ["C", "C"])
    with pytest.raises(msjax.ModelError, match="not affine"):
        qssa(dimer_switch(), ["X2", "G_on"], solver="linear")
    with pytest.raises(msjax.ModelError, match="not built by msjax.qssa"):
        qssa_inputs(mm())
