import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import msjax
from msjax import MassAction, Model, Reaction


def linear_chain():
    """A → B → C, B → A: a linear network, dx/dt = A x."""
    return Model(
        {"A": 1.0, "B": 0.5, "C": 0.0},
        [
            Reaction("A -> B", MassAction("k1")),
            Reaction("B -> C", MassAction("k2")),
            Reaction("B -> A", MassAction("k3")),
        ],
        {"k1": 1.3, "k2": 0.4, "k3": 0.7},
    )


@pytest.mark.parametrize("solver", [msjax.Rodas4(), diffrax.Tsit5(), diffrax.Kvaerno5()])
def test_linear_network_matches_expm(solver):
    model = linear_chain()
    ts = jnp.linspace(0.0, 5.0, 21)
    sol = msjax.simulate(model, msjax.ODE(solver=solver, rtol=1e-10, atol=1e-12), ts)
    matrix = model.jacobian(0.0, model.initial_state, model.parameter_values)
    exact = np.stack(
        [scipy.linalg.expm(np.asarray(matrix) * t) @ model.initial_state for t in np.asarray(ts)]
    )
    np.testing.assert_allclose(sol.ys, exact, rtol=1e-8, atol=1e-10)


def test_rodas4_is_fourth_order():
    """Global error of fixed steps falls like h^4 (fitted slope)."""
    model = linear_chain()
    matrix = np.asarray(model.jacobian(0.0, model.initial_state, model.parameter_values))
    exact = scipy.linalg.expm(matrix * 2.0) @ np.asarray(model.initial_state)
    errors, steps = [], [8, 16, 32, 64]
    for n in steps:
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, y, th: model.rhs(t, y, th)),
            msjax.Rodas4(),
            0.0,
            2.0,
            2.0 / n,
            model.initial_state,
            args=model.parameter_values,
        )
        errors.append(np.abs(np.asarray(sol.ys[-1]) - exact).max())
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert -4.6 < slope < -3.6, slope


def test_dense_output_is_accurate_between_steps():
    model = linear_chain()
    ts = jnp.linspace(0.0, 5.0, 501)  # many save points per step: interpolated
    sol = msjax.simulate(model, msjax.ODE(rtol=1e-9, atol=1e-12), ts)
    assert int(sol.stats["num_steps"]) < 200
    matrix = np.asarray(model.jacobian(0.0, model.initial_state, model.parameter_values))
    exact = np.stack([scipy.linalg.expm(matrix * t) @ model.initial_state for t in np.asarray(ts)])
    np.testing.assert_allclose(sol.ys, exact, atol=1e-7)


def test_reversible_equilibrium_ratio():
    model = msjax.models.isomerisation(kf=3.0, kr=0.5)
    sol = msjax.simulate(model, msjax.ODE(rtol=1e-10, atol=1e-13), jnp.array([0.0, 30.0]))
    a, b = sol.ys[-1]
    assert float(b / a) == pytest.approx(3.0 / 0.5, rel=1e-9)
    # relaxation at rate kf + kr: B(t) = kf/(kf+kr) (1 − e^{−(kf+kr)t})
    sol = msjax.simulate(model, msjax.ODE(rtol=1e-10, atol=1e-13), jnp.linspace(0, 1, 11))
    expected = 3.0 / 3.5 * (1 - np.exp(-3.5 * np.linspace(0, 1, 11)))
    np.testing.assert_allclose(sol["B"], expected, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize(
    "name", ["michaelis_menten", "mapk_cascade", "robertson", "telegraph_gene"]
)
def test_conservation_laws_hold_along_trajectories(name):
    model = msjax.models.LIBRARY[name]()
    ts = jnp.linspace(0.0, 1e3 if name == "robertson" else 100.0, 51)
    sol = msjax.simulate(model, msjax.ODE(rtol=1e-10, atol=1e-12), ts)
    totals = model.conserved_totals(sol.ys)
    np.testing.assert_allclose(totals, np.broadcast_to(totals[0], totals.shape), rtol=1e-10)


def test_jit_vmap_and_plain_agree():
    model = msjax.models.michaelis_menten()
    ts = jnp.linspace(0.0, 10.0, 11)
    method = msjax.ODE()
    batch = model.parameter_values * jnp.array([[1.0], [1.5], [0.5]])
    plain = [msjax.simulate(model, method, ts, p).ys for p in batch]
    jitted = jax.jit(lambda p: msjax.simulate(model, method, ts, p, throw=False).ys)
    vmapped = jax.vmap(lambda p: msjax.simulate(model, method, ts, p, throw=False).ys)(batch)
    batched = msjax.simulate(model, method, ts, batch).ys
    for i in range(3):
        np.testing.assert_allclose(jitted(batch[i]), plain[i], rtol=1e-12)
        np.testing.assert_allclose(vmapped[i], plain[i], rtol=1e-12)
        np.testing.assert_allclose(batched[i], plain[i], rtol=1e-12)


def test_vmap_over_initial_states():
    model = msjax.models.isomerisation()
    y0 = jnp.array([[1.0, 0.0], [0.2, 0.8]])
    sol = msjax.simulate(model, msjax.ODE(), jnp.array([0.0, 1.0]), y0=y0)
    assert sol.ys.shape == (2, 2, 2)
    np.testing.assert_allclose(sol.ys[:, -1].sum(axis=1), [1.0, 1.0], rtol=1e-10)


@pytest.mark.parametrize(
    "adjoint", [diffrax.RecursiveCheckpointAdjoint(), msjax.StepAdjoint(), diffrax.ForwardMode()]
)
def test_gradient_matches_finite_differences(adjoint):
    model = msjax.models.michaelis_menten()
    ts = jnp.linspace(0.0, 5.0, 6)
    data = jnp.linspace(0.0, 4.0, 6)
    method = msjax.ODE(rtol=1e-11, atol=1e-13, adjoint=adjoint)

    def loss(theta):
        return jnp.sum((msjax.simulate(model, method, ts, theta).ys[:, 3] - data) ** 2)

    theta = model.parameter_values
    grad = (
        jax.jacfwd(loss)(theta)
        if isinstance(adjoint, diffrax.ForwardMode)
        else jax.grad(loss)(theta)
    )
    eps = 1e-5
    fd = jnp.array(
        [
            (loss(theta.at[i].add(eps)) - loss(theta.at[i].add(-eps))) / (2 * eps)
            for i in range(theta.shape[0])
        ]
    )
    np.testing.assert_allclose(grad, fd, rtol=1e-5)


def test_vmap_of_grad_equals_grad_of_each():
    model = msjax.models.isomerisation()
    ts = jnp.array([0.0, 0.5, 1.0])

    def loss(theta):
        return jnp.sum(
            msjax.simulate(model, msjax.ODE(rtol=1e-10), ts, theta, throw=False).ys[:, 1]
        )

    batch = jnp.array([[2.0, 1.0], [1.0, 3.0]])
    vmapped = jax.vmap(jax.grad(loss))(batch)
    for i in range(2):
        np.testing.assert_allclose(vmapped[i], jax.grad(loss)(batch[i]), rtol=1e-12)


def test_step_adjoint_under_vmap_equals_each():
    """Solves of different lengths in one batch: each walks back only its own steps."""
    model = msjax.models.michaelis_menten()
    ts = jnp.linspace(0.0, 5.0, 6)
    method = msjax.ODE(rtol=1e-10, atol=1e-12, adjoint=msjax.StepAdjoint())

    def loss(theta):
        return jnp.sum(msjax.simulate(model, method, ts, theta, throw=False).ys[:, 1:] ** 2)

    batch = jnp.array([[1.0, 0.5, 0.3], [30.0, 0.1, 3.0]])
    vmapped = jax.vmap(jax.grad(loss))(batch)
    for i in range(2):
        np.testing.assert_allclose(vmapped[i], jax.grad(loss)(batch[i]), rtol=1e-12)


def test_new_parameter_values_do_not_recompile():
    traces = []

    def rate(x, p):
        traces.append(1)
        return p["k"] * x["A"]

    model = Model({"A": 1.0}, [Reaction("A ->", rate)], {"k": 1.0})
    ts = jnp.linspace(0.0, 1.0, 5)
    msjax.simulate(model, msjax.ODE(), ts, model.parameters(k=1.0))
    after_first = len(traces)
    for k in (2.0, 3.0, 4.0):
        sol = msjax.simulate(model, msjax.ODE(), ts, model.parameters(k=k), y0=jnp.array([k]))
    assert len(traces) == after_first
    np.testing.assert_allclose(sol["A"][-1], 4.0 * np.exp(-4.0), rtol=1e-5)


def test_compiled_solve_traces_once():
    model = msjax.models.isomerisation()
    ts = jnp.linspace(0.0, 1.0, 3)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def solve(theta):
        return msjax.simulate(model, msjax.ODE(), ts, theta, throw=False).ys

    for kf in (1.0, 2.0, 3.0):
        solve(model.parameters(kf=kf))


def test_running_out_of_steps_is_a_solver_error_with_partial_result():
    model = msjax.models.robertson()
    ts = jnp.array([0.0, 1e-3, 1e5])
    with pytest.raises(msjax.SolverError, match="maximum number of solver steps") as info:
        msjax.simulate(model, msjax.ODE.nonstiff(max_steps=500), ts)
    partial = info.value.solution
    assert partial.ys.shape == (3, 3)
    assert np.isfinite(np.asarray(partial.ys[1])).all()  # t = 1e-3 was reached: kept
    sol = msjax.simulate(model, msjax.ODE.nonstiff(max_steps=500), ts, throw=False)
    assert sol.result == msjax.RESULTS.max_steps_reached
    assert not bool(sol.succeeded)


def test_failures_under_vmap_are_per_trajectory_codes():
    model = msjax.models.robertson()
    batch = jnp.stack([model.parameter_values, model.parameters(k2=3e9)])
    sol = msjax.simulate(
        model, msjax.ODE.nonstiff(max_steps=2000), jnp.array([0.0, 10.0]), batch, throw=False
    )
    np.testing.assert_array_equal(sol.succeeded, [False, False])
    sol = msjax.simulate(
        model, msjax.ODE(max_steps=2000), jnp.array([0.0, 10.0]), batch, throw=False
    )
    np.testing.assert_array_equal(sol.succeeded, [True, True])


def test_nonfinite_rates_are_reported():
    model = Model({"A": 1.0}, [Reaction("A ->", "k * log(A - 2)")], {"k": 1.0})
    with pytest.raises(msjax.SolverError):
        msjax.simulate(model, msjax.ODE(max_steps=100), jnp.array([0.0, 1.0]))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"y0": jnp.array([-1.0, 0.0])}, "non-negative; negative: \\['A'\\]"),
        ({"params": jnp.ones(3)}, "params has shape"),
        ({"y0": {"Q": 1.0}}, "unknown species 'Q'"),
        ({"params": {"nope": 1.0}}, "unknown parameter 'nope'"),
    ],
)
def test_bad_inputs_name_the_item(kwargs, fragment):
    model = msjax.models.isomerisation()
    with pytest.raises(msjax.ModelError, match=fragment):
        msjax.simulate(model, msjax.ODE(), jnp.array([0.0, 1.0]), **kwargs)


def test_solution_selects_species_by_name():
    model = msjax.models.isomerisation()
    sol = msjax.simulate(model, msjax.ODE(), jnp.array([0.0, 1.0]))
    np.testing.assert_array_equal(sol["B"], sol.ys[:, 1])
    with pytest.raises(msjax.ModelError, match="no species 'Z'"):
        sol["Z"]


@pytest.mark.slow
def test_rodas4_gradients_through_the_lu_branch():
    """50 species (Rodas4's LU branch, > INVERSE_UP_TO): reverse mode, forward mode and
    central differences agree on a directional derivative."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from sbml import as_model, network

    model = as_model(*network())
    ts = jnp.linspace(0.0, 5.0, 6)

    def loss(theta, adjoint):
        method = msjax.ODE(rtol=1e-10, atol=1e-12, adjoint=adjoint)
        return msjax.simulate(model, method, ts, theta).ys[-1, :5].sum()

    theta = model.parameter_values
    direction = jnp.zeros_like(theta).at[::7].set(1.0)
    reverse = jax.grad(loss)(theta, diffrax.RecursiveCheckpointAdjoint()) @ direction
    stored_steps = jax.grad(loss)(theta, msjax.StepAdjoint()) @ direction
    _, forward = jax.jvp(lambda t: loss(t, diffrax.ForwardMode()), (theta,), (direction,))
    h = 1e-6
    central = (
        loss(theta + h * direction, diffrax.ForwardMode())
        - loss(theta - h * direction, diffrax.ForwardMode())
    ) / (2 * h)
    np.testing.assert_allclose(reverse, forward, rtol=1e-8)
    np.testing.assert_allclose(stored_steps, forward, rtol=1e-8)
    np.testing.assert_allclose(forward, central, rtol=1e-6)


@pytest.mark.parametrize("adjoint", [msjax.StepAdjoint(), diffrax.RecursiveCheckpointAdjoint()])
def test_reverse_mode_through_a_switch_at_a_parameter_time(adjoint):
    """A dose switched on at ``ton`` (a parameter): the steps end at the switch and move
    with it, so reverse mode gives d/d ton as well as the rate constants', as central
    differences do."""
    model = msjax.load_antimony(
        """
        X' = piecewise(k_in, time >= ton, 0) - k_out * X
        X = 0; k_in = 2; k_out = 0.7; ton = 1.3
        """
    )
    ts = jnp.array([0.0, 1.0, 2.5, 4.0])

    def loss(theta, method):
        ys = msjax.simulate(model, method, ts, theta).ys[:, 0]
        return jnp.sum(ys * jnp.array([1.0, 2.0, -1.0, 3.0]))

    theta = model.parameter_values
    grad = jax.grad(loss)(theta, msjax.ODE(rtol=1e-10, atol=1e-12, adjoint=adjoint))
    tight = msjax.ODE(rtol=1e-12, atol=1e-14)
    h = 1e-5
    central = [
        (loss(theta.at[i].add(h), tight) - loss(theta.at[i].add(-h), tight)) / (2 * h)
        for i in range(theta.shape[0])
    ]
    np.testing.assert_allclose(grad, central, rtol=1e-6)


def test_step_adjoint_with_a_switch_that_never_comes():
    """A relation whose time coefficient is a parameter set to 0 never switches (its switch
    time is +inf): the gradient stays finite and equals forward mode's."""
    model = msjax.load_antimony(
        """
        X' = piecewise(k_in, rate * time >= 1, 0) - k_out * X + 1
        X = 0; k_in = 2; k_out = 0.7; rate = 0
        """
    )
    assert not np.isfinite(np.asarray(model.switch_times(model.parameter_values))).any()
    ts = jnp.array([0.0, 1.0, 2.5])

    def loss(theta, adjoint):
        method = msjax.ODE(rtol=1e-10, atol=1e-12, adjoint=adjoint)
        return jnp.sum(msjax.simulate(model, method, ts, theta).ys[:, 0] ** 2)

    theta = model.parameter_values
    reverse = jax.grad(loss)(theta, msjax.StepAdjoint())
    forward = jax.jacfwd(loss)(theta, diffrax.ForwardMode())
    np.testing.assert_allclose(reverse, forward, rtol=1e-8, atol=1e-12)
