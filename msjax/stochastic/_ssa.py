"""`Gillespie`: the exact stochastic simulation algorithm (direct method), vectorised.

A fixed number of *lanes* advance in lock step, one reaction event (or one save) per lane per
loop iteration; a lane whose trajectory has reached the last save time is refilled at once with
the next trajectory of the chunk, so lanes never idle behind a slow trajectory while work is
left. Step ``s`` of trajectory ``i`` draws its two uniforms from Threefry-2x32 under the
trajectory's own key ``fold_in(key, i)`` at counter ``(s, 0)``, ``(s, 1)``: a trajectory does not
depend on which lane, chunk or device runs it, nor on the number of lanes.

Save times are handled exactly by memorylessness: when the next event would fall after the
next save time ``ts[j]``, the state is recorded at ``ts[j]``, time moves to ``ts[j]`` and the
drawn waiting time is discarded (a fresh exponential is drawn from ``ts[j]``). This is exact
for propensities that are constant between events (all of the direct method's assumptions).
Models with SBML events run a second lane kernel (`event_kernel`), compiled only for them.
"""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .._solution import RESULTS
from ._common import (
    AbstractStochasticMethod,
    float_params,
    has_events,
    propensity_fn,
    stoichiometry_rows,
    system_size,
)
from ._events import fire_fn, first_trigger_time, initial_events, trigger_fn
from ._random import key_words, uniform_pair

_ONE_HOT_REACTIONS = 16  # up to this many reactions, x += N[r] as a one-hot sum (vectorises)


def reaction_change(r, rows):
    """Change ``rows[r]`` [S] (int32) of reaction ``r`` (int32 []) for a table ``rows`` [R, S]."""
    if rows.shape[0] > _ONE_HOT_REACTIONS:
        return jnp.asarray(rows)[r]
    return sum(jnp.where(r == q, jnp.asarray(rows[q]), 0) for q in range(rows.shape[0]))


def direct_step(u, v, t, x, index, ts, propensities, rows):
    """One direct-method step of one trajectory at time ``t``, counts ``x`` [S] (int32), next
    save index ``index``, with independent uniforms ``u``, ``v`` in [0, 1).

    ``a = a(t, x)``; ``τ = −ln(1 − u)/a₀``; reaction ``r`` with ``Σ_{j<r} a_j ≤ v a₀ <
    Σ_{j≤r} a_j``; or, if ``t + τ > ts[index]``, a save at ``ts[index]`` instead.

    **Returns:** ``(t_new, x_new, save, bad)``: the time and counts after firing (or, when
    ``save``, after moving to ``ts[index]`` with ``x`` unchanged); ``bad`` when a propensity is
    negative or the total is not finite (then nothing may be used).
    """
    a = propensities(t, x)
    partial = [a[0]]
    for r in range(1, a.shape[0]):
        partial.append(partial[-1] + a[r])
    total = partial[-1]
    bad = jnp.any(a < 0) | ~jnp.isfinite(total)
    t_next = t - jnp.log1p(-u) / total
    t_save = ts[jnp.minimum(index, ts.shape[0] - 1)]
    save = t_next > t_save
    target = v * total
    r = sum((p <= target).astype(jnp.int32) for p in partial[:-1])
    x_fired = x + reaction_change(jnp.asarray(r, dtype=jnp.int32), rows)
    t_new = jnp.where(save, t_save, t_next)
    x_new = jnp.where(save, x, x_fired)
    return t_new, x_new, save, bad


def plain_kernel(propensities, rows):
    """The direct method as a lane kernel (models without events): ``kernel(u, v, t, x,
    triggers, index, ts) -> (t, x, triggers, save, code)``, ``code`` a `RESULTS` value (0: ok)."""
    bad_code = RESULTS.invalid_propensity._value

    def kernel(u, v, t, x, triggers, index, ts):
        t, x, save, bad = direct_step(u, v, t, x, index, ts, propensities, rows)
        return t, x, triggers, save, jnp.where(bad, bad_code, 0)

    return kernel


def event_kernel(propensities, rows, triggers, fire):
    """The direct method with events (see `msjax.stochastic._events`) as a lane kernel.

    A step ends at the first of: a time trigger going false → true (the clock stops there,
    the events fire, nothing else happens), the next save, the next reaction (after which the
    events whose trigger went false → true fire). ``triggers`` [E] are the values after the
    step; ``save`` only for a save.
    """
    bad_codes = (RESULTS.invalid_propensity._value, RESULTS.invalid_counts._value)

    def kernel(u, v, t, x, before, index, ts):
        t_new, x_new, save, bad = direct_step(u, v, t, x, index, ts, propensities, rows)
        t_stop, timed, pre = first_trigger_time(t, t_new, x, before, triggers)  # x frozen
        x, after, bad_event = fire(t_stop, jnp.where(timed, x, x_new), pre)
        code = jnp.where(bad, bad_codes[0], jnp.where(bad_event, bad_codes[1], 0))
        return t_stop, x, after, save & ~timed, code

    return kernel


class Lanes(eqx.Module):
    """The lanes of the lock-step engine (fields [W, ...]): ``trajectory`` index (``n``: idle),
    its key words ``k0``, ``k1``, ``step`` counter, the step's uniforms ``u``, ``v``, ``t``,
    counts ``x`` [W, S], event ``triggers`` [W, E] (E = 0 without events), next save
    ``index``, ``events`` counted (reactions, and clock stops at time triggers) and the
    failure ``code`` (a `RESULTS` value; 0 while fine).

    The uniforms are drawn at the end of the previous iteration and carried, so XLA cannot fuse
    the hash into the [W, S]-shaped update of the counts (it would hash once per species)."""

    trajectory: jax.Array
    k0: jax.Array
    k1: jax.Array
    step: jax.Array
    u: jax.Array
    v: jax.Array
    t: jax.Array
    x: jax.Array
    triggers: jax.Array
    index: jax.Array
    events: jax.Array
    code: jax.Array


class Start(eqx.Module):
    """What every trajectory of a chunk starts from: key words ``key0``, ``key1`` [n], counts
    ``counts`` [S] and trigger values ``triggers`` [E] at ``ts[0]`` (after the events that fire
    there), and the failure ``code`` of those events (0: fine)."""

    key0: jax.Array
    key1: jax.Array
    counts: jax.Array
    triggers: jax.Array
    code: jax.Array


def start_lanes(trajectory, start: Start, ts) -> Lanes:
    """Lanes [W] starting trajectories ``trajectory`` [W] (int32; ``≥ n`` gives an idle lane)
    of a chunk from ``start`` at ``ts[0]``."""
    n = start.key0.shape[0]
    live = trajectory < n
    safe = jnp.minimum(trajectory, n - 1)
    width = trajectory.shape[0]
    counts0 = start.counts
    return Lanes(
        trajectory=jnp.where(live, trajectory, n),
        k0=start.key0[safe],
        k1=start.key1[safe],
        step=jnp.zeros((width,), dtype=jnp.uint32),
        u=jnp.zeros((width,), dtype=ts.dtype),
        v=jnp.zeros((width,), dtype=ts.dtype),
        t=jnp.full((width,), ts[0]),
        x=jnp.broadcast_to(counts0, (width, counts0.shape[0])),
        triggers=jnp.broadcast_to(start.triggers, (width, start.triggers.shape[0])),
        index=jnp.where(live, 0, ts.shape[0]).astype(jnp.int32),
        events=jnp.zeros((width,), dtype=jnp.int32),
        code=jnp.full((width,), start.code, dtype=jnp.int32),
    )


def lanes_active(lanes: Lanes, num_times: int, max_steps: int) -> jax.Array:
    """Whether each lane [W] still has save times to reach and may go on."""
    return (lanes.index < num_times) & (lanes.code == 0) & (lanes.events < max_steps)


def draw_uniforms(lanes: Lanes) -> Lanes:
    """Lanes with ``u``, ``v`` [W] of their current step (Threefry at ``(step, 0/1)``)."""
    u, v = uniform_pair(lanes.k0, lanes.k1, lanes.step, lanes.t.dtype)
    return eqx.tree_at(lambda s: (s.u, s.v), lanes, (u, v))


def advance_lane(lane: Lanes, ts, kernel, max_steps: int):
    """One step of one lane (also `TauLeap`'s exact steps). Returns the lane and the save slot
    of its old counts (``T``: none)."""
    num_times = ts.shape[0]
    active = lanes_active(lane, num_times, max_steps)
    t, x, triggers, save, code = kernel(
        lane.u, lane.v, lane.t, lane.x, lane.triggers, lane.index, ts
    )
    ok = active & (code == 0)
    slot = jnp.where(ok & save, lane.index, num_times)
    lane = eqx.tree_at(
        lambda s: (s.step, s.t, s.x, s.triggers, s.index, s.events, s.code),
        lane,
        (
            lane.step + active.astype(jnp.uint32),
            jnp.where(ok, t, lane.t),
            jnp.where(ok, x, lane.x),
            jnp.where(ok, triggers, lane.triggers),
            lane.index + (ok & save).astype(jnp.int32),
            lane.events + (ok & ~save).astype(jnp.int32),
            jnp.where(active, code, lane.code),
        ),
    )
    return lane, slot


_FAILURES = (RESULTS.invalid_propensity, RESULTS.invalid_counts, RESULTS.max_steps_reached)


def as_result(code) -> RESULTS:
    """The `RESULTS` of a failure code [] (0: successful)."""
    result = RESULTS.successful
    for failure in _FAILURES:
        result = RESULTS.where(code == failure._value, failure, result)
    return result


def chunk_start(model, ts, theta, omega, counts0, keys) -> tuple[Start, object]:
    """The `Start` of a chunk with keys [n] and the lane kernel of the model."""
    propensities = propensity_fn(model, theta, omega)
    rows = stoichiometry_rows(model)
    key0, key1 = key_words(keys)
    if not has_events(model):
        start = Start(key0, key1, counts0, jnp.zeros((0,), bool), jnp.asarray(0, jnp.int32))
        return start, plain_kernel(propensities, rows)
    counts, triggers, bad = initial_events(model, theta, omega, ts[0], counts0)
    code = jnp.where(bad, RESULTS.invalid_counts._value, 0).astype(jnp.int32)
    kernel = event_kernel(
        propensities, rows, trigger_fn(model, theta, omega), fire_fn(model, theta, omega)
    )
    return Start(key0, key1, counts, triggers, code), kernel


def run_ssa(model, ts, theta, omega, counts0, keys, *, lanes: int, max_steps: int):
    """All ``n`` trajectories of keys [n] to the last save time on ``min(lanes, n)`` lanes.

    **Returns:** ``(ys [n, T, S] int32, result [n], events [n])``.
    """
    start, kernel = chunk_start(model, ts, theta, omega, counts0, keys)
    num_times, num_species = ts.shape[0], counts0.shape[0]
    n = keys.shape[0]
    width = min(lanes, n)
    step = jax.vmap(lambda lane: advance_lane(lane, ts, kernel, max_steps))
    maxed_code = RESULTS.max_steps_reached._value

    def body(carry):
        lanes, out, events, codes, next_trajectory = carry
        before = lanes
        lanes, slot = step(lanes)
        out = out.at[before.trajectory, slot].set(before.x, mode="drop")
        done = ~lanes_active(lanes, num_times, max_steps)
        finished = jnp.where(done, lanes.trajectory, n)  # idle lanes write out of range
        code = jnp.where(
            lanes.code != 0, lanes.code, jnp.where(lanes.index < num_times, maxed_code, 0)
        )
        events = events.at[finished].set(lanes.events, mode="drop")
        codes = codes.at[finished].set(code, mode="drop")
        rank = jnp.cumsum(done, dtype=jnp.int32) - 1
        fresh = start_lanes(next_trajectory + rank, start, ts)
        lanes = jax.tree.map(
            lambda new, old: jnp.where(done.reshape((-1,) + (1,) * (old.ndim - 1)), new, old),
            fresh,
            lanes,
        )
        next_trajectory = jnp.minimum(next_trajectory + jnp.sum(done, dtype=jnp.int32), n)
        return draw_uniforms(lanes), out, events, codes, next_trajectory

    def cond(carry):
        return jnp.any(carry[0].trajectory < n)

    carry = (
        draw_uniforms(start_lanes(jnp.arange(width, dtype=jnp.int32), start, ts)),
        jnp.zeros((n, num_times, num_species), dtype=jnp.int32),
        jnp.zeros((n,), dtype=jnp.int32),
        jnp.zeros((n,), dtype=jnp.int32),
        jnp.asarray(width, dtype=jnp.int32),
    )
    _, out, events, codes, _ = jax.lax.while_loop(cond, body, carry)
    return out, jax.vmap(as_result)(codes), events


def default_lanes(lanes: int | None) -> int:
    """``lanes``, or 512 on CPU and 2^17 on an accelerator when None."""
    if lanes is not None:
        return int(lanes)
    return 512 if jax.default_backend() == "cpu" else 1 << 17


class Gillespie(AbstractStochasticMethod):
    """Gillespie's exact stochastic simulation algorithm (direct method).

    **Arguments:**
    - ``omega``: system size Ω; initial counts are ``round(Ω V x0)`` (see `msjax.stochastic`).
    - ``lanes``: trajectories advanced in lock step (static); a lane that finishes takes the
      next trajectory, so results never depend on it. More lanes amortise the loop overhead;
      fewer leave less idle time at the end of a chunk. Default (None): 512 on CPU (measured
      best on 2 cores), 2^17 on accelerators (enough threads to fill a GPU).
    - ``max_steps``: the most reaction events per trajectory (result ``max_steps_reached``).
    - ``float32``: propensities and time in float32 (for large GPU ensembles); counts stay int32.

    ``ys`` are counts [n, T, S] (int32). Exact in distribution: waiting time
    ``τ ~ Exp(a₀)``, reaction ``r`` with probability ``a_r/a₀`` (float64: 52-bit uniforms).
    SBML events (without delay) execute: state triggers after each reaction, time triggers at
    the exact time found by bisection with the counts frozen (`msjax.stochastic._events`; a
    trigger is assumed to flip at most once between two reactions). ``num_events`` counts
    reactions and, with events, the clock stops at time triggers.
    Reference: Gillespie, J. Phys. Chem. 81:2340 (1977).

    **Example:**
    ``msjax.simulate(model, Gillespie(), ts, key=jax.random.PRNGKey(0), n=10_000)``
    """

    executes_events: ClassVar[bool] = True
    omega: float = eqx.field(default=1.0, converter=system_size)
    lanes: int | None = eqx.field(static=True, default=None)
    max_steps: int = eqx.field(static=True, default=10_000_000)
    float32: bool = eqx.field(static=True, default=False)

    def trajectories(self, model, ts, params, counts0, keys):
        model, ts, theta, omega = float_params(self, model, ts, params)
        ys, result, events = run_ssa(
            model,
            ts,
            theta,
            omega,
            counts0,
            keys,
            lanes=default_lanes(self.lanes),
            max_steps=self.max_steps,
        )
        return ys, result, {"num_events": events}
