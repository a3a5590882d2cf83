"""`CLE`: the chemical Langevin equation as an Itô SDE, solved with diffrax."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp

from .._solution import RESULTS
from ._common import AbstractStochasticMethod, float_params, system_size


def cle_terms(model, theta, omega):
    """Drift ``N a(X⁺)`` [S] and diffusion ``N diag(√a(X⁺))`` [S, R] of the CLE in counts."""
    net = jnp.asarray(model.stoichiometry, dtype=theta.dtype)

    def rates(t, y):
        a = model.propensities(jnp.maximum(y, 0.0), theta, omega, t)
        return jnp.maximum(a, 0.0)

    def drift(t, y, args):
        return net @ rates(t, y)

    def diffusion(t, y, args):
        return net * jnp.sqrt(rates(t, y))[None, :]

    return drift, diffusion


class CLE(AbstractStochasticMethod):
    """The chemical Langevin equation ``dX = N a(X) dt + N diag(√a(X)) dW`` in counts.

    **Arguments:**
    - ``dt``: fixed step of the Euler–Maruyama scheme.
    - ``omega``: system size Ω (counts are ``Ω V x``); ``float32``: as for `Gillespie`.
    - ``max_steps``: a cap on diffrax steps (result ``max_steps_reached``).

    Non-negativity: propensities are evaluated at the positive part ``X⁺ = max(X, 0)`` and
    clipped at zero, so a reaction can never be driven by a negative count and the drift pushes
    a slightly negative count back up; the returned ``ys`` are the raw (float) SDE state, which
    can dip below zero by ``O(√(a dt))`` near an empty species. Valid when counts are large
    (the CLE is the diffusion approximation of the CME); use `TauLeap` or `Gillespie` otherwise.
    Reference: Gillespie, J. Chem. Phys. 113:297 (2000).
    """

    dt: float = 0.01
    omega: float = eqx.field(default=1.0, converter=system_size)
    max_steps: int = eqx.field(static=True, default=1_000_000)
    float32: bool = eqx.field(static=True, default=False)

    def trajectories(self, model, ts, params, counts0, keys):
        model, ts, theta, omega = float_params(self, model, ts, params)
        dtype = theta.dtype
        drift, diffusion = cle_terms(model, theta, omega)
        num_reactions = len(model.reaction_names)
        dt = jnp.asarray(self.dt, dtype=dtype)

        def one(key):
            brownian = diffrax.UnsafeBrownianPath(shape=(num_reactions,), key=key)
            terms = diffrax.MultiTerm(
                diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, brownian)
            )
            solution = diffrax.diffeqsolve(
                terms,
                diffrax.Euler(),
                t0=ts[0],
                t1=ts[-1],
                dt0=dt,
                y0=counts0.astype(dtype),
                saveat=diffrax.SaveAt(ts=ts),
                max_steps=self.max_steps,
                adjoint=diffrax.ForwardMode(),
                throw=False,
            )
            result = RESULTS.promote(solution.result)
            finite = jnp.all(jnp.isfinite(solution.ys))
            result = RESULTS.where(
                (result == RESULTS.successful) & ~finite, RESULTS.nonfinite_state, result
            )
            return solution.ys, result, solution.stats["num_steps"]

        ys, result, steps = jax.vmap(one)(keys)
        return ys, result, {"num_steps": steps}
