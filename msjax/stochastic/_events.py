"""SBML events (without delay) in the stochastic methods.

A model with events (a `RuleModel`) provides ``atoms``, ``event_roots``, ``atom_values``,
``event_state`` and ``event_assign`` (see `msjax.deterministic._ode`); events execute as in the
ODE solver (`_execute`: priorities, persistence, cascades at one instant). The stochastic state
is counts ``n``; triggers and assignments read and write amounts ``n / Ω``.

Between two reactions the counts are constant, so a trigger that reads only the state can
become true only right after a reaction: triggers are evaluated after every state change and
the events whose trigger went false → true fire. A trigger that reads time can become true
between reactions: the clock stops at the earliest time ``s`` where a trigger goes false →
true with the counts frozen, found by bisection on the trigger's truth value in
``(t, t + τ]``; the events fire at ``s`` and a fresh waiting time is drawn from ``s`` (exact for
the direct method by memorylessness). **Assumption:** between two reactions a trigger flips at
most once (monotone in time, e.g. ``t ≥ 25``); a trigger that goes true and back to false
within one waiting time is not seen. `TauLeap` uses the same pieces with the counts frozen at
the start of a leap: the leap ends at the first time trigger, and the events fire at its end.
"""

import jax
import jax.numpy as jnp
import numpy as np

from ..deterministic._ode import _execute
from ._common import COUNT_RTOL

_MAX_BISECTIONS = 200  # float64 resolves any bracket to adjacent floats well within this


def _atoms(model, t, y, theta):
    """Truth values [A] of the triggers' relations at ``(t, y)``."""
    if not model.atoms:
        return jnp.zeros((0,), dtype=bool)
    return model.atom_values(model.event_roots(t, y, theta))


def trigger_fn(model, theta, omega):
    """``triggers(t, counts) -> bool [E]``: the events' trigger values at time ``t`` and counts
    [S] (int), read as amounts ``counts / Ω``."""

    def triggers(t, counts):
        y = counts.astype(theta.dtype) / omega
        return model.event_state(t, y, theta, _atoms(model, t, y, theta))[0]

    return triggers


def fire_fn(model, theta, omega):
    """``fire(t, counts, before) -> (counts, triggers [E], bad)``: execute, at time ``t``, the
    events whose trigger is true at ``(t, counts)`` and was false just before (``before`` [E]).

    Assigned amounts become counts ``Ω y``; ``bad`` when one is negative or not an integer
    (within `COUNT_RTOL`), and then the counts must not be used.
    """

    def fire(t, counts, before):
        y = counts.astype(theta.dtype) / omega
        atoms = _atoms(model, t, y, theta)
        now, _, values = model.event_state(t, y, theta, atoms)
        y, _, triggers = _execute(model, theta, t, y, atoms, now, ~before & now, values)
        scaled = omega * y
        rounded = jnp.round(scaled)
        tolerance = COUNT_RTOL * jnp.maximum(1.0, jnp.abs(scaled))
        bad = jnp.any((jnp.abs(scaled - rounded) > tolerance) | (rounded < 0))
        bad = bad | jnp.any(rounded >= np.iinfo(np.int32).max)
        return jnp.where(bad, counts, rounded.astype(counts.dtype)), triggers, bad

    return fire


def first_trigger_time(t0, t1, counts, before, triggers):
    """Where a step from ``t0`` to at most ``t1`` with ``counts`` [S] frozen ends: the earliest
    time in ``(t0, t1]`` at which a trigger false at ``t0`` (``before`` [E]) is true.

    Bisection on the truth value down to adjacent floats. **Returns:** ``(s, flips, pre)``: the
    end of the final bracket (where the trigger is true; ``t1`` when none flips), whether one
    flips, and the trigger values [E] just before a state change at ``s`` (``before`` when one
    flips, else those at ``(t1, counts)``), the ``before`` of `fire_fn` there.
    """
    at_end = triggers(t1, counts)
    need = jnp.any(~before & at_end)

    def cond(carry):
        lo, hi, k = carry
        mid = lo + (hi - lo) / 2
        return need & (mid > lo) & (mid < hi) & (k < _MAX_BISECTIONS)

    def body(carry):
        lo, hi, k = carry
        mid = lo + (hi - lo) / 2
        hit = jnp.any(~before & triggers(mid, counts))
        return jnp.where(hit, lo, mid), jnp.where(hit, mid, hi), k + 1

    _, hi, _ = jax.lax.while_loop(cond, body, (t0, t1, jnp.asarray(0)))
    return hi, need, jnp.where(need, before, at_end)


def initial_events(model, theta, omega, t0, counts0):
    """Counts [S] after the events that fire at ``t0`` (triggers that are true at ``t0`` and
    whose ``initial_value`` is false), the trigger values [E] then, and whether an assignment
    was bad."""
    before = jnp.asarray([e.initial_value for e in model.events])
    return fire_fn(model, theta, omega)(t0, counts0, before)
