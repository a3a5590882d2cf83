"""Rodas4: a stiffly accurate, L-stable Rosenbrock method of order 4(3) for diffrax.

One Jacobian and one LU factorisation per step and no Newton iterations, which makes it far
cheaper than SDIRK methods for the small stiff networks of systems biology.

Reference: Hairer & Wanner, *Solving Ordinary Differential Equations II*, 2nd ed. (1996),
section IV.7; coefficients of RODAS (Hairer & Wanner's code) in the form
``(I/(hγ) − J) k_i = f(t + c_i h, y + Σ_j a_ij k_j) + Σ_j (C_ij / h) k_j + d_i h ∂f/∂t``.
"""

import functools
from collections.abc import Callable
from typing import ClassVar

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

_GAMMA = 0.25
INVERSE_UP_TO = 16  # species
_A = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [1.544, 0.0, 0.0, 0.0, 0.0],
        [0.9466785280815826, 0.2557011698983284, 0.0, 0.0, 0.0],
        [3.314825187068521, 2.896124015972201, 0.9986419139977817, 0.0, 0.0],
        [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895, 0.0],
        [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895, 1.0],
    ]
)
_C = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [-5.6688, 0.0, 0.0, 0.0, 0.0],
        [-2.430093356833875, -0.2063599157091915, 0.0, 0.0, 0.0],
        [-0.1073529058151375, -9.594562251023355, -20.47028614809616, 0.0, 0.0],
        [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.7089089320616, 0.0],
        [
            8.083246795921522,
            -7.981132988064893,
            -31.52159432874371,
            16.31930543123136,
            -6.058818238834054,
        ],
    ]
)
_c = np.array([0.0, 0.386, 0.21, 0.63, 1.0, 1.0])
_d = np.array([0.25, -0.1043, 0.1035, -0.0362, 0.0, 0.0])
# Dense output: y(θ) = (1−θ) y0 + θ (y1 + (1−θ)(h1 + θ h2)), h_i = Σ_j H_ij k_j.
_H = np.array(
    [
        [
            10.12623508344586,
            -7.487995877610167,
            -34.80091861555747,
            -7.992771707568823,
            1.025137723295662,
            0.0,
        ],
        [
            -0.6762803392801253,
            6.087714651680015,
            16.43084320892478,
            24.76722511418386,
            -6.594389125716872,
            0.0,
        ],
    ]
)


class RodasInterpolation(diffrax.AbstractLocalInterpolation):
    """Rodas4's third-order dense output over one step."""

    t0: float
    t1: float
    y0: jax.Array
    y1: jax.Array
    h1: jax.Array
    h2: jax.Array

    def evaluate(self, t0, t1=None, left=True):
        del left
        if t1 is not None:
            return self.evaluate(t1) - self.evaluate(t0)
        length = self.t1 - self.t0
        safe_length = jnp.where(length == 0, 1.0, length)  # no NaN (nor NaN gradient) when empty
        theta = jnp.where(length == 0, 0.0, (t0 - self.t0) / safe_length)
        return (1 - theta) * self.y0 + theta * (self.y1 + (1 - theta) * (self.h1 + theta * self.h2))


def _linear_solver(w: jax.Array) -> Callable[[jax.Array], jax.Array]:
    """``b ↦ W⁻¹ b`` [S] for the six stages, from one factorisation of ``W`` [S, S]: an
    explicit inverse (stages become mat-vecs) up to `INVERSE_UP_TO` species, an LU beyond
    (measured: for 8 species the inverse is ~30 % faster per step, for 50 the LU ~8×).

    Derivatives flow through ``W``'s mat-vec (`lax.custom_linear_solve`), never through the
    factorisation: differentiating an inverse or LU factors makes XLA's CPU triangular solves
    pathologically slow once 16 or more tangents are batched (40 ms instead of 0.2 ms per
    step for 8 species, measured).
    """
    fixed = jax.lax.stop_gradient(w)
    if w.shape[0] <= INVERSE_UP_TO:
        inverse = jnp.linalg.inv(fixed)
        solve, transpose_solve = (lambda b: inverse @ b), (lambda b: inverse.T @ b)
    else:
        factors = jax.scipy.linalg.lu_factor(fixed)
        solve = functools.partial(jax.scipy.linalg.lu_solve, factors)
        transpose_solve = functools.partial(jax.scipy.linalg.lu_solve, factors, trans=1)

    def solve_w(b):
        return jax.lax.custom_linear_solve(
            lambda x: w @ x,
            b,
            solve=lambda _, rhs: solve(rhs),
            transpose_solve=lambda _, rhs: transpose_solve(rhs),
        )

    return solve_w


class Rodas4(diffrax.AbstractAdaptiveSolver):
    """Rodas4 (Hairer & Wanner 1996): stiffly accurate, L-stable Rosenbrock method, order 4(3).

    Works on one `diffrax.ODETerm` whose state is a 1-D array. The Jacobian comes from
    forward-mode autodiff of the vector field, exact for reaction networks.
    """

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., RodasInterpolation]] = RodasInterpolation

    def order(self, terms):
        return 4

    def error_order(self, terms):
        return 4

    def init(self, terms, t0, t1, y0, args):
        return None

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        # A zero-length step happens for finished trajectories under vmap; keep it NaN-free
        # (W = I/(hγ) − J would be infinite) so that gradients through the masking stay finite.
        empty = t1 == t0
        h = jnp.where(empty, 1.0, t1 - t0)

        def f(t, y):
            return terms.vf(t, y, args)

        def f_twice(t, y):
            value = f(t, y)
            return value, value

        # One batched forward pass gives f(t0, y0), ∂f/∂t and ∂f/∂y: the vector field is
        # traced once here and once in the stage loop, which keeps compile time low.
        (df_dt, jac), f0 = jax.jacfwd(f_twice, argnums=(0, 1), has_aux=True)(t0, y0)
        w = jnp.eye(y0.shape[0], dtype=y0.dtype) / (h * _GAMMA) - jac
        solve = _linear_solver(w)
        a, c = jnp.asarray(_A, dtype=y0.dtype), jnp.asarray(_C, dtype=y0.dtype) / h
        dt_terms = jnp.asarray(_d, dtype=y0.dtype)[:, None] * (h * df_dt)
        ks = jnp.zeros((6, y0.shape[0]), dtype=y0.dtype).at[0].set(solve(f0 + dt_terms[0]))

        def stage(i, ks):
            stage_f = f(t0 + jnp.asarray(_c, dtype=y0.dtype)[i] * h, y0 + a[i] @ ks[:5])
            return ks.at[i].set(solve(stage_f + c[i] @ ks[:5] + dt_terms[i]))

        ks = jax.lax.fori_loop(1, 6, stage, ks)
        y1 = jnp.where(empty, y0, y0 + a[5] @ ks[:5] + ks[5])
        error = jnp.where(empty, 0.0, ks[5])
        h1, h2 = jnp.asarray(_H, dtype=y0.dtype) @ ks
        dense_info = dict(y0=y0, y1=y1, h1=h1, h2=h2)
        return y1, error, dense_info, None, diffrax.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)
