"""A hybrid tissue: agents + fields + intracellular models, one `init`/`step` pair.

Each step is a Lie operator splitting of length `dt`:

1. intracellular models advance (RK4, vmapped over agents);
2. agents secrete into and take up from every field (`exchange`, mass-exact);
3. fields decay (`exp(-decay dt)`) and diffuse (backward Euler, or explicit Euler with the stable
   step checked);
4. agents move: random motility + chemotaxis up `grad fields[attractant]` + neighbour forces;
5. agents die and divide (Poisson events at rates from `TissueParams` or from rule functions);
6. ages advance.

Differentiability: everything but the event masks is a smooth (piecewise smooth, for the
cloud-in-cell weights) function of the parameters. With a fixed key the event masks are piecewise
constant in the parameters, so `jax.grad` gives the pathwise derivative of the realised trajectory
(the events held fixed), which agrees with finite differences whenever the perturbation flips no
event. For a smooth dependence of counts on rates use `info["expected_births"]` and
`info["expected_deaths"]` (sums of event probabilities, differentiable) as the surrogate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._errors import CapacityError
from .._types import Array, ArrayLike, Float, Key, Scalar
from ._agents import (
    Agents,
    Mechanics,
    advance_internal,
    bernoulli_events,
    divide,
    init_agents,
    kill,
    move,
    neighbour_forces,
)
from ._coupling import interpolate, interpolate_gradient, spread
from ._fields import check_dt, implicit_diffusion_step
from ._fv import diffusion, stable_dt
from ._grid import Grid, SpatialError, check_field
from ._util import check

Rule = Callable[[Agents, Float[Array, "C F"], "TissueParams"], Float[Array, " C"]]


class TissueParams(eqx.Module):
    """The traced numbers of a tissue (all differentiable).

    Fields (F = number of fields):
        diffusion, decay: `[F]` field diffusion coefficients and decay rates.
        secretion: `[F]` amount per agent per time secreted into each field.
        uptake: `[F]` uptake rate per agent (volume / time) from each field.
        motility: random motility coefficient `D` (`dx = ... + sqrt(2 D) dW`).
        chemotaxis: `chi`, drift `chi grad fields[attractant]`.
        division_rate, death_rate: constant Poisson rates (used unless rules are given).
        division_distance: parent–daughter separation.
        mechanics: `Mechanics` (used when `Tissue.forces`).
        internal: `[P]` parameters of the intracellular model (may be empty).
        boundary_value: `[F]` field values on the boundary of a Dirichlet grid (the mass ledger
            then excludes the boundary flux).
    """

    diffusion: Float[Array, " F"]
    decay: Float[Array, " F"]
    secretion: Float[Array, " F"]
    uptake: Float[Array, " F"]
    motility: Scalar
    chemotaxis: Scalar
    division_rate: Scalar
    death_rate: Scalar
    division_distance: Scalar
    mechanics: Mechanics
    internal: Float[Array, " P"]
    boundary_value: Float[Array, " F"]

    def __init__(
        self,
        *,
        diffusion: ArrayLike,
        decay: ArrayLike = 0.0,
        secretion: ArrayLike = 0.0,
        uptake: ArrayLike = 0.0,
        motility: ArrayLike = 0.0,
        chemotaxis: ArrayLike = 0.0,
        division_rate: ArrayLike = 0.0,
        death_rate: ArrayLike = 0.0,
        division_distance: ArrayLike = 0.5,
        mechanics: Mechanics | None = None,
        internal: ArrayLike | None = None,
        boundary_value: ArrayLike = 0.0,
    ):
        d = jnp.atleast_1d(jnp.asarray(diffusion, float))
        nf = d.shape[0]

        def per_field(v):
            return jnp.broadcast_to(jnp.asarray(v, float), (nf,))

        self.diffusion = d
        self.decay = per_field(decay)
        self.secretion = per_field(secretion)
        self.uptake = per_field(uptake)
        self.motility = jnp.asarray(motility, float)
        self.chemotaxis = jnp.asarray(chemotaxis, float)
        self.division_rate = jnp.asarray(division_rate, float)
        self.death_rate = jnp.asarray(death_rate, float)
        self.division_distance = jnp.asarray(division_distance, float)
        self.mechanics = Mechanics() if mechanics is None else mechanics
        self.internal = jnp.zeros((0,)) if internal is None else jnp.asarray(internal, float)
        self.boundary_value = per_field(boundary_value)


class TissueState(eqx.Module):
    """Agents, fields `[F, *shape]`, time, and a mass ledger per field.

    `created[f]` is the mass secreted into field `f`, `removed[f]` the mass taken up or decayed;
    on a no-flux or periodic grid `total(fields[f]) == initial + created - removed` to rounding.
    """

    agents: Agents
    fields: Float[Array, "F *shape"]
    t: Scalar
    created: Float[Array, " F"]
    removed: Float[Array, " F"]


class Tissue(eqx.Module):
    """The static structure of a hybrid tissue (grid, capacity, rules, intracellular model).

    Arguments:
        grid: the `Grid` shared by fields and agents.
        dt: the step length.
        capacity: maximum number of agents.
        attractant: index of the field agents follow by chemotaxis.
        forces: compute neighbour forces (cell list with `cutoff`, `max_per_cell`).
        division_rule, death_rule: optional `rule(agents, local [C, F], params) -> rate [C]`;
            `local` are the field values at the agents. Default: the constant rates in params.
        internal_model: optional `Model`-like object (`rhs`, `species_names`) advanced per agent.
        field_method: `"imex"` (backward-Euler diffusion) or `"explicit"` (checked forward Euler).

    Example:
        >>> tissue = Tissue(grid, dt=0.01, capacity=1000)
        >>> state = tissue.init(positions, fields)
        >>> state, info = tissue.step(key, state, params)
    """

    grid: Grid
    dt: float = eqx.field(static=True)
    capacity: int = eqx.field(static=True)
    attractant: int = eqx.field(static=True, default=0)
    forces: bool = eqx.field(static=True, default=False)
    cutoff: float = eqx.field(static=True, default=1.0)
    max_per_cell: int = eqx.field(static=True, default=16)
    division_rule: Rule | None = eqx.field(static=True, default=None)
    death_rule: Rule | None = eqx.field(static=True, default=None)
    internal_model: Any = None
    internal_substeps: int = eqx.field(static=True, default=1)
    field_method: str = eqx.field(static=True, default="imex")

    def init(
        self,
        positions: Float[ArrayLike, "N d"],
        fields: Float[ArrayLike, "F *shape"],
        *,
        internal_state: Float[ArrayLike, "N S"] | None = None,
        kind: ArrayLike | None = None,
    ) -> TissueState:
        """Initial state: agents in the first `N` slots, fields `[F, *shape]`."""
        fields = jnp.asarray(fields)
        check_field(self.grid, fields, leading=1, name="tissue fields")
        if self.internal_model is not None and internal_state is None:
            n = jnp.shape(positions)[0]
            init_state = jnp.asarray(self.internal_model.initial_state, fields.dtype)
            internal_state = jnp.broadcast_to(init_state, (n, init_state.shape[0]))
        agents = init_agents(
            self.grid, positions, capacity=self.capacity, state=internal_state, kind=kind
        )
        nf = fields.shape[0]
        return TissueState(
            agents=agents,
            fields=fields,
            t=jnp.zeros((), fields.dtype),
            created=jnp.zeros((nf,), fields.dtype),
            removed=jnp.zeros((nf,), fields.dtype),
        )

    def _rates(self, rule, default, agents, local, params):
        if rule is None:
            return jnp.broadcast_to(default, agents.age.shape)
        return rule(agents, local, params)

    def step(self, key: Key, state: TissueState, params: TissueParams):
        """One split step of length `dt`. Returns `(state, info)`; `info` holds `count`,
        `births`, `deaths`, `totals [F]`, `expected_births`, `expected_deaths`, `overflow`."""
        grid, dt = self.grid, self.dt
        k_move, k_div, k_die, k_place = jax.random.split(key, 4)
        agents, fields = state.agents, state.fields
        if fields.shape[0] != params.diffusion.shape[0]:
            raise SpatialError(
                f"{fields.shape[0]} fields but {params.diffusion.shape[0]} diffusion coefficients"
            )
        alive = agents.alive
        alive_f = alive.astype(fields.dtype)

        # 1. intracellular models
        if self.internal_model is not None:
            agents = advance_internal(
                agents,
                self.internal_model,
                params.internal,
                state.t,
                dt,
                substeps=self.internal_substeps,
            )

        # 2. secretion and uptake (mass-exact through spread)
        local = interpolate(grid, fields, agents.position)  # [C, F]
        secreted = alive_f[:, None] * params.secretion * dt  # [C, F]
        taken = alive_f[:, None] * params.uptake * local * dt
        fields = fields + spread(grid, agents.position, secreted - taken)
        created = state.created + jnp.sum(secreted, axis=0)
        removed = state.removed + jnp.sum(taken, axis=0)

        # 3. decay, then diffusion
        before = jnp.sum(fields, axis=tuple(range(1, fields.ndim))) * grid.cell_volume
        fields = fields * jnp.exp(-params.decay * dt).reshape((-1,) + (1,) * grid.ndim)
        after = jnp.sum(fields, axis=tuple(range(1, fields.ndim))) * grid.cell_volume
        removed = removed + (before - after)
        if self.field_method == "imex":
            fields = jax.vmap(
                lambda u, d, g: implicit_diffusion_step(grid, u, dt, d, boundary_value=g)
            )(fields, params.diffusion, params.boundary_value)
        elif self.field_method == "explicit":
            fields = check_dt(fields, dt, stable_dt(grid, diffusion=jnp.max(params.diffusion)))
            fields = fields + dt * jax.vmap(
                lambda u, d, g: diffusion(grid, u, d, boundary_value=g)
            )(fields, params.diffusion, params.boundary_value)
        else:
            raise SpatialError(f"unknown field_method {self.field_method!r}")

        # 4. motion
        drift = params.chemotaxis * interpolate_gradient(
            grid,
            fields[self.attractant],
            agents.position,
            boundary_value=params.boundary_value[self.attractant],
        )
        overflow = jnp.zeros((), bool)
        if self.forces:
            f, overflow = neighbour_forces(
                grid, agents, params.mechanics, cutoff=self.cutoff, max_per_cell=self.max_per_cell
            )
            f = check(
                f,
                overflow,
                f"more than max_per_cell={self.max_per_cell} agents in one cell-list bin",
                CapacityError,
            )
            drift = drift + f
        agents = move(grid, agents, dt, key=k_move, motility=params.motility, drift=drift)

        # 5. death, then division
        local = interpolate(grid, fields, agents.position)
        death = self._rates(self.death_rule, params.death_rate, agents, local, params)
        birth = self._rates(self.division_rule, params.division_rate, agents, local, params)
        zero = jnp.zeros((), fields.dtype)
        p_die = jnp.where(agents.alive, -jnp.expm1(-death * dt), zero)
        p_div = jnp.where(agents.alive, -jnp.expm1(-birth * dt), zero)
        dying = bernoulli_events(death, dt, key=k_die) & agents.alive
        agents = kill(agents, dying)
        dividing = bernoulli_events(birth, dt, key=k_div) & agents.alive
        agents = divide(grid, agents, dividing, key=k_place, distance=params.division_distance)

        # 6. ageing
        agents = eqx.tree_at(
            lambda a: a.age,
            agents,
            jnp.where(agents.alive, agents.age + dt, agents.age),
        )
        new = TissueState(agents, fields, state.t + dt, created, removed)
        info = dict(
            count=agents.count,
            births=agents.births,
            deaths=agents.deaths,
            totals=jnp.sum(fields, axis=tuple(range(1, fields.ndim))) * grid.cell_volume,
            expected_births=jnp.sum(p_div),
            expected_deaths=jnp.sum(p_die),
            overflow=overflow,
        )
        return new, info


@eqx.filter_jit
def run_tissue(
    tissue: Tissue, state: TissueState, params: TissueParams, steps: int, *, key: Key
) -> tuple[TissueState, dict]:
    """`steps` tissue steps under `lax.scan`; returns the final state and stacked `info`.

    The key for step `k` is `fold_in(key, k)`, so results do not depend on how a run is chunked.
    """
    start = jnp.round(state.t / tissue.dt).astype(jnp.int32)

    def body(s, k):
        return tissue.step(jax.random.fold_in(key, start + k), s, params)

    return jax.lax.scan(body, state, jnp.arange(steps, dtype=jnp.int32))
