"""`timescales`: the Jacobian's eigen-timescales, conserved (zero) modes set apart."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._simulate import as_parameters, as_state
from .._types import Array, Float


class Timescales(eqx.Module):
    """Eigen-decomposition of the linearised dynamics at a state.

    **Fields:**
    - ``eigenvalues``: complex [M], the eigenvalues of the Jacobian restricted to the
      stoichiometric subspace (M = rank N), slowest first.
    - ``timescales``: ``1 / |Re λ|`` [M], slowest first (``inf`` for a marginal mode).
    - ``n_conserved``: number of conserved (structurally zero) modes, ``S − rank N``; they are
      reported here and not among the eigenvalues.
    """

    eigenvalues: Array
    timescales: Float[Array, " modes"]
    n_conserved: int = eqx.field(static=True)


def _subspace_basis(model) -> Array:
    """Orthonormal basis [S, M] of the directions the dynamics can move in (range of N)."""
    stoichiometry = np.asarray(model.stoichiometry, dtype=float)
    rank = int(np.linalg.matrix_rank(stoichiometry)) if stoichiometry.size else 0
    moves = (
        jnp.asarray(stoichiometry)
        * model.volumes[np.asarray(model.reaction_compartments)][None, :]
        / model.volumes[np.asarray(model.species_compartments)][:, None]
    )
    u, _, _ = jnp.linalg.svd(moves, full_matrices=False)
    return u[:, :rank]


def timescales(model, x=None, params=None, t: float = 0.0) -> Timescales:
    """Timescales ``1/|Re λ_i|`` of the Jacobian at state ``x`` [S] (default the initial state).

    The Jacobian ``J`` maps into the range of ``N``, so its eigenvalues split into
    ``S − rank N`` exact zeros (the conservation laws) and the eigenvalues of ``Qᵀ J Q`` with
    ``Q`` an orthonormal basis of that range: those are the dynamic modes reported here.

    **Example:** ``msjax.timescales(model, msjax.steady_state(model).x).timescales``
    """
    theta = as_parameters(model, params)
    x = as_state(model, x)
    basis = _subspace_basis(model)
    reduced = basis.T @ model.jacobian(t, x, theta) @ basis
    eigenvalues = jnp.linalg.eigvals(reduced)
    order = jnp.argsort(jnp.abs(eigenvalues.real))
    eigenvalues = eigenvalues[order]
    with np.errstate(divide="ignore"):
        scales = 1.0 / jnp.abs(eigenvalues.real)
    return Timescales(eigenvalues, scales, len(model.species_names) - basis.shape[1])
