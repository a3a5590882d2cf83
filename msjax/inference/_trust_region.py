"""A bound-constrained trust-region method on a Gauss–Newton (Fisher-scoring) Hessian.

Each iteration minimises the quadratic model within a ball on the free parameters (those
not held at a bound by the gradient), clips the trial point into the bounds and accepts it
when the objective falls by at least a small fraction of the model's prediction; the radius
shrinks to a quarter of a poor step and doubles after a good one that reached it.

An iteration costs one forward-mode solve at the trial point (`state_sensitivities`): it gives
the exact gradient and the Hessian of every noise model (as fides and AMICI's FIM mode
do), so no line search is needed. The parameters no simulation reads (noise levels, scalings,
offsets) are then optimised at the trial point's fixed trajectories with the same method on
the exact Hessian, which costs no solve: they are always at their best for the current
dynamics, as in hierarchical optimisation (Loos et al. 2018), where the Gauss–Newton steps
alone would crawl (the objective is exponential in a log-scale noise level on one side and
linear on the other). Where they are all scalings and noise levels of normal noise, their
optimum has a closed form (`_best_observation_parameters`).
"""

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array
from ._fisher import guarded, scoring
from ._noise import Normal
from ._problem import Problem, _rescale, _unscale, objective_given, state_sensitivities

_RADIUS0 = 0.1  # initial trust radius on the parameter scale (a tenth of a decade for log10)
_ACCEPT = 1e-4  # minimum actual/predicted decrease
_WINDOW = 50  # iterations over which a start must fall by ftol, and a far start measures its pace
_XTOL = 1e-10
_CLOSE_TO_BEST = 1.0  # a start within this of the best objective is not stopped for its pace
_PACE_SLACK = 4.0  # a far start stops when even this many times its recent pace would not do
_INNER_STEPS = 30  # iterations on the observation parameters per trial point
_BISECTIONS = 60


class Region(eqx.Module):
    """Trust-region state: point ``x`` [E], objective ``f``, gradient ``g`` [E], the evaluated
    Hessian ``H`` [E, E] (Gauss–Newton, or exact), a secant correction ``S`` [E, E] for
    what it leaves out, and the radius (Euclidean, on the parameter scale)."""

    x: Array
    f: Array
    g: Array
    H: Array
    S: Array
    radius: Array

    @classmethod
    def at(cls, x, f, g, hessian) -> "Region":
        return cls(x, f, g, hessian, jnp.zeros_like(hessian), jnp.asarray(_RADIUS0, dtype=x.dtype))


def _secant_correction(correction, hessian, step, dg):
    """Symmetric rank-one update of the correction ``S`` so that ``(H + S) s = Δg`` (a
    structured secant method for large-residual problems, after Dennis, Gay & Welsch 1981;
    SR1 suits trust regions: ``H + S`` may be indefinite). Skipped when ill-conditioned."""
    r = dg - (hessian + correction) @ step
    denominator = r @ step
    ok = jnp.abs(denominator) > 1e-8 * jnp.linalg.norm(r) * jnp.linalg.norm(step)
    return jnp.where(ok, correction + jnp.outer(r, r) / jnp.where(ok, denominator, 1.0), correction)


def _free(s: Region, lower, upper):
    """Parameters [E] free to move: at a bound with the gradient pointing out of the box, a
    parameter is held for this step."""
    return ~(((s.x <= lower) & (s.g > 0)) | ((s.x >= upper) & (s.g < 0)))


def _subproblem(hessian, g, radius):
    """``p`` [E] minimising ``gᵀp + ½ pᵀHp`` over ``‖p‖ ≤ radius``: ``p = −(H + λI)⁻¹g`` with
    the smallest ``λ ≥ max(0, −λ_min(H))`` that keeps the step inside (Moré & Sorensen 1983;
    ``λ`` by bisection on the eigen-decomposition, which costs nothing at these sizes)."""
    eigenvalues, vectors = jnp.linalg.eigh(hessian)
    a = vectors.T @ g
    tiny = jnp.finfo(g.dtype).eps * jnp.maximum(jnp.max(jnp.abs(eigenvalues)), 1.0)
    floor = jnp.maximum(-eigenvalues[0], 0.0) + tiny

    def length(lam):
        return jnp.linalg.norm(a / (eigenvalues + lam))

    def bisect(_, bracket):
        lo, hi = bracket
        mid = jnp.sqrt(lo * hi)
        inside = length(floor - tiny + mid) <= radius
        return jnp.where(inside, lo, mid), jnp.where(inside, mid, hi)

    hi = jnp.linalg.norm(g) / radius + tiny
    _, shift = jax.lax.fori_loop(0, _BISECTIONS, bisect, (tiny, hi))
    newton_inside = (eigenvalues[0] > tiny) & (length(0.0) <= radius)
    lam = jnp.where(newton_inside, 0.0, floor - tiny + shift)
    return -vectors @ (a / (eigenvalues + lam))


def iterate(s: Region, lower, upper, evaluate, restart=False):
    """One trust-region step from ``s``; ``evaluate(x) -> (x', f, g, H)`` at the trial point
    (it may move the point, e.g. to optimise the observation parameters there). With
    ``restart`` the point ``s.x`` itself is evaluated and taken, as a fresh start.

    **Returns:** ``(new state, step taken [E])``.
    """
    free = _free(s, lower, upper)
    eye = jnp.eye(s.x.shape[0], dtype=s.x.dtype)
    model = s.H + s.S
    p = _subproblem(
        jnp.where(free[:, None] & free[None, :], model, eye), jnp.where(free, s.g, 0.0), s.radius
    )
    trial = jnp.where(restart, s.x, jnp.clip(s.x + p, lower, upper))
    step = trial - s.x
    length = jnp.linalg.norm(step)
    predicted = -(s.g @ step + 0.5 * step @ model @ step)
    x, f, g, hessian = evaluate(trial)
    rho = (s.f - f) / jnp.where(predicted > 0, predicted, jnp.inf)
    accept = restart | ((f < s.f) & (rho > _ACCEPT))
    radius = jnp.where(
        rho < 0.25,
        0.25 * length,
        jnp.where((rho > 0.75) & (length >= 0.9 * s.radius), 2.0 * s.radius, s.radius),
    )
    radius = jnp.where(restart, _RADIUS0, radius)
    pick = lambda new, old: jnp.where(accept, new, old)  # noqa: E731
    # A rejected step discredits the secant correction: the next model is Gauss–Newton's
    # alone until accepted steps rebuild it (as L-BFGS forgets its pairs after a failed line
    # search). Kept through rejections, a correction as large as H itself made models in
    # which Gauss–Newton predicted a rise, and Fujita_SciSignal2010's starts crawled.
    secant = _secant_correction(s.S, hessian, x - s.x, g - s.g)
    correction = jnp.where(accept & ~restart, secant, 0.0)
    new = Region(
        pick(x, s.x),
        pick(f, s.f),
        pick(g, s.g),
        pick(hessian, s.H),
        correction,
        radius,
    )
    return new, step


def _optimise_observation_parameters(problem: Problem, theta, ys):
    """``θ`` [E] with its `Problem.observation_parameters` minimising the objective at fixed
    trajectories ``ys`` (exact Hessian; no solve)."""
    index = jnp.asarray(problem.observation_parameters)

    def objective(z):
        return objective_given(problem, theta.at[index].set(z), ys)

    def value_and_grad(z):
        f, g = jax.value_and_grad(objective)(z)
        return g, (f, g)

    def evaluate(z):
        hessian, (f, g) = jax.jacfwd(value_and_grad, has_aux=True)(z)
        return z, *guarded(True, f, g, hessian)

    lower, upper = problem.lower[index], problem.upper[index]
    z = theta[index]
    zeros = jnp.zeros((z.shape[0], z.shape[0]), dtype=z.dtype)
    start = Region.at(z, jnp.asarray(jnp.inf, dtype=z.dtype), jnp.zeros_like(z), zeros)

    def body(i, s):
        return iterate(s, lower, upper, evaluate, restart=i == 0)[0]

    z = jax.lax.fori_loop(0, _INNER_STEPS + 1, body, start).x
    return theta.at[index].set(z)


def _group_sums(groups, values, n: int):
    """``Σ values`` [n] over the rows [M] of each group ``groups`` [M] (``n``: no group)."""
    return jnp.zeros(n + 1, dtype=values.dtype).at[groups].add(values)[:-1]


def _best_observation_parameters(problem: Problem, theta, ys):
    """``θ`` [E] with its scalings and noise levels at their exact optimum for trajectories
    ``ys``, where they are all the observation parameters
    (`Problem.closed_form_observation`; Loos et al. 2018): ``ŝ = Σ w y d / Σ w y²`` over the
    rows it scales (``y``: the observable at ``s = 1``, ``w = 1/σ²``, or 1 where a noise level
    is estimated), then ``σ̂² = Σ r²/n`` over the ``n`` rows it serves (``r``: residuals at
    ``σ = 1``), each clipped into its bounds on its scale (the objective has one minimum
    along the scale, so clipping keeps it exact). No iteration and no Hessian: a smaller
    compiled program than `_optimise_observation_parameters`."""
    e, codes = theta.shape[0], problem.codes
    scaling = jnp.zeros(e + 1, dtype=bool).at[problem.scale_group].set(True)[:-1]
    y, sigma = problem.observe(jnp.where(scaling, jnp.where(codes == 0, 1.0, 0.0), theta), ys)
    weight = jnp.where(problem.noise_group < e, 1.0, sigma**-2.0)
    numerator = _group_sums(problem.scale_group, weight * y * problem.data, e)
    denominator = _group_sums(problem.scale_group, weight * y * y, e)
    tiny = jnp.finfo(y.dtype).tiny
    s_hat = numerator / jnp.where(denominator > 0, denominator, 1.0)
    s_hat = jnp.where(codes == 0, s_hat, jnp.maximum(s_hat, tiny))  # log scales: s > 0
    s_best = jnp.clip(_rescale(s_hat, codes), problem.lower, problem.upper)
    theta = jnp.where(scaling & (denominator > 0), s_best, theta)
    factor = jnp.concatenate([_unscale(theta, codes), jnp.ones(1, dtype=y.dtype)])
    h = y * factor[problem.scale_group]

    def squared_residuals(o, rows):
        if not isinstance(o.noise_model, Normal):
            return 0.0
        return o.noise_model.residual(problem.data[rows], h[rows], 1.0) ** 2

    squares = problem.rowwise(squared_residuals, h.dtype)
    total = _group_sums(problem.noise_group, squares, e)
    count = _group_sums(problem.noise_group, jnp.ones_like(squares), e)
    sigma_best = jnp.clip(
        _rescale(jnp.sqrt(total / jnp.maximum(count, 1.0)), codes), problem.lower, problem.upper
    )
    return jnp.where(count > 0, sigma_best, theta)


def evaluate(problem: Problem, theta):
    """``(θ', objective, gradient [E], Hessian [E, E])`` at ``θ`` [E] after optimising the
    observation parameters there: one forward-mode solve."""
    ys, dys, ok = state_sensitivities(problem, theta)
    if problem.closed_form_observation:
        theta = _best_observation_parameters(problem, theta, ys)
    elif problem.observation_parameters:
        theta = _optimise_observation_parameters(problem, theta, ys)
    return theta, *scoring(problem, theta, ys, dys, ok)


class TrustRegionCarry(eqx.Module):
    """One start's state: the trust region ``s``, the stopping bookkeeping, and ``fresh``:
    a new start whose point is evaluated by the next `step` (so one compiled solve serves
    both)."""

    s: Region
    it: Array
    checkpoint: Array  # the objective _WINDOW iterations ago (at the last multiple)
    converged: Array
    fresh: Array

    @property
    def x(self):
        return self.s.x

    @property
    def f(self):
        return self.s.f


def init(problem: Problem, x0) -> TrustRegionCarry:
    """A fresh start at ``x0`` [E] (clipped into the bounds); nothing is solved yet."""
    x = jnp.clip(x0, problem.lower, problem.upper)
    e = x.shape[0]
    zeros = jnp.zeros((e, e), dtype=x.dtype)
    region = Region(
        x,
        jnp.asarray(jnp.inf, dtype=x.dtype),
        jnp.zeros_like(x),
        zeros,
        zeros,
        jnp.asarray(_RADIUS0, dtype=x.dtype),
    )
    return TrustRegionCarry(region, jnp.asarray(0), region.f, jnp.asarray(False), jnp.asarray(True))


def step(
    problem: Problem, gtol: float, ftol: float, best: float, max_steps, c: TrustRegionCarry
) -> TrustRegionCarry:
    """One iteration (one forward-mode solve). Stops at a projected gradient below ``gtol``,
    a step below 1e-10, when the objective fell by less than ``ftol`` (absolute, in
    log-likelihood units) over the last 50 iterations, or, for a start more than 1 above
    ``best`` (the lowest objective other starts reached; +inf: none yet), when even at 4 times
    the pace of those 50 iterations it would not reach ``best`` within its remaining
    ``max_steps``: a crawl far from the best optimum found, whose iterations serve new starts
    better. Near ``best``, the last tenths of a unit in the curved valleys of sloppy models
    (Crauste_CellSystems2017) can take hundreds of iterations with long pauses. Far from it,
    descents come in bursts: a Fujita_SciSignal2010 start near the published parameters paused
    at +888 for 40 iterations, then reached the optimum; the pace of 10 iterations stopped it
    at +913. With 50 instead of 10 (300 s fits, key 0): Elowitz_Nature2000's best +33.4 →
    +3.4 (key 1: +28.2 → +30.6), Crauste 8 → 10 starts reached the optimum, Brannmark_JBC2010
    +1.71 → +1.72, Boehm_JProteomeRes2014 100 starts 72 → 89 s with 32 → 33 reached."""
    s, taken = iterate(
        c.s, problem.lower, problem.upper, lambda x: evaluate(problem, x), restart=c.fresh
    )
    it = c.it + 1
    check = (it % _WINDOW == 0) & ~c.fresh
    fall = c.checkpoint - s.f
    far = s.f > best + _CLOSE_TO_BEST
    too_slow = far & (_PACE_SLACK * fall * (max_steps - it) < (s.f - best) * _WINDOW)
    stalled = check & ((fall < ftol) | too_slow)
    checkpoint = jnp.where(c.fresh | check, s.f, c.checkpoint)
    projected = s.x - jnp.clip(s.x - s.g, problem.lower, problem.upper)
    tiny = ~c.fresh & (jnp.max(jnp.abs(taken)) <= _XTOL * (1.0 + jnp.max(jnp.abs(c.s.x))))
    converged = (jnp.max(jnp.abs(projected)) <= gtol) | stalled | tiny
    return TrustRegionCarry(s, it, checkpoint, converged, jnp.asarray(False))
