"""Timescale diagnostics along a trajectory, and which species to treat as fast.

Fast species are found by the computational-singular-perturbation (CSP) pointer: with the
Jacobian restricted to the stoichiometric subspace, ``J_r = V Λ V⁻¹``, right eigenvectors
``a_i = Q v_i`` and left ones ``b^i = (V⁻¹)_i Qᵀ``, the pointer of species ``s`` to the fast modes
is ``P_s = Σ_{i fast} a_{s,i} b^i_s`` (the diagonal of the fast projector; ``Σ_s P_s`` = number
of fast modes). Species with the largest pointer are the ones a QSSA should eliminate.
Reference: Lam & Goussis, Int. J. Chem. Kinet. 26:461 (1994); Goussis & Lam, Proc. Combust.
Inst. 24:113 (1992).
"""

import equinox as eqx
import jax
import numpy as np

from .._errors import ModelError
from .._simulate import as_parameters, as_state, simulate
from .._types import Array, Float
from ._ode import ODE
from ._timescales import _subspace_basis


class TimescaleProfile(eqx.Module):
    """Eigen-timescales of the linearised dynamics at each state of a trajectory.

    **Fields** (NumPy arrays):
    - ``ts``: times [T] (or indices when none were given).
    - ``rates``: ``|Re λ|`` [T, M] of the Jacobian on the stoichiometric subspace (M = rank N),
      slowest first; ``timescales = 1 / rates`` [T, M].
    - ``gaps``: ``rates[:, k+1] / rates[:, k]`` [T, M−1], the separation between neighbouring
      modes (``inf`` past a marginal mode).
    - ``pointers``: CSP pointers [T, M, S]: ``pointers[t, k]`` is the diagonal of the projector
      onto the ``k + 1`` fastest modes at time ``t``.
    """

    ts: np.ndarray
    rates: np.ndarray
    gaps: np.ndarray
    pointers: np.ndarray
    species_names: tuple[str, ...] = eqx.field(static=True)

    @property
    def timescales(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return 1.0 / self.rates


_jacobians = eqx.filter_jit(
    lambda model, ts, xs, theta: jax.vmap(model.jacobian, in_axes=(0, 0, None))(ts, xs, theta)
)


def _pointers(jac: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rates [M] (slowest first) and fast-projector diagonals [M, S] at one state."""
    reduced = basis.T @ jac @ basis
    eigenvalues, right = np.linalg.eig(reduced)
    order = np.argsort(np.abs(eigenvalues.real))
    eigenvalues, right = eigenvalues[order], right[:, order]
    try:
        left = np.linalg.inv(right)
    except np.linalg.LinAlgError:
        left = np.linalg.pinv(right)
    a = basis @ right  # [S, M] right eigenvectors in species coordinates
    b = left @ basis.T  # [M, S] left eigenvectors
    contributions = (a * b.T).real  # [S, M]: a_{s,i} b^i_s
    m = reduced.shape[0]
    # projector onto the k+1 fastest modes (the last k+1 columns)
    pointers = np.stack([contributions[:, m - k - 1 :].sum(axis=1) for k in range(m)])
    return np.abs(eigenvalues.real), pointers


def timescale_profile(model, xs, params=None, ts=None) -> TimescaleProfile:
    """Eigen-timescales, gaps and CSP pointers at each state ``xs`` [T, S] (e.g. ``sol.ys``).

    The Jacobian's conserved (zero) modes are set apart as in `timescales`: only the ``M =
    rank N`` dynamic modes are reported.

    **Example:**
    ```python
    sol = msjax.simulate(model, msjax.ODE(), ts)
    profile = msjax.timescale_profile(model, sol.ys, ts=sol.ts)
    profile.gaps.min(axis=0)  # separation of each neighbouring pair along the trajectory
    ```
    """
    theta = as_parameters(model, params)
    xs = np.atleast_2d(np.asarray(xs, dtype=float))
    if xs.shape[-1] != len(model.species_names) or xs.ndim != 2:
        raise ModelError(f"xs must be [T, {len(model.species_names)}], got {xs.shape}")
    times = np.arange(xs.shape[0], dtype=float) if ts is None else np.asarray(ts, dtype=float)
    jacs = np.asarray(_jacobians(model, times, xs, theta))
    basis = np.asarray(_subspace_basis(model))
    rates, pointers = zip(*(_pointers(j, basis) for j in jacs), strict=True)
    rates = np.stack(rates)
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = np.where(rates[:, :-1] > 0, rates[:, 1:] / rates[:, :-1], np.inf)
    return TimescaleProfile(times, rates, gaps, np.stack(pointers), model.species_names)


class FastSpeciesSuggestion(eqx.Module):
    """Which species to treat as fast, and the evidence.

    **Fields:**
    - ``fast``: the suggested fast species (pass to `qssa`), one per fast mode.
    - ``n_fast_modes``: how many modes are fast.
    - ``gap``: ``min_t rate_fast(t) / rate_slow(t)`` at the split: the smallest separation, along
      the states examined, between the slowest fast mode and the fastest slow one. A QSSA is
      accurate roughly to ``1 / gap``.
    - ``pointers``: [S] CSP pointer of each species to the fast modes, averaged over the states.
    - ``profile``: the `TimescaleProfile` the suggestion was read from.
    """

    fast: tuple[str, ...]
    n_fast_modes: int
    gap: float
    pointers: Float[Array, " species"]
    profile: TimescaleProfile


def suggest_fast_species(
    model,
    x=None,
    params=None,
    *,
    ts=None,
    n_fast: int | None = None,
    method: ODE | None = None,
) -> FastSpeciesSuggestion:
    """Propose fast species from the eigenvectors of the fast modes, with the gap as evidence.

    States examined: the trajectory from ``x`` (default the initial state) at times ``ts`` when
    ``ts`` is given (simulated with ``method``, default ``ODE()``); else ``x`` itself, one state
    [S] or several [T, S]. The split between fast and slow modes is the one with the largest
    worst-case gap ``min_t rate_{k+1}/rate_k`` (or the ``n_fast`` fastest modes); the fast
    species are the ``n_fast`` species with the largest CSP pointer to those modes.

    **Example:**
    ```python
    full = msjax.models.michaelis_menten(e0=0.01)
    s = msjax.suggest_fast_species(full, ts=jnp.linspace(0, 4000, 21))
    s.fast, s.gap  # ('C',), ~5e2
    ```
    """
    theta = as_parameters(model, params)
    if ts is not None:
        sol = simulate(model, method or ODE(), ts, theta, as_state(model, x))
        xs, times = sol.ys, sol.ts
    else:
        xs, times = as_state(model, x), None
    profile = timescale_profile(model, np.atleast_2d(np.asarray(xs)), theta, times)
    m = profile.rates.shape[1]
    if m < 2 and n_fast is None:
        raise ModelError("suggest_fast_species: the model has fewer than two dynamic modes")
    worst_gap = profile.gaps.min(axis=0)  # [M-1]; split after mode k leaves M-1-k fast modes
    if n_fast is None:
        split = int(np.argmax(worst_gap))
        n_fast = m - 1 - split
    if not 1 <= n_fast <= m:
        raise ModelError(f"suggest_fast_species: n_fast must be in 1..{m}, got {n_fast}")
    gap = float(worst_gap[m - 1 - n_fast]) if n_fast < m else float("inf")
    pointers = profile.pointers[:, n_fast - 1].mean(axis=0)
    sizes = np.abs(np.atleast_2d(np.asarray(xs))).mean(axis=0)
    fast = _pick(model, pointers, sizes, n_fast)
    return FastSpeciesSuggestion(fast, n_fast, gap, pointers, profile)


def _pick(model, pointers: np.ndarray, sizes: np.ndarray, n_fast: int) -> tuple[str, ...]:
    """The ``n_fast`` species with the largest pointers, skipping species slaved to those
    already picked (their rows of N in the span of the picked rows: they follow by
    conservation); ties (e.g. ``E`` and ``C``, rows ``±``) go to the smaller pool."""
    stoichiometry = np.asarray(model.stoichiometry, dtype=float)
    scale = max(float(np.abs(pointers).max()), 1e-300)
    order = sorted(
        (i for i in range(len(pointers)) if not model.boundary[i]),
        key=lambda i: (-round(float(pointers[i]) / scale, 6), float(sizes[i])),
    )
    picked: list[int] = []
    for i in order:
        rows = stoichiometry[picked + [i]]
        if np.linalg.matrix_rank(rows) == len(picked) + 1:
            picked.append(i)
        if len(picked) == n_fast:
            break
    return tuple(model.species_names[i] for i in sorted(picked))


__all__ = ["FastSpeciesSuggestion", "TimescaleProfile", "suggest_fast_species", "timescale_profile"]
