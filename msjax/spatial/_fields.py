"""Time stepping of fields: explicit Euler with a checked stable step, implicit diffusion, and
reaction–diffusion with per-point reaction terms from a `Model`."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.sparse.linalg import cg

from .._types import Array, ArrayLike, Float, Params, Scalar, ScalarLike
from ._fv import FaceCoefficient, advection, diffusion, stable_dt
from ._grid import Grid, SpatialError, StabilityError, check_field
from ._util import check


def check_dt(u, dt: ScalarLike, limit: ScalarLike):
    """Return `u`; raise `StabilityError` (or an `eqx.error_if` under jit) when `dt > limit`."""
    return check(
        u,
        jnp.asarray(dt) > limit,
        "time step dt is above the explicit stability limit of the scheme "
        "(use a smaller dt, or implicit_diffusion_step / method='imex')",
        StabilityError,
    )


def _explicit_tendency(
    grid, u, dt, diffusion_coefficient, velocity, scheme, source, boundary_value
):
    check_field(grid, u)
    limit = stable_dt(grid, diffusion=diffusion_coefficient, velocity=velocity, scheme=scheme)
    u = check_dt(u, dt, limit)

    def tendency(v):
        dv = jnp.zeros_like(v)
        if diffusion_coefficient is not None:
            dv = dv + diffusion(grid, v, diffusion_coefficient, boundary_value=boundary_value)
        if velocity is not None:
            dv = dv + advection(grid, v, velocity, scheme=scheme, boundary_value=boundary_value)
        if source is not None:
            check_field(grid, jnp.asarray(source), name="source")
            dv = dv + source
        return dv

    return u, tendency


def euler_step(
    grid: Grid,
    u: Float[Array, "*shape"],
    dt: ScalarLike,
    *,
    diffusion_coefficient: FaceCoefficient | None = None,
    velocity: FaceCoefficient | None = None,
    scheme: str = "upwind",
    source: Float[ArrayLike, "*shape"] | None = None,
    boundary_value: ArrayLike = 0.0,
) -> Float[Array, "*shape"]:
    """One forward-Euler step of `du/dt = div(D grad u) - div(v u) + S`, shape `grid.shape`.

    Raises `StabilityError` when `dt` exceeds `stable_dt(grid, ...)` (under jit: a runtime error
    with the same message). With no-flux boundaries the total changes by exactly
    `dt * sum(S) * cell_volume` (to rounding). First order in time: pair `scheme="limited"`
    with `ssp_rk2_step` for second order overall.

    Example:
        >>> u = euler_step(grid, u, 1e-3, diffusion_coefficient=0.1)
    """
    u, f = _explicit_tendency(
        grid, u, dt, diffusion_coefficient, velocity, scheme, source, boundary_value
    )
    return u + dt * f(u)


def ssp_rk2_step(
    grid: Grid,
    u: Float[Array, "*shape"],
    dt: ScalarLike,
    *,
    diffusion_coefficient: FaceCoefficient | None = None,
    velocity: FaceCoefficient | None = None,
    scheme: str = "limited",
    source: Float[ArrayLike, "*shape"] | None = None,
    boundary_value: ArrayLike = 0.0,
) -> Float[Array, "*shape"]:
    """One strong-stability-preserving RK2 (Heun) step, `u1 = u + dt f(u)`,
    `u' = (u + u1 + dt f(u1)) / 2` (Shu & Osher 1988): second order in time, TVD with the
    limited scheme under the same step limit as `euler_step`; same arguments."""
    u, f = _explicit_tendency(
        grid, u, dt, diffusion_coefficient, velocity, scheme, source, boundary_value
    )
    u1 = u + dt * f(u)
    return 0.5 * (u + u1 + dt * f(u1))


def implicit_diffusion_step(
    grid: Grid,
    u: Float[Array, "*shape"],
    dt: ScalarLike,
    diffusion_coefficient: FaceCoefficient,
    *,
    theta: float = 1.0,
    boundary_value: ArrayLike = 0.0,
    tol: float = 1e-12,
    maxiter: int | None = None,
) -> Float[Array, "*shape"]:
    """One theta-step of `du/dt = div(D grad u)`, unconditionally stable for `theta >= 1/2`.

    Solves `(I - theta dt L) u' = u + (1 - theta) dt L u` (+ the Dirichlet terms) by conjugate
    gradients (the FV Laplacian is symmetric). `theta=1` is backward Euler, `theta=1/2` is
    Crank–Nicolson. On no-flux/periodic grids the solution is shifted by the (tiny, below `tol`)
    mass defect of the iterative solve, so the total is conserved to rounding.
    """
    check_field(grid, u)
    if not 0.5 <= theta <= 1.0:
        raise SpatialError(f"theta must lie in [1/2, 1] for stability, got {theta}")

    def lap0(v):
        return diffusion(grid, v, diffusion_coefficient, boundary_value=0.0)

    rhs = u + (1 - theta) * dt * lap0(u)
    if grid.boundary == "dirichlet":
        lap_g = diffusion(
            grid, jnp.zeros_like(u), diffusion_coefficient, boundary_value=boundary_value
        )
        rhs = rhs + dt * lap_g
    new, _ = cg(lambda v: v - theta * dt * lap0(v), rhs, x0=u, tol=tol, maxiter=maxiter)
    if grid.boundary != "dirichlet":
        new = new + (jnp.sum(rhs) - jnp.sum(new)) / grid.size
    return new


def _pointwise(f, u):
    """Apply `f: [S] -> [S]` at every grid point of `u: [S, *shape]`."""
    flat = u.reshape(u.shape[0], -1)
    return jax.vmap(f, in_axes=1, out_axes=1)(flat).reshape(u.shape)


class ReactionDiffusion(eqx.Module):
    """`du_s/dt = D_s lap u_s + f_s(t, u(x), theta)`: several species on one grid.

    Arguments:
        grid: the `Grid`.
        model: anything with `rhs(t, x[S], theta[P]) -> [S]` and `species_names` (a msjax
            `Model`); it is evaluated at every grid point (vmapped).
        diffusion: per-species diffusion coefficients, shape `[S]` (traced: differentiable).
        boundary_value: per-species Dirichlet values, shape `[S]` (ignored otherwise).

    Fields are `[S, *grid.shape]`, species ordered as `model.species_names`.

    Example:
        >>> rd = ReactionDiffusion(grid, model, diffusion=[0.1, 0.0])
        >>> u = rd.step(0.0, u, 1e-3, model.parameters())
    """

    grid: Grid
    model: Any
    diffusion: Float[Array, " species"]
    boundary_value: Float[Array, " species"]

    def __init__(self, grid: Grid, model: Any, diffusion: ArrayLike, boundary_value=0.0):
        n = len(model.species_names)
        d = jnp.asarray(diffusion)
        d = jnp.broadcast_to(d, (n,)) if d.ndim == 0 else d
        if d.shape != (n,):
            raise SpatialError(
                f"diffusion has shape {d.shape}; the model has {n} species {model.species_names}"
            )
        self.grid = grid
        self.model = model
        self.diffusion = d
        self.boundary_value = jnp.broadcast_to(jnp.asarray(boundary_value), (n,))

    def _check(self, u):
        check_field(self.grid, u, leading=1, name="reaction-diffusion state")
        if u.shape[0] != len(self.model.species_names):
            raise SpatialError(
                f"state has {u.shape[0]} species, the model has {len(self.model.species_names)} "
                f"({self.model.species_names})"
            )

    def reaction(self, t: ScalarLike, u: Float[Array, "S *shape"], theta: Params):
        """Per-point reaction term `f(t, u(x), theta)`, shape `[S, *shape]`."""
        self._check(u)
        return _pointwise(lambda x: self.model.rhs(t, x, theta), u)

    def transport(self, u: Float[Array, "S *shape"]):
        """Per-species diffusion tendency, shape `[S, *shape]`."""
        self._check(u)
        return jax.vmap(lambda v, d, g: diffusion(self.grid, v, d, boundary_value=g))(
            u, self.diffusion, self.boundary_value
        )

    def rhs(self, t: ScalarLike, u: Float[Array, "S *shape"], theta: Params):
        """Full right-hand side, shape `[S, *shape]`."""
        return self.transport(u) + self.reaction(t, u, theta)

    def stable_dt(self) -> Scalar:
        """Explicit limit from diffusion only (reaction stiffness is the caller's concern)."""
        return stable_dt(self.grid, diffusion=jnp.max(self.diffusion))

    def step(
        self,
        t: ScalarLike,
        u: Float[Array, "S *shape"],
        dt: ScalarLike,
        theta: Params,
        *,
        method: str = "explicit",
    ) -> Float[Array, "S *shape"]:
        """Advance by `dt`. `method="explicit"`: forward Euler, `dt` checked against
        `stable_dt()`. `method="imex"`: explicit reaction, then backward-Euler diffusion
        (Lie splitting; stable for any `dt` as far as diffusion goes)."""
        self._check(u)
        if method == "explicit":
            u = check_dt(u, dt, self.stable_dt())
            return u + dt * self.rhs(t, u, theta)
        if method == "imex":
            mid = u + dt * self.reaction(t, u, theta)
            return jax.vmap(
                lambda v, d, g: implicit_diffusion_step(self.grid, v, dt, d, boundary_value=g)
            )(mid, self.diffusion, self.boundary_value)
        raise SpatialError(f"unknown method {method!r}; use 'explicit' or 'imex'")
