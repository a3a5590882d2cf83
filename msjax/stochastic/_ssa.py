"""`Gillespie`: the exact stochastic simulation algorithm (direct method), vectorised.

Each trajectory is a lane of a batch; a `lax.while_loop` advances all lanes by blocks of
``block`` events, with the uniform random numbers of a block drawn in bulk from the
trajectory's own key (``fold_in(trajectory_key, block_index)``), so a trajectory does not
depend on which lane, chunk or device it runs on.

Save times are handled exactly by memorylessness: when the next event would fall after the
next save time ``ts[j]``, the state is recorded at ``ts[j]``, time moves to ``ts[j]`` and the
drawn waiting time is discarded (a fresh exponential is drawn from ``ts[j]``). This is exact
for propensities that are constant between events (all of the direct method's assumptions).
"""

import equinox as eqx
import jax
import jax.numpy as jnp

from .._solution import RESULTS
from ._common import (
    AbstractStochasticMethod,
    float_params,
    propensity_fn,
    stoichiometry_rows,
)


class SSAState(eqx.Module):
    """Per-trajectory state of the direct method (fields are [B, ...] when batched).

    ``t`` time; ``x`` counts [S]; ``index`` next save index; ``out`` recorded counts [T, S];
    ``events`` reactions fired; ``bad`` a propensity was negative or NaN.
    """

    t: jax.Array
    x: jax.Array
    index: jax.Array
    out: jax.Array
    events: jax.Array
    bad: jax.Array


def ssa_init(counts0, ts) -> SSAState:
    """Initial state of one trajectory from counts [S] (int32) and save times [T]."""
    num_times = ts.shape[0]
    return SSAState(
        t=ts[0],
        x=counts0,
        index=jnp.asarray(0, dtype=jnp.int32),
        out=jnp.zeros((num_times, counts0.shape[0]), dtype=jnp.int32),
        events=jnp.asarray(0, dtype=jnp.int32),
        bad=jnp.asarray(False),
    )


def ssa_active(state: SSAState, num_times: int, max_steps: int) -> jax.Array:
    """Whether a trajectory still has save times to reach and may go on."""
    return (state.index < num_times) & ~state.bad & (state.events < max_steps)


def ssa_step(u, state: SSAState, ts, propensities, rows, max_steps: int) -> SSAState:
    """One direct-method step of one trajectory with uniforms ``u`` [2] in [0, 1).

    ``a = a(t, x)``; ``τ = −ln(1 − u₀)/a₀``; reaction ``r`` with ``Σ_{j<r} a_j ≤ u₁ a₀ <
    Σ_{j≤r} a_j``; or, if ``t + τ > ts[index]``, record ``x`` at ``ts[index]`` instead.
    """
    num_times = ts.shape[0]
    active = ssa_active(state, num_times, max_steps)
    a = propensities(state.t, state.x)
    cumulative = jnp.cumsum(a)
    total = cumulative[-1]
    bad = jnp.any(a < 0) | ~jnp.isfinite(total)
    tau = -jnp.log1p(-u[0]) / total
    t_next = state.t + tau
    t_save = ts[jnp.minimum(state.index, num_times - 1)]
    save = active & ~bad & (t_next > t_save)
    fire = active & ~bad & ~save
    r = jnp.sum(cumulative <= u[1] * total, dtype=jnp.int32)
    r = jnp.minimum(r, rows.shape[0] - 1)
    x_next = state.x + jnp.asarray(rows)[r]
    slot = jnp.where(save, state.index, num_times)  # out of range: dropped
    out = state.out.at[slot].set(state.x, mode="drop")
    return SSAState(
        t=jnp.where(fire, t_next, jnp.where(save, t_save, state.t)),
        x=jnp.where(fire, x_next, state.x),
        index=state.index + save.astype(jnp.int32),
        out=out,
        events=state.events + fire.astype(jnp.int32),
        bad=state.bad | (active & bad),
    )


def run_ssa(model, ts, theta, omega, counts0, keys, *, block: int, max_steps: int):
    """All lanes to the last save time. Returns ``(ys [B, T, S], result [B], events [B])``."""
    propensities = propensity_fn(model, theta, omega)
    rows = stoichiometry_rows(model)
    num_times = ts.shape[0]
    dtype = theta.dtype
    batch = keys.shape[0]

    def step(u, state):
        return ssa_step(u, state, ts, propensities, rows, max_steps)

    def run_block(key, block_index, state):
        uniforms = jax.random.uniform(jax.random.fold_in(key, block_index), (block, 2), dtype=dtype)
        for k in range(block):
            state = step(uniforms[k], state)
        return state

    def cond(carry):
        state, _ = carry
        return jnp.any(ssa_active(state, num_times, max_steps))

    def body(carry):
        state, block_index = carry
        state = jax.vmap(run_block, in_axes=(0, None, 0))(keys, block_index, state)
        return state, block_index + 1

    state = jax.vmap(lambda _: ssa_init(counts0, ts))(jnp.arange(batch))
    state, _ = jax.lax.while_loop(cond, body, (state, jnp.asarray(0, dtype=jnp.uint32)))
    success = RESULTS.successful
    reached = state.events >= max_steps

    def code(bad, maxed):
        result = RESULTS.where(maxed, RESULTS.max_steps_reached, success)
        return RESULTS.where(bad, RESULTS.invalid_propensity, result)

    result = jax.vmap(code)(state.bad, reached & (state.index < num_times))
    return state.out, result, state.events


class Gillespie(AbstractStochasticMethod):
    """Gillespie's exact stochastic simulation algorithm (direct method).

    **Arguments:**
    - ``omega``: system size Ω; initial counts are ``round(Ω V x0)`` (see `msjax.stochastic`).
    - ``block``: events per trajectory per loop iteration (static; larger amortises loop
      overhead, smaller wastes fewer steps at the end).
    - ``max_steps``: the most reaction events per trajectory (result ``max_steps_reached``).
    - ``float32``: propensities and time in float32 (for large GPU ensembles); counts stay int32.

    ``ys`` are counts [n, T, S] (int32). Exact in distribution: waiting time
    ``τ ~ Exp(a₀)``, reaction ``r`` with probability ``a_r/a₀``.
    Reference: Gillespie, J. Phys. Chem. 81:2340 (1977).

    **Example:**
    ``msjax.simulate(model, Gillespie(), ts, key=jax.random.PRNGKey(0), n=10_000)``
    """

    omega: float = 1.0
    block: int = eqx.field(static=True, default=8)
    max_steps: int = eqx.field(static=True, default=10_000_000)
    float32: bool = eqx.field(static=True, default=False)

    def trajectories(self, model, ts, params, counts0, keys):
        model, ts, theta, omega = float_params(self, model, ts, params)
        ys, result, events = run_ssa(
            model, ts, theta, omega, counts0, keys, block=self.block, max_steps=self.max_steps
        )
        return ys, result, {"num_events": events}
