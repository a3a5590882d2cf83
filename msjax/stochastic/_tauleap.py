"""`TauLeap`: explicit tau-leaping with the Cao–Gillespie–Petzold (2006) step size and
critical reactions, so counts never go negative.

SBML events (`msjax.stochastic._events`) execute as in `Gillespie`, with the counts frozen at
the start of a leap for time triggers: a leap ends at the first time a trigger goes false →
true (found by the same bisection), and after every leap the events whose trigger went false →
true over it fire (state triggers included) at its end; the exact steps are Gillespie's own
event kernel. Models without events compile none of it.
"""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._solution import RESULTS
from ._common import (
    AbstractStochasticMethod,
    float_params,
    has_events,
    propensity_fn,
    stoichiometry_rows,
    system_size,
)
from ._events import fire_fn, first_trigger_time, trigger_fn
from ._poisson import poisson_candidate
from ._random import threefry2x32, unit_float32, unit_float64
from ._ssa import Lanes, Start, advance_lane, as_result, chunk_start


def highest_order_table(model) -> tuple[np.ndarray, np.ndarray]:
    """Per species [S]: the highest order of a reaction consuming it (HOR), and how many of its
    molecules such a reaction needs (CGP 2006, eq. 27). Zero where the species is no reactant."""
    reactants = model.reactant_matrix  # [S, R]
    order = reactants.sum(axis=0)
    hor = np.zeros(reactants.shape[0], dtype=np.int64)
    need = np.zeros(reactants.shape[0], dtype=np.int64)
    for i in range(reactants.shape[0]):
        for j in np.flatnonzero(reactants[i] > 0):
            if order[j] > hor[i] or (order[j] == hor[i] and reactants[i, j] > need[i]):
                hor[i], need[i] = order[j], reactants[i, j]
    return hor, need


def g_factor(x, hor, need):
    """``g_i`` of CGP (2006): the bound on the relative change of a_j per relative change of x_i."""
    x1 = jnp.maximum(x - 1.0, 1.0)
    x2 = jnp.maximum(x - 2.0, 1.0)
    g = jnp.maximum(hor, 1).astype(x.dtype)
    g = jnp.where((hor == 2) & (need == 2), 2.0 + 1.0 / x1, g)
    g = jnp.where((hor == 3) & (need == 2), 1.5 * (2.0 + 1.0 / x1), g)
    g = jnp.where((hor == 3) & (need == 3), 3.0 + 1.0 / x1 + 2.0 / x2, g)
    return g


class TauState(eqx.Module):
    """Per-trajectory tau-leaping state: key words ``k0``, ``k1``; ``t``, counts ``x`` [S],
    event ``triggers`` [E] (E = 0 without events), next save ``index``, recorded ``out``
    [T, S]; ``step`` counter (leaps, exact rounds and rejections: the counter of their random
    numbers) and ``retry`` counter of the Poisson draws of the current leap, whose accepted
    values wait in ``pending`` [R] (``drawn`` [R]); the random numbers of the next attempt
    (`draw`): uniforms ``u_exp``, ``u_pick`` and Poisson words ``w_u``, ``w_v`` [R]; ``cap`` on
    τ after a rejected leap; counts of ``leaps``, ``ssa_steps`` and ``rejections``; the
    failure ``code`` (a `RESULTS` value; 0 while fine).

    The random numbers are drawn at the end of the previous iteration and carried: computed
    where they are used, XLA would fuse the hash into each consumer and recompute it."""

    k0: jax.Array
    k1: jax.Array
    t: jax.Array
    x: jax.Array
    triggers: jax.Array
    index: jax.Array
    out: jax.Array
    step: jax.Array
    retry: jax.Array
    pending: jax.Array
    drawn: jax.Array
    u_exp: jax.Array
    u_pick: jax.Array
    w_u: jax.Array
    w_v: jax.Array
    cap: jax.Array
    leaps: jax.Array
    ssa_steps: jax.Array
    rejections: jax.Array
    code: jax.Array


def tau_init(k0, k1, start: Start, ts, num_reactions: int) -> TauState:
    """The state of one trajectory with key words ``k0``, ``k1`` at ``ts[0]`` from the counts,
    triggers and code of ``start`` (after the events at ``ts[0]``); the first save is
    recorded."""
    zero = jnp.asarray(0, dtype=jnp.int32)
    counts0 = start.counts
    out = jnp.zeros((ts.shape[0], counts0.shape[0]), dtype=jnp.int32)
    return TauState(
        k0=k0,
        k1=k1,
        t=ts[0],
        x=counts0,
        triggers=start.triggers,
        index=jnp.asarray(1, dtype=jnp.int32),
        out=out.at[0].set(counts0),
        step=jnp.asarray(0, dtype=jnp.uint32),
        retry=jnp.asarray(0, dtype=jnp.uint32),
        pending=jnp.zeros((num_reactions,), dtype=jnp.int32),
        drawn=jnp.zeros((num_reactions,), dtype=bool),
        u_exp=jnp.zeros((), dtype=ts.dtype),
        u_pick=jnp.zeros((), dtype=ts.dtype),
        w_u=jnp.zeros((num_reactions,), dtype=jnp.uint32),
        w_v=jnp.zeros((num_reactions,), dtype=jnp.uint32),
        cap=jnp.asarray(jnp.inf, dtype=ts.dtype),
        leaps=zero,
        ssa_steps=zero,
        rejections=zero,
        code=start.code,
    )


def tau_steps(state: TauState) -> jax.Array:
    """Steps [] taken so far (leaps, exact steps, rejections): what ``max_steps`` bounds."""
    return state.leaps + state.ssa_steps + state.rejections


def tau_active(state: TauState, num_times: int, max_steps: int) -> jax.Array:
    return (state.index < num_times) & (state.code == 0) & (tau_steps(state) < max_steps)


def leap_size(x, a, critical, t, propensities, tables, eps):
    """Candidate leap ``τ'`` [] for counts ``x`` [S] (float), propensities ``a`` [R] and the
    ``critical`` mask [R]: the smaller of two bounds over non-critical reactions.

    - CGP (2006, eq. 33): ``min_i min(max(ε x_i/g_i, 1)/|μ_i|, max(ε x_i/g_i, 1)²/σ_i²)``,
      each propensity changes by at most a fraction ε within a leap;
    - relaxation: ``ε/‖J‖∞`` with ``J = N ∂a/∂x`` the Jacobian of the drift. Near a steady
      state ``μ ≈ 0`` and the CGP bound alone allows ``τ ≫ 1/γ``; explicit leaping then inflates
      the stationary variance by ``1/(1 − γτ/2)`` (birth–death, X ≈ 10^4: twice the sd), so
      the leap is also kept short against the relaxation time (variance error about ε/2).
    """
    _, net, reactant_species, hor, need = tables
    a_nc = jnp.where(critical, 0.0, a)
    net_f = net.astype(x.dtype)
    mu = net_f @ a_nc
    sigma2 = (net_f**2) @ a_nc
    bound = jnp.maximum(eps * x / g_factor(x, hor, need), 1.0)
    with np.errstate(divide="ignore"):
        tau_i = jnp.minimum(bound / jnp.abs(mu), bound**2 / sigma2)
    tau_i = jnp.where(reactant_species & (sigma2 > 0), tau_i, jnp.inf)
    jacobian = jax.jacfwd(lambda y: propensities(t, y))(x)  # [R, S]
    drift = net_f @ jnp.where(critical[:, None], 0.0, jacobian)  # [S, S]
    rate = jnp.max(jnp.sum(jnp.abs(drift), axis=1))
    return jnp.minimum(jnp.min(tau_i), eps / rate)


def uniform(state: TauState, stream, dtype):
    """Uniforms in [0, 1) of ``state``'s current step and ``stream`` (uint32 [...]; Threefry at
    ``(step, stream)``; float64: 52 bits, float32: 23 bits), shaped like ``stream``."""
    h0, h1 = threefry2x32(state.k0, state.k1, state.step, jnp.asarray(stream, dtype=jnp.uint32))
    return unit_float32(h0) if dtype == jnp.float32 else unit_float64(h0, h1)


def draw(state: TauState) -> TauState:
    """``state`` with the random numbers of its next leap attempt: ``u_exp``, ``u_pick`` from
    streams 0 and 1 of its step, and reaction ``j``'s Poisson words from stream
    ``2 + j + R·retry``."""
    num_reactions = state.w_u.shape[0]
    dtype = state.u_exp.dtype
    streams = 2 + jnp.arange(num_reactions, dtype=jnp.uint32) + num_reactions * state.retry
    w_u, w_v = threefry2x32(state.k0, state.k1, state.step, streams)
    return eqx.tree_at(
        lambda s: (s.u_exp, s.u_pick, s.w_u, s.w_v),
        state,
        (uniform(state, 0, dtype), uniform(state, 1, dtype), w_u, w_v),
    )


def leap_events(model, theta, omega):
    """``(triggers, fire)`` of a model with events (`trigger_fn`, `fire_fn`); None without."""
    if not has_events(model):
        return None
    return trigger_fn(model, theta, omega), fire_fn(model, theta, omega)


def tau_leap(state: TauState, ts, propensities, tables, events, method):
    """One leap attempt of one trajectory. Returns ``(state, exact)``: ``exact`` when leaping
    would not pay (``τ' < ssa_factor / a₀``; the lane is left for `tau_exact`).

    Critical reactions (fewer than ``n_critical`` firings left) fire at most once per leap
    (``τ'' ~ Exp(Σ critical a_j)``, CGP 2006); a leap that still makes a count negative is
    retried with ``τ'/2``; leaps stop at save times. Random numbers: step ``s`` draws τ'' and
    the critical reaction from streams 0 and 1, and reaction ``j``'s Poisson candidate at
    retry ``r`` from stream ``2 + j + R r``; a rejected candidate (`poisson_candidate`) is
    drawn again in the next iteration while the accepted ones wait (the state, so ``τ`` and
    the means ``a_j τ``, is unchanged meanwhile).

    With ``events`` (`leap_events`; None: no events) a leap also stops where a time trigger
    goes false → true with the counts frozen (`first_trigger_time`), and the events whose
    trigger went false → true fire at its end, before a save there is recorded.
    """
    rows, net = tables[0], tables[1]
    num_reactions = rows.shape[0]
    dtype = ts.dtype
    num_times = ts.shape[0]
    active = tau_active(state, num_times, method.max_steps)
    x = state.x.astype(dtype)
    a = propensities(state.t, x)
    total = jnp.sum(a)
    bad = jnp.any(a < 0) | ~jnp.isfinite(total)
    a = jnp.where(bad, 0.0, a)
    # Critical reactions: L_j = min_i floor(x_i / |ν_ij|) over consumed species.
    consumed = net < 0  # [S, R]
    firings = jnp.where(
        consumed, jnp.floor(x[:, None] / jnp.where(consumed, -net, 1).astype(dtype)), jnp.inf
    )
    critical = (jnp.min(firings, axis=0) < method.n_critical) & (a > 0)
    tau1 = jnp.minimum(
        leap_size(x, a, critical, state.t, propensities, tables, method.eps), state.cap
    )
    t_save = ts[jnp.minimum(state.index, num_times - 1)]
    exact = active & ~bad & (tau1 < method.ssa_factor / total)
    a_c = jnp.where(critical, a, 0.0)
    total_c = jnp.sum(a_c)
    tau2 = -jnp.log1p(-state.u_exp) / total_c
    fire_critical = tau2 <= tau1
    tau = jnp.minimum(tau1, tau2)
    clipped = state.t + tau >= t_save
    tau = jnp.where(clipped, t_save - state.t, tau)
    leap_t = jnp.where(clipped, t_save, state.t + tau)
    fire_critical = fire_critical & ~clipped
    if events is not None:  # static: models without events skip the trigger checks
        leap_t, timed, pre = first_trigger_time(state.t, leap_t, state.x, state.triggers, events[0])
        tau = jnp.where(timed, leap_t - state.t, tau)
        fire_critical = fire_critical & ~timed
    c_cum = jnp.cumsum(a_c)
    uc = state.u_pick * total_c
    rc = jnp.minimum(jnp.sum(c_cum <= uc, dtype=jnp.int32), num_reactions - 1)
    lam = jnp.where(critical, 0.0, a) * tau
    candidate, accepted = poisson_candidate(lam, state.w_u, state.w_v)
    k = jnp.where(state.drawn, state.pending, candidate)
    drawn = state.drawn | accepted
    complete = jnp.all(drawn)
    k = k + jnp.where(fire_critical, jax.nn.one_hot(rc, num_reactions, dtype=jnp.int32), 0)
    leap_x = state.x + jnp.sum(k[:, None] * jnp.asarray(rows), axis=0, dtype=jnp.int32)
    attempt = active & ~bad & ~exact
    waiting = attempt & ~complete
    done = attempt & complete
    reject = done & jnp.any(leap_x < 0)
    code = jnp.where(active & bad, RESULTS.invalid_propensity._value, state.code)
    new_x, triggers = leap_x, state.triggers
    if events is not None:
        new_x, triggers, bad_event = events[1](leap_t, leap_x, pre)
        failed = done & ~reject & bad_event
        code = jnp.where(failed, RESULTS.invalid_counts._value, code)
        done = done & ~failed
    ok = done & ~reject
    reached = ok & (leap_t >= t_save)
    slot = jnp.where(reached, state.index, num_times)
    inf = jnp.asarray(jnp.inf, dtype=dtype)
    state = eqx.tree_at(
        lambda s: (
            s.t,
            s.x,
            s.triggers,
            s.index,
            s.out,
            s.step,
            s.retry,
            s.pending,
            s.drawn,
            s.cap,
            s.leaps,
            s.rejections,
            s.code,
        ),
        state,
        (
            jnp.where(ok, leap_t, state.t),
            jnp.where(ok, new_x, state.x),
            jnp.where(ok, triggers, state.triggers),
            state.index + reached.astype(jnp.int32),
            state.out.at[slot].set(new_x, mode="drop"),
            state.step + done.astype(jnp.uint32),
            jnp.where(waiting, state.retry + 1, 0).astype(jnp.uint32),
            jnp.where(waiting, k, 0),
            drawn & waiting,
            jnp.where(reject, tau1 / 2, jnp.where(ok, inf, state.cap)),
            state.leaps + ok.astype(jnp.int32),
            state.rejections + reject.astype(jnp.int32),
            code,
        ),
    )
    return state, exact


def tau_exact(state: TauState, exact, ts, kernel, steps: int, max_steps: int) -> TauState:
    """``steps`` exact direct-method steps of a trajectory flagged ``exact`` (else unchanged)
    with `Gillespie`'s lane ``kernel`` (events included) and the uniforms of streams
    ``0 .. 2 steps − 1`` of its current step.

    Unrolled without events; with events (E > 0) a loop, so the kernel's bisection and
    cascade loops are compiled once rather than once per step."""
    uniforms = uniform(state, jnp.arange(2 * steps, dtype=jnp.uint32), ts.dtype).reshape(steps, 2)
    lane = Lanes(  # one lane of Gillespie's engine; ``events`` counts all steps against max_steps
        trajectory=jnp.asarray(0, dtype=jnp.int32),
        k0=state.k0,
        k1=state.k1,
        step=state.step,
        u=uniforms[0, 0],
        v=uniforms[0, 1],
        t=state.t,
        x=state.x,
        triggers=state.triggers,
        index=state.index,
        events=tau_steps(state),
        code=state.code,
    )

    def substep(carry, u):
        lane, out = carry
        lane = eqx.tree_at(lambda s: (s.u, s.v), lane, (u[0], u[1]))
        moved, slot = advance_lane(lane, ts, kernel, max_steps)
        return (moved, out.at[slot].set(lane.x, mode="drop")), None

    unroll = steps if state.triggers.shape[0] == 0 else 1
    (lane, out), _ = jax.lax.scan(substep, (lane, state.out), uniforms, unroll=unroll)
    return eqx.tree_at(
        lambda s: (s.t, s.x, s.triggers, s.index, s.out, s.step, s.ssa_steps, s.cap, s.code),
        state,
        (
            jnp.where(exact, lane.t, state.t),
            jnp.where(exact, lane.x, state.x),
            jnp.where(exact, lane.triggers, state.triggers),
            jnp.where(exact, lane.index, state.index),
            jnp.where(exact, out, state.out),
            state.step + exact.astype(jnp.uint32),
            state.ssa_steps + jnp.where(exact, lane.events - tau_steps(state), 0),
            jnp.where(exact, jnp.inf, state.cap),
            jnp.where(exact, lane.code, state.code),
        ),
    )


def run_tau(method, model, ts, theta, omega, counts0, keys):
    """All trajectories of keys [n] to the last save time. **Returns:** ``(ys [n, T, S] int32,
    result [n], stats {name: [n]})``."""
    propensities = propensity_fn(model, theta, omega)
    hor, need = highest_order_table(model)
    tables = (
        stoichiometry_rows(model),
        model.stoichiometry.astype(np.int32),
        model.reactant_matrix.sum(axis=1) > 0,
        hor.astype(np.int32),
        need.astype(np.int32),
    )
    start, kernel = chunk_start(model, ts, theta, omega, counts0, keys)
    events = leap_events(model, theta, omega)
    num_times = ts.shape[0]
    num_reactions = tables[0].shape[0]

    def cond(state):
        return jnp.any(tau_active(state, num_times, method.max_steps))

    def body(state):
        state, exact = jax.vmap(
            lambda lane: tau_leap(lane, ts, propensities, tables, events, method)
        )(state)
        # Exact steps only in iterations where some lane needs them (not per lane: under vmap
        # both branches of a per-lane choice would run).
        exact_steps = jax.vmap(
            lambda lane, flag: tau_exact(lane, flag, ts, kernel, method.ssa_steps, method.max_steps)
        )
        state = jax.lax.cond(jnp.any(exact), lambda s: exact_steps(s, exact), lambda s: s, state)
        return jax.vmap(draw)(state)

    state = jax.vmap(lambda k0, k1: draw(tau_init(k0, k1, start, ts, num_reactions)))(
        start.key0, start.key1
    )
    state = jax.lax.while_loop(cond, body, state)
    maxed = (tau_steps(state) >= method.max_steps) & (state.index < num_times)
    code = jnp.where(
        state.code != 0, state.code, jnp.where(maxed, RESULTS.max_steps_reached._value, 0)
    )
    stats = {"num_leaps": state.leaps, "num_ssa_steps": state.ssa_steps}
    stats["num_rejected_steps"] = state.rejections
    return state.out, jax.vmap(as_result)(code), stats


class TauLeap(AbstractStochasticMethod):
    """Explicit tau-leaping with Cao–Gillespie–Petzold step-size selection.

    **Arguments:**
    - ``eps``: error-control parameter ε (bound on the relative change of propensities in a leap).
    - ``n_critical``: a reaction with fewer than this many firings left before a reactant runs out
      is critical: simulated exactly, at most one firing per leap.
    - ``ssa_factor``: take an exact SSA step instead of a leap when ``τ' < ssa_factor / a₀``.
    - ``ssa_steps``: exact SSA steps per attempt in that regime (static).
    - ``omega``, ``max_steps`` (leaps + SSA steps + rejections per trajectory), ``float32``: as
      for `Gillespie`.

    Counts never go negative: critical reactions cannot overdraw, and a leap that would still make
    a count negative is rejected and retried with half the step. Firings are exact Poisson
    variates (`msjax.stochastic._poisson`: inversion below a mean of 10, Hörmann's PTRS above,
    a rejected candidate redrawn in the next iteration). Random numbers are Threefry-2x32 under
    the trajectory's key at its own step counters, so a trajectory does not depend on the
    chunk or device that runs it. SBML events (without delay) execute: a leap stops at the
    first time a time trigger goes false → true with the counts frozen (the bisection of
    `Gillespie`), and the events whose trigger went false → true over a leap fire at its end
    (priorities, persistence and cascades as in `Gillespie`; exact steps are Gillespie's).
    A state trigger is thus seen at the end of the leap that crossed it, up to τ late, with
    the counts of that end.
    Reference: Cao, Gillespie & Petzold, J. Chem. Phys. 124:044109 (2006).
    """

    executes_events: ClassVar[bool] = True
    fast_compile: ClassVar[bool] = True  # see `msjax._jit`
    eps: float = 0.03
    n_critical: int = 10
    ssa_factor: float = 10.0
    ssa_steps: int = eqx.field(static=True, default=10)
    omega: float = eqx.field(default=1.0, converter=system_size)
    max_steps: int = eqx.field(static=True, default=10_000_000)
    float32: bool = eqx.field(static=True, default=False)

    def trajectories(self, model, ts, params, counts0, keys):
        model, ts, theta, omega = float_params(self, model, ts, params)
        return run_tau(self, model, ts, theta, omega, counts0, keys)
