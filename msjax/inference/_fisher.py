"""State sensitivities, observable Jacobians, Fisher information and Fisher scoring.

One `jax.jacfwd` of ``problem.simulate`` gives the trajectories ``ys`` [X, T, S] and their
sensitivities [X, T, S, E]; everything measured follows from them without another solve:
observables ``h`` [M], noise levels ``σ`` [M] and both Jacobians [M, E] (chain rule through
``problem.observe``), the exact gradient of the objective and a Gauss–Newton Hessian, and the
objective for any new value of the parameters no simulation reads (noise levels, scalings,
offsets).
"""

import diffrax
import jax
import jax.numpy as jnp

from .._jit import ode_jit
from .._types import Array, Float
from ._problem import Problem, state_sensitivities


def forward(problem: Problem) -> Problem:
    """``problem`` differentiated in forward mode (what `jax.jacfwd` of a solve needs)."""
    return problem if problem.forward_mode else problem.with_adjoint(diffrax.ForwardMode())


def _measured(problem: Problem, theta, ys, dys):
    """``(h [M], σ [M], ∂h/∂θ [M, E], ∂log σ/∂θ [M, E])``: total derivatives through the
    trajectories' sensitivities ``dys`` and ``observe``'s own dependence on ``θ``."""

    def linearised(t):
        h, sigma = problem.observe(t, ys + dys @ (t - theta))
        return (h, jnp.log(sigma)), (h, sigma)

    (dh, dls), (h, sigma) = jax.jacfwd(linearised, has_aux=True)(theta)
    return h, sigma, dh, dls


@ode_jit
def observable_jacobian(problem: Problem, theta):
    """``(h [M], σ [M], ∂h/∂θ [M, E], ∂log σ/∂θ [M, E], ok)`` at ``θ`` [E] on the parameter
    scale, by one forward-mode pass (``problem`` in forward mode)."""
    ys, dys, ok = state_sensitivities(problem, theta)
    return *_measured(problem, theta, ys, dys), ok


def _information(problem: Problem, h, sigma) -> tuple[Array, Array]:
    """Each noise model's expected information per measurement about its mean and about its
    log-scale: ``(I_μ [M], I_σ [M])``."""
    return tuple(
        problem.rowwise(lambda o, rows, k=k: o.noise_model.fisher(h[rows], sigma[rows])[k], h.dtype)
        for k in (0, 1)
    )


def fisher_from_jacobians(
    problem: Problem, h, sigma, dh, dls
) -> Float[Array, "estimated estimated"]:
    """``F = Σ_i I_μ,i ∇h_i ∇h_iᵀ + I_σ,i ∇log σ_i ∇log σ_iᵀ`` [E, E] with each noise model's
    expected information about its mean and log-scale."""
    i_mu, i_ls = _information(problem, h, sigma)
    fim = (dh * i_mu[:, None]).T @ dh + (dls * i_ls[:, None]).T @ dls
    return 0.5 * (fim + fim.T)


def scoring(problem: Problem, theta, ys, dys, ok) -> tuple[Array, Array, Array]:
    """``(objective, ∇objective [E], H [E, E])`` at ``θ`` [E] from its trajectories and their
    sensitivities (`state_sensitivities`): the value and exact gradient of ``nllh − log π``
    and the Gauss–Newton Hessian ``Σ_i I_μ,i ∇h_i ∇h_iᵀ + I_σ,i ∇log σ_i ∇log σ_iᵀ +
    ∇²(−log π)`` (expected information plus the priors' exact Hessian);
    ``(+inf, 0, 0)`` when a solve failed."""
    h, sigma, dh, dls = _measured(problem, theta, ys, dys)

    def objective(h, log_sigma, t):
        return -jnp.sum(problem.log_likelihood_of(h, jnp.exp(log_sigma))) - problem.log_prior(t)

    f, (gh, gls, gt) = jax.value_and_grad(objective, argnums=(0, 1, 2))(h, jnp.log(sigma), theta)
    grad = dh.T @ gh + dls.T @ gls + gt
    hessian = fisher_from_jacobians(problem, h, sigma, dh, dls)
    hessian = hessian + jax.hessian(lambda t: -problem.log_prior(t))(theta)
    return guarded(ok, f, grad, hessian)


def guarded(ok, f, grad, hessian):
    """``(f, grad, hessian)`` where ``ok`` and all are finite, else ``(+inf, 0, 0)``."""
    good = ok & jnp.isfinite(f) & jnp.all(jnp.isfinite(grad)) & jnp.all(jnp.isfinite(hessian))
    return (
        jnp.where(good, f, jnp.inf),
        jnp.where(good, grad, 0.0),
        jnp.where(good, hessian, 0.0),
    )
