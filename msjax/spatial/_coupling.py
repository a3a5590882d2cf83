"""Agent <-> field coupling: cloud-in-cell `spread` and `interpolate`, an exact adjoint pair.

Each agent at `x` has `2^d` cloud-in-cell weights `w_ac >= 0` on the cells around it, with
`sum_c w_ac = 1` (Hockney & Eastwood 1988). Then

    interpolate(f)_a = sum_c w_ac f_c,      spread(q)_c = sum_a w_ac q_a / V_cell,

so `<spread(q), f>_grid = sum_c V spread(q)_c f_c = sum_a q_a interpolate(f)_a`
`= <q, interpolate(f)>` exactly, and `total(spread(q)) = sum(q)`: spreading conserves mass. Near a
non-periodic boundary the out-of-range corner is folded onto the edge cell (weights still sum to
one); periodic grids wrap.
"""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np

from .._types import Array, ArrayLike, Float, Int
from ._fv import pad
from ._grid import Grid, SpatialError, check_field
from ._util import check


def _corners(ndim: int) -> np.ndarray:
    return np.array(list(itertools.product((0, 1), repeat=ndim)), dtype=np.int32)  # [2^d, d]


def check_positions(grid: Grid, positions, mask=None):
    """Return `positions`; raise `SpatialError` if an (alive) agent lies outside the domain."""
    if positions.ndim != 2 or positions.shape[-1] != grid.ndim:
        raise SpatialError(
            f"positions have shape {positions.shape}; expected [N, {grid.ndim}] for this grid"
        )
    lo = jnp.asarray(grid.origin, positions.dtype)
    hi = jnp.asarray(grid.upper, positions.dtype)
    outside = jnp.any((positions < lo) | (positions > hi), axis=-1)
    if mask is not None:
        outside = outside & mask
    return check(positions, outside, "agents outside the domain of the grid", SpatialError)


def cic_weights(
    grid: Grid, positions: Float[Array, "N d"]
) -> tuple[Int[Array, "N K"], Float[Array, "N K"]]:
    """Cloud-in-cell stencil: flat cell indices and weights, `K = 2^d`, rows sum to one."""
    h = jnp.asarray(grid.spacing, positions.dtype)
    s = (positions - jnp.asarray(grid.origin, positions.dtype)) / h - 0.5
    base = jnp.floor(s)
    frac = s - base
    base = base.astype(jnp.int32)
    corners = _corners(grid.ndim)
    idx = base[:, None, :] + corners[None]  # [N, K, d]
    n = np.asarray(grid.shape, dtype=np.int32)
    idx = jnp.mod(idx, n) if grid.boundary == "periodic" else jnp.clip(idx, 0, n - 1)
    w = jnp.prod(jnp.where(corners[None] == 1, frac[:, None, :], 1 - frac[:, None, :]), axis=-1)
    strides = np.array([int(np.prod(grid.shape[a + 1 :])) for a in range(grid.ndim)], np.int32)
    flat = jnp.sum(idx * strides, axis=-1)
    return flat, w


def _masked(q, mask):
    if mask is None:
        return q
    m = mask.reshape(mask.shape + (1,) * (q.ndim - 1))
    return jnp.where(m, q, jnp.zeros((), q.dtype))


def spread(
    grid: Grid,
    positions: Float[Array, "N d"],
    amounts: Float[ArrayLike, "N *channels"],
    *,
    mask: ArrayLike | None = None,
) -> Float[Array, "*channels *shape"]:
    """Deposit agent amounts on the grid as a density (amount / cell volume).

    Arguments:
        positions: agent positions `[N, d]`.
        amounts: per-agent amounts `[N]`, or `[N, K]` for `K` channels.
        mask: optional `[N]` booleans; masked-out (dead) agents deposit nothing.

    Returns `[*shape]` (or `[K, *shape]`) with `grid.total(out) == sum(amounts)` to rounding.
    """
    amounts = jnp.asarray(amounts)
    flat, w = cic_weights(grid, positions)
    q = _masked(amounts, mask)
    contrib = w.reshape(w.shape + (1,) * (q.ndim - 1)) * q[:, None]  # [N, K, *ch]
    out = jnp.zeros((grid.size, *q.shape[1:]), jnp.result_type(w, q))
    out = out.at[flat.reshape(-1)].add(contrib.reshape(-1, *q.shape[1:]))
    out = out / grid.cell_volume
    return jnp.moveaxis(out, 0, -1).reshape(*q.shape[1:], *grid.shape)


def interpolate(
    grid: Grid,
    field: Float[Array, "*channels *shape"],
    positions: Float[Array, "N d"],
    *,
    mask: ArrayLike | None = None,
) -> Float[Array, "N *channels"]:
    """Field values at agent positions with the cloud-in-cell weights of `spread`.

    `field` is `[*shape]` or `[K, *shape]`; returns `[N]` or `[N, K]` (zero where `mask` is off).
    """
    lead = field.ndim - grid.ndim
    check_field(grid, field, leading=lead)
    flat, w = cic_weights(grid, positions)
    f = field.reshape(*field.shape[:lead], grid.size)
    vals = jnp.take(f, flat, axis=-1)  # [*ch, N, K]
    out = jnp.sum(vals * w, axis=-1)  # [*ch, N]
    out = jnp.moveaxis(out, -1, 0) if lead else out
    return _masked(out, None if mask is None else jnp.asarray(mask))


def cell_gradient(
    grid: Grid, field: Float[Array, "*shape"], *, boundary_value: ArrayLike = 0.0
) -> Float[Array, "d *shape"]:
    """Cell-centred gradient by central differences (ghost cells from the boundary)."""
    check_field(grid, field)
    out = []
    for a in range(grid.ndim):
        p = pad(grid, field, a, 1, boundary_value)
        n = grid.shape[a]
        hi = jnp.take(p, jnp.arange(2, n + 2), axis=a)
        lo = jnp.take(p, jnp.arange(0, n), axis=a)
        out.append((hi - lo) / (2 * grid.spacing[a]))
    return jnp.stack(out)


def interpolate_gradient(
    grid: Grid,
    field: Float[Array, "*shape"],
    positions: Float[Array, "N d"],
    *,
    boundary_value: ArrayLike = 0.0,
) -> Float[Array, "N d"]:
    """Gradient of a field at agent positions (central differences, then cloud-in-cell)."""
    return interpolate(grid, cell_gradient(grid, field, boundary_value=boundary_value), positions)


def exchange(
    grid: Grid,
    field: Float[Array, "*shape"],
    positions: Float[Array, "N d"],
    *,
    secretion: Float[ArrayLike, " N"],
    uptake_rate: Float[ArrayLike, " N"],
    dt: ArrayLike,
    mask: ArrayLike | None = None,
) -> tuple[Float[Array, "*shape"], Float[Array, " N"]]:
    """Secretion and uptake between agents and a field, conserving the total exactly.

    Each agent secretes `secretion_a dt` (amount) and takes up `uptake_rate_a dt f(x_a)` (rate in
    volume / time). The net `q_a = (secretion_a - uptake_rate_a f(x_a)) dt` is spread onto the
    field, so `total(new) - total(field) = sum(q)`, and `-q` is returned as the agents' gain:
    field + agent pools are conserved to rounding. (Large `uptake_rate dt / V_cell` can drive the
    field negative; keep it below one.)

    Returns `(new_field [*shape], gained [N])`.
    """
    check_field(grid, field)
    c = interpolate(grid, field, positions)
    q = (jnp.asarray(secretion) - jnp.asarray(uptake_rate) * c) * dt
    if mask is not None:
        q = jnp.where(jnp.asarray(mask), q, jnp.zeros((), q.dtype))
    return field + spread(grid, positions, q), -q
