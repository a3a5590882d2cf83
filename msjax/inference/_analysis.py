"""Sensitivities, Fisher information, sloppiness, identifiability, prediction uncertainty."""

import math
from fractions import Fraction

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._jit import ode_jit
from .._types import Array, Float
from ..deterministic import ODE
from ._errors import InferenceError
from ._fisher import fisher_from_jacobians, forward, observable_jacobian
from ._fit import _clip, _objective, latin_hypercube, lbfgs
from ._problem import Problem

# --- sensitivities ---------------------------------------------------------------------------


def sensitivities(problem: Problem, theta, *, normalise: bool = False):
    """Sensitivities of the simulated observables at every measurement, by forward mode.

    **Arguments:** ``theta`` [E] on the parameter scale; ``normalise``: return
    ``d log h / d log θ`` (relative sensitivities) instead of ``dh/dθ_scale``.

    **Returns:** ``(h [M], S [M, E])`` with ``S_ij = ∂h_i/∂θ_j`` (θ on its scale) or, if
    normalised, ``∂ log h_i / ∂ log θ_j``.
    """
    h, _, dh, _, ok = observable_jacobian(forward(problem), jnp.asarray(theta, dtype=float))
    if not bool(ok):
        raise InferenceError("sensitivities: a simulation failed at these parameters")
    if not normalise:
        return h, dh
    # ∂θ_lin/∂θ_scale: lin → 1, log → θ, log10 → θ ln 10; so ∂/∂log θ = θ ∂/∂θ_lin
    lin = jnp.take(problem.linear_parameters(theta), problem.estimated)
    dlin = jnp.where(
        problem.codes == 0, 1.0, jnp.where(problem.codes == 1, lin, lin * math.log(10))
    )
    return h, dh / dlin[None, :] * lin[None, :] / h[:, None]


def fisher_information(problem: Problem, theta) -> Float[Array, "estimated estimated"]:
    """Expected Fisher information [E, E] on the parameter scale.

    ``F = Σ_i I_μ,i ∇h_i ∇h_iᵀ + I_σ,i ∇log σ_i ∇log σ_iᵀ`` with each noise model's
    information about its mean and log-scale (Gaussian: ``F = JᵀΣ⁻¹J + 2 ∇logσ ∇logσᵀ``);
    ``J`` is exact, from forward-mode autodiff.
    """
    theta = jnp.asarray(theta, dtype=float)
    h, sigma, dh, dls, ok = observable_jacobian(forward(problem), theta)
    if not bool(ok):
        raise InferenceError("fisher_information: a simulation failed at these parameters")
    return fisher_from_jacobians(problem, h, sigma, dh, dls)


# --- sloppiness ------------------------------------------------------------------------------


class Sloppiness(eqx.Module):
    """The eigen-decomposition of a Fisher information matrix (Gutenkunst et al. 2007).

    **Fields:** ``eigenvalues`` [E] descending; ``eigenvectors`` [E, E] (columns);
    ``parameter_ids``; ``stiff`` [E] (eigenvalue ≥ ``threshold`` × largest).
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    parameter_ids: tuple[str, ...] = eqx.field(static=True)
    stiff: np.ndarray
    threshold: float = eqx.field(static=True)

    @property
    def decades(self) -> float:
        """Decades spanned by the positive spectrum."""
        positive = self.eigenvalues[self.eigenvalues > 0]
        return float(np.log10(positive[0] / positive[-1])) if positive.size > 1 else 0.0

    def combination(self, k: int, tol: float = 0.1) -> str:
        """Eigenvector ``k`` as a named combination, e.g. ``k1^0.71 · k2^-0.70`` (on log scales
        a direction in θ is a product of powers)."""
        return _combination(self.eigenvectors[:, k], self.parameter_ids, tol)

    def table(self) -> str:
        """One line per eigenvalue: value, stiff/sloppy, combination."""
        lines = [f"FIM spectrum over {self.decades:.1f} decades"]
        for k, value in enumerate(self.eigenvalues):
            kind = "stiff " if self.stiff[k] else "sloppy"
            lines.append(f"  λ{k + 1:<3d} {value: .3e}  {kind}  {self.combination(k)}")
        return "\n".join(lines)


def _powers(vector, tol=1e-3) -> np.ndarray:
    """A direction [E] scaled so that its smallest significant component is ±1 and its first
    significant one is positive: the powers of a product ``Π θ_i^p_i``; insignificant ones
    zeroed."""
    vector = np.asarray(vector, dtype=float)
    big = np.abs(vector) >= tol * np.max(np.abs(vector))
    smallest = np.min(np.abs(vector[big]))
    vector = vector / smallest * np.sign(vector[np.argmax(big)])
    return np.where(big, vector, 0.0)


def _combination(vector, names, tol=0.1, exact=False) -> str:
    vector = _powers(vector, tol) if exact else np.asarray(vector, dtype=float)
    terms = []
    for name, v in zip(names, vector, strict=True):
        if abs(v) < tol * np.max(np.abs(vector)):
            continue
        if exact:
            frac = Fraction(float(v)).limit_denominator(6)
            power = "" if frac == 1 else f"^{frac}" if frac.denominator == 1 else f"^({frac})"
            terms.append(f"{name}{power}")
        else:
            terms.append(f"{name}^{v:.2f}")
    return " · ".join(terms)


def sloppiness(fim, parameter_ids=None, *, threshold: float = 1e-3) -> Sloppiness:
    """Eigenvalues (descending), eigenvectors and stiff/sloppy split of ``fim`` [E, E].

    ``stiff``: eigenvalues within ``threshold`` (default 3 decades) of the largest.
    """
    fim = np.asarray(fim, dtype=float)
    values, vectors = np.linalg.eigh(0.5 * (fim + fim.T))
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    # sign convention: largest component positive
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])])
    vectors = vectors * np.where(signs == 0, 1.0, signs)
    names = (
        tuple(parameter_ids)
        if parameter_ids is not None
        else tuple(f"θ{i}" for i in range(fim.shape[0]))
    )
    stiff = values >= threshold * values[0]
    return Sloppiness(values, vectors, names, stiff, threshold)


# --- structural identifiability --------------------------------------------------------------


class StructuralIdentifiability(eqx.Module):
    """Rank of the sensitivity matrix at random points and its null space.

    **Fields:** ``rank``; ``n_parameters``; ``singular_values`` [n_points, E];
    ``null_space`` [E, E − rank] (columns, on log parameters); ``non_identifiable``:
    parameter ids touched by the null space; ``identifiable_combinations``: for those
    parameters, the products of powers that the data determine (e.g. ``"k1 · k2"``);
    ``combination_powers`` [K, E]: their powers ``p`` (the value is ``Π θ_i^p_i`` on the
    linear scale); ``parameter_ids``.
    """

    rank: int = eqx.field(static=True)
    n_parameters: int = eqx.field(static=True)
    singular_values: np.ndarray
    null_space: np.ndarray
    non_identifiable: tuple[str, ...] = eqx.field(static=True)
    identifiable_combinations: tuple[str, ...] = eqx.field(static=True)
    combination_powers: np.ndarray
    parameter_ids: tuple[str, ...] = eqx.field(static=True)

    def combination_values(self, linear) -> np.ndarray:
        """Values [K] of the identifiable combinations at linear-scale parameters [E]."""
        return np.prod(np.asarray(linear, dtype=float)[None, :] ** self.combination_powers, 1)

    @property
    def identifiable(self) -> bool:
        return self.rank == self.n_parameters

    def report(self) -> str:
        if self.identifiable:
            return f"all {self.n_parameters} parameters are structurally identifiable"
        lines = [
            f"rank {self.rank} of {self.n_parameters}: not identifiable: "
            f"{', '.join(self.non_identifiable)}"
        ]
        for combo in self.identifiable_combinations:
            lines.append(f"  only {combo} is identifiable")
        return "\n".join(lines)


def _dense_problem(problem: Problem, n_times: int) -> Problem:
    """The same problem measured noise-free on a dense grid: every observable at ``n_times``
    times per experiment (up to its last measured time)."""

    rows = []
    seen = set()
    for m in problem.measurements:
        key = (m.observable, m.condition, m.preequilibration)
        if key in seen:
            continue
        seen.add(key)
        t_end = max(
            (
                x.time
                for x in problem.measurements
                if (x.observable, x.condition, x.preequilibration) == key and math.isfinite(x.time)
            ),
            default=1.0,
        )
        for t in np.linspace(0.0, t_end, n_times)[1:]:
            rows.append(m._replace(time=float(t), value=1.0))
    return problem.with_measurements(rows)


def identifiable_directions(null, touched, *, max_support: int = 4, tol: float = 1e-6):
    """Sparse log-parameter directions [K, E] among the ``touched`` [E] (bool) parameters that
    are orthogonal to the null space ``null`` [E, N]: the identifiable combinations, each with
    the fewest parameters (``k1 · k2`` rather than a rotated basis of the same plane).

    Supports of 2, 3, ... up to ``max_support`` parameters are searched in order; a support
    whose restricted null space leaves exactly one orthogonal direction contributes it when it
    is independent of those found. Directions not found this way (larger supports) are
    completed by an orthonormal basis of the remaining identifiable subspace.
    """
    from itertools import combinations

    e = null.shape[0]
    sub = [int(i) for i in np.flatnonzero(touched)]
    if null.size == 0 or not sub:
        return []
    basis = np.eye(e)[:, sub]
    projected = basis - null @ (null.T @ basis)
    dim = int(np.sum(np.linalg.svd(projected, compute_uv=False) > tol))
    found: list[np.ndarray] = []
    for size in range(2, min(max_support, len(sub)) + 1):
        for support in combinations(sub, size):
            _, s, vt = np.linalg.svd(null[list(support), :].T)
            s_full = np.zeros(size)
            s_full[: s.size] = s
            free = vt[s_full <= tol]
            if free.shape[0] != 1:
                continue
            v = np.zeros(e)
            v[list(support)] = free[0]
            if np.linalg.matrix_rank(np.array([*found, v]), tol=tol) > len(found):
                found.append(v)
            if len(found) == dim:
                return found
    # complete with the identifiable subspace orthogonal to what was found
    rest = projected - (
        np.array(found).T @ np.linalg.pinv(np.array(found).T) @ projected if found else 0.0
    )
    u, s, _ = np.linalg.svd(rest, full_matrices=False)
    return found + [u[:, k] for k in range(dim - len(found)) if s[k] > tol]


def structural_identifiability(
    problem: Problem,
    *,
    key,
    n_points: int = 3,
    n_times: int = 40,
    rtol: float = 1e-7,
) -> StructuralIdentifiability:
    """Structural (local, numerical) identifiability from the sensitivity rank.

    At ``n_points`` random parameter points (Latin hypercube in the bounds) the noise-free
    observables on a dense time grid (``n_times`` per experiment and observable) are
    differentiated w.r.t. the log parameters; the rank of that sensitivity matrix
    (singular values above ``rtol`` × largest, at tight solver tolerances) is the number of
    identifiable directions, and its null space names what the data cannot tell apart
    (e.g. only the product ``k1·k2`` when ``k1`` and ``k2`` enter only as ``k1 k2``).
    """
    dense = forward(_dense_problem(problem, n_times).with_method(ODE(rtol=1e-11, atol=1e-13)))
    points = latin_hypercube(problem.lower, problem.upper, n_points, key=key)
    log_factor = jnp.where(
        problem.codes == 0, 1.0, jnp.where(problem.codes == 1, 1.0, math.log(10))
    )
    svals, nulls, ranks = [], [], []
    for theta in points:
        h, _, dh, _, ok = observable_jacobian(dense, theta)
        if not bool(ok):
            continue
        lin = jnp.take(dense.linear_parameters(theta), dense.estimated)
        # d/dlog θ: log scales → divide by ln(10) for log10; lin scale → multiply by θ
        jac = jnp.where(problem.codes == 0, dh * lin[None, :], dh / log_factor[None, :])
        jac = np.asarray(jac) / np.maximum(np.abs(np.asarray(h)), 1e-12)[:, None]
        _, s, vt = np.linalg.svd(jac, full_matrices=True)
        s_full = np.zeros(jac.shape[1])
        s_full[: s.size] = s
        rank = int(np.sum(s_full > rtol * s_full[0]))
        svals.append(s_full)
        ranks.append(rank)
        nulls.append(vt[rank:].T)
    if not ranks:
        raise InferenceError("structural_identifiability: every simulation failed")
    rank = max(ranks)
    null = nulls[ranks.index(rank)]
    ids = problem.parameter_ids
    touched = np.any(np.abs(null) > 1e-3, axis=1) if null.size else np.zeros(len(ids), bool)
    directions = identifiable_directions(null, touched)
    combos = [_combination(v, ids, tol=1e-3, exact=True) for v in directions]
    powers = np.asarray([_powers(v) for v in directions]).reshape(-1, len(ids))
    return StructuralIdentifiability(
        rank=rank,
        n_parameters=len(ids),
        singular_values=np.asarray(svals),
        null_space=null,
        non_identifiable=tuple(ids[i] for i in np.flatnonzero(touched)),
        identifiable_combinations=tuple(combos),
        combination_powers=powers,
        parameter_ids=ids,
    )


# --- profile likelihood -----------------------------------------------------------------------


class Profile(eqx.Module):
    """Profile likelihoods; per profiled parameter ``values`` [2n+1] (its scale), ``nllh``
    [2n+1], ``ci`` (lower, upper; ±inf where the profile stays below the threshold),
    ``flat`` (neither side crosses: practically non-identifiable)."""

    parameter_ids: tuple[str, ...] = eqx.field(static=True)
    values: np.ndarray  # [K, 2n+1]
    nllh: np.ndarray  # [K, 2n+1]
    xs: np.ndarray  # [K, 2n+1, E]
    ci: np.ndarray  # [K, 2]
    flat: np.ndarray  # [K]
    threshold: float = eqx.field(static=True)


_PROFILE_GTOL = 1e-5  # projected gradient (parameter scale) at which re-optimisation stops


def _profile_step(problem, index, value, x0, steps):
    """Minimise nllh over all parameters but ``index`` (fixed at ``value``); warm start ``x0``.
    At most ``steps`` L-BFGS iterations; it stops at a projected gradient below
    `_PROFILE_GTOL` or at an iteration that does not lower the objective (each such one costs
    a line search of 30 solves, and at a re-optimised point all the rest would too)."""
    import optax

    objective = _objective(problem)
    mask = jnp.arange(x0.shape[0]) != index

    def f(z):
        return objective(_clip(problem, jnp.where(mask, z, value)))

    opt = lbfgs()
    x = jnp.where(mask, x0, value)
    with jax.numpy_dtype_promotion("standard"):
        state = opt.init(x)
        value_and_grad = optax.value_and_grad_from_state(f)

        def body(carry):
            k, x, state, _ = carry
            v, g = value_and_grad(x, state=state)
            g = jnp.where(mask & jnp.isfinite(g), g, 0.0)
            updates, state = opt.update(g, state, x, value=v, grad=g, value_fn=f)
            new = jnp.where(mask, _clip(problem, x + updates), value)
            stationary = jnp.max(jnp.abs(x - _clip(problem, x - g))) <= _PROFILE_GTOL
            lowered = optax.tree.get(state, "value") < v
            done = stationary | ~lowered
            return k + 1, jnp.where(done, x, new), state, done

        def more(carry):
            k, _, _, done = carry
            return (k < steps) & ~done

        start = (jnp.asarray(0), x, state, jnp.asarray(False))
        _, x, _, _ = jax.lax.while_loop(more, body, start)
    return x, f(x)


@ode_jit
def _profile_steps(problem, indices, values, x0s, steps):
    """`_profile_step` for every row [R] of ``indices``, ``values`` and ``x0s`` [R, E] at once:
    one program compiled at top level, with `ode_jit`'s CPU options (a jitted step under an
    outer `jax.vmap` would not get them)."""
    return jax.vmap(lambda i, v, x0: _profile_step(problem, i, v, x0, steps))(indices, values, x0s)


def profile(
    problem: Problem,
    theta_hat,
    parameters=None,
    *,
    n_points: int = 10,
    width: float = 2.0,
    steps: int = 30,
    confidence: float = 0.95,
) -> Profile:
    """Profile likelihoods of ``parameters`` (default all) around the optimum ``theta_hat``.

    Each profile walks ``n_points`` steps to each side (up to ``width`` on the parameter
    scale, within bounds), re-optimising the other parameters by L-BFGS warm-started from the
    previous point; all profiles and both directions advance together in one vmapped program.
    Likelihood-ratio intervals: ``nllh ≤ min + χ²₁(confidence)/2`` (1.92 at 95 %), crossings
    interpolated linearly; a profile that never crosses on either side is ``flat``.
    """
    from scipy.stats import chi2

    theta_hat = jnp.asarray(theta_hat, dtype=float)
    ids = problem.parameter_ids
    names = list(ids) if parameters is None else list(parameters)
    index = np.asarray([ids.index(n) for n in names])
    lower = np.asarray(problem.lower)[index]
    upper = np.asarray(problem.upper)[index]
    center = np.asarray(theta_hat)[index]
    offsets = np.linspace(0, width, n_points + 1)[1:]
    # rows: (parameter k, direction d)
    idx = np.repeat(index, 2)
    grids = np.stack(
        [
            np.clip(c + s * offsets, lo, hi)
            for c, lo, hi in zip(center, lower, upper, strict=True)
            for s in (-1.0, 1.0)
        ]
    )  # [2K, n]
    f_hat = float(problem.objective(theta_hat))
    x = jnp.broadcast_to(theta_hat, (idx.size, theta_hat.shape[0]))
    xs, fs = [], []
    for j in range(n_points):
        x, f = _profile_steps(problem, jnp.asarray(idx), jnp.asarray(grids[:, j]), x, steps)
        xs.append(np.asarray(x))
        fs.append(np.asarray(f))
    xs = np.stack(xs, axis=1)  # [2K, n, E]
    fs = np.stack(fs, axis=1)  # [2K, n]
    threshold = float(chi2.ppf(confidence, 1)) / 2.0
    values, nllh, paths, cis, flat = [], [], [], [], []
    for k in range(len(names)):
        left, right = 2 * k, 2 * k + 1
        v = np.concatenate([grids[left][::-1], [center[k]], grids[right]])
        f = np.concatenate([fs[left][::-1], [f_hat], fs[right]])
        p = np.concatenate([xs[left][::-1], np.asarray(theta_hat)[None], xs[right]])
        f_min = min(f_hat, float(np.min(f)))
        bounds = []
        for side, grid, fv in ((-1, grids[left], fs[left]), (1, grids[right], fs[right])):
            g = np.concatenate([[center[k]], grid])
            d = np.concatenate([[f_hat], fv]) - f_min - threshold
            crossing = np.flatnonzero(d > 0)
            if crossing.size == 0:
                bounds.append(side * np.inf)
                continue
            j = crossing[0]
            t = -d[j - 1] / (d[j] - d[j - 1]) if j > 0 else 0.0
            bounds.append(g[j - 1] + t * (g[j] - g[j - 1]) if j > 0 else g[0])
        values.append(v)
        nllh.append(f)
        paths.append(p)
        cis.append(bounds)
        flat.append(bool(np.isinf(bounds[0]) and np.isinf(bounds[1])))
    return Profile(
        tuple(names),
        np.asarray(values),
        np.asarray(nllh),
        np.asarray(paths),
        np.asarray(cis),
        np.asarray(flat),
        threshold,
    )


# --- prediction uncertainty -----------------------------------------------------------------


class Prediction(eqx.Module):
    """A prediction with uncertainty: ``mean`` [...], ``std`` [...] and, for the Laplace
    approximation, the parameter covariance [E, E] used."""

    mean: Array
    std: Array
    covariance: Array | None


def predict_uncertainty(
    problem: Problem, theta, prediction, *, fim=None, samples=None
) -> Prediction:
    """Propagate parameter uncertainty to ``prediction(θ) -> array`` (θ on the parameter scale).

    Laplace approximation (default): ``Cov(θ) ≈ F⁻¹`` (pseudo-inverse for sloppy directions),
    ``Var(g) ≈ ∇g Cov ∇gᵀ`` (delta method). With ``samples`` [N, E] (an ensemble of fits or
    a profile path), the ensemble mean and standard deviation instead.
    """
    theta = jnp.asarray(theta, dtype=float)
    if samples is not None:
        values = jax.vmap(prediction)(jnp.asarray(samples, dtype=float))
        return Prediction(jnp.mean(values, axis=0), jnp.std(values, axis=0), None)
    fim = fisher_information(problem, theta) if fim is None else jnp.asarray(fim)
    cov = jnp.linalg.pinv(fim, hermitian=True, rtol=1e-12)
    value = prediction(theta)
    jac = jax.jacfwd(prediction)(theta).reshape(-1, theta.shape[0])
    var = jnp.einsum("ij,jk,ik->i", jac, cov, jac).reshape(jnp.shape(value))
    return Prediction(value, jnp.sqrt(jnp.maximum(var, 0.0)), cov)
