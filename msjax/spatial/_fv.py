"""Finite-volume operators in flux form: `du/dt = -div J + S`.

Every operator first computes a flux `J` on the faces normal to each axis (`shape[axis] + 1` faces,
the first and last being the boundary faces) and then takes its divergence
`(J[i + 1/2] - J[i - 1/2]) / h`. Interior fluxes cancel in pairs, so on a no-flux (or periodic)
domain `sum(du/dt) * cell_volume = 0` to rounding, whatever the coefficients.

Boundaries are imposed through ghost cells: no-flux copies the edge and forces the boundary flux to
zero, periodic wraps, Dirichlet reflects oddly about the boundary value `g` (`ghost = 2 g - u`), so
that the face value is `g` and the diffusive boundary flux is `-D (u_0 - g) / (h / 2)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
from jax import lax

from .._types import Array, ArrayLike, Float
from ._grid import Grid, SpatialError, check_field

FaceCoefficient = ArrayLike | Sequence[ArrayLike]


def pad(
    grid: Grid, u: Float[Array, "*shape"], axis: int, width: int, boundary_value: ArrayLike = 0.0
) -> Float[Array, "*padded"]:
    """Add `width` ghost layers on both sides of `axis` according to `grid.boundary`."""
    cfg = [(0, 0)] * u.ndim
    cfg[axis] = (width, width)
    if grid.boundary == "periodic":
        return jnp.pad(u, cfg, mode="wrap")
    if grid.boundary == "noflux":
        return jnp.pad(u, cfg, mode="edge")
    sym = jnp.pad(u, cfg, mode="symmetric")
    n = u.shape[axis]
    idx = jnp.arange(n + 2 * width)
    ghost = (idx < width) | (idx >= n + width)
    ghost = ghost.reshape([-1 if a == axis else 1 for a in range(u.ndim)])
    return jnp.where(ghost, 2 * jnp.asarray(boundary_value, u.dtype) - sym, sym)


def _sl(x, start: int, stop: int, axis: int):
    return lax.slice_in_dim(x, start, stop, axis=axis)


def _close(grid: Grid, flux: Float[Array, "*faces"], axis: int) -> Float[Array, "*faces"]:
    """Zero the two boundary faces of a no-flux grid (exact no-flux, whatever the scheme)."""
    if grid.boundary != "noflux":
        return flux
    n = flux.shape[axis]
    idx = jnp.arange(n).reshape([-1 if a == axis else 1 for a in range(flux.ndim)])
    return jnp.where((idx == 0) | (idx == n - 1), jnp.zeros((), flux.dtype), flux)


def face_shape(grid: Grid, axis: int) -> tuple[int, ...]:
    """Shape of the face array normal to `axis`: `shape` with `shape[axis] + 1`."""
    return tuple(n + 1 if a == axis else n for a, n in enumerate(grid.shape))


def _coefficient(grid: Grid, coef: FaceCoefficient, axis: int, name: str):
    """A scalar, a length-ndim sequence of per-axis scalars, or of per-face arrays."""
    if isinstance(coef, list | tuple):
        if len(coef) != grid.ndim:
            raise SpatialError(f"{name} has {len(coef)} axes but the grid has {grid.ndim}")
        coef = coef[axis]
    c = jnp.asarray(coef)
    if c.ndim != 0 and c.shape != face_shape(grid, axis):
        raise SpatialError(
            f"{name} on axis {axis} has shape {c.shape}; expected a scalar or the face shape "
            f"{face_shape(grid, axis)} (mismatched grid shapes)"
        )
    return c


def face_average(grid: Grid, d_cell: Float[Array, "*shape"]) -> tuple[Float[Array, "*faces"], ...]:
    """Per-face coefficients from a per-cell one by the harmonic mean (the FV standard).

    Returns one array per axis, of shape `face_shape(grid, axis)`. Boundary faces use the edge cell.
    """
    check_field(grid, d_cell, name="cell coefficient")
    out = []
    for axis in range(grid.ndim):
        cfg = [(0, 0)] * grid.ndim
        cfg[axis] = (1, 1)
        p = jnp.pad(d_cell, cfg, mode="wrap" if grid.boundary == "periodic" else "edge")
        a, b = _sl(p, 0, -1, axis), _sl(p, 1, None, axis)
        s = a + b
        safe = jnp.where(s == 0, jnp.ones((), s.dtype), s)
        out.append(jnp.where(s == 0, jnp.zeros((), s.dtype), 2 * a * b / safe))
    return tuple(out)


def face_gradient(
    grid: Grid, c: Float[Array, "*shape"], axis: int, *, boundary_value: ArrayLike = 0.0
) -> Float[Array, "*faces"]:
    """`dc/dx_axis` on the faces normal to `axis` (two-point difference), face shape."""
    p = pad(grid, c, axis, 1, boundary_value)
    g = (_sl(p, 1, None, axis) - _sl(p, 0, -1, axis)) / grid.spacing[axis]
    if grid.boundary == "dirichlet":
        return g  # odd ghost: (u0 - (2g - u0)) / h = (u0 - g) / (h/2)
    return _close(grid, g, axis)


def diffusion_flux(
    grid: Grid,
    u: Float[Array, "*shape"],
    D: FaceCoefficient,
    axis: int,
    *,
    boundary_value: ArrayLike = 0.0,
) -> Float[Array, "*faces"]:
    """Fick flux `J = -D du/dx` on the faces normal to `axis`; `D` scalar or per face."""
    return -_coefficient(grid, D, axis, "diffusion") * face_gradient(
        grid, u, axis, boundary_value=boundary_value
    )


def _minmod(a, b):
    return 0.5 * (jnp.sign(a) + jnp.sign(b)) * jnp.minimum(jnp.abs(a), jnp.abs(b))


def advection_flux(
    grid: Grid,
    u: Float[Array, "*shape"],
    velocity: FaceCoefficient,
    axis: int,
    *,
    scheme: str = "upwind",
    boundary_value: ArrayLike = 0.0,
) -> Float[Array, "*faces"]:
    """Advective flux `J = v u` on the faces normal to `axis`, `u` taken from upwind.

    `scheme="upwind"`: first order, `u_face = u_upwind`. `scheme="limited"`: MUSCL
    reconstruction with the minmod limiter (second order in smooth regions, TVD; van Leer 1979),
    `u_face = u_i + (1/2) minmod(u_i - u_{i-1}, u_{i+1} - u_i)`.
    """
    v = _coefficient(grid, velocity, axis, "velocity")
    if scheme == "upwind":
        p = pad(grid, u, axis, 1, boundary_value)
        left, right = _sl(p, 0, -1, axis), _sl(p, 1, None, axis)
    elif scheme == "limited":
        p = pad(grid, u, axis, 2, boundary_value)
        d = _sl(p, 1, None, axis) - _sl(p, 0, -1, axis)  # differences, n + 3
        slope = _minmod(_sl(d, 0, -1, axis), _sl(d, 1, None, axis))  # padded cells 1..n+2
        n = u.shape[axis]
        left = _sl(p, 1, n + 2, axis) + 0.5 * _sl(slope, 0, n + 1, axis)
        right = _sl(p, 2, n + 3, axis) - 0.5 * _sl(slope, 1, n + 2, axis)
    else:
        raise SpatialError(f"unknown advection scheme {scheme!r}; use 'upwind' or 'limited'")
    flux = jnp.maximum(v, 0) * left + jnp.minimum(v, 0) * right
    return _close(grid, flux, axis)


def divergence(grid: Grid, fluxes: Sequence[Float[Array, "*faces"]]) -> Float[Array, "*shape"]:
    """`div J` per cell, `sum_axis (J[i+1/2] - J[i-1/2]) / h_axis`; one face array per axis."""
    if len(fluxes) != grid.ndim:
        raise SpatialError(f"divergence needs {grid.ndim} face arrays, got {len(fluxes)}")
    out = None
    for axis, f in enumerate(fluxes):
        if tuple(f.shape[-grid.ndim :]) != face_shape(grid, axis):
            raise SpatialError(
                f"flux on axis {axis} has shape {f.shape}, expected {face_shape(grid, axis)}"
            )
        term = _sl(f, 1, None, f.ndim - grid.ndim + axis) - _sl(f, 0, -1, f.ndim - grid.ndim + axis)
        term = term / grid.spacing[axis]
        out = term if out is None else out + term
    return out


def diffusion(
    grid: Grid, u: Float[Array, "*shape"], D: FaceCoefficient, *, boundary_value: ArrayLike = 0.0
) -> Float[Array, "*shape"]:
    """Diffusion tendency `du/dt = div(D grad u)`, shape `grid.shape`."""
    check_field(grid, u)
    return -divergence(
        grid,
        [diffusion_flux(grid, u, D, a, boundary_value=boundary_value) for a in range(grid.ndim)],
    )


def advection(
    grid: Grid,
    u: Float[Array, "*shape"],
    velocity: FaceCoefficient,
    *,
    scheme: str = "upwind",
    boundary_value: ArrayLike = 0.0,
) -> Float[Array, "*shape"]:
    """Advection tendency `du/dt = -div(v u)`; `velocity` is one entry per axis."""
    check_field(grid, u)
    fluxes = [
        advection_flux(grid, u, velocity, a, scheme=scheme, boundary_value=boundary_value)
        for a in range(grid.ndim)
    ]
    return -divergence(grid, fluxes)


def chemotaxis_velocity(
    grid: Grid, c: Float[Array, "*shape"], chi: ArrayLike, *, boundary_value: ArrayLike = 0.0
) -> tuple[Float[Array, "*faces"], ...]:
    """Chemotactic face velocities `v = chi grad c`, one face array per axis."""
    check_field(grid, c, name="attractant")
    return tuple(
        chi * face_gradient(grid, c, a, boundary_value=boundary_value) for a in range(grid.ndim)
    )


def chemotaxis(
    grid: Grid,
    rho: Float[Array, "*shape"],
    c: Float[Array, "*shape"],
    chi: ArrayLike,
    *,
    scheme: str = "upwind",
    boundary_value: ArrayLike = 0.0,
    attractant_boundary_value: ArrayLike = 0.0,
) -> Float[Array, "*shape"]:
    """Keller–Segel chemotaxis tendency `drho/dt = -div(chi rho grad c)`.

    The flux `chi rho grad c` is an advective flux of `rho` with the face velocity `chi grad c`
    (Keller & Segel 1970), upwinded so that `rho` stays non-negative under the CFL limit.
    """
    v = chemotaxis_velocity(grid, c, chi, boundary_value=attractant_boundary_value)
    return advection(grid, rho, list(v), scheme=scheme, boundary_value=boundary_value)


def stable_dt(
    grid: Grid,
    *,
    diffusion: FaceCoefficient | None = None,
    velocity: FaceCoefficient | None = None,
    scheme: str = "upwind",
) -> Float[Array, ""]:
    """Largest stable forward-Euler step for diffusion + advection on this grid.

    `dt <= 1 / (sum_a 2 max(D)/h_a^2 + c sum_a max|v|/h_a)` with `c = 1` (upwind) or `2` (limited).
    """
    rate = 0.0
    for a in range(grid.ndim):
        h = grid.spacing[a]
        if diffusion is not None:
            rate = rate + 2 * jnp.max(jnp.abs(_coefficient(grid, diffusion, a, "diffusion"))) / h**2
        if velocity is not None:
            c = 2.0 if scheme == "limited" else 1.0
            rate = rate + c * jnp.max(jnp.abs(_coefficient(grid, velocity, a, "velocity"))) / h
    if isinstance(rate, float):
        return jnp.asarray(jnp.inf)
    return 1.0 / rate
