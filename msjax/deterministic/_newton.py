"""Newton's method for small dense systems, differentiated by the implicit function theorem."""

import jax
import jax.numpy as jnp

from .._types import Array, Float


def newton_root(residual, guess, rtol, atol, max_steps: int) -> tuple[Float[Array, " n"], Array]:
    """A root of ``residual(z) = 0`` [n] by Newton's method from ``guess`` [n], stopping when
    every ``|Δz| ≤ atol + rtol |z|``; returns ``(z [n], converged)``.

    Differentiable in what ``residual`` closes over by the implicit function theorem,
    ``dz*/dθ = −(∂F/∂z)⁻¹ ∂F/∂θ`` (`jax.lax.custom_root`; forward and reverse mode): the
    derivative program holds one linear solve, not the iterations. A dense LU solve per
    step: the systems are a model's species or a QSSA's fast species.
    """
    z, converged = jax.lax.custom_root(
        residual,
        guess,
        lambda f, z0: _iterate(f, z0, rtol, atol, max_steps),
        _tangent_solve,
        has_aux=True,
    )
    return z, converged > 0


def _iterate(f, z0, rtol, atol, max_steps):
    def value_twice(u):  # the residual, and again as jacfwd's auxiliary output: traced once
        value = f(u)
        return value, value

    def step(carry):
        z, _, i = carry
        jacobian, value = jax.jacfwd(value_twice, has_aux=True)(z)
        dz = jnp.linalg.solve(jacobian, value)
        small = jnp.all(jnp.abs(dz) <= atol + rtol * jnp.abs(z - dz))
        return z - dz, small, i + 1

    def keep_going(carry):
        z, done, i = carry
        return ~done & (i < max_steps) & jnp.all(jnp.isfinite(z))

    start = (z0, jnp.asarray(False), jnp.asarray(0))
    z, done, _ = jax.lax.while_loop(keep_going, step, start)
    # The flag as a float: `custom_root` gives a boolean auxiliary output a tangent of the
    # wrong type (jax 0.10).
    return z, (done & jnp.all(jnp.isfinite(z))).astype(z.dtype)


def _tangent_solve(linear, y):
    """``x`` with ``linear(x) = y`` for the linear map ``linear`` (∂F/∂z at the root)."""
    return jnp.linalg.solve(jax.jacfwd(linear)(y), y)
