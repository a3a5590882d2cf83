"""`fit`: multistart optimisation of a `Problem`, all starts in one vmapped program."""

import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import optimistix as optx

from .._types import Array, Float
from ._errors import InferenceError
from ._problem import Problem, _value_and_grad

METHODS = ("lbfgs", "adam", "levenberg_marquardt", "gauss_newton")


class FitResult(eqx.Module):
    """The outcome of a multistart fit; starts are sorted by final objective value
    (``problem.objective``: nllh − log prior; a waterfall).

    **Fields:** ``x`` [E] best parameters (on their scale); ``fun`` its objective value;
    ``xs`` [N, E] and ``fvals`` [N] all starts, sorted; ``x0s`` [N, E] their starting
    points; ``iterations`` [N]; ``converged`` [N]; ``failed`` [N] (+inf: a solve failed);
    ``wall_time`` (s); ``parameter_ids``; ``method``.
    """

    x: Float[Array, " estimated"]
    fun: Float[Array, ""]
    xs: Float[Array, "starts estimated"]
    fvals: Float[Array, " starts"]
    x0s: Float[Array, "starts estimated"]
    iterations: Array
    converged: Array
    failed: Array
    wall_time: float = eqx.field(static=True)
    parameter_ids: tuple[str, ...] = eqx.field(static=True)
    method: str = eqx.field(static=True)

    def best_parameters(self) -> dict[str, float]:
        """``{parameter id: best value on its scale}``."""
        return dict(zip(self.parameter_ids, np.asarray(self.x).tolist(), strict=True))

    def summary(self) -> str:
        """A short table: best objective, starts converged/failed, wall time."""
        fvals = np.asarray(self.fvals)
        near = int(np.sum(fvals <= fvals[0] + 0.1))
        lines = [
            f"method {self.method}: best objective {float(self.fun):.6g} "
            f"({near}/{fvals.size} starts within 0.1), converged "
            f"{int(np.sum(np.asarray(self.converged)))}, failed "
            f"{int(np.sum(np.asarray(self.failed)))}, wall time {self.wall_time:.2f} s"
        ]
        lines += [f"  {k:>24s} = {v: .6g}" for k, v in self.best_parameters().items()]
        return "\n".join(lines)


def latin_hypercube(lower, upper, n: int, *, key) -> Float[Array, "n dims"]:
    """``n`` points [n, D] in the box ``[lower, upper]`` [D]: one per stratum in every
    dimension (McKay, Beckman & Conover 1979). Infinite bounds are replaced by ±5."""
    lower = jnp.where(jnp.isfinite(lower), lower, -5.0)
    upper = jnp.where(jnp.isfinite(upper), upper, 5.0)
    d = lower.shape[0]
    k1, k2 = jax.random.split(key)
    perms = jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(k1, d)).T
    u = jax.random.uniform(k2, (n, d), dtype=lower.dtype)
    return lower + (upper - lower) * (perms.astype(lower.dtype) + u) / n


def _objective(problem: Problem):
    """``problem.objective`` differentiated in the problem's mode, behind a reverse-mode
    interface (for optax)."""

    @jax.custom_vjp
    def f(x):
        return problem.objective(x)

    def fwd(x):
        value, grad = _value_and_grad(problem, x, problem.forward_mode)
        return value, grad

    def bwd(grad, cotangent):
        return (cotangent * grad,)

    f.defvjp(fwd, bwd)
    return f


def _clip(problem, x):
    return jnp.clip(x, problem.lower, problem.upper)


def lbfgs():
    """optax L-BFGS with a backtracking (Armijo) line search that stores the gradient of the
    accepted point: one objective call site per iteration, so the compiled program holds far
    fewer copies of the ODE solve than with the zoom line search."""
    return optax.lbfgs(
        linesearch=optax.scale_by_backtracking_linesearch(
            max_backtracking_steps=20, store_grad=True
        )
    )


def _optimizer(method: str, learning_rate: float):
    if method == "lbfgs":
        return lbfgs()
    return optax.adam(learning_rate)


class _Carry(eqx.Module):
    x: Array
    state: Any
    f: Array
    g: Array
    f_prev: Array
    it: Array
    stall: Array
    converged: Array


def _init(problem, method, learning_rate, x0):
    objective = _objective(problem)
    x0 = _clip(problem, x0)
    f, g = jax.value_and_grad(objective)(x0)
    with jax.numpy_dtype_promotion("standard"):  # optax's L-BFGS mixes int32 and int64
        state = _optimizer(method, learning_rate).init(x0)
    inf = jnp.asarray(jnp.inf, dtype=x0.dtype)
    zero = jnp.asarray(0)
    return _Carry(x0, state, f, g, inf, zero, zero, jnp.asarray(False))


def _done(carry, max_steps):
    return carry.converged | ~jnp.isfinite(carry.f) | (carry.it >= max_steps)


def _step(problem, method, learning_rate, gtol, ftol, carry):
    objective = lambda x: objective_raw(_clip(problem, x))  # noqa: E731
    objective_raw = _objective(problem)
    opt = _optimizer(method, learning_rate)
    with jax.numpy_dtype_promotion("standard"):  # optax's L-BFGS mixes int32 and int64
        if method == "lbfgs":
            updates, state = opt.update(
                carry.g, carry.state, carry.x, value=carry.f, grad=carry.g, value_fn=objective
            )
        else:
            updates, state = opt.update(carry.g, carry.state, carry.x)
        x = _clip(problem, carry.x + updates)
        if method == "lbfgs":
            f, g = optax.value_and_grad_from_state(objective)(x, state=state)
        else:
            f, g = jax.value_and_grad(objective)(x)
    finite = jnp.isfinite(f)
    # A non-finite trial: stay put (Adam) — L-BFGS's line search already rejects them.
    x = jnp.where(finite, x, carry.x)
    g = jnp.where(finite, g, carry.g)
    f_new = jnp.where(finite, f, carry.f)
    projected = x - _clip(problem, x - g)
    small_change = jnp.abs(carry.f - f_new) <= ftol * (1.0 + jnp.abs(f_new))
    stall = jnp.where(small_change, carry.stall + 1, 0)
    converged = (jnp.max(jnp.abs(projected)) <= gtol) | (stall >= 5)
    if method != "lbfgs":
        converged = jnp.max(jnp.abs(projected)) <= gtol
    return _Carry(x, state, f_new, g, carry.f, carry.it + 1, stall, converged)


@eqx.filter_jit
def _init_all(problem, method, learning_rate, x0s):
    return jax.vmap(lambda x0: _init(problem, method, learning_rate, x0))(x0s)


@eqx.filter_jit
def _run_chunk(problem, method, learning_rate, gtol, ftol, carries, limit, max_steps):
    def one(carry):
        def cond(c):
            return ~_done(c, max_steps) & (c.it < limit)

        return jax.lax.while_loop(
            cond, lambda c: _step(problem, method, learning_rate, gtol, ftol, c), carry
        )

    return jax.vmap(one)(carries)


@eqx.filter_jit
def _least_squares(problem, method, x0s, max_steps, rtol, atol):
    solver = (
        optx.LevenbergMarquardt(rtol=rtol, atol=atol)
        if method == "levenberg_marquardt"
        else optx.GaussNewton(rtol=rtol, atol=atol)
    )

    def one(x0):
        solution = optx.least_squares(
            lambda x, _: problem.residuals(_clip(problem, x)),
            solver,
            x0,
            max_steps=max_steps,
            throw=False,
        )
        x = _clip(problem, solution.value)
        return x, solution.stats["num_steps"], solution.result == optx.RESULTS.successful

    xs, steps, ok = jax.vmap(one)(x0s)
    fvals = jax.vmap(problem.objective)(xs)
    return xs, fvals, steps, ok


def fit(
    problem: Problem,
    n_starts: int = 20,
    method: str = "lbfgs",
    *,
    key,
    x0: Float[Array, "starts estimated"] | None = None,
    max_steps: int = 500,
    learning_rate: float = 0.05,
    gtol: float = 1e-5,
    ftol: float = 1e-10,
    chunk: int = 25,
    progress: bool | None = None,
) -> FitResult:
    """Minimise ``problem.objective`` (nllh − log prior) from ``n_starts`` starts, together.

    Starts are a Latin hypercube in the bounds on the parameter scale (or ``x0`` [N, E]).
    One compiled program runs every start under `jax.vmap`; it is called chunk by chunk
    (``chunk`` iterations each, the same compilation) so that a progress bar can advance.

    **Arguments:**
    - ``method``: ``"lbfgs"`` (optax L-BFGS with backtracking line search), ``"adam"`` (optax, step
      ``learning_rate``), ``"levenberg_marquardt"`` / ``"gauss_newton"`` (optimistix, on
      ``problem.residuals``: Gaussian noise models only).
    - ``key``: PRNG key for the starts; ``max_steps``: iterations per start;
      ``gtol``: projected-gradient tolerance; ``ftol``: relative change in nllh (five
      iterations in a row) for L-BFGS.
    - ``progress``: a tqdm bar (default: on for more than 100 starts × 100 steps).

    **Returns:** a `FitResult`. Starts whose nllh is +inf (a failed solve) are flagged
    ``failed`` and sorted last.

    **Example:** ``result = msjax.fit(problem, n_starts=50, key=jax.random.key(0))``
    """
    if method not in METHODS:
        raise InferenceError(f"unknown fit method {method!r}; known: {list(METHODS)}")
    dtype = problem.lower.dtype
    if x0 is None:
        x0s = latin_hypercube(problem.lower, problem.upper, n_starts, key=key)
    else:
        x0s = jnp.asarray(x0, dtype=dtype).reshape(-1, problem.n_parameters)
    start = time.perf_counter()
    if method in ("levenberg_marquardt", "gauss_newton"):
        xs, fvals, iterations, converged = _least_squares(
            problem, method, x0s, max_steps, 1e-8, 1e-8
        )
    else:
        carries = _init_all(problem, method, learning_rate, x0s)
        show = progress if progress is not None else n_starts * max_steps > 10_000
        bar = None
        if show:
            from tqdm.auto import tqdm

            bar = tqdm(total=max_steps, desc=f"fit ({method}, {x0s.shape[0]} starts)")
        limit = 0
        while limit < max_steps:
            limit = min(limit + chunk, max_steps)
            carries = _run_chunk(
                problem, method, learning_rate, gtol, ftol, carries, jnp.asarray(limit), max_steps
            )
            done = np.asarray(_done(carries, max_steps))
            if bar is not None:
                bar.update(min(chunk, bar.total - bar.n))
                bar.set_postfix(done=int(done.sum()), best=float(np.min(np.asarray(carries.f))))
            if done.all():
                break
        if bar is not None:
            bar.close()
        xs, fvals = carries.x, carries.f
        iterations, converged = carries.it, carries.converged
    fvals = jnp.where(jnp.isfinite(fvals), fvals, jnp.inf)
    order = jnp.argsort(fvals)
    jax.block_until_ready(fvals)
    wall = time.perf_counter() - start
    return FitResult(
        x=xs[order[0]],
        fun=fvals[order[0]],
        xs=xs[order],
        fvals=fvals[order],
        x0s=x0s[order],
        iterations=jnp.asarray(iterations)[order],
        converged=jnp.asarray(converged)[order] & jnp.isfinite(fvals[order]),
        failed=~jnp.isfinite(fvals[order]),
        wall_time=wall,
        parameter_ids=problem.parameter_ids,
        method=method,
    )
