"""`TauLeap`: explicit tau-leaping with the Cao–Gillespie–Petzold (2006) step size and
critical reactions, so counts never go negative."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._solution import RESULTS
from ._common import (
    AbstractStochasticMethod,
    float_params,
    propensity_fn,
    stoichiometry_rows,
    system_size,
)
from ._ssa import SSAState, ssa_step


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
    """Per-trajectory tau-leaping state: ``t``, counts ``x`` [S], next save ``index``,
    recorded ``out`` [T, S], ``attempt`` counter (keys), ``cap`` on τ after a rejected leap,
    counts of ``leaps``, ``ssa_steps`` and ``rejections``, and ``bad`` propensities."""

    t: jax.Array
    x: jax.Array
    index: jax.Array
    out: jax.Array
    attempt: jax.Array
    cap: jax.Array
    leaps: jax.Array
    ssa_steps: jax.Array
    rejections: jax.Array
    bad: jax.Array


def tau_init(counts0, ts) -> TauState:
    zero = jnp.asarray(0, dtype=jnp.int32)
    return TauState(
        t=ts[0],
        x=counts0,
        index=zero,
        out=jnp.zeros((ts.shape[0], counts0.shape[0]), dtype=jnp.int32),
        attempt=zero,
        cap=jnp.asarray(jnp.inf, dtype=ts.dtype),
        leaps=zero,
        ssa_steps=zero,
        rejections=zero,
        bad=jnp.asarray(False),
    )


def tau_active(state: TauState, num_times: int, max_steps: int) -> jax.Array:
    steps = state.leaps + state.ssa_steps + state.rejections
    return (state.index < num_times) & ~state.bad & (steps < max_steps)


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


def tau_leap(key, state: TauState, ts, propensities, tables, method):
    """One leap attempt of one trajectory. Returns ``(state, exact)``: ``exact`` when leaping
    would not pay (``τ' < ssa_factor / a₀``; the lane is left for `tau_exact`).

    Critical reactions (fewer than ``n_critical`` firings left) fire at most once per leap
    (``τ'' ~ Exp(Σ critical a_j)``, CGP 2006); a leap that still makes a count negative is
    retried with ``τ'/2``; leaps stop at save times.
    """
    rows, net = tables[0], tables[1]
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
    key_exp, key_pick, key_poisson = jax.random.split(key, 3)
    t_save = ts[jnp.minimum(state.index, num_times - 1)]
    exact = active & ~bad & (tau1 < method.ssa_factor / total)
    a_c = jnp.where(critical, a, 0.0)
    total_c = jnp.sum(a_c)
    tau2 = jax.random.exponential(key_exp, dtype=dtype) / total_c
    fire_critical = tau2 <= tau1
    tau = jnp.minimum(tau1, tau2)
    clipped = state.t + tau >= t_save
    tau = jnp.where(clipped, t_save - state.t, tau)
    fire_critical = fire_critical & ~clipped
    c_cum = jnp.cumsum(a_c)
    uc = jax.random.uniform(key_pick, dtype=dtype) * total_c
    rc = jnp.minimum(jnp.sum(c_cum <= uc, dtype=jnp.int32), rows.shape[0] - 1)
    k = jax.random.poisson(key_poisson, jnp.where(critical, 0.0, a) * tau, dtype=jnp.int32)
    k = k + jnp.where(fire_critical, jax.nn.one_hot(rc, rows.shape[0], dtype=jnp.int32), 0)
    leap_x = state.x + jnp.sum(k[:, None] * jnp.asarray(rows), axis=0, dtype=jnp.int32)
    leap_t = jnp.where(clipped, t_save, state.t + tau)
    reject = active & ~bad & ~exact & jnp.any(leap_x < 0)
    ok = active & ~bad & ~exact & ~reject
    reached = ok & (leap_t >= t_save)
    slot = jnp.where(reached, state.index, num_times)
    inf = jnp.asarray(jnp.inf, dtype=dtype)
    state = TauState(
        t=jnp.where(ok, leap_t, state.t),
        x=jnp.where(ok, leap_x, state.x),
        index=state.index + reached.astype(jnp.int32),
        out=state.out.at[slot].set(leap_x, mode="drop"),
        attempt=state.attempt + 1,
        cap=jnp.where(reject, tau1 / 2, jnp.where(ok, inf, state.cap)),
        leaps=state.leaps + ok.astype(jnp.int32),
        ssa_steps=state.ssa_steps,
        rejections=state.rejections + reject.astype(jnp.int32),
        bad=state.bad | (active & bad),
    )
    return state, exact


def tau_exact(key, state: TauState, exact, ts, propensities, rows, steps: int) -> TauState:
    """``steps`` exact direct-method steps of a trajectory flagged ``exact`` (else unchanged)."""
    uniforms = jax.random.uniform(key, (steps, 2), dtype=ts.dtype)
    ssa = SSAState(state.t, state.x, state.index, state.out, jnp.asarray(0, jnp.int32), state.bad)
    for k in range(steps):
        ssa = ssa_step(uniforms[k], ssa, ts, propensities, rows)
    return eqx.tree_at(
        lambda s: (s.t, s.x, s.index, s.out, s.ssa_steps, s.cap, s.bad),
        state,
        (
            jnp.where(exact, ssa.t, state.t),
            jnp.where(exact, ssa.x, state.x),
            jnp.where(exact, ssa.index, state.index),
            jnp.where(exact, ssa.out, state.out),
            state.ssa_steps + jnp.where(exact, ssa.events, 0),
            jnp.where(exact, jnp.inf, state.cap),
            state.bad | (exact & ssa.bad),
        ),
    )


def run_tau(method, model, ts, theta, omega, counts0, keys):
    propensities = propensity_fn(model, theta, omega)
    hor, need = highest_order_table(model)
    tables = (
        stoichiometry_rows(model),
        model.stoichiometry.astype(np.int32),
        model.reactant_matrix.sum(axis=1) > 0,
        hor.astype(np.int32),
        need.astype(np.int32),
    )
    num_times = ts.shape[0]

    rows = tables[0]

    def cond(state):
        return jnp.any(tau_active(state, num_times, method.max_steps))

    def body(state):
        attempt = state.attempt.astype(jnp.uint32)
        leap_keys, exact_keys = jnp.unstack(
            jax.vmap(jax.random.split)(jax.vmap(jax.random.fold_in)(keys, attempt)), axis=1
        )
        state, exact = jax.vmap(
            lambda key, lane: tau_leap(key, lane, ts, propensities, tables, method)
        )(leap_keys, state)
        # Exact steps only in iterations where some lane needs them (not per lane: under vmap
        # both branches of a per-lane choice would run).
        exact_steps = jax.vmap(
            lambda key, lane, flag: tau_exact(
                key, lane, flag, ts, propensities, rows, method.ssa_steps
            )
        )
        return jax.lax.cond(
            jnp.any(exact),
            lambda s: exact_steps(exact_keys, s, exact),
            lambda s: s,
            state,
        )

    state = jax.vmap(lambda _: tau_init(counts0, ts))(jnp.arange(keys.shape[0]))
    # The first save is the initial state.
    state = eqx.tree_at(
        lambda s: (s.out, s.index),
        state,
        (state.out.at[:, 0].set(counts0), jnp.ones_like(state.index)),
    )
    state = jax.lax.while_loop(cond, body, state)
    steps = state.leaps + state.ssa_steps + state.rejections
    maxed = (steps >= method.max_steps) & (state.index < num_times)

    def code(bad, maxed):
        result = RESULTS.where(maxed, RESULTS.max_steps_reached, RESULTS.successful)
        return RESULTS.where(bad, RESULTS.invalid_propensity, result)

    result = jax.vmap(code)(state.bad, maxed)
    stats = {"num_leaps": state.leaps, "num_ssa_steps": state.ssa_steps}
    stats["num_rejected_steps"] = state.rejections
    return state.out, result, stats


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
    a count negative is rejected and retried with half the step.
    Reference: Cao, Gillespie & Petzold, J. Chem. Phys. 124:044109 (2006).
    """

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
