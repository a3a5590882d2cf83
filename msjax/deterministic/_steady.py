"""`steady_state`: Newton with conservation laws enforced, falling back to integration."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import SolverError
from .._jit import ode_jit
from .._simulate import as_parameters, as_state
from .._solution import RESULTS
from .._types import Array, Float
from ..model._conservation import independent_columns
from ._newton import newton_root
from ._rosenbrock import Rodas4
from ._terms import vector_field


class SteadyState(eqx.Module):
    """A steady state ``x*`` with ``N v(x*, θ) = 0`` on the conservation-law surface of ``y0``.

    **Fields:** ``x`` [S]; ``residual``: ``max |dx/dt|`` at ``x``; ``totals``: conserved
    totals [K] (amounts); ``result``: a `RESULTS` code; ``species_names``.
    """

    x: Float[Array, " species"]
    residual: Float[Array, ""]
    totals: Float[Array, " laws"]
    result: RESULTS
    species_names: tuple[str, ...] = eqx.field(static=True)

    def __getitem__(self, name: str):
        return self.x[self.species_names.index(name)]


class _Constraints(eqx.Module):
    laws: Array  # [K, S] conservation laws in amounts
    replaced: tuple[int, ...] = eqx.field(static=True)  # rows of N v replaced by the laws
    clamped: tuple[int, ...] = eqx.field(static=True)  # boundary species: x = x0


def _constraints(model) -> _Constraints:
    laws = model.conservation_laws()
    return _Constraints(
        jnp.asarray(laws, dtype=float),
        independent_columns(laws),
        tuple(i for i, b in enumerate(model.boundary) if b),
    )


def _residual(x, args):
    """``N v(x)`` with K rows replaced by ``L·amounts(x) − totals`` and clamped rows by x − x0."""
    model, theta, constraints, totals, y0 = args
    f = model.rhs(0.0, x, theta)
    laws = constraints.laws @ model.amounts(x) - totals
    f = f.at[np.asarray(constraints.replaced, dtype=int)].set(laws)
    clamped = np.asarray(constraints.clamped, dtype=int)
    return f.at[clamped].set(x[clamped] - y0[clamped])


def _newton(x0, args, rtol, atol, max_steps):
    """``(x [S], converged)``: Newton on `_residual` from ``x0`` [S]."""
    return newton_root(lambda x: _residual(x, args), x0, rtol, atol, max_steps)


def _acceptable(x, converged, atol) -> Array:
    """Newton converged to a finite state with no concentration below ``−atol``."""
    return converged & jnp.all(jnp.isfinite(x) & (x >= -atol))


_RTOL_EVENT, _ATOL_EVENT = 1e-8, 1e-10


def integrate_to_steady_state(
    model,
    theta,
    y0,
    *,
    solver=None,
    t_max=jnp.inf,
    rtol=_RTOL_EVENT,
    atol=_ATOL_EVENT,
    max_steps: int = 100_000,
    adjoint=None,
):
    """Integrate from ``y0`` [S] until ``|dx/dt|`` is negligible (diffrax's steady-state event)
    or ``t_max``. Returns ``(x [S], reached)``; ``x`` is ``y0`` when the solve failed."""
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field),
        Rodas4() if solver is None else solver,
        t0=0.0,
        t1=t_max,
        dt0=None,
        y0=y0,
        args=(model, theta),
        saveat=diffrax.SaveAt(t1=True),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        event=diffrax.Event(diffrax.steady_state_event(rtol=rtol, atol=atol)),
        max_steps=max_steps,
        adjoint=diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint,
        throw=False,
    )
    x = solution.ys[-1]
    reached = (solution.result == diffrax.RESULTS.event_occurred) & jnp.all(jnp.isfinite(x))
    return jnp.where(jnp.all(jnp.isfinite(x)), x, y0), reached


@ode_jit
def _steady_state(model, theta, y0, constraints, rtol, atol, t_max):
    totals = constraints.laws @ model.amounts(y0)
    args = (model, theta, constraints, totals, y0)
    newton, converged = _newton(y0, args, rtol, atol, 100)

    def from_integration():
        guess = jax.lax.stop_gradient(integrate_to_steady_state(model, theta, y0, t_max=t_max)[0])
        polished, polished_converged = _newton(guess, args, rtol, atol, 100)
        polished_ok = _acceptable(polished, polished_converged, atol)
        # Newton fails from a genuine steady state when it is not isolated: keep the point.
        speed = jnp.linalg.norm(model.rhs(0.0, guess, theta))
        settled = speed <= _ATOL_EVENT + _RTOL_EVENT * jnp.linalg.norm(guess)
        return jnp.where(polished_ok, polished, guess), polished_ok | settled

    accepted = _acceptable(newton, converged, atol)
    x, found = jax.lax.cond(accepted, lambda: (newton, accepted), from_integration)
    jac = jax.jacfwd(_residual)(x, args)
    singular_values = jnp.linalg.svd(jac, compute_uv=False)
    singular = ~(singular_values[-1] > 1e-12 * singular_values[0])
    result = RESULTS.where(found, RESULTS.successful, RESULTS.no_steady_state)
    result = RESULTS.where(found & singular, RESULTS.singular_jacobian, result)
    residual = jnp.max(jnp.abs(model.rhs(0.0, x, theta)))
    return SteadyState(x, residual, totals, result, model.species_names)


def steady_state(
    model,
    params=None,
    y0=None,
    *,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    t_max: float = 1e8,
    throw: bool = True,
) -> SteadyState:
    """Find the steady state reached from ``y0`` (default the model's initial state).

    Newton's method on ``N v(x, θ) = 0`` with one equation per conservation law
    replaced by ``L · amounts(x) = L · amounts(y0)`` (and clamped species fixed), so the
    Jacobian is square and non-singular at an isolated steady state. If Newton fails or lands
    on negative concentrations, the model is integrated (Rodas4, stopping when dx/dt ≈ 0, up to
    ``t_max``) and Newton polishes the end point.

    Differentiable in ``params`` and ``y0`` by the implicit function theorem:
    ``dx*/dθ = −(∂F/∂x)⁻¹ ∂F/∂θ``.

    **Arguments:** ``params`` [P] or dict; ``y0`` [S] or dict; ``rtol``/``atol``: Newton's
    tolerances; ``throw``: raise `SolverError` when no isolated steady state is found.

    **Example:** ``msjax.steady_state(model, {"k": 2.0}).x``
    """
    theta = as_parameters(model, params)
    y0 = as_state(model, y0)
    result = _steady_state(model, theta, y0, _constraints(model), rtol, atol, t_max)
    if not throw:
        return result
    failed = result.result != RESULTS.successful
    if isinstance(failed, jax.core.Tracer):
        x = eqx.error_if(result.x, failed, "no isolated steady state found")
        return eqx.tree_at(lambda s: s.x, result, x)
    if bool(failed):
        worst = model.species_names[int(jnp.argmax(jnp.abs(model.rhs(0.0, result.x, theta))))]
        error = SolverError(
            f"steady state: {RESULTS[result.result]} Residual max|dx/dt| = "
            f"{float(result.residual):.3g} (largest for {worst})."
        )
        error.steady_state = result
        raise error
    return result
