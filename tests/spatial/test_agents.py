"""Agents: neighbour forces, motion statistics, division/death bookkeeping, internal models."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax.spatial as sp
from msjax._errors import CapacityError


def _brute_force(grid, x, alive, mech, cutoff):
    x = np.asarray(x)
    d = x[:, None, :] - x[None, :, :]
    if grid.boundary == "periodic":
        length = np.asarray(grid.extent)
        d = d - length * np.round(d / length)
    r = np.linalg.norm(d, axis=-1)
    ok = alive[:, None] & alive[None, :] & (r > 0) & (r < cutoff)
    rs = np.where(ok, r, 1.0)
    mag = mech.repulsion * np.maximum(1 - rs / mech.radius, 0) ** 2
    mag = mag - mech.adhesion * np.maximum(1 - rs / mech.adhesion_radius, 0) ** 2
    return np.sum(np.where(ok, mag / rs, 0.0)[..., None] * d, axis=1)


@pytest.mark.parametrize(
    "shape, boundary", [((20, 20), "noflux"), ((20, 20), "periodic"), ((8, 8, 8), "noflux")]
)
def test_cell_list_forces_match_brute_force(shape, boundary):
    grid = sp.Grid(shape, spacing=0.5, boundary=boundary)
    key = jax.random.PRNGKey(0)
    x = np.asarray(grid.upper) * jax.random.uniform(key, (150, grid.ndim))
    agents = sp.init_agents(grid, x, capacity=200)
    agents = sp.kill(agents, jnp.arange(200) % 7 == 0)
    mech = sp.Mechanics(repulsion=2.0, adhesion=0.5, radius=0.8, adhesion_radius=1.0)
    f, overflow = sp.neighbour_forces(grid, agents, mech, cutoff=1.0, max_per_cell=32)
    assert not bool(overflow)
    ref = _brute_force(grid, agents.position, np.asarray(agents.alive), mech, 1.0)
    np.testing.assert_allclose(np.asarray(f), ref, atol=1e-12)
    assert float(jnp.max(jnp.abs(jnp.sum(f, axis=0)))) < 1e-12  # Newton's third law
    _, overflow = sp.neighbour_forces(grid, agents, mech, cutoff=1.0, max_per_cell=1)
    assert bool(overflow)


def test_brownian_msd_within_five_standard_errors():
    grid = sp.Grid((10, 10), spacing=100.0, boundary="periodic")
    n, d, dt, steps = 4000, 0.3, 0.1, 20
    x0 = jnp.full((n, 2), 500.0)
    agents = sp.init_agents(grid, x0, capacity=n)
    key = jax.random.PRNGKey(11)
    for k in range(steps):
        agents = sp.move(grid, agents, dt, key=jax.random.fold_in(key, k), motility=d)
    sq = jnp.sum((agents.position - x0) ** 2, axis=-1)
    expected = 2 * 2 * d * dt * steps
    se = float(jnp.std(sq)) / np.sqrt(n)
    assert abs(float(jnp.mean(sq)) - expected) < 5 * se


def test_division_and_death_bookkeeping_and_state_split():
    grid = sp.Grid((10, 10), spacing=1.0)
    key = jax.random.PRNGKey(2)
    x = 10 * jax.random.uniform(key, (30, 2))
    state = jax.random.uniform(jax.random.fold_in(key, 1), (30, 2))
    agents = sp.init_agents(grid, x, capacity=100, state=state, kind=jnp.arange(30) % 3)
    n0 = int(agents.count)
    mass0 = jnp.sum(agents.state)
    dividing = (jnp.arange(100) % 2 == 0) & agents.alive
    new = sp.divide(grid, agents, dividing, key=key, distance=0.2)
    assert int(new.count) == n0 + int(new.births) - int(new.deaths) == n0 + 15
    assert float(jnp.abs(jnp.sum(jnp.where(new.alive[:, None], new.state, 0.0)) - mass0)) < 1e-13
    daughters = jnp.arange(100)[new.alive & ~agents.alive]
    assert daughters.shape == (15,)
    parents = jnp.arange(30)[dividing[:30]]
    np.testing.assert_array_equal(new.kind[daughters], agents.kind[parents])
    sep = jnp.linalg.norm(new.position[daughters] - new.position[parents], axis=-1)
    assert float(jnp.max(sep)) <= 0.2 + 1e-12
    np.testing.assert_allclose(new.state[daughters], 0.5 * agents.state[parents])
    dead = sp.kill(new, jnp.arange(100) < 10)
    assert int(dead.count) == n0 + int(dead.births) - int(dead.deaths) == n0 + 5
    # killing the dead again changes nothing
    again = sp.kill(dead, jnp.arange(100) < 10)
    assert int(again.deaths) == int(dead.deaths)


def test_capacity_overflow_raises():
    grid = sp.Grid((4, 4), spacing=1.0)
    x = jnp.full((6, 2), 2.0)
    with pytest.raises(CapacityError):
        sp.init_agents(grid, x, capacity=5)
    agents = sp.init_agents(grid, x, capacity=10)
    key = jax.random.PRNGKey(0)
    with pytest.raises(CapacityError, match="capacity 10 exceeded"):
        sp.divide(grid, agents, agents.alive, key=key, distance=0.1)
    jitted = eqx.filter_jit(lambda a, m: sp.divide(grid, a, m, key=key, distance=0.1))
    ok = jitted(agents, jnp.arange(10) < 4)
    assert int(ok.count) == 10
    with pytest.raises(Exception, match="capacity 10 exceeded"):
        jax.block_until_ready(jitted(agents, agents.alive))


def test_internal_ode_matches_exponential(linear_model):
    grid = sp.Grid((4, 4), spacing=1.0)
    agents = sp.init_agents(
        grid, jnp.full((3, 2), 2.0), capacity=5, state=jnp.array([[1.0, 0.0]] * 3)
    )
    theta = linear_model.parameters(kf=2.0, kb=0.0, g=0.0)
    out = sp.advance_internal(agents, linear_model, theta, 0.0, 0.5, substeps=50)
    z = -2.0 * 0.01  # RK4 amplification factor, exactly, and the exponential to O(h^4)
    rk4 = (1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24) ** 50
    np.testing.assert_allclose(out.state[:3, 0], rk4, rtol=1e-13)
    np.testing.assert_allclose(out.state[:3, 0], np.exp(-1.0), rtol=2e-9)
    np.testing.assert_allclose(out.state[3:], 0.0)  # empty slots untouched
    per_agent = jnp.stack([linear_model.parameters(kf=k) for k in (1.0, 2.0, 3.0, 4.0, 5.0)])
    out = sp.advance_internal(agents, linear_model, per_agent, 0.0, 0.1, substeps=10)
    assert float(out.state[0, 0]) > float(out.state[2, 0])


def test_tau_leap_internal_stationary_mean(birth_death):
    grid = sp.Grid((4, 4), spacing=1.0)
    n = 2000
    agents = sp.init_agents(grid, jnp.full((n, 2), 2.0), capacity=n, state=jnp.zeros((n, 1)))
    theta = birth_death.parameters(k=10.0, gamma=1.0)
    step = eqx.filter_jit(lambda a, k: sp.tau_leap_internal(a, birth_death, theta, 0.01, key=k))
    key = jax.random.PRNGKey(5)
    for i in range(800):
        agents = step(agents, jax.random.fold_in(key, i))
    x = agents.state[:, 0]
    # stationary Poisson(10): mean 10, sd sqrt(10); tau-leap bias O(dt) is far below 5 SE
    assert abs(float(jnp.mean(x)) - 10.0) < 5 * np.sqrt(10.0 / n)
    assert abs(float(jnp.var(x)) / 10.0 - 1) < 0.15
