"""Hybrid tissue: bookkeeping, mass ledger, gradients vs finite differences, agent<->PDE bridge."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax.spatial as sp


def _tissue(**kw):
    grid = sp.Grid((16, 16), spacing=0.25)
    tissue = sp.Tissue(grid, dt=0.02, capacity=400, forces=True, cutoff=0.5, max_per_cell=48, **kw)
    x = 0.5 + 3.0 * jax.random.uniform(jax.random.PRNGKey(0), (60, 2))
    fields = jnp.stack([jnp.zeros(grid.shape), jnp.ones(grid.shape)])
    return tissue, tissue.init(x, fields)


def _params(**kw):
    base = dict(
        diffusion=[0.1, 0.2],
        decay=[0.1, 0.0],
        secretion=[1.0, 0.0],
        uptake=[0.0, 0.05],
        motility=0.02,
        chemotaxis=0.05,
        division_rate=0.8,
        death_rate=0.4,
        division_distance=0.2,
        mechanics=sp.Mechanics(repulsion=1.0, adhesion=0.2, radius=0.3, adhesion_radius=0.5),
    )
    return sp.TissueParams(**(base | kw))


def test_bookkeeping_and_mass_ledger_every_step():
    tissue, state = _tissue()
    params = _params()
    final, info = sp.run_tissue(tissue, state, params, 60, key=jax.random.PRNGKey(1))
    n0 = int(state.agents.count)
    count, births, deaths = (np.asarray(info[k]) for k in ("count", "births", "deaths"))
    np.testing.assert_array_equal(count, n0 + births - deaths)
    assert births[-1] > 10 and deaths[-1] > 5  # events happened
    # secreted + field + taken up/decayed is conserved (no-flux grid)
    initial = jnp.sum(state.fields, axis=(1, 2)) * tissue.grid.cell_volume
    ledger = initial + final.created - final.removed
    np.testing.assert_allclose(info["totals"][-1], ledger, rtol=1e-12)
    assert not bool(jnp.any(info["overflow"]))


def test_run_is_chunking_invariant_and_compiles_once():
    tissue, state = _tissue()
    key = jax.random.PRNGKey(3)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def run(state, params, steps):
        return sp.run_tissue(tissue, state, params, steps, key=key)

    a, _ = run(state, _params(), 20)
    b, _ = run(state, _params(secretion=[2.0, 0.0]), 20)  # new values: no retrace
    assert not bool(jnp.allclose(a.fields, b.fields))
    half, _ = sp.run_tissue(tissue, state, _params(), 10, key=key)
    full, _ = sp.run_tissue(tissue, half, _params(), 10, key=key)
    np.testing.assert_allclose(full.fields, a.fields, atol=1e-14)
    np.testing.assert_array_equal(full.agents.alive, a.agents.alive)


def test_gradient_matches_finite_differences():
    # fixed key: the event masks are held fixed (pathwise derivative); a central difference with a
    # small step flips no event, so the two must agree.
    tissue, state = _tissue()
    key = jax.random.PRNGKey(7)

    def output(secretion, motility):
        params = _params(secretion=jnp.stack([secretion, 0.0]), motility=motility)
        final, info = sp.run_tissue(tissue, state, params, 8, key=key)
        # field mass of the secreted attractant + oxygen left after uptake by moving agents
        return info["totals"][-1, 0] + 10.0 * info["totals"][-1, 1]

    s0, m0 = 1.0, 0.02
    grad = jax.grad(output, argnums=(0, 1))(s0, m0)
    eps = 1e-6
    fd_s = (output(s0 + eps, m0) - output(s0 - eps, m0)) / (2 * eps)
    fd_m = (output(s0, m0 + eps * m0) - output(s0, m0 - eps * m0)) / (2 * eps * m0)
    assert abs(float(grad[0]) - float(fd_s)) < 1e-6 * abs(float(fd_s))
    assert float(grad[1]) != 0.0
    assert abs(float(grad[1]) - float(fd_m)) < 1e-4 * abs(float(fd_m))


def test_expected_births_is_smooth_in_the_rate():
    tissue, state = _tissue()

    def expected(rate):
        _, info = sp.run_tissue(
            tissue, state, _params(division_rate=rate), 3, key=jax.random.PRNGKey(0)
        )
        return jnp.sum(info["expected_births"])

    g = jax.grad(expected)(0.8)
    fd = (expected(0.8 + 1e-6) - expected(0.8 - 1e-6)) / 2e-6
    assert abs(float(g - fd)) < 1e-6 * abs(float(fd))


def test_tissue_capacity_overflow_raises():
    grid = sp.Grid((8, 8), spacing=0.5)
    tissue = sp.Tissue(grid, dt=0.1, capacity=20)
    state = tissue.init(jnp.full((15, 2), 2.0), jnp.zeros((1, *grid.shape)))
    params = sp.TissueParams(diffusion=0.1, division_rate=50.0)
    with pytest.raises(Exception, match="capacity 20 exceeded"):
        jax.block_until_ready(sp.run_tissue(tissue, state, params, 5, key=jax.random.PRNGKey(0)))


def test_tissue_checks_shapes():
    grid = sp.Grid((8, 8), spacing=0.5)
    tissue = sp.Tissue(grid, dt=0.1, capacity=20)
    with pytest.raises(sp.SpatialError, match="mismatched grid shapes"):
        tissue.init(jnp.full((3, 2), 2.0), jnp.zeros((1, 8, 9)))
    state = tissue.init(jnp.full((3, 2), 2.0), jnp.zeros((1, 8, 8)))
    with pytest.raises(sp.SpatialError, match="diffusion coefficients"):
        tissue.step(jax.random.PRNGKey(0), state, sp.TissueParams(diffusion=[0.1, 0.2]))


def _walk(grid, x0, steps, dt, d, v, key):
    agents = sp.init_agents(grid, x0, capacity=x0.shape[0])
    drift = jnp.broadcast_to(jnp.asarray([v]), x0.shape)

    @jax.jit
    def run(agents):
        def body(a, k):
            a = sp.move(grid, a, dt, key=jax.random.fold_in(key, k), motility=d, drift=drift)
            return a, None

        return jax.lax.scan(body, agents, jnp.arange(steps))[0]

    return run(agents)


@pytest.mark.parametrize("v", [0.0, 0.8])
def test_agent_pde_bridge_within_five_standard_errors(v):
    # N independent walkers vs the FV solution of the Fokker–Planck (advection–)diffusion PDE
    length, n_cells, d, t_end, n_agents = 4.0, 200, 0.1, 1.0, 20000
    fine = sp.Grid(n_cells, spacing=length / n_cells, boundary="periodic")
    key = jax.random.PRNGKey(21)
    x0 = 1.0 + 0.2 * jax.random.normal(key, (n_agents, 1))
    x0 = jnp.mod(x0, length)
    walkers = _walk(fine, x0, 100, t_end / 100, d, v, jax.random.fold_in(key, 1))
    # the PDE from the exact initial density
    xc = fine.centers(0)
    rho = jnp.exp(-((xc - 1.0) ** 2) / (2 * 0.04)) / jnp.sqrt(2 * jnp.pi * 0.04) * n_agents
    dt = 0.5 * float(sp.stable_dt(fine, diffusion=d, velocity=[v], scheme="limited"))
    steps = int(np.ceil(t_end / dt))
    dt = t_end / steps

    @jax.jit
    def solve(u):
        def body(w, _):
            w = sp.ssp_rk2_step(
                fine, w, dt, diffusion_coefficient=d, velocity=[v], scheme="limited"
            )
            return w, None

        return jax.lax.scan(body, u, None, length=steps)[0]

    rho = solve(rho)
    # compare counts in 20 bins of 10 cells: binomial standard errors
    expected = np.asarray(rho).reshape(20, 10).sum(1) * fine.spacing[0]
    counts, _ = np.histogram(np.asarray(walkers.position[:, 0]), bins=20, range=(0.0, length))
    p = expected / n_agents
    se = np.sqrt(n_agents * p * (1 - p)) + 1.0
    assert np.all(np.abs(counts - expected) < 5 * se), (counts, expected)
