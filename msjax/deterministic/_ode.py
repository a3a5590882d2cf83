"""`ODE`: deterministic simulation of ``dx/dt = N v(x, θ)`` with diffrax."""

import diffrax
import equinox as eqx
import jax.numpy as jnp

from .._method import AbstractMethod
from .._solution import RESULTS, Solution
from ._rosenbrock import Rodas4


def _vector_field(t, y, args):
    model, theta = args
    return model.rhs(t, y, theta)


class ODE(AbstractMethod):
    """Deterministic integration with diffrax.

    **Arguments:**
    - ``solver``: any diffrax solver; default `Rodas4` (stiff-safe Rosenbrock, one LU per
      step). For non-stiff models ``diffrax.Tsit5()`` is cheaper per step.
    - ``rtol``, ``atol``: tolerances of the adaptive step-size controller.
    - ``max_steps``: the most steps before giving up (result ``max_steps_reached``).
    - ``adjoint``: how gradients flow: ``diffrax.RecursiveCheckpointAdjoint()`` (reverse mode,
      default), ``diffrax.ForwardMode()`` (cheaper for few parameters, `jax.jacfwd`), or
      ``diffrax.BacksolveAdjoint()``.
    - ``dt0``: first step; None picks it automatically.

    **Example:** ``msjax.simulate(model, msjax.ODE(rtol=1e-8), jnp.linspace(0, 10, 101))``
    """

    solver: diffrax.AbstractSolver = Rodas4()
    rtol: float = 1e-6
    atol: float = 1e-9
    max_steps: int = eqx.field(static=True, default=100_000)
    adjoint: diffrax.AbstractAdjoint = diffrax.RecursiveCheckpointAdjoint()
    dt0: float | None = None

    @classmethod
    def nonstiff(cls, **kwargs) -> "ODE":
        """An explicit Runge–Kutta (Tsit5) integrator for non-stiff models."""
        return cls(solver=diffrax.Tsit5(), **kwargs)

    def solve(self, model, ts, params, y0, *, key=None, n=None) -> Solution:
        del key, n
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(_vector_field),
            self.solver,
            t0=ts[0],
            t1=ts[-1],
            dt0=self.dt0,
            y0=y0,
            args=(model, params),
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.PIDController(rtol=self.rtol, atol=self.atol),
            max_steps=self.max_steps,
            adjoint=self.adjoint,
            throw=False,
        )
        result = RESULTS.promote(solution.result)
        finite = jnp.all(jnp.isfinite(solution.ys))
        result = RESULTS.where(
            (result == RESULTS.successful) & ~finite, RESULTS.nonfinite_state, result
        )
        stats = {
            k: solution.stats[k] for k in ("num_steps", "num_accepted_steps", "num_rejected_steps")
        }
        return Solution(solution.ts, solution.ys, model.species_names, stats, result)
