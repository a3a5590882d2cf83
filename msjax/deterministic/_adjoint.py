"""`StepAdjoint`: reverse-mode derivatives of an adaptive solve through its stored steps."""

import diffrax
import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp

from .._solution import RESULTS
from ._terms import solve_from_first_time, vector_field


class StepAdjoint(eqx.Module):
    """Reverse mode through the accepted steps of a solve, kept from the forward pass.

    The forward pass saves every accepted step's start time and state (one ``[max_steps,
    S]`` buffer). The backward pass walks the steps from last to first, each time taking
    the vector–Jacobian product of one solver step, and of the dense output at the save
    times inside it, with the step's times held fixed: the derivative of the discretised
    solution with the step sizes as constants (as a discrete adjoint; the steps' own
    dependence on the parameters through the error control is left out, as in AMICI's
    and CVODES' sensitivities). A step that ends at a switch of the model's formulas
    (`RuleModel.switch_times`) moves with it, so a switch at a parameter time (a dose at
    ``ton``) has its derivative.

    The compiled program holds one solver step and its derivative, instead of diffrax's
    checkpointed loop (the step, its recomputation and its derivative, inside nested
    loops; `diffrax.RecursiveCheckpointAdjoint`). Memory: ``max_steps × S`` numbers per
    solve.
    """


def solve_with_step_adjoint(method, model, ts, theta, y0):
    """``(ts [T], ys [T, S], result, stats)`` of ``method``'s solve from ``y0`` [S] at
    ``ts`` [T], differentiable in ``theta`` and ``y0`` by `StepAdjoint`."""
    return _solve((theta, y0), method, model, ts)


def _forward(theta, y0, method, model, ts, keep_steps):
    saves = [diffrax.SubSaveAt(ts=ts)] + ([diffrax.SubSaveAt(steps=True)] if keep_steps else [])
    saveat, adjoint = diffrax.SaveAt(subs=saves), diffrax.RecursiveCheckpointAdjoint()
    solution, stats = solve_from_first_time(method, model, ts, theta, y0, saveat, adjoint)
    steps = (solution.ts[1], solution.ys[1], stats) if keep_steps else None
    return (solution.ts[0], solution.ys[0], RESULTS.promote(solution.result), stats), steps


def _switch_of_each_step(next_starts, switches):
    """Which switch [M] each accepted step stopped at (−1: none), from where the next one
    began ``next_starts`` [M] (what diffrax saves of a step): a step stops just before a
    switch of the model's formulas (`diffrax.ClipStepSizeController`), and the next begins
    just after it."""
    after = next_starts[:, None] == eqxi.nextafter(switches)[None, :]
    return jnp.where(jnp.any(after, axis=1), jnp.argmax(after, axis=1), -1)


@eqx.filter_custom_vjp
def _solve(primal, method, model, ts):
    theta, y0 = primal
    return _forward(theta, y0, method, model, ts, False)[0]


@_solve.def_fwd
def _solve_fwd(perturbed, primal, method, model, ts):
    del perturbed
    theta, y0 = primal
    return _forward(theta, y0, method, model, ts, True)


@_solve.def_bwd
def _solve_bwd(steps, cotangents, perturbed, primal, method, model, ts):
    del perturbed
    theta, y0 = primal
    ct_ys = cotangents[1]
    next_starts, step_ys, stats = steps
    has_switches = bool(getattr(model, "switches", ()))
    # Without switches, one that never comes (+inf) keeps the loop free of branches.
    switches = model.switch_times(theta) if has_switches else jnp.full((1,), jnp.inf, ts.dtype)
    stopped_at = _switch_of_each_step(next_starts, jax.lax.stop_gradient(switches))
    term = diffrax.ODETerm(vector_field)
    interpolation = method.solver.interpolation_cls

    def local(y_a, th, t_a, t_b, t_next):
        y_b, _, dense, _, _ = method.solver.step(term, t_a, t_b, y_a, (model, th), None, False)
        inside = interpolation(t0=t_a, t1=t_b, **dense)
        return y_b, jax.vmap(inside.evaluate)(jnp.clip(ts, t_a, t_next))

    def body(k, carry):
        a_y, a_theta, a_switches = carry
        i = n - 1 - k
        previous = jnp.maximum(i - 1, 0)
        stop, stop_before = stopped_at[i], jnp.where(i > 0, stopped_at[previous], -1)
        y_a = jnp.where(i > 0, step_ys[previous], y0)
        t_next = next_starts[i]
        t_b = jnp.where(stop >= 0, eqxi.prevbefore(switches[stop]), t_next)
        # After a switch the saved start equals nextafter(switch); written as a function of
        # the switch, so that its derivative reaches it.
        t_a = jnp.where(i > 0, next_starts[previous], ts[0])
        t_a = jnp.where(stop_before >= 0, eqxi.nextafter(switches[stop_before]), t_a)
        # diffrax saves the points up to where the next step begins with this step's
        # dense output (a point at a switch lies between this step's end and the next start).
        saved_here = (ts > t_a) & (ts <= t_next)
        _, vjp = jax.vjp(lambda *z: local(*z, t_next), y_a, theta, t_a, t_b)
        d_y, d_theta, d_start, d_end = vjp((a_y, jnp.where(saved_here[:, None], ct_ys, 0.0)))
        # A step that begins or ends at a switch moves with it.
        a_switches = a_switches.at[stop].add(jnp.where(stop >= 0, d_end, 0.0), mode="drop")
        a_switches = a_switches.at[stop_before].add(
            jnp.where(stop_before >= 0, d_start, 0.0), mode="drop"
        )
        return d_y, jax.tree_util.tree_map(jnp.add, a_theta, d_theta), a_switches

    n = stats["num_accepted_steps"]
    zeros = (
        jnp.zeros_like(y0),
        jax.tree_util.tree_map(jnp.zeros_like, theta),
        jnp.zeros_like(switches),  # not 0 * switches: a switch that never comes is +inf
    )
    a_y, a_theta, a_switches = jax.lax.fori_loop(0, n, body, zeros)
    if has_switches:
        _, switch_vjp = jax.vjp(model.switch_times, theta)
        a_theta = jax.tree_util.tree_map(jnp.add, a_theta, switch_vjp(a_switches)[0])
    a_y = a_y + jnp.sum(jnp.where((ts <= ts[0])[:, None], ct_ys, 0.0), axis=0)
    return a_theta, a_y
