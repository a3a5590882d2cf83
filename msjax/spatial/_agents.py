"""Agents as a struct of arrays with a static capacity and an `alive` mask.

Motion is an Euler–Maruyama SDE, `dx = (F(x) + chi grad c(x)) dt + sqrt(2 D) dW`; neighbour forces
come from a cell list (O(N) neighbour search, jax-md style); division and death keep exact
counters so that `alive.sum() == initial + births - deaths` at every step.
"""

from __future__ import annotations

import itertools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import CapacityError
from .._types import Array, ArrayLike, Float, Int, Key, Params, ScalarLike
from ._coupling import check_positions
from ._grid import Grid, SpatialError
from ._util import check


class Agents(eqx.Module):
    """Agents, struct of arrays over a fixed `capacity` C (dead slots are reused).

    Fields:
        position: `[C, d]` positions.
        alive: `[C]` booleans.
        kind: `[C]` int32 cell type.
        age: `[C]` time since birth (or division).
        state: `[C, S]` internal state (species of an intracellular `Model`; S may be 0).
        births, deaths: cumulative int32 counters (exact bookkeeping).
    """

    position: Float[Array, "C d"]
    alive: Array
    kind: Int[Array, " C"]
    age: Float[Array, " C"]
    state: Float[Array, "C S"]
    births: Int[Array, ""]
    deaths: Int[Array, ""]

    @property
    def capacity(self) -> int:
        return self.alive.shape[0]

    @property
    def count(self) -> Int[Array, ""]:
        """Number of alive agents (int32)."""
        return jnp.sum(self.alive, dtype=jnp.int32)


def init_agents(
    grid: Grid,
    positions: Float[ArrayLike, "N d"],
    *,
    capacity: int,
    state: Float[ArrayLike, "N S"] | None = None,
    kind: Int[ArrayLike, " N"] | None = None,
    age: Float[ArrayLike, " N"] | None = None,
) -> Agents:
    """Place `N <= capacity` alive agents; the remaining slots are empty.

    Raises `CapacityError` if `N > capacity` and `SpatialError` if an agent lies outside the grid.

    Example:
        >>> agents = init_agents(grid, jnp.zeros((10, 2)) + 0.5, capacity=100)
    """
    positions = jnp.asarray(positions)
    n = positions.shape[0]
    if n > capacity:
        raise CapacityError(f"{n} agents do not fit in capacity {capacity}")
    positions = check_positions(grid, positions)
    dtype = positions.dtype
    state = jnp.zeros((n, 0), dtype) if state is None else jnp.asarray(state, dtype)
    if state.ndim != 2 or state.shape[0] != n:
        raise SpatialError(f"state has shape {state.shape}; expected [{n}, S]")
    kind = jnp.zeros((n,), jnp.int32) if kind is None else jnp.asarray(kind, jnp.int32)
    age = jnp.zeros((n,), dtype) if age is None else jnp.asarray(age, dtype)
    extra = capacity - n

    def fill(x, value):
        return jnp.concatenate([x, jnp.full((extra, *x.shape[1:]), value, x.dtype)])

    centre = jnp.asarray([o + e / 2 for o, e in zip(grid.origin, grid.extent, strict=True)], dtype)
    return Agents(
        position=jnp.concatenate([positions, jnp.broadcast_to(centre, (extra, grid.ndim))]),
        alive=jnp.arange(capacity) < n,
        kind=fill(kind, 0),
        age=fill(age, 0),
        state=fill(state, 0),
        births=jnp.zeros((), jnp.int32),
        deaths=jnp.zeros((), jnp.int32),
    )


def confine(grid: Grid, x: Float[Array, "N d"]) -> Float[Array, "N d"]:
    """Map positions back into the domain: wrap (periodic) or reflect (no-flux, Dirichlet)."""
    lo = jnp.asarray(grid.origin, x.dtype)
    length = jnp.asarray(grid.extent, x.dtype)
    y = x - lo
    if grid.boundary == "periodic":
        return lo + jnp.mod(y, length)
    m = jnp.mod(y, 2 * length)
    return lo + length - jnp.abs(length - m)


def move(
    grid: Grid,
    agents: Agents,
    dt: ScalarLike,
    *,
    key: Key,
    motility: ScalarLike,
    drift: Float[Array, "C d"] | None = None,
) -> Agents:
    """One Euler–Maruyama step `x += drift dt + sqrt(2 motility dt) xi`, `xi ~ N(0, I)`.

    Positions are then confined (reflected or wrapped); dead agents do not move.
    """
    x = agents.position
    noise = jax.random.normal(key, x.shape, x.dtype)
    step = jnp.sqrt(2 * motility * dt) * noise
    if drift is not None:
        step = step + drift * dt
    new = confine(grid, x + step)
    return eqx.tree_at(lambda a: a.position, agents, jnp.where(agents.alive[:, None], new, x))


class Mechanics(eqx.Module):
    """Pairwise cell–cell forces (PhysiCell-style potentials), numbers traced.

    The force on `i` from `j` at distance `r` along the unit vector `e = (x_i - x_j)/r` is
    `(repulsion (1 - r/radius)_+^2 - adhesion (1 - r/adhesion_radius)_+^2) e`
    (Ghaffarizadeh et al. 2018). Both radii must not exceed the cell-list `cutoff`.
    """

    repulsion: ScalarLike = 1.0
    adhesion: ScalarLike = 0.0
    radius: ScalarLike = 1.0
    adhesion_radius: ScalarLike = 1.25

    def magnitude(self, r):
        rep = jnp.maximum(1 - r / self.radius, 0) ** 2
        adh = jnp.maximum(1 - r / self.adhesion_radius, 0) ** 2
        return self.repulsion * rep - self.adhesion * adh


def _cell_grid(grid: Grid, cutoff: float) -> tuple[int, ...]:
    cells = tuple(max(int(e // cutoff), 1) for e in grid.extent)
    if grid.boundary == "periodic" and min(cells) < 3:
        raise SpatialError(
            f"a periodic domain of extent {grid.extent} needs at least 3 cutoff-sized cells per "
            f"axis for the cell list (cutoff {cutoff})"
        )
    return cells


def neighbour_forces(
    grid: Grid,
    agents: Agents,
    mechanics: Mechanics,
    *,
    cutoff: float,
    max_per_cell: int = 16,
) -> tuple[Float[Array, "C d"], Array]:
    """Sum of pairwise `mechanics` forces on each agent via a cell list.

    The domain is binned into cells of side `>= cutoff` (static); each agent looks at the `3^d`
    cells around its own. Cost O(C * 3^d * max_per_cell). Forces are antisymmetric, so their sum
    over agents is zero (to rounding).

    Returns `(forces [C, d], overflow)` where `overflow` is True if a bin held more than
    `max_per_cell` agents (those beyond were ignored; raise `max_per_cell`).
    """
    d = grid.ndim
    cap = agents.capacity
    x = agents.position
    cells = _cell_grid(grid, cutoff)
    ncell = int(np.prod(cells))
    size = jnp.asarray([e / c for e, c in zip(grid.extent, cells, strict=True)], x.dtype)
    lo = jnp.asarray(grid.origin, x.dtype)
    cmax = np.asarray(cells, np.int32)
    coord = jnp.clip(jnp.floor((x - lo) / size).astype(jnp.int32), 0, cmax - 1)  # [C, d]
    strides = np.array([int(np.prod(cells[a + 1 :])) for a in range(d)], np.int32)
    cid = jnp.where(agents.alive, jnp.sum(coord * strides, axis=-1), ncell)
    order = jnp.argsort(cid)
    sorted_id = cid[order]
    counts = jnp.zeros((ncell + 1,), jnp.int32).at[cid].add(1)
    start = jnp.cumsum(counts) - counts
    rank = jnp.arange(cap, dtype=jnp.int32) - start[sorted_id]
    table = jnp.full((ncell + 1, max_per_cell), cap, jnp.int32)
    table = table.at[sorted_id, rank].set(order.astype(jnp.int32), mode="drop")
    table = table.at[ncell].set(cap)
    overflow = jnp.max(counts[:ncell]) > max_per_cell

    offsets = np.array(list(itertools.product((-1, 0, 1), repeat=d)), np.int32)  # [3^d, d]
    nb = coord[:, None, :] + offsets[None]
    if grid.boundary == "periodic":
        nb_id = jnp.sum(jnp.mod(nb, cmax) * strides, axis=-1)
    else:
        inside = jnp.all((nb >= 0) & (nb < cmax), axis=-1)
        nb_id = jnp.where(inside, jnp.sum(nb * strides, axis=-1), ncell)
    cand = table[nb_id].reshape(cap, -1)  # [C, 3^d M]
    xp = jnp.concatenate([x, jnp.zeros((1, d), x.dtype)])
    alive_p = jnp.concatenate([agents.alive, jnp.zeros((1,), bool)])
    disp = x[:, None, :] - xp[cand]  # x_i - x_j
    if grid.boundary == "periodic":
        length = jnp.asarray(grid.extent, x.dtype)
        disp = disp - length * jnp.round(disp / length)
    r2 = jnp.sum(disp**2, axis=-1)
    valid = (
        alive_p[cand]
        & agents.alive[:, None]
        & (cand != jnp.arange(cap, dtype=jnp.int32)[:, None])
        & (r2 < cutoff**2)
        & (r2 > 0)
    )
    safe_r2 = jnp.where(valid, r2, jnp.ones((), r2.dtype))
    r = jnp.sqrt(safe_r2)
    mag = jnp.where(valid, mechanics.magnitude(r) / r, jnp.zeros((), r.dtype))
    return jnp.sum(mag[..., None] * disp, axis=1), overflow


def bernoulli_events(rate: Float[ArrayLike, " C"], dt: ScalarLike, *, key: Key) -> Array:
    """Events of a Poisson process over `dt`: True with probability `1 - exp(-rate dt)`."""
    rate = jnp.asarray(rate)
    u = jax.random.uniform(key, rate.shape, rate.dtype)
    return u < -jnp.expm1(-rate * dt)


def divide(
    grid: Grid,
    agents: Agents,
    dividing: ArrayLike,
    *,
    key: Key,
    distance: ScalarLike,
    split: ScalarLike = 0.5,
) -> Agents:
    """Divide the alive agents where `dividing` is True into free slots.

    The parent and daughter are placed `distance/2` either side of the parent along a random
    direction; the daughter gets `split * state` and the parent keeps the rest (so internal mass
    is conserved); both restart at age 0 with the parent's kind. `births` grows by the number of
    divisions. Raises `CapacityError` (an `eqx.error_if` under jit) when there are more
    divisions than free slots.
    """
    dividing = jnp.asarray(dividing) & agents.alive
    cap = agents.capacity
    n_div = jnp.sum(dividing, dtype=jnp.int32)
    free = ~agents.alive
    n_free = jnp.sum(free, dtype=jnp.int32)
    dividing = check(
        dividing,
        n_div > n_free,
        f"agent capacity {cap} exceeded by divisions (raise capacity)",
        CapacityError,
    )
    free_slots = jnp.nonzero(free, size=cap, fill_value=cap)[0].astype(jnp.int32)
    rank = jnp.cumsum(dividing, dtype=jnp.int32) - 1
    target = jnp.where(dividing, free_slots[jnp.clip(rank, 0, cap - 1)], cap)

    x = agents.position
    u = jax.random.normal(key, x.shape, x.dtype)
    u = u / jnp.maximum(jnp.linalg.norm(u, axis=-1, keepdims=True), 1e-12)
    half = 0.5 * distance * u
    parent_x = jnp.where(dividing[:, None], confine(grid, x - half), x)
    child_x = confine(grid, x + half)
    child_state = split * agents.state
    parent_state = jnp.where(dividing[:, None], agents.state - child_state, agents.state)
    parent_age = jnp.where(dividing, jnp.zeros((), agents.age.dtype), agents.age)

    def put(arr, vals):
        return arr.at[target].set(vals, mode="drop")

    return Agents(
        position=put(parent_x, child_x),
        alive=put(agents.alive, jnp.ones((cap,), bool)),
        kind=put(agents.kind, agents.kind),
        age=put(parent_age, jnp.zeros_like(agents.age)),
        state=put(parent_state, child_state),
        births=agents.births + jnp.minimum(n_div, n_free),
        deaths=agents.deaths,
    )


def kill(agents: Agents, dying: ArrayLike) -> Agents:
    """Remove the alive agents where `dying` is True; `deaths` grows by their number."""
    dying = jnp.asarray(dying) & agents.alive
    return eqx.tree_at(
        lambda a: (a.alive, a.deaths),
        agents,
        (agents.alive & ~dying, agents.deaths + jnp.sum(dying, dtype=jnp.int32)),
    )


def _rk4(f, y, dt):
    k1 = f(y)
    k2 = f(y + 0.5 * dt * k1)
    k3 = f(y + 0.5 * dt * k2)
    k4 = f(y + dt * k3)
    return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def advance_internal(
    agents: Agents,
    model: Any,
    theta: Float[Array, "... P"],
    t: ScalarLike,
    dt: ScalarLike,
    *,
    substeps: int = 1,
) -> Agents:
    """Advance every alive agent's internal state by `dt` with `substeps` RK4 steps (vmapped).

    `model` has `rhs(t, x[S], theta[P]) -> [S]`; `theta` is `[P]` (shared) or `[C, P]` (per agent,
    e.g. with local field concentrations substituted in).
    """
    theta = jnp.asarray(theta)
    h = dt / substeps

    def one(x, th):
        def body(i, y):
            return _rk4(lambda z: model.rhs(t + i * h, z, th), y, h)

        return jax.lax.fori_loop(0, substeps, body, x)

    in_th = 0 if theta.ndim == 2 else None
    new = jax.vmap(one, in_axes=(0, in_th))(agents.state, theta)
    new = jnp.where(agents.alive[:, None], new, agents.state)
    return eqx.tree_at(lambda a: a.state, agents, new)


def tau_leap_internal(
    agents: Agents,
    model: Any,
    theta: Params,
    dt: ScalarLike,
    *,
    key: Key,
    volume: ScalarLike = 1.0,
) -> Agents:
    """One tau-leap of stochastic internal states (copy numbers), vmapped over agents.

    `model.propensities(n[S], theta[P], volume) -> [R]` and `model.stoichiometry` (`[S, R]`, the
    net change `N = products - reactants`) give `n += N k`, `k ~ Poisson(a dt)`; counts are
    clipped at zero (Gillespie 2001; keep `dt` small enough that clipping is rare).
    """
    stoich = jnp.asarray(np.asarray(model.stoichiometry), agents.state.dtype)
    keys = jax.random.split(key, agents.capacity)

    def one(n, k):
        a = model.propensities(n, theta, volume)
        fired = jax.random.poisson(k, a * dt).astype(n.dtype)
        return jnp.maximum(n + stoich @ fired, 0)

    new = jax.vmap(one)(agents.state, keys)
    new = jnp.where(agents.alive[:, None], new, agents.state)
    return eqx.tree_at(lambda a: a.state, agents, new)
