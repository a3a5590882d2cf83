"""`qssa`: quasi-steady-state reduction of a `Model`, differentiable, with its own error report.

The fast species ``F`` (chosen by the user) are no longer integrated: together with the species
whose stoichiometry is slaved to them (``D``, rows of ``N`` in the row span of ``N_F``, e.g. free
enzyme ``E`` when ``C`` is fast) they form the algebraic block ``Z = F ∪ D``, solved at every
evaluation of the right-hand side from

    (N v)_z(s, z, θ) = 0   for rank(N_Z) independent rows z ∈ Z     (quasi-steady state)
    L_Z · amounts(z) = T                                         (conservation within Z)

where ``L_Z`` spans the left null space of ``N_Z`` (conservation laws supported on ``Z``) and the
totals ``T`` become parameters of the reduced model (``E_total``), valued from the full model's
initial state. Reference: Segel & Slemrod, SIAM Rev. 31:446 (1989); Goussis, Combust. Theory
Model. 16:869 (2012) for the slaving of dependent species.
"""

import weakref

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from .._errors import ModelError
from .._jit import ode_jit
from .._simulate import as_parameters, as_state, simulate
from .._solution import Solution
from .._types import Array, Float, Scalar, State
from ..model._conservation import independent_columns, left_null_space
from ..model._model import TIME, Model, Reaction, Species
from ..model._ratelaws import AbstractRateLaw, Hill, MassAction, MichaelisMenten
from ._newton import newton_root
from ._ode import ODE


class _Reduction(eqx.Module):
    """Static description of a QSSA reduction (plain Python data: hashable and comparable).

    Indices refer to the full model's species order. ``algebraic`` is ``Z`` (fast species in
    the user's order, then slaved ones); ``qss_rows`` index into ``Z``; ``laws`` is [K, |Z|].
    """

    skeleton: Model  # the full model with its arrays replaced by None
    arrays: tuple  # (treedef, ((shape, values), ...)) of the full model's arrays
    slow: tuple[int, ...]
    algebraic: tuple[int, ...]
    n_fast: int
    qss_rows: tuple[int, ...]
    laws: tuple[tuple[int, ...], ...]
    total_names: tuple[str, ...]
    linear: bool
    guess: tuple[float, ...]
    rtol: float
    atol: float
    max_steps: int

    @property
    def species_names(self) -> tuple[str, ...]:
        return self.skeleton.species_names

    @property
    def fast_names(self) -> tuple[str, ...]:
        return tuple(self.species_names[i] for i in self.algebraic[: self.n_fast])

    @property
    def algebraic_names(self) -> tuple[str, ...]:
        return tuple(self.species_names[i] for i in self.algebraic)

    @property
    def slow_names(self) -> tuple[str, ...]:
        return tuple(self.species_names[i] for i in self.slow)

    def full_model(self, volumes: Array | None = None) -> Model:
        """The full model, rebuilt; ``volumes`` [C] replaces its volumes (traced values)."""
        treedef, leaves = self.arrays
        arrays = jax.tree_util.tree_unflatten(
            treedef, [jnp.asarray(np.asarray(v, dtype=float).reshape(s)) for s, v in leaves]
        )
        full = eqx.combine(arrays, self.skeleton)
        if volumes is not None:
            full = eqx.tree_at(lambda m: m.volumes, full, volumes)
        return full

    def laws_matrix(self, dtype) -> Array:
        return jnp.asarray(
            np.asarray(self.laws, dtype=float).reshape(-1, len(self.algebraic)), dtype
        )


def _freeze(model: Model) -> tuple[Model, tuple]:
    """Split a model into its static skeleton and its arrays as nested tuples (hashable)."""
    arrays, skeleton = eqx.partition(model, eqx.is_array)
    leaves, treedef = jax.tree_util.tree_flatten(arrays)
    frozen = tuple((tuple(np.shape(x)), tuple(np.asarray(x).ravel().tolist())) for x in leaves)
    return skeleton, (treedef, frozen)


class _QssaRate(AbstractRateLaw):
    """Rate law of one reaction of a reduced model: solve ``Z`` from the quasi-steady state,
    then evaluate the original law of reaction ``channel`` of the full model."""

    reduction: _Reduction
    channel: int

    def names(self) -> frozenset[str]:
        r = self.reduction
        return frozenset(
            (
                *r.slow_names,
                *r.skeleton.parameter_names,
                *r.total_names,
                *r.skeleton.compartment_names,
            )
        )

    def __call__(self, env, reactants, products):
        r = self.reduction
        dtype = jnp.result_type(env[r.slow_names[0]]) if r.slow else jnp.float64
        t = jnp.asarray(env[TIME], dtype=dtype)
        theta = _stack([env[p] for p in r.skeleton.parameter_names], dtype)
        totals = _stack([env[p] for p in r.total_names], dtype)
        volumes = _stack([env[c] for c in r.skeleton.compartment_names], dtype)
        slow = _stack([env[s] for s in r.slow_names], dtype)
        full = r.full_model(volumes)
        x = _shared(env, r, lambda: _complete(r, full, t, slow, theta, totals))
        return full.rates(t, x, theta)[self.channel]


# Trace-time memo: `Model.rates` hands one env to all its rate laws, so the algebraic block is
# solved once per evaluation rather than once per reaction. Keyed by the env object while it
# lives (one `rates` call), it only skips re-tracing identical work; with an env that cannot be
# weakly referenced it recomputes, which gives the same values.
_SOLVED: dict[int, tuple] = {}


def _shared(env, reduction: "_Reduction", compute):
    try:
        ref = weakref.ref(env)
    except TypeError:
        return compute()
    entry = _SOLVED.get(id(env))
    if entry is None or entry[0]() is not env:
        entry = (ref, {})
        _SOLVED[id(env)] = entry
        weakref.finalize(env, _SOLVED.pop, id(env), None)
    memo = entry[1]
    if id(reduction) not in memo or memo[id(reduction)][0] is not reduction:
        memo[id(reduction)] = (reduction, compute())
    return memo[id(reduction)][1]


def _stack(values, dtype) -> Array:
    if not values:
        return jnp.zeros((0,), dtype=dtype)
    return jnp.stack([jnp.asarray(v, dtype=dtype) for v in values])


def _embed(r: _Reduction, slow: Array) -> Array:
    x = jnp.zeros((len(r.species_names),), dtype=slow.dtype)
    return x.at[np.asarray(r.slow, dtype=int)].set(slow)


def _qss_residual(z, args):
    """[|Z|] quasi-steady-state rows of ``dx/dt`` and the conservation laws within ``Z``."""
    r, full, t, x_slow, theta, totals = args
    alg = np.asarray(r.algebraic, dtype=int)
    x = x_slow.at[alg].set(z)
    rows = np.asarray([r.algebraic[i] for i in r.qss_rows], dtype=int)
    f = full.rhs(t, x, theta)[rows]
    laws = r.laws_matrix(z.dtype) @ full.amounts(x)[alg] - totals
    return jnp.concatenate([f, laws])


def _solve_algebraic(r: _Reduction, full, t, x_slow, theta, totals) -> Float[Array, " algebraic"]:
    """Values [|Z|] of the algebraic species: one linear solve (closed form) when the block
    is affine in ``Z``, else Newton (gradients by the implicit function theorem)."""
    args = (r, full, t, x_slow, theta, totals)
    n = len(r.algebraic)
    if n == 0:
        return jnp.zeros((0,), dtype=x_slow.dtype)
    if r.linear:
        zero = jnp.zeros((n,), dtype=x_slow.dtype)
        # One trace gives both F(0) and the columns of ∂F/∂z (F is affine in z).
        b, columns = jax.vmap(
            lambda e: jax.jvp(lambda z: _qss_residual(z, args), (zero,), (e,)),
            out_axes=(None, 1),
        )(jnp.eye(n, dtype=x_slow.dtype))
        if n == 1:
            return -b / columns[0]
        return jsl.lu_solve(jsl.lu_factor(columns), -b)
    guess = jnp.asarray(np.asarray(r.guess, dtype=float), dtype=x_slow.dtype)
    z, converged = newton_root(lambda z: _qss_residual(z, args), guess, r.rtol, r.atol, r.max_steps)
    # NaN where Newton does not converge (never a silent wrong value: the ODE solver then
    # reports a non-finite state).
    return jnp.where(converged, z, jnp.nan)


def _complete(r: _Reduction, full, t, slow, theta, totals) -> State:
    """The full state [S] from the reduced model's state ``slow`` [S_red]."""
    x_slow = _embed(r, slow)
    z = _solve_algebraic(r, full, t, x_slow, theta, totals)
    return x_slow.at[np.asarray(r.algebraic, dtype=int)].set(z)


# --- building the reduced model ------------------------------------------------------------


def _fast_indices(model: Model, fast) -> list[int]:
    if isinstance(fast, str):
        fast = [fast]
    fast = list(fast)
    if not fast:
        raise ModelError("qssa: give at least one fast species")
    indices = []
    for name in fast:
        if name not in model.species_names:
            raise ModelError(
                f"qssa: unknown fast species {name!r}; the model has {list(model.species_names)}"
            )
        i = model.species_names.index(name)
        if model.boundary[i]:
            raise ModelError(
                f"qssa: species {name!r} is a boundary (clamped) species; it cannot be fast"
            )
        if i in indices:
            raise ModelError(f"qssa: fast species {name!r} is named twice")
        indices.append(i)
    return indices


def _in_row_span(row: np.ndarray, rows: np.ndarray) -> bool:
    if not row.any():
        return False  # a species no reaction changes is a constant, not slaved
    if rows.size == 0:
        return False
    rank = np.linalg.matrix_rank(rows.astype(float))
    return np.linalg.matrix_rank(np.vstack([rows, row]).astype(float)) == rank


def _species_read(channel) -> frozenset[str] | None:
    law = channel.rate
    if isinstance(law, MassAction):
        return None  # handled by order
    if isinstance(law, MichaelisMenten):
        return frozenset({law.substrate or next(iter(channel.reactants), "")})
    if isinstance(law, Hill):
        return frozenset({law.species or next(iter(channel.reactants), "")})
    return law.names()


def _reads(channel, z_names: frozenset[str]) -> bool:
    """Whether a channel's velocity may depend on the species ``z_names`` (True if unknown)."""
    law = channel.rate
    if isinstance(law, MassAction):
        read = set(channel.reactants) | (set(channel.products) if law.reverse else set())
        return bool(read & z_names)
    read = _species_read(channel)
    return read is None or bool(read & z_names)


def _affine_in(channel, z_names: frozenset[str]) -> bool:
    """Whether a channel's velocity is affine in the species ``z_names``, from its structure."""
    law = channel.rate
    if isinstance(law, MassAction):
        order = sum(c for s, c in channel.reactants.items() if s in z_names)
        if law.reverse is not None:
            order = max(order, sum(c for s, c in channel.products.items() if s in z_names))
        return order <= 1
    read = _species_read(channel)
    return read is not None and not (read & z_names)


def _total_name(model: Model, support: list[int], n_fast: int, algebraic: list[int]) -> str:
    slaved = [i for i in support if algebraic.index(i) >= n_fast]
    base = model.species_names[(slaved or support)[0]]
    taken = {*model.species_names, *model.parameter_names, *model.compartment_names, TIME}
    name = f"{base}_total"
    while name in taken:
        name = f"{name}_"
    return name


def _check_nonsingular(r: _Reduction, full: Model) -> None:
    x0 = full.initial_state
    theta = full.parameter_values
    alg = np.asarray(r.algebraic, dtype=int)
    totals = r.laws_matrix(x0.dtype) @ full.amounts(x0)[alg]
    args = (r, full, jnp.asarray(0.0, dtype=x0.dtype), x0, theta, totals)
    jac = np.asarray(jax.jacfwd(_qss_residual)(x0[alg], args))
    if not np.all(np.isfinite(jac)):
        raise ModelError(
            f"qssa: the quasi-steady-state equations of {list(r.algebraic_names)} are not finite "
            "at the initial state"
        )
    u, sv, vt = np.linalg.svd(jac)
    if sv.size and sv[-1] > 1e-10 * max(sv[0], 1e-300):
        return
    null = np.abs(vt[-1]) if sv.size else np.ones(len(alg))
    undetermined = [r.algebraic_names[i] for i in np.flatnonzero(null > 0.1 * null.max())]
    rank = int(np.sum(sv > 1e-10 * max(sv[0], 1e-300))) if sv.size else 0
    raise ModelError(
        f"qssa: the quasi-steady-state equations of fast species {list(r.fast_names)} are "
        f"singular (rank {rank} of {len(alg)} at the initial state): they do not determine "
        f"{undetermined}. A fast species must be consumed by its own fast reactions; "
        "choose another fast set."
    )


def qssa(
    model: Model,
    fast,
    *,
    solver: str = "auto",
    rtol: float = 1e-11,
    atol: float = 1e-13,
    max_steps: int = 50,
) -> Model:
    """Quasi-steady-state reduction: a new `Model` whose state is the slow species only.

    The fast species ``F`` and the species slaved to them (``D``: rows of ``N`` in the row span
    of ``N_F``, such as free enzyme when the complex is fast) are solved at every evaluation
    from ``(N v)_Z = 0`` (independent rows) and the conservation laws supported on ``Z = F ∪ D``,
    ``L_Z · amounts(z) = T``. Each total ``T`` becomes a parameter named ``<species>_total``
    (valued from ``model``'s initial state), appended after the full model's parameters.
    Each reaction keeps its stoichiometry restricted to the slow species and evaluates its
    original rate law at the completed state; reactions that no longer change a slow species
    are dropped.

    When every reaction touching ``Z`` is affine in ``Z`` (mass action of order ≤ 1 in ``Z``,
    or a law that does not read ``Z``) the block is solved in closed form by one linear solve;
    otherwise by Newton's method inside the right-hand side, differentiated by the implicit
    function theorem (`jax.lax.custom_root`). Either way the reduced model jits, vmaps and
    differentiates like any model (`simulate`, `steady_state`, fitting).

    **Arguments:**
    - ``model``: the full `Model`.
    - ``fast``: names of the fast species (a list, or one name).
    - ``solver``: ``"auto"`` (linear when affine, else Newton), ``"linear"`` or ``"newton"``.
    - ``rtol``, ``atol``, ``max_steps``: Newton's step tolerances and iteration limit; a failed
      Newton solve gives NaN, which `simulate` reports as a failed trajectory.

    **Returns:** the reduced `Model`; use `qssa_inputs` to map full-model parameters and states
    to it and `qssa_expand` to recover the fast species along a solution.

    **Raises:** `ModelError` naming the species for an unknown, clamped or repeated fast
    species, or a fast set whose quasi-steady-state equations are singular.

    **Example:**
    ```python
    full = msjax.models.michaelis_menten(e0=0.01, s0=10.0)
    reduced = msjax.qssa(full, fast=["C"])  # state (S, P); E and C algebraic; E_total a parameter
    ```
    """
    if solver not in ("auto", "linear", "newton"):
        raise ModelError(f"qssa: solver must be 'auto', 'linear' or 'newton', got {solver!r}")
    fast_idx = _fast_indices(model, fast)
    stoichiometry = np.asarray(model.stoichiometry)
    n_fast_rows = stoichiometry[fast_idx]
    slaved = [
        i
        for i in range(len(model.species_names))
        if i not in fast_idx
        and not model.boundary[i]
        and _in_row_span(stoichiometry[i], n_fast_rows)
    ]
    algebraic = fast_idx + slaved
    slow = [i for i in range(len(model.species_names)) if i not in algebraic]
    block = stoichiometry[algebraic]
    qss_rows = independent_columns(block.T) if block.any() else ()
    laws = left_null_space(block) if block.shape[0] else np.zeros((0, 0), dtype=np.int64)
    z_names = frozenset(model.species_names[i] for i in algebraic)
    touching = [c for r, c in enumerate(model.channels) if block[:, r].any()]
    affine = all(_affine_in(c, z_names) for c in touching)
    if solver == "linear" and not affine:
        nonlinear = [c.name for c in touching if not _affine_in(c, z_names)]
        raise ModelError(
            f"qssa: solver='linear' but reactions {nonlinear} are not affine in {sorted(z_names)}"
        )
    total_names = []
    for law in laws:
        support = [algebraic[j] for j in np.flatnonzero(law)]
        name = _total_name(model, support, len(fast_idx), algebraic)
        while name in total_names:
            name = f"{name}_"
        total_names.append(name)
    skeleton, arrays = _freeze(model)
    x0 = np.asarray(model.initial_state)
    reduction = _Reduction(
        skeleton=skeleton,
        arrays=arrays,
        slow=tuple(slow),
        algebraic=tuple(algebraic),
        n_fast=len(fast_idx),
        qss_rows=tuple(int(i) for i in qss_rows),
        laws=tuple(tuple(int(v) for v in law) for law in laws),
        total_names=tuple(total_names),
        linear=affine and solver != "newton",
        guess=tuple(float(x0[i]) for i in algebraic),
        rtol=float(rtol),
        atol=float(atol),
        max_steps=int(max_steps),
    )
    full = reduction.full_model()
    _check_nonsingular(reduction, full)
    return _build_reduced(model, reduction)


def _build_reduced(model: Model, r: _Reduction) -> Model:
    amounts = np.asarray(model.amounts(model.initial_state))
    totals = (
        np.asarray(r.laws, dtype=float).reshape(-1, len(r.algebraic))
        @ amounts[np.asarray(r.algebraic, dtype=int)]
    )
    x0 = np.asarray(model.initial_state)
    species = [
        Species(
            model.species_names[i],
            float(x0[i]),
            model.compartment_names[model.species_compartments[i]],
            boundary=model.boundary[i],
        )
        for i in r.slow
    ]
    kept = set(r.slow_names)
    dynamic = [i for i in r.slow if not model.boundary[i]]
    stoichiometry = np.asarray(model.stoichiometry)
    z_names = frozenset(r.algebraic_names)
    channels = [
        j
        for j in range(len(model.channels))
        if stoichiometry[dynamic, j].any()  # reactions that change no slow species are dropped
    ] or [0]
    wrapped = [j for j in channels if _reads(model.channels[j], z_names)] or channels[:1]
    reactions = []
    for j in channels:
        channel = model.channels[j]
        reactions.append(
            Reaction(
                reactants={s: c for s, c in channel.reactants.items() if s in kept},
                products={s: c for s, c in channel.products.items() if s in kept},
                # a law that reads no algebraic species is kept as it is (cheaper)
                rate=_QssaRate(r, j) if j in wrapped else channel.rate,
                reversible=channel.net,
                name=channel.name,
                compartment=channel.compartment,
            )
        )
    parameters = {
        **{
            n: float(v)
            for n, v in zip(model.parameter_names, np.asarray(model.parameter_values), strict=True)
        },
        **{n: float(v) for n, v in zip(r.total_names, totals, strict=True)},
    }
    compartments = {
        n: float(v) for n, v in zip(model.compartment_names, np.asarray(model.volumes), strict=True)
    }
    return Model(species, reactions, parameters, compartments)


# --- using a reduced model -----------------------------------------------------------------


def qssa_reduction(reduced: Model) -> _Reduction:
    """The static description of how ``reduced`` was built by `qssa` (names, laws, totals)."""
    for channel in reduced.channels:
        if isinstance(channel.rate, _QssaRate):
            return channel.rate.reduction
    raise ModelError("this model was not built by msjax.qssa (no quasi-steady-state rate laws)")


def _split_theta(r: _Reduction, theta: Array) -> tuple[Array, Array]:
    n = len(r.skeleton.parameter_names)
    return theta[..., :n], theta[..., n:]


def qssa_inputs(
    reduced: Model, params=None, y0=None
) -> tuple[Float[Array, "*batch params_reduced"], Float[Array, "*batch species_reduced"]]:
    """Parameters and initial state of the reduced model from the full model's.

    ``θ_red = (θ, L_Z · amounts(y0)_Z)`` and ``y0_red = y0[slow]``: the conserved totals of the
    algebraic block come from ``y0``, so the reduced model starts on the same conservation
    surface as the full one. Differentiable in both.

    **Arguments:** ``params``: full-model parameters [P] or [B, P], or a dict of overrides;
    ``y0``: full-model state [S] or [B, S], or a dict of overrides (defaults: the full model's).

    **Returns:** ``(θ_red [.., P + K], y0_red [.., S_red])``.
    """
    r = qssa_reduction(reduced)
    full = r.full_model(reduced.volumes)
    theta = as_parameters(full, params)
    x0 = as_state(full, y0)
    alg = np.asarray(r.algebraic, dtype=int)
    totals = full.amounts(x0)[..., alg] @ r.laws_matrix(x0.dtype).T
    batch = jnp.broadcast_shapes(theta.shape[:-1], totals.shape[:-1])
    theta_red = jnp.concatenate(
        [
            jnp.broadcast_to(theta, (*batch, theta.shape[-1])),
            jnp.broadcast_to(totals, (*batch, totals.shape[-1])),
        ],
        axis=-1,
    )
    return theta_red, x0[..., np.asarray(r.slow, dtype=int)]


@eqx.filter_jit
def _expand(reduced: Model, ts, ys, theta):
    r = qssa_reduction(reduced)
    full = r.full_model(reduced.volumes)
    theta_full, totals = _split_theta(r, theta)

    def one(t, y):
        return _complete(r, full, t, y, theta_full, totals)

    return jax.vmap(one)(ts, ys)


def qssa_expand(reduced: Model, solution: Solution, params=None) -> Solution:
    """The full state along a reduced solution: slow species as integrated, fast and slaved
    species from their quasi-steady state.

    **Arguments:** ``reduced``: a model from `qssa`; ``solution``: its `Solution` (ys [T, S_red]);
    ``params``: the reduced model's parameters [P_red] used for it (default its defaults).

    **Returns:** a `Solution` over the full model's species ([T, S]); ``sol["C"]`` is the
    quasi-steady-state complex.
    """
    r = qssa_reduction(reduced)
    if solution.ys.ndim != 2:
        raise ModelError("qssa_expand takes one trajectory; index a batched solution first")
    if tuple(solution.species_names) != tuple(reduced.species_names):
        raise ModelError("qssa_expand: the solution is not one of this reduced model")
    theta = as_parameters(reduced, params)
    ys = _expand(reduced, solution.ts, solution.ys, theta)
    return Solution(solution.ts, ys, r.species_names, solution.stats, solution.result)


def qssa_fast_values(reduced: Model, solution: Solution, params=None) -> dict[str, Array]:
    """``{name: values [T]}`` of the algebraic (fast and slaved) species along a reduced
    solution (see `qssa_expand`)."""
    r = qssa_reduction(reduced)
    expanded = qssa_expand(reduced, solution, params)
    return {name: expanded[name] for name in r.algebraic_names}


class ReductionReport(eqx.Module):
    """How far a reduced model's trajectory is from the full model's.

    **Fields:**
    - ``max_error``: the largest of ``per_species`` (a scalar): the headline number.
    - ``per_species``: [S_slow] ``max_t |x_red(t) − x(t)| / max_t |x(t)|`` for each dynamic slow
      species (named by ``species_names``): the maximum error relative to the species' scale.
    - ``algebraic_error``: [|Z|] the same for the fast and slaved species (``algebraic_names``),
      with the reduced model's values from the quasi-steady state.
    - ``full``, ``reduced``: the two solutions (the reduced one expanded to all species).
    """

    max_error: Scalar
    per_species: Float[Array, " slow"]
    algebraic_error: Float[Array, " algebraic"]
    full: Solution
    reduced: Solution
    species_names: tuple[str, ...] = eqx.field(static=True)
    algebraic_names: tuple[str, ...] = eqx.field(static=True)


def _scaled_error(a: Array, b: Array) -> Array:
    scale = jnp.max(jnp.abs(b), axis=0)
    tiny = jnp.finfo(b.dtype).tiny
    return jnp.max(jnp.abs(a - b), axis=0) / jnp.maximum(scale, tiny)


@ode_jit
def _reduction_error(full, reduced, method, ts, theta, y0, theta_red, y0_red):
    r = qssa_reduction(reduced)
    full_sol = simulate(full, method, ts, theta, y0, throw=False)
    red_sol = simulate(reduced, method, ts, theta_red, y0_red, throw=False)
    expanded = _expand(reduced, red_sol.ts, red_sol.ys, theta_red)
    dynamic = [i for i in r.slow if not full.boundary[i]]
    slow_error = _scaled_error(expanded[:, dynamic], full_sol.ys[:, dynamic])
    alg = np.asarray(r.algebraic, dtype=int)
    alg_error = _scaled_error(expanded[:, alg], full_sol.ys[:, alg])
    ok = full_sol.succeeded & red_sol.succeeded
    slow_error = jnp.where(ok, slow_error, jnp.inf)
    worst = jnp.max(slow_error) if dynamic else jnp.zeros((), dtype=ts.dtype)
    reduced_full = Solution(red_sol.ts, expanded, r.species_names, red_sol.stats, red_sol.result)
    names = tuple(r.species_names[i] for i in dynamic)
    return ReductionReport(
        worst, slow_error, alg_error, full_sol, reduced_full, names, r.algebraic_names
    )


def reduction_error(
    full: Model, reduced: Model, ts, params=None, y0=None, *, method: ODE | None = None
) -> ReductionReport:
    """The error a QSSA reduction makes along a trajectory.

    Simulates ``full`` from ``y0`` with ``params`` and ``reduced`` from the matching inputs
    (`qssa_inputs`), and compares the slow species at the times ``ts`` [T]:
    ``max_error = max_s max_t |x̂_s(t) − x_s(t)| / max_t |x_s(t)|``. A failed solve gives
    ``inf``. Differentiable in ``params`` and ``y0``; compiled once per model structure.

    **Arguments:** ``params``: full-model parameters [P] or dict; ``y0``: full-model state [S]
    or dict; ``method``: an `ODE` (default ``ODE(rtol=1e-10, atol=1e-13)``).

    **Example:**
    ```python
    report = msjax.reduction_error(full, msjax.qssa(full, ["C"]), jnp.linspace(0, 100, 201))
    float(report.max_error)  # ~ E0 / (S0 + Km)
    ```
    """
    r = qssa_reduction(reduced)
    if full.species_names != r.species_names or full.parameter_names != r.skeleton.parameter_names:
        raise ModelError("reduction_error: `reduced` was not built from `full` by msjax.qssa")
    method = ODE(rtol=1e-10, atol=1e-13) if method is None else method
    ts = jnp.asarray(ts, dtype=full.initial_state.dtype)
    theta = as_parameters(full, params)
    x0 = as_state(full, y0)
    theta_red, y0_red = qssa_inputs(reduced, theta, x0)
    return _reduction_error(full, reduced, method, ts, theta, x0, theta_red, y0_red)


__all__ = [
    "ReductionReport",
    "qssa",
    "qssa_expand",
    "qssa_fast_values",
    "qssa_inputs",
    "qssa_reduction",
    "reduction_error",
]
