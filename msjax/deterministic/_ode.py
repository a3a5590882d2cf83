"""`ODE`: deterministic simulation of ``dx/dt = N v(x, θ)`` with diffrax."""

from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx

from .._method import AbstractMethod
from .._solution import RESULTS, Solution
from ._adjoint import StepAdjoint, solve_with_step_adjoint
from ._rosenbrock import Rodas4
from ._terms import solve_from_first_time, step_size_controller, vector_field


class ODE(AbstractMethod):
    """Deterministic integration with diffrax.

    **Arguments:**
    - ``solver``: any diffrax solver; default `Rodas4` (stiff-safe Rosenbrock, one LU per
      step). For non-stiff models ``diffrax.Tsit5()`` is cheaper per step.
    - ``rtol``, ``atol``: tolerances of the adaptive step-size controller.
    - ``max_steps``: the most steps before giving up (result ``max_steps_reached``).
    - ``adjoint``: how gradients flow: ``diffrax.RecursiveCheckpointAdjoint()`` (reverse mode,
      default), `StepAdjoint` (reverse mode through the stored steps: compiles in about
      two thirds of the time; holds ``max_steps × S`` numbers per solve),
      ``diffrax.ForwardMode()`` (cheaper for few parameters, `jax.jacfwd`), or
      ``diffrax.BacksolveAdjoint()``.
    - ``dt0``: first step; None picks it automatically.
    - ``max_events``: the most event instants (models with events) before giving up
      (result ``max_steps_reached``).

    Where an SBML model's formulas switch at instants set by time and parameters (a
    ``piecewise`` of ``time``: a dose at a time, a pulse), steps end at each instant
    (`RuleModel.switch_times`) instead of crossing it: the error estimate of a step does not
    see a switch inside it, and a step can skip a short pulse entirely.

    **Example:** ``msjax.simulate(model, msjax.ODE(rtol=1e-8), jnp.linspace(0, 10, 101))``
    """

    fast_compile: ClassVar[bool] = True
    solver: diffrax.AbstractSolver = Rodas4()
    rtol: float = 1e-6
    atol: float = 1e-9
    max_steps: int = eqx.field(static=True, default=100_000)
    adjoint: diffrax.AbstractAdjoint | StepAdjoint = diffrax.RecursiveCheckpointAdjoint()
    dt0: float | None = None
    max_events: int = eqx.field(static=True, default=100_000)

    @classmethod
    def nonstiff(cls, **kwargs) -> "ODE":
        """An explicit Runge–Kutta (Tsit5) integrator for non-stiff models."""
        return cls(solver=diffrax.Tsit5(), **kwargs)

    def solve(self, model, ts, params, y0, *, key=None, n=None) -> Solution:
        del key, n
        if getattr(model, "events", ()):
            return _solve_with_events(self, model, ts, params, y0)
        if isinstance(self.adjoint, StepAdjoint):
            saved_ts, ys, result, stats = solve_with_step_adjoint(self, model, ts, params, y0)
            return _solution(saved_ts, ys, result, stats, model)
        saveat = diffrax.SaveAt(ts=ts)
        solution, stats = solve_from_first_time(self, model, ts, params, y0, saveat, self.adjoint)
        return _solution(solution.ts, solution.ys, RESULTS.promote(solution.result), stats, model)


def _solution(ts, ys, result, stats, model) -> Solution:
    """A `Solution`; a successful solve with a non-finite state is flagged as such."""
    finite = jnp.all(jnp.isfinite(ys))
    result = RESULTS.where(
        (result == RESULTS.successful) & ~finite, RESULTS.nonfinite_state, result
    )
    return Solution(ts, ys, model.species_names, stats, result)


# --- events ----------------------------------------------------------------------------------
#
# A model with events (e.g. a `RuleModel` from SBML) provides: ``atoms`` (relations ``g op 0``),
# ``event_roots(t, y, θ) -> g [A]``, ``atom_values(g) -> bool [A]``,
# ``event_state(t, y, θ, atoms) -> (triggers [E], priorities [E], values [E, K])``,
# ``event_assign(e, values [K], y) -> y`` and ``events`` (each with ``persistent``,
# ``use_values_from_trigger_time``, ``initial_value``).
#
# The solve runs segment by segment. The relations' root functions are watched for the first
# crossing that would flip a tracked truth value (one diffrax event on max_i s_i g_i, located
# by Newton on the dense output); at a crossing, triggers that went false → true fire, and the
# events execute one at a time in priority order, re-evaluating triggers after each
# (persistence, cascades). Reverse-mode gradients do not pass the event loop (a while loop):
# use diffrax.ForwardMode() or jax.jacfwd for models with events.

_MAX_CASCADE = 100


def _first_flip(t, y, args, **kwargs):
    """``max_i (s_i g_i − c_i)``: crosses zero upwards when the first relation flips
    (s_i = ±1). ``c_i ≥ 0`` is the rounding residue of a relation that flipped at the start
    of the segment (``s_i g_i`` a hair above zero): without it that relation would hold the
    maximum above zero and hide the next crossing."""
    model, theta, sign, residue = args
    return jnp.max(sign * model.event_roots(t, y, theta) - residue)


def _update_atoms(model, theta, t, y_old, y_new, atoms):
    """Truth values of the relations after ``y_old`` → ``y_new`` at time ``t``.

    Relations whose root function did not change keep their tracked value (they may sit
    exactly at a crossing); the others are re-evaluated.
    """
    g_old = model.event_roots(t, y_old, theta)
    g_new = model.event_roots(t, y_new, theta)
    return jnp.where(g_old == g_new, atoms, model.atom_values(g_new))


def _execute(model, theta, t, y, atoms, triggers, fired, values):
    """Execute fired events at time ``t`` in priority order; returns ``(y, atoms, triggers)``."""
    persistent = jnp.asarray([e.persistent for e in model.events])
    from_trigger = jnp.asarray([e.use_values_from_trigger_time for e in model.events])

    def cond(carry):
        _, _, _, pending, _, count = carry
        return jnp.any(pending) & (count < _MAX_CASCADE)

    def body(carry):
        y, atoms, triggers, pending, values, count = carry
        _, priorities, now = model.event_state(t, y, theta, atoms)
        chosen = jnp.argmax(jnp.where(pending, priorities, -jnp.inf))
        chosen = jnp.where(pending[chosen], chosen, jnp.argmax(pending))
        row = jnp.where(from_trigger[chosen], values[chosen], now[chosen])
        y_new = model.event_assign(chosen, row, y)
        pending = pending.at[chosen].set(False)
        atoms = _update_atoms(model, theta, t, y, y_new, atoms)
        new_triggers, _, new_values = model.event_state(t, y_new, theta, atoms)
        pending = pending & (persistent | new_triggers)
        newly = ~triggers & new_triggers
        values = jnp.where(newly[:, None], new_values, values)
        return y_new, atoms, new_triggers, pending | newly, values, count + 1

    carry = (y, atoms, triggers, fired, values, jnp.asarray(0))
    y, atoms, triggers, _, _, _ = jax.lax.while_loop(cond, body, carry)
    return y, atoms, triggers


def _solve_with_events(method, model, ts, theta, y0) -> Solution:
    t0, t_end = ts[0], ts[-1]
    n_atoms = len(model.atoms)
    g0 = model.event_roots(t0, y0, theta) if n_atoms else jnp.zeros((0,), dtype=y0.dtype)
    atoms = model.atom_values(g0) if n_atoms else jnp.zeros((0,), dtype=bool)
    triggers, _, values = model.event_state(t0, y0, theta, atoms)
    before = jnp.asarray([e.initial_value for e in model.events])
    y, atoms, triggers = _execute(model, theta, t0, y0, atoms, triggers, before < triggers, values)

    event = (
        diffrax.Event(_first_flip, optx.Newton(rtol=1e-12, atol=1e-12), direction=True)
        if n_atoms
        else None
    )
    term = diffrax.ODETerm(vector_field)
    controller = step_size_controller(method, model, theta)
    scale = jnp.maximum(jnp.abs(t_end), 1.0)

    def cond(carry):
        t, _, _, _, _, result, count, _, _ = carry
        return (t < t_end) & (result == RESULTS.successful) & (count < method.max_events)

    def body(carry):
        t, y, atoms, triggers, ys, result, count, steps, cut = carry
        sign = jnp.where(atoms, -1.0, 1.0).astype(y.dtype)
        h_start = sign * model.event_roots(t, y, theta) if n_atoms else sign
        residue = jnp.maximum(h_start, 0.0)
        solution = diffrax.diffeqsolve(
            term,
            method.solver,
            t0=t,
            t1=t_end,
            dt0=method.dt0,
            y0=y,
            args=(model, theta, sign, residue),
            saveat=diffrax.SaveAt(
                subs=[diffrax.SubSaveAt(ts=jnp.clip(ts, t, t_end)), diffrax.SubSaveAt(t1=True)]
            ),
            stepsize_controller=controller,
            max_steps=method.max_steps,
            event=event,
            throw=False,
        )
        t_stop, y_stop = solution.ts[1][0], solution.ys[1][0]
        happened = solution.result == diffrax.RESULTS.event_occurred
        ok = (solution.result == diffrax.RESULTS.successful) | happened
        # Save points before the event belong to this segment; one at the event (within
        # rounding) already shows the state after it, and is saved by the next segment
        # (which starts from the cut, not from t_stop, so no point falls in between).
        last = jnp.where(happened, t_stop - 1e-11 * scale, jnp.inf)
        keep = (ts >= cut) & (ts < last)
        ys = jnp.where(keep[:, None], solution.ys[0], ys)
        if n_atoms:
            # At the root max_i s_i g_i = 0: the relations at (or within rounding of) zero
            # flipped; several flip together when they cross at the same time.
            h_stop = sign * model.event_roots(t_stop, y_stop, theta)
            near = h_stop > -1e-9 * (1.0 + jnp.abs(h_start))
            flip = happened & near & (h_start <= 0)
            atoms = jnp.where(flip, ~atoms, atoms)
        new_triggers, _, values = model.event_state(t_stop, y_stop, theta, atoms)
        fired = happened & ~triggers & new_triggers
        y_next, atoms, new_triggers = _execute(
            model, theta, t_stop, y_stop, atoms, new_triggers, fired, values
        )
        result = RESULTS.where(ok, RESULTS.successful, RESULTS.promote(solution.result))
        steps = steps + solution.stats["num_steps"]
        return (t_stop, y_next, atoms, new_triggers, ys, result, count + 1, steps, last)

    ys = jnp.full((ts.shape[0], y0.shape[0]), jnp.nan, dtype=y0.dtype)
    ys = jnp.where((ts <= t0)[:, None], y[None, :], ys)
    ok = RESULTS.where(jnp.asarray(True), RESULTS.successful, RESULTS.successful)
    carry = (t0, y, atoms, triggers, ys, ok, jnp.asarray(0), jnp.asarray(0), t0)
    t, y, _, _, ys, result, count, steps, _ = jax.lax.while_loop(cond, body, carry)
    ys = jnp.where((ts >= t)[:, None] & jnp.isnan(ys), y[None, :], ys)
    result = RESULTS.where(count >= method.max_events, RESULTS.max_steps_reached, result)
    finite = jnp.all(jnp.isfinite(ys))
    result = RESULTS.where(
        (result == RESULTS.successful) & ~finite, RESULTS.nonfinite_state, result
    )
    stats = {"num_steps": steps, "num_accepted_steps": steps, "num_rejected_steps": 0 * steps}
    return Solution(ts, ys, model.species_names, stats, result)
