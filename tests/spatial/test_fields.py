"""Finite-volume operators and field stepping against known answers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax.spatial as sp
from msjax._errors import MsjaxError


def _gaussian(x, t, d, t0):
    """Free-space heat kernel in len(x) dims started at time -t0 (a Gaussian of variance 2 D t0)."""
    var = 2 * d * (t + t0)
    r2 = jnp.sum(x**2, axis=-1)
    return jnp.exp(-r2 / (2 * var)) / (2 * jnp.pi * var) ** (x.shape[-1] / 2)


def _diffuse(grid, u, dt, d, steps):
    @jax.jit
    def run(u):
        return jax.lax.scan(
            lambda v, _: (sp.euler_step(grid, v, dt, diffusion_coefficient=d), None),
            u,
            None,
            length=steps,
        )[0]

    return run(u)


@pytest.mark.parametrize("ndim, sizes", [(1, (40, 80, 160, 320)), (2, (40, 80, 160))])
def test_gaussian_diffusion_converges_second_order(ndim, sizes):
    d, t0, t_end, length = 1.0, 0.25, 0.1, 10.0
    errors = []
    for n in sizes:
        grid = sp.Grid((n,) * ndim, spacing=length / n, origin=-length / 2)
        h = length / n
        steps = int(np.ceil(t_end / (0.2 * h**2 / (d * ndim))))
        dt = t_end / steps  # dt ~ h^2 so the Euler error is O(h^2) too
        x = grid.mesh()
        u = _diffuse(grid, _gaussian(x, 0.0, d, t0), dt, d, steps)
        errors.append(float(jnp.max(jnp.abs(u - _gaussian(x, t_end, d, t0)))))
    slope = -np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert 1.9 < slope < 2.2, (errors, slope)
    assert errors[-1] < 1e-3


def _mode_eigenvalue(h, length, d, k):
    """Exact eigenvalue of the 3-point FV Laplacian for the mode of wavenumber k."""
    return -4 * d / h**2 * np.sin(k * h / 2) ** 2


@pytest.mark.parametrize("boundary", ["periodic", "noflux", "dirichlet"])
def test_discrete_eigenmodes_each_boundary(boundary):
    # periodic: sin(2 pi x/L); noflux: cos(pi x/L) (DCT-II); dirichlet g=1: 1 + sin(pi x/L) (DST-II)
    n, length, d, dt, steps = 40, 2.0, 0.3, 1e-3, 200
    grid = sp.Grid(n, spacing=length / n, boundary=boundary)
    x = grid.centers(0)
    k = 2 * np.pi / length if boundary == "periodic" else np.pi / length
    mode = {"periodic": jnp.sin, "noflux": jnp.cos, "dirichlet": jnp.sin}[boundary](k * x)
    base = 1.0 if boundary == "dirichlet" else 0.0
    u = base + mode
    for _ in range(steps):
        u = sp.euler_step(grid, u, dt, diffusion_coefficient=d, boundary_value=1.0)
    lam = _mode_eigenvalue(length / n, length, d, k)
    expected = base + (1 + dt * lam) ** steps * mode
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-12)
    # and the discrete decay is the continuum one to O(h^2)
    assert abs(lam / (-d * k**2) - 1) < (k * length / n) ** 2 / 12 * 1.01


def test_upwind_advection_translates_exactly_at_courant_one():
    n = 50
    grid = sp.Grid(n, spacing=0.1, boundary="periodic")
    u0 = jnp.exp(-((grid.centers(0) - 2.5) ** 2) / 0.1)
    u = u0
    for _ in range(17):
        u = sp.euler_step(grid, u, 0.2, velocity=[0.5])  # v dt = h
    np.testing.assert_allclose(u, jnp.roll(u0, 17), atol=1e-14)
    u = u0
    for _ in range(17):
        u = sp.euler_step(grid, u, 0.2, velocity=[-0.5])
    np.testing.assert_allclose(u, jnp.roll(u0, -17), atol=1e-14)


@pytest.mark.parametrize(
    "scheme, stepper, lo, hi",
    [("upwind", sp.euler_step, 0.8, 1.2), ("limited", sp.ssp_rk2_step, 1.5, 2.5)],
)
def test_advection_of_smooth_profile_converges(scheme, stepper, lo, hi):
    length, v, t_end = 1.0, 1.0, 0.5
    errors, sizes = [], (64, 128, 256, 512)
    for n in sizes:
        h = length / n
        grid = sp.Grid(n, spacing=h, boundary="periodic")
        x = grid.centers(0)
        dt = 0.2 * h
        steps = int(round(t_end / dt))
        u = jnp.sin(2 * jnp.pi * x) ** 4
        step = jax.jit(lambda w, g=grid, h=dt: stepper(g, w, h, velocity=[v], scheme=scheme))
        for _ in range(steps):
            u = step(u)
        exact = jnp.sin(2 * jnp.pi * (x - v * t_end)) ** 4
        errors.append(float(jnp.mean(jnp.abs(u - exact))))
    slope = -np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert lo < slope < hi, (errors, slope)


def test_limited_advection_makes_no_new_extrema():
    grid = sp.Grid(100, spacing=0.01, boundary="periodic")
    x = grid.centers(0)
    u = jnp.where((x > 0.2) & (x < 0.5), 1.0, 0.0)
    for _ in range(150):
        u = sp.ssp_rk2_step(grid, u, 0.004, velocity=[1.0], scheme="limited")
    assert float(jnp.min(u)) >= -1e-14 and float(jnp.max(u)) <= 1 + 1e-14


@pytest.mark.parametrize("shape", [(40,), (24, 20), (10, 12, 8)])
def test_noflux_mass_conserved_over_1000_steps(shape):
    key = jax.random.PRNGKey(0)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    grid = sp.Grid(shape, spacing=0.5)
    ndim = len(shape)
    u0 = jax.random.uniform(k1, shape) + 0.5
    c = jax.random.uniform(k2, shape)
    faces = [
        0.05 + 0.1 * jax.random.uniform(jax.random.fold_in(k3, a), sp.face_shape(grid, a))
        for a in range(ndim)
    ]
    vel = [0.2 * jax.random.normal(jax.random.fold_in(k4, a), ()) for a in range(ndim)]

    @jax.jit
    def run(u):
        def body(v, _):
            v = sp.euler_step(
                grid, v, 0.05, diffusion_coefficient=faces, velocity=vel, scheme="limited"
            )
            v = v + 0.05 * sp.chemotaxis(grid, v, c, 0.1)
            return v, None

        return jax.lax.scan(body, u, None, length=1000)[0]

    u = run(u0)
    assert abs(float(grid.total(u) / grid.total(u0)) - 1) < 1e-12


def test_source_changes_mass_by_integrated_source():
    grid = sp.Grid((30, 30), spacing=0.1)
    key = jax.random.PRNGKey(3)
    u0 = jax.random.uniform(key, grid.shape)
    s = jax.random.normal(jax.random.fold_in(key, 1), grid.shape)
    dt, steps = 1e-3, 1000
    step = jax.jit(lambda v: sp.euler_step(grid, v, dt, diffusion_coefficient=0.2, source=s))
    u = u0
    for _ in range(steps):
        u = step(u)
    expected = grid.total(u0) + steps * dt * grid.total(s)
    assert abs(float(grid.total(u) - expected)) < 1e-12 * float(grid.total(jnp.abs(u0)))


def test_per_face_coefficient_from_cells():
    grid = sp.Grid((6, 5), spacing=1.0)
    faces = sp.face_average(grid, jnp.full(grid.shape, 0.7))
    for a, f in enumerate(faces):
        assert f.shape == sp.face_shape(grid, a)
        np.testing.assert_allclose(f, 0.7)
    u = jax.random.uniform(jax.random.PRNGKey(0), grid.shape)
    np.testing.assert_allclose(
        sp.diffusion(grid, u, list(faces)), sp.diffusion(grid, u, 0.7), atol=1e-15
    )


@pytest.mark.parametrize("theta", [1.0, 0.5])
def test_implicit_diffusion_mode_factor_and_mass(theta):
    n, length, d = 64, 1.0, 1.0
    h = length / n
    grid = sp.Grid(n, spacing=h, boundary="periodic")
    k = 2 * np.pi / length
    x = grid.centers(0)
    u = 1.0 + jnp.sin(k * x)
    dt = 100 * float(sp.stable_dt(grid, diffusion=d))  # far above the explicit limit
    new = sp.implicit_diffusion_step(grid, u, dt, d, theta=theta)
    lam = _mode_eigenvalue(h, length, d, k)
    factor = (1 + (1 - theta) * dt * lam) / (1 - theta * dt * lam)
    np.testing.assert_allclose(new, 1.0 + factor * jnp.sin(k * x), atol=1e-10)
    assert abs(float(grid.total(new) / grid.total(u)) - 1) < 1e-13


def test_implicit_dirichlet_relaxes_to_boundary_value():
    grid = sp.Grid((20, 20), spacing=0.05, boundary="dirichlet")
    step = jax.jit(lambda v: sp.implicit_diffusion_step(grid, v, 1.0, 1.0, boundary_value=2.0))
    u = jnp.zeros(grid.shape)
    for _ in range(40):
        u = step(u)
    np.testing.assert_allclose(u, 2.0, atol=1e-9)


def test_explicit_step_above_stable_limit_raises():
    grid = sp.Grid((16, 16), spacing=0.1)
    u = jnp.ones(grid.shape)
    limit = float(sp.stable_dt(grid, diffusion=1.0))
    assert limit == pytest.approx(0.1**2 / 4)
    sp.euler_step(grid, u, 0.99 * limit, diffusion_coefficient=1.0)
    with pytest.raises(sp.StabilityError, match="stability limit"):
        sp.euler_step(grid, u, 1.01 * limit, diffusion_coefficient=1.0)
    assert issubclass(sp.StabilityError, MsjaxError)
    jitted = jax.jit(lambda u, dt: sp.euler_step(grid, u, dt, diffusion_coefficient=1.0))
    jitted(u, 0.99 * limit).block_until_ready()
    with pytest.raises(Exception, match="stability limit"):
        jitted(u, 1.01 * limit).block_until_ready()
    with pytest.raises(sp.StabilityError):
        sp.euler_step(grid, u, 0.6 * 0.1, velocity=[1.0, 1.0])


def test_mismatched_grid_shapes_raise():
    grid = sp.Grid((16, 16))
    with pytest.raises(sp.SpatialError, match="mismatched grid shapes"):
        sp.diffusion(grid, jnp.ones((16, 15)), 1.0)
    with pytest.raises(sp.SpatialError, match="mismatched grid shapes"):
        sp.diffusion(grid, jnp.ones((16, 16)), [jnp.ones((16, 16)), jnp.ones((16, 17))])
    with pytest.raises(sp.SpatialError):
        sp.euler_step(grid, jnp.ones((16, 16)), 0.1, source=jnp.ones((4, 4)))
    with pytest.raises(sp.SpatialError):
        sp.Grid((4, 4, 4, 4))
    with pytest.raises(sp.SpatialError):
        sp.Grid((8, 8), boundary="sticky")
    with pytest.raises(sp.SpatialError):
        sp.advection(grid, jnp.ones((16, 16)), [1.0, 1.0], scheme="weno")


def test_reaction_diffusion_uniform_state_follows_the_ode(linear_model):
    grid = sp.Grid((8, 8), spacing=0.1)
    rd = sp.ReactionDiffusion(grid, linear_model, diffusion=[0.01, 0.02])
    theta = linear_model.parameters(g=0.3)
    x = jnp.array([1.0, 0.2])
    u = jnp.broadcast_to(x[:, None, None], (2, *grid.shape))
    for i in range(10):
        u = rd.step(0.01 * i, u, 0.01, theta)
        x = x + 0.01 * linear_model.rhs(0.01 * i, x, theta)
    np.testing.assert_allclose(u, jnp.broadcast_to(x[:, None, None], u.shape), atol=1e-14)


@pytest.mark.parametrize("method", ["explicit", "imex"])
def test_reaction_diffusion_conserves_moiety(linear_model, method):
    grid = sp.Grid((12, 10), spacing=0.1)
    rd = sp.ReactionDiffusion(grid, linear_model, diffusion=[0.05, 0.01])
    theta = linear_model.parameters()
    key = jax.random.PRNGKey(1)
    u0 = jax.random.uniform(key, (2, *grid.shape))
    dt = 0.02 if method == "explicit" else 1.0  # imex: 20x the explicit limit
    step = eqx.filter_jit(lambda u: rd.step(0.0, u, dt, theta, method=method))
    u = u0
    for _ in range(50):
        u = step(u)
    assert abs(float(grid.total(u.sum(0)) / grid.total(u0.sum(0))) - 1) < 1e-12
    if method == "explicit":
        with pytest.raises(sp.StabilityError):
            rd.step(0.0, u0, 1.0, theta)


def test_reaction_diffusion_checks_species(linear_model):
    grid = sp.Grid((8,))
    with pytest.raises(sp.SpatialError, match="2 species"):
        sp.ReactionDiffusion(grid, linear_model, diffusion=[0.1, 0.2, 0.3])
    rd = sp.ReactionDiffusion(grid, linear_model, diffusion=0.1)
    with pytest.raises(sp.SpatialError):
        rd.rhs(0.0, jnp.ones((3, 8)), linear_model.parameters())
