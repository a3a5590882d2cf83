"""spread/interpolate: exact adjoint pair, mass conservation, exchange, domain checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax.spatial as sp


def _random_agents(grid, n, key):
    lo, hi = np.asarray(grid.origin), np.asarray(grid.upper)
    return lo + (hi - lo) * jax.random.uniform(key, (n, grid.ndim))


@pytest.mark.parametrize("shape", [(17,), (9, 13), (6, 7, 5)])
@pytest.mark.parametrize("boundary", ["noflux", "periodic"])
def test_spread_interpolate_adjoint(shape, boundary):
    grid = sp.Grid(shape, spacing=[0.3, 0.2, 0.5][: len(shape)], origin=-1.0, boundary=boundary)
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(len(shape)), 3)
    x = _random_agents(grid, 500, k1)
    a = jax.random.normal(k2, (500,))
    f = jax.random.normal(k3, shape)
    lhs = grid.inner(sp.spread(grid, x, a), f)
    rhs = jnp.dot(a, sp.interpolate(grid, f, x))
    assert abs(float(lhs - rhs)) <= 1e-12 * float(jnp.sum(jnp.abs(a)) * jnp.max(jnp.abs(f)))
    # multi-channel and masked versions
    a2 = jax.random.normal(k2, (500, 3))
    f2 = jax.random.normal(k3, (3, *shape))
    mask = jax.random.bernoulli(k1, 0.7, (500,))
    lhs = jnp.sum(sp.spread(grid, x, a2, mask=mask) * f2) * grid.cell_volume
    rhs = jnp.sum(a2 * sp.interpolate(grid, f2, x, mask=mask))
    assert abs(float(lhs - rhs)) <= 1e-12 * float(jnp.sum(jnp.abs(a2)) * jnp.max(jnp.abs(f2)))


@pytest.mark.parametrize("shape", [(17,), (9, 13), (6, 7, 5)])
def test_spread_conserves_mass_and_interpolation_is_exact_for_linear(shape):
    grid = sp.Grid(shape, spacing=0.25)
    x = _random_agents(grid, 300, jax.random.PRNGKey(0))
    q = jax.random.uniform(jax.random.PRNGKey(1), (300,))
    assert abs(float(grid.total(sp.spread(grid, x, q)) - jnp.sum(q))) < 1e-12
    coef = jnp.arange(1.0, grid.ndim + 1.0)
    f = grid.mesh() @ coef + 0.5
    # agents at least half a cell from the boundary see the linear field exactly
    inner = jnp.all((x > 0.125) & (x < np.asarray(grid.upper) - 0.125), axis=-1)
    err = jnp.where(inner, sp.interpolate(grid, f, x) - (x @ coef + 0.5), 0.0)
    assert float(jnp.max(jnp.abs(err))) < 1e-12


def test_interpolate_gradient_of_sinusoid():
    grid = sp.Grid((20, 20), spacing=0.1, boundary="periodic")
    f = jnp.sin(2 * jnp.pi * grid.mesh()[..., 0] / 2.0)
    x = jnp.array([[0.55, 0.3], [1.05, 1.7]])
    g = sp.interpolate_gradient(grid, f, x)
    # central differences lose pi^3 h^2 / 6 ~ 0.052; CIC adds at most pi^3 h^2 / 8
    np.testing.assert_allclose(g[:, 0], jnp.pi * jnp.cos(jnp.pi * x[:, 0]), atol=0.1)
    np.testing.assert_allclose(g[:, 1], 0.0, atol=1e-12)


def test_exchange_conserves_field_plus_agent_pools():
    grid = sp.Grid((16, 16), spacing=0.1)
    key = jax.random.PRNGKey(4)
    x = _random_agents(grid, 50, key)
    field = jax.random.uniform(jax.random.fold_in(key, 1), grid.shape)
    pool = jnp.full((50,), 2.0)
    mask = jnp.arange(50) < 40
    total0 = grid.total(field) + jnp.sum(jnp.where(mask, pool, 0.0))
    for _ in range(100):
        secretion = 0.5 * pool  # secrete from the internal pool
        field, gained = sp.exchange(
            grid, field, x, secretion=secretion, uptake_rate=0.003, dt=0.01, mask=mask
        )
        pool = pool + gained
    total = grid.total(field) + jnp.sum(jnp.where(mask, pool, 0.0))
    assert abs(float(total / total0) - 1) < 1e-13
    np.testing.assert_array_equal(pool[40:], 2.0)


def test_agents_outside_domain_raise():
    grid = sp.Grid((8, 8), spacing=0.5)
    bad = jnp.array([[1.0, 1.0], [4.5, 1.0]])
    with pytest.raises(sp.SpatialError, match="outside the domain"):
        sp.init_agents(grid, bad, capacity=10)
    with pytest.raises(sp.SpatialError, match="outside the domain"):
        sp.check_positions(grid, bad)
    jitted = jax.jit(lambda p: sp.check_positions(grid, p))
    with pytest.raises(Exception, match="outside the domain"):
        jitted(bad).block_until_ready()
    with pytest.raises(sp.SpatialError, match="expected"):
        sp.check_positions(grid, jnp.ones((3, 3)))
