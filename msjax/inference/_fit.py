"""`fit`: multistart optimisation of a `Problem`, all starts in one vmapped program."""

import dataclasses
import math
import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import optimistix as optx

from .._devices import dividing_device_count
from .._jit import ode_jit
from .._types import Array, Float
from . import _trust_region
from ._errors import InferenceError
from ._fisher import forward
from ._problem import Problem, _value_and_grad

METHODS = ("trust_region", "lbfgs", "adam", "levenberg_marquardt", "gauss_newton")
_NEAR_BEST = 0.5  # default fraction of hypercube starts begun near the best end point


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


def _finite_bounds(lower, upper) -> tuple[np.ndarray, np.ndarray]:
    """The bounds [D] as NumPy arrays, infinite ones replaced by ±5."""
    return np.where(np.isfinite(lower), lower, -5.0), np.where(np.isfinite(upper), upper, 5.0)


def latin_hypercube(lower, upper, n: int, *, key) -> Float[Array, "n dims"]:
    """``n`` points [n, D] in the box ``[lower, upper]`` [D]: one per stratum in every
    dimension (McKay, Beckman & Conover 1979). Infinite bounds are replaced by ±5. Drawn by
    NumPy from the key's bits: no compiled program (JAX's permutations took 1.4 s to compile,
    a tenth of a fit's)."""
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)))
    lower, upper = _finite_bounds(lower, upper)
    d = lower.shape[0]
    strata = np.stack([rng.permutation(n) for _ in range(d)], axis=1)
    u = rng.uniform(size=(n, d))
    return jnp.asarray(lower + (upper - lower) * (strata + u) / n, dtype=lower.dtype)


def _objective_at_each(problem: Problem, xs) -> Float[Array, " n"]:
    """``problem.objective`` [n] at each point of ``xs`` [n, E], ``default_lanes(n)`` at a
    time."""
    batch = default_lanes(xs.shape[0])
    return _map_objective(problem, xs, batch if batch > 1 else None)


@ode_jit
def _map_objective(problem: Problem, xs, batch):
    return jax.lax.map(problem.objective, xs, batch_size=batch)


def feasible_starts(problem: Problem, n: int, *, key, rounds: int = 10):
    """``n`` starts [n, E] from a Latin hypercube in the bounds, where a start whose
    objective cannot be computed (its solve fails) is replaced by a point of a fresh
    hypercube, up to ``rounds`` hypercubes (as pyPESTO resamples non-finite starts). Far
    corners of a box of many decades often give dynamics too stiff to solve; a start there
    would end at once as failed. Costs one solve per point tried. Starts still failing after
    ``rounds`` hypercubes are kept (`fit` flags them failed)."""
    starts, missing = None, None
    for k in jax.random.split(key, rounds):
        points = np.array(latin_hypercube(problem.lower, problem.upper, n, key=k))
        values = _objective_at_each(problem, jnp.asarray(points))
        finite = np.isfinite(np.asarray(values))
        if starts is None:
            starts, missing = points, np.flatnonzero(~finite)
        else:
            good = points[finite][: missing.size]
            starts[missing[: good.shape[0]]] = good
            missing = missing[good.shape[0] :]
        if not missing.size:
            break
    return jnp.asarray(starts)


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
    fewer copies of the ODE solve than with the zoom line search. Every search starts from
    the unit step (L-BFGS's natural one; optax's default would start from the last accepted
    step, which only shrinks) and halves it up to 30 times."""
    return optax.lbfgs(
        linesearch=optax.scale_by_backtracking_linesearch(
            max_backtracking_steps=30,
            decrease_factor=0.5,
            increase_factor=math.inf,
            store_grad=True,
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

    @property
    def fresh(self):
        """Whether the start is still to be evaluated (never: `_init` evaluates it)."""
        return jnp.zeros_like(self.converged)


def _fresh_state(method, learning_rate, x):
    """The optimiser's initial state at ``x``, strongly typed as `_step` returns it (one
    compilation of `_run_chunk`)."""
    with jax.numpy_dtype_promotion("standard"):  # optax's L-BFGS mixes int32 and int64
        state = _optimizer(method, learning_rate).init(x)
    return jax.tree.map(lambda a: a.astype(a.dtype), state)


def _init(problem, method, learning_rate, x0):
    objective = _objective(problem)
    x0 = _clip(problem, x0)
    f, g = jax.value_and_grad(objective)(x0)
    state = _fresh_state(method, learning_rate, x0)
    inf = jnp.asarray(jnp.inf, dtype=x0.dtype)
    zero = jnp.asarray(0)
    return _Carry(x0, state, f, g, inf, zero, zero, jnp.asarray(False))


def _done(carry, max_steps):
    failed = ~carry.fresh & ~jnp.isfinite(carry.f)
    return carry.converged | failed | (carry.it >= max_steps)


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
        if method == "lbfgs":  # the line search's accepted value and gradient, stored
            f, g = optax.tree.get(state, "value"), optax.tree.get(state, "grad")
        else:
            f, g = jax.value_and_grad(objective)(x)
    # No decrease (a failed line search, or a non-finite trial): stay put and, for L-BFGS,
    # forget the curvature pairs (the next step is a scaled steepest descent).
    better = f <= carry.f
    x = jnp.where(better, x, carry.x)
    g = jnp.where(better, g, carry.g)
    f_new = jnp.where(better, f, carry.f)
    if method == "lbfgs":
        state = _where_tree(better, state, _fresh_state(method, learning_rate, carry.x))
    projected = x - _clip(problem, x - g)
    small_change = jnp.abs(carry.f - f_new) <= ftol * (1.0 + jnp.abs(f_new))
    stall = jnp.where(small_change, carry.stall + 1, 0)
    converged = (jnp.max(jnp.abs(projected)) <= gtol) | (stall >= 5)
    if method != "lbfgs":
        converged = jnp.max(jnp.abs(projected)) <= gtol
    return _Carry(x, state, f_new, g, carry.f, carry.it + 1, stall, converged)


@ode_jit
def _init_all(problem, method, learning_rate, x0s):
    if method == "trust_region":
        return jax.vmap(lambda x0: _trust_region.init(problem, x0))(x0s)
    return jax.vmap(lambda x0: _init(problem, method, learning_rate, x0))(x0s)


@ode_jit
def _run_chunk(problem, method, learning_rate, gtol, ftol, best, carries, stop, max_steps, devices):
    """Advance every lane until it is done or has reached ``stop`` [L] iterations; the lanes
    are split over the first ``devices`` local devices, each running its own loops. ``best``:
    the lowest objective of the finished starts (+inf: none)."""

    def step(c):
        if method == "trust_region":
            return _trust_region.step(problem, gtol, ftol, best, max_steps, c)
        return _step(problem, method, learning_rate, gtol, ftol, c)

    def one(carry, stop):
        def cond(c):
            return ~_done(c, max_steps) & (c.it < stop)

        return jax.lax.while_loop(cond, step, carry)

    def lanes(carries, stop):
        if stop.shape[0] > 1:
            return jax.vmap(one)(carries, stop)
        # One lane: unbatched, so that no `lax.cond` in the solver turns into a select.
        squeeze = lambda a: a[0]  # noqa: E731
        out = one(jax.tree.map(squeeze, carries), squeeze(stop))
        return jax.tree.map(lambda a: a[None], out)

    if devices == 1:
        return lanes(carries, stop)
    mesh = jax.sharding.Mesh(np.asarray(jax.local_devices()[:devices]), ("lanes",))
    spec = jax.sharding.PartitionSpec("lanes")
    return jax.shard_map(lanes, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)(
        carries, stop
    )


@ode_jit
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


def default_lanes(n_starts: int) -> int:
    """Starts advanced together by default. On an accelerator a quarter of them (at least
    one): the others take the lanes of finished starts, so that a stiff start holds up its
    own lane only, and the starts begun near the best (``near_best``) take part. On an H200,
    1000 Boehm_JProteomeRes2014 starts on 250 lanes reached the optimum 295 times in 66.8 s
    (0.23 s per reached start), on 1000 lanes 61 times in 37.3 s (0.61 s); 1000 lanes of
    Fujita_SciSignal2010 or Elowitz_Nature2000 did not finish within 420 or 280 s, 100 lanes
    finished in 236 and 197 s (bench/results/gpu_fit_pool_h200.json).
    On CPU one, unbatched. A vmapped lane costs about as much as a separate solve there, and
    every lane of a batch waits for its stiffest start; lanes split over two host devices with
    `shard_map` ran slower still (20 Boehm starts, unloaded: one lane 8.3 s, two sharded lanes
    15.6 s; bench/fit.py)."""
    return max(1, n_starts // 4) if jax.default_backend() != "cpu" else 1


def _where_tree(mask, a, b):
    """Leaves of ``a`` where ``mask`` (a scalar, or [L] over the leading lane axis), else of
    ``b``."""
    mask = jnp.asarray(mask)

    def pick(u, v):
        return jnp.where(mask.reshape(mask.shape + (1,) * (u.ndim - mask.ndim)), u, v)

    return jax.tree.map(pick, a, b)


class _Resampler:
    """Where starts begin. With ``replace``, replacement points for starts whose first
    evaluation fails or finds a plateau: the points of fresh Latin hypercubes, one after
    another, up to ``rounds − 1`` hypercubes, as in `feasible_starts`. The fit's own first
    iteration finds those starts, so no separate program solves every candidate first: a fit
    compiles one solve program instead of two. A fraction ``near_best`` of the starts, spread
    evenly among them, begin near the best end point found when they begin (`near`)."""

    def __init__(
        self, problem: Problem, n: int, *, key, rounds: int = 10, replace=True, near_best=0.0
    ):
        self._bounds, self._n, self._replace = (problem.lower, problem.upper), n, replace
        self._keys = jax.random.split(key, rounds)
        self._rng = np.random.default_rng(np.asarray(jax.random.key_data(key)) + 1)
        self._box = _finite_bounds(problem.lower, problem.upper)
        self._hypercubes: list[np.ndarray] = []
        self._taken = 0  # replacement points handed out
        self._near_best = near_best

    def _hypercube(self, k: int) -> np.ndarray:
        while len(self._hypercubes) <= k:
            key = self._keys[len(self._hypercubes)]
            self._hypercubes.append(np.array(latin_hypercube(*self._bounds, self._n, key=key)))
        return self._hypercubes[k]

    def starts(self) -> np.ndarray:
        """The first hypercube [n, E]."""
        return self._hypercube(0)

    def replacement(self) -> np.ndarray | None:
        """The next point [E]; None when the hypercubes are spent."""
        k, i = divmod(self._taken, self._n)
        if not self._replace or k + 1 >= self._keys.shape[0]:
            return None
        self._taken += 1
        return self._hypercube(k + 1)[i]

    def begins_near_best(self, i: int) -> bool:
        """Whether start ``i`` is one of the fraction ``near_best``, spread evenly (0.5: every
        second start), so that a fit stopped by ``max_time`` has begun its share of them."""
        return math.floor((i + 1) * self._near_best) > math.floor(i * self._near_best)

    def near(self, x) -> np.ndarray:
        """A point [E] around ``x`` [E]: a normal step on the parameter scale whose standard
        deviation is a quarter of each parameter's range (infinite bounds: ±5), clipped into
        the bounds."""
        lower, upper = self._box
        step = self._rng.normal(size=np.shape(x)) * (upper - lower) / 4
        return np.clip(x + step, lower, upper)


def _pool(problem, method, settings, x0s, lanes, chunk, max_steps, deadline, bar=None, spares=None):
    """Run the starts ``x0s`` [N, E] through a pool of ``lanes`` lanes: after every
    ``chunk`` iterations finished lanes hand in their result and take the next start, until
    ``deadline`` (`time.perf_counter`; None: none) has passed. ``settings``: the optimiser's
    ``(learning_rate, gtol, ftol)``. A start whose first evaluation fails or finds a plateau
    (`_void_at_once`) begins again at the next point of the `_Resampler` ``spares`` (None:
    none), while it has one; a start that ``spares`` begins near the best
    (`_Resampler.begins_near_best`) takes a point near the best end point when it begins.

    Returns ``(xs [B, E], fvals [B], iterations [B], converged [B], x0s [B, E])`` as NumPy
    arrays for the first ``B`` starts, those begun before the deadline (``x0s``: the points
    they began from, after resampling).
    """
    n = x0s.shape[0]
    x0s = np.array(x0s)
    xs, fvals = x0s.copy(), np.full(n, np.inf)
    iterations, converged = np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
    owner = np.arange(lanes)  # the start each lane runs; -1: idle
    devices = dividing_device_count(lanes)
    # Numbers as arrays, not Python constants: a fit with other settings reuses the compilation.
    learning_rate, gtol, ftol = (jnp.asarray(v, dtype=x0s.dtype) for v in settings)
    limit = jnp.asarray(max_steps)
    carries = _init_all(problem, method, learning_rate, jnp.asarray(x0s[:lanes]))
    queued = lanes
    while (owner >= 0).any():
        stop = carries.it + chunk
        best = jnp.asarray(np.min(fvals), dtype=x0s.dtype)
        carries = _run_chunk(
            problem, method, learning_rate, gtol, ftol, best, carries, stop, limit, devices
        )
        done = np.asarray(_done(carries, max_steps)) & (owner >= 0)
        retry = _retry(spares, done & _void_at_once(carries), owner, x0s)
        handed_in = done & ~retry
        finished = owner[handed_in]
        xs[finished] = np.asarray(carries.x)[handed_in]
        fvals[finished] = np.asarray(carries.f)[handed_in]
        iterations[finished] = np.asarray(carries.it)[handed_in]
        converged[finished] = np.asarray(carries.converged)[handed_in]
        late = deadline is not None and time.perf_counter() > deadline
        refill = np.flatnonzero(handed_in)[: 0 if late else n - queued]
        owner[handed_in] = -1
        owner[refill] = np.arange(queued, queued + refill.size)
        queued += refill.size
        _begin_near_best(spares, owner[refill], x0s, xs, fvals)
        restart = retry | np.isin(np.arange(lanes), refill)
        if restart.any():
            starts = np.array(carries.x)
            starts[restart] = x0s[owner[restart]]
            fresh = _init_all(problem, method, learning_rate, jnp.asarray(starts))
            carries = _where_tree(restart, fresh, carries)
        if bar is not None:
            bar.update(int(handed_in.sum()))
            bar.set_postfix(best=float(np.min(fvals)))
    return xs[:queued], fvals[:queued], iterations[:queued], converged[:queued], x0s[:queued]


def _void_at_once(carries) -> np.ndarray:
    """Lanes [L] whose start gave nothing to descend at its first evaluation: a solve that
    failed there, or a projected gradient already below ``gtol`` (a plateau, where the
    estimated parameters barely move any observable)."""
    first = np.asarray(carries.it) <= 1
    return first & (~np.isfinite(np.asarray(carries.f)) | np.asarray(carries.converged))


def _begin_near_best(resampler, starts, x0s, xs, fvals) -> None:
    """Points `_Resampler.near` the best end point so far (``xs`` [N, E], ``fvals`` [N]),
    written to ``x0s``, for those of ``starts`` that the resampler begins near the best."""
    if resampler is None or not np.isfinite(fvals).any():
        return
    best = xs[np.argmin(fvals)]
    for i in starts:
        if resampler.begins_near_best(int(i)):
            x0s[i] = resampler.near(best)


def _retry(resampler, void, owner, x0s) -> np.ndarray:
    """Lanes [L] among ``void`` whose start begins again at its `_Resampler` replacement
    (written to ``x0s``)."""
    retry = np.zeros_like(void)
    if resampler is None:
        return retry
    for lane in np.flatnonzero(void):
        point = resampler.replacement()
        if point is not None:
            x0s[owner[lane]] = point
            retry[lane] = True
    return retry


def _batches_least_squares(problem, method, x0s, lanes, max_steps, bar):
    """optimistix least squares on ``lanes`` starts at a time (the last batch padded)."""
    n = x0s.shape[0]
    pad = (-n) % lanes
    padded = jnp.concatenate([x0s, jnp.broadcast_to(x0s[-1], (pad, x0s.shape[1]))])
    out = []
    for i in range(0, n + pad, lanes):
        out.append(_least_squares(problem, method, padded[i : i + lanes], max_steps, 1e-8, 1e-8))
        if bar is not None:
            bar.update(min(lanes, n - i))
    xs, fvals, iterations, converged = (np.concatenate(a)[:n] for a in zip(*out, strict=True))
    return xs, fvals, iterations, converged


def _tolerance(value) -> Array:
    return jnp.asarray(value, dtype=jnp.result_type(float))


def _solved_at(problem: Problem, rtol, max_steps: int) -> Problem:
    """``problem`` solved at ``rtol`` in at most ``max_steps`` steps, its tolerances as
    arrays (traced, not compiled in): one compiled program serves the fit's tolerance and the
    problem's own."""
    method = dataclasses.replace(
        problem.method,
        rtol=_tolerance(rtol),
        atol=_tolerance(problem.method.atol),
        max_steps=max_steps,
    )
    return problem.with_method(method)


def _evaluated(problem: Problem, own: Problem, method, xs, fvals, lanes):
    """``(xs, fvals)`` with the finite end points evaluated again by ``own``, the fit's
    compiled program at the problem's own tolerance (a trust-region start's first iteration,
    which also re-optimises its observation parameters; optax's initial evaluation); by
    ``problem`` itself where that solve fails (more than the fit's ODE steps)."""
    finite = np.flatnonzero(np.isfinite(fvals))
    if not finite.size:
        return xs, fvals
    iterations = 1 if method == "trust_region" else 0
    lanes = min(lanes, finite.size)
    unused = (0.0, 0.0, 0.0)  # no step is taken: the optimiser's settings play no part
    again, values, *_ = _pool(own, method, unused, xs[finite], lanes, 1, iterations, None)
    kept = np.isfinite(values)
    xs, fvals = xs.copy(), fvals.copy()
    xs[finite[kept]], fvals[finite[kept]] = again[kept], values[kept]
    lost = finite[~kept]
    fvals[lost] = _objectives(problem, xs[lost], fvals[lost])
    return xs, fvals


def _objectives(problem: Problem, xs, fvals) -> np.ndarray:
    """``problem.objective`` [N] at the points ``xs`` [N, E] whose fit value ``fvals`` [N] is
    finite; +inf elsewhere (NaN never)."""
    out = np.full(fvals.shape, np.inf)
    for i in np.flatnonzero(np.isfinite(fvals)):
        out[i] = float(problem.objective(xs[i]))
    return np.where(np.isfinite(out), out, np.inf)


def fit(
    problem: Problem,
    n_starts: int = 20,
    method: str = "trust_region",
    *,
    key,
    x0: Float[Array, "starts estimated"] | None = None,
    resample: bool = True,
    max_steps: int = 500,
    learning_rate: float = 0.05,
    gtol: float = 1e-5,
    ftol: float | None = None,
    lanes: int | None = None,
    chunk: int = 5,
    ode_max_steps: int | None = 10_000,
    ode_rtol: float | None = 1e-6,
    max_time: float | None = None,
    near_best: float | None = None,
    progress: bool | None = None,
) -> FitResult:
    """Minimise ``problem.objective`` (nllh − log prior) from ``n_starts`` starts.

    Starts are a Latin hypercube in the bounds on the parameter scale, or ``x0`` [N, E]; a
    start whose solve fails at once, or whose projected gradient is already below ``gtol``
    there (a plateau), begins again at a point of a fresh hypercube (`feasible_starts` screens
    failed solves the same way). Every second hypercube start (``near_best``) begins near the
    best end point found so far instead.
    One compiled program advances ``lanes`` starts together (under `jax.vmap`, split over
    local devices when there are several), ``chunk`` iterations per call; between calls,
    lanes whose start has finished take the next one (a pool), so a slow start holds up only
    its own lane and memory does not grow with ``n_starts``. The same program, with the
    tolerances as data, finds the failed starts and evaluates the end points again at the
    problem's own tolerance: a fit compiles one solve.

    **Arguments:**
    - ``method``: ``"trust_region"`` (default: a bound-constrained trust region on the
      Gauss–Newton Hessian with a secant correction, one forward-mode solve per iteration, the
      parameters no simulation reads optimised at every point without a solve; any noise
      model), ``"lbfgs"`` (optax L-BFGS with backtracking line search), ``"adam"`` (optax,
      step ``learning_rate``), ``"levenberg_marquardt"`` / ``"gauss_newton"`` (optimistix, on
      ``problem.residuals``: Gaussian noise models only).
    - ``key``: PRNG key for the starts; ``resample``: replace starts whose solve fails or that
      stop at their first evaluation (False: they end there); ``max_steps``: iterations
      per start;
      ``gtol``: projected-gradient tolerance; ``ftol``: a change of the objective that counts
      as no progress (trust region: an absolute fall over 50 iterations, default 1e-3
      log-likelihood units; a start more than 1 above the best finished start also stops
      when even at 4 times the pace of those 50 iterations it would not reach that best
      within ``max_steps``; L-BFGS: a relative change in 5 iterations in a row, default 1e-10).
    - ``lanes``: starts advanced together (default `default_lanes`: one on CPU, a quarter
      of the starts on an accelerator).
    - ``ode_max_steps``: ODE steps per solve during the fit (AMICI's default 10⁴; None: the
      problem's own): a start whose solve needs more gets +inf there and the line search
      steps back, instead of every lane waiting for it.
    - ``ode_rtol``: the ODE's relative tolerance during the fit, if looser than the problem's
      (None: the problem's own). Looser than the problem's 1e-8 by default: 20 starts of
      Boehm_JProteomeRes2014 reached the same optima three times faster. The reported
      objective values are computed again at the problem's own tolerances (a trust-region
      start's observation parameters optimised again there).
    - ``max_time``: seconds after which no further start begins (those begun run to their
      end; the result holds only the starts begun). None: no limit. Not for the least-squares
      methods.
    - ``near_best``: the fraction of the ``n_starts`` (spread evenly: 0.5, every second one)
      that begin near the best end point found when they begin, instead of at their hypercube
      points (the first lanes, begun before any start has finished, keep theirs): a normal step on
      the parameter scale whose standard deviation is a quarter of each parameter's range
      (a global phase, as in basin hopping, for problems whose hypercube starts end in the
      optimum's neighbourhood but seldom at it). Default 0.5 for hypercube starts (bench/fit.py,
      300 s per fit: Boehm_JProteomeRes2014 reached its optimum from 32 of 100 starts instead
      of 7, Crauste_CellSystems2017 from 8 of 83 instead of 3 of 100); 0: every start from the
      hypercube. Not with ``x0`` nor the least-squares methods.
    - ``progress``: a tqdm bar over finished starts (default: on for more than 100 starts ×
      100 steps).

    **Returns:** a `FitResult`. Starts whose objective is +inf (a failed solve) are flagged
    ``failed`` and sorted last.

    **Example:** ``result = msjax.fit(problem, n_starts=50, key=jax.random.key(0))``
    """
    if method not in METHODS:
        raise InferenceError(f"unknown fit method {method!r}; known: {list(METHODS)}")
    if ftol is None:
        ftol = 1e-3 if method == "trust_region" else 1e-10
    least_squares = method in ("levenberg_marquardt", "gauss_newton")
    pooled_hypercube = x0 is None and not least_squares
    if near_best is None:
        near_best = _NEAR_BEST if pooled_hypercube else 0.0
    if not 0.0 <= near_best <= 1.0:
        raise InferenceError(f"fit needs 0 <= near_best <= 1 (got {near_best})")
    if near_best and not pooled_hypercube:
        raise InferenceError("near_best needs hypercube starts (no x0) and a pooled method")
    start = time.perf_counter()
    rtol = problem.method.rtol if ode_rtol is None else max(ode_rtol, problem.method.rtol)
    ode_steps = problem.method.max_steps if ode_max_steps is None else ode_max_steps
    fitted = _solved_at(problem, rtol, ode_steps)
    resampler = None
    if x0 is not None:
        x0s = jnp.asarray(x0, dtype=problem.lower.dtype).reshape(-1, problem.n_parameters)
    elif least_squares and resample:
        x0s = feasible_starts(fitted, n_starts, key=key)
    else:
        resampler = _Resampler(problem, n_starts, key=key, replace=resample, near_best=near_best)
        x0s = resampler.starts()
    n = x0s.shape[0]
    lanes = default_lanes(n) if lanes is None else lanes
    if not 1 <= lanes or not 1 <= chunk:
        raise InferenceError(f"fit needs lanes >= 1 and chunk >= 1 (got {lanes}, {chunk})")
    lanes = min(lanes, n)
    if method == "trust_region":
        fitted = forward(fitted)
    show = progress if progress is not None else n * max_steps > 10_000
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=f"fit ({method}, {n} starts, {lanes} lanes)")
    if least_squares:
        xs, fvals, iterations, converged = _batches_least_squares(
            fitted, method, x0s, lanes, max_steps, bar
        )
        if rtol != problem.method.rtol:
            fvals = _objectives(problem, xs, fvals)
    else:
        deadline = None if max_time is None else start + max_time
        settings = (learning_rate, gtol, ftol)
        xs, fvals, iterations, converged, x0s = _pool(
            fitted, method, settings, x0s, lanes, chunk, max_steps, deadline, bar, resampler
        )
        if rtol != problem.method.rtol:
            own = eqx.tree_at(lambda p: p.method.rtol, fitted, _tolerance(problem.method.rtol))
            xs, fvals = _evaluated(problem, own, method, xs, fvals, lanes)
    wall = time.perf_counter() - start
    if bar is not None:
        bar.close()
    order = np.argsort(fvals, kind="stable")
    failed = ~np.isfinite(fvals[order])
    return FitResult(
        x=jnp.asarray(xs[order[0]]),
        fun=jnp.asarray(fvals[order[0]]),
        xs=jnp.asarray(xs[order]),
        fvals=jnp.asarray(fvals[order]),
        x0s=jnp.asarray(x0s)[order],
        iterations=jnp.asarray(iterations[order]),
        converged=jnp.asarray(converged[order] & ~failed),
        failed=jnp.asarray(failed),
        wall_time=wall,
        parameter_ids=problem.parameter_ids,
        method=method,
    )
