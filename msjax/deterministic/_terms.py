"""The vector field, step-size controller and diffrax call of an `ODE` solve, shared by its
adjoints."""

import diffrax
import equinox as eqx


def vector_field(t, y, args):
    model, theta = args[0], args[1]
    return _rhs(model, t, y, theta)


@eqx.filter_jit
def _rhs(model, t, y, theta):
    """``model.rhs`` as one call in the solver's trace: traced once per model and shapes, and
    its derivatives and batched forms cached by JAX, instead of the model's formulas being
    traced again at every stage of every step, in every transformation."""
    return model.rhs(t, y, theta)


def step_size_controller(method, model, theta):
    """PID step-size control on ``rtol``/``atol``; for a model whose formulas switch at
    instants in time (`RuleModel.switch_times`: a dose at a time, a stimulus switched off),
    steps end just before each and restart just after, never across one."""
    pid = diffrax.PIDController(rtol=method.rtol, atol=method.atol)
    if not getattr(model, "switches", ()):
        return pid
    return diffrax.ClipStepSizeController(pid, jump_ts=model.switch_times(theta))


_STATS = ("num_steps", "num_accepted_steps", "num_rejected_steps")


def solve_from_first_time(method, model, ts, theta, y0, saveat, adjoint):
    """diffrax's solve of ``model`` by ``method`` from ``y0`` [S] at ``ts[0]`` to ``ts[-1]``
    (no exception on failure: read the result). Returns ``(solution, stats)``."""
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field),
        method.solver,
        t0=ts[0],
        t1=ts[-1],
        dt0=method.dt0,
        y0=y0,
        args=(model, theta),
        saveat=saveat,
        stepsize_controller=step_size_controller(method, model, theta),
        max_steps=method.max_steps,
        adjoint=adjoint,
        throw=False,
    )
    return solution, {k: solution.stats[k] for k in _STATS}
