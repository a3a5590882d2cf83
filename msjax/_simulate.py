"""`simulate`: the one entry point for every method."""

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._errors import ModelError, SolverError
from ._jit import method_jit
from ._method import AbstractMethod
from ._solution import RESULTS, Solution


def as_parameters(model, params) -> jax.Array:
    """Parameter array [P] or [B, P] from None (defaults), a dict of overrides, or an array."""
    if params is None:
        return model.parameter_values
    if isinstance(params, Mapping):
        return model.parameters(**params)
    params = jnp.asarray(params, dtype=model.parameter_values.dtype)
    if params.ndim not in (1, 2) or params.shape[-1] != len(model.parameter_names):
        raise ModelError(
            f"params has shape {params.shape}; expected [{len(model.parameter_names)}] or "
            f"[batch, {len(model.parameter_names)}] ordered as {list(model.parameter_names)}"
        )
    return params


def as_state(model, y0) -> jax.Array:
    """Initial state [S] or [B, S] from None (the model's), a dict of overrides, or an array."""
    if y0 is None:
        return model.initial_state
    if isinstance(y0, Mapping):
        state = model.initial_state
        for name, value in y0.items():
            state = state.at[model.species_index(name)].set(value)
        y0 = state
    y0 = jnp.asarray(y0, dtype=model.initial_state.dtype)
    if y0.ndim not in (1, 2) or y0.shape[-1] != len(model.species_names):
        raise ModelError(
            f"y0 has shape {y0.shape}; expected [{len(model.species_names)}] or "
            f"[batch, {len(model.species_names)}] ordered as {list(model.species_names)}"
        )
    species = np.asarray(model.species_state_indices, dtype=int)
    if not isinstance(y0, jax.core.Tracer):
        values = np.asarray(y0).reshape(-1, y0.shape[-1])[:, species]
        negative = species[np.any(values < 0, axis=0)]
        if negative.size:
            names = [model.species_names[i] for i in negative]
            raise ModelError(f"initial values must be non-negative; negative: {names}")
    else:
        y0 = eqx.error_if(y0, jnp.any(y0[..., species] < 0), "initial values must be non-negative")
    return y0


def _solve(method, model, ts, params, y0, key, n):
    batched = params.ndim == 2 or y0.ndim == 2
    if not batched:
        return method.solve(model, ts, params, y0, key=key, n=n)
    axes = (0 if params.ndim == 2 else None, 0 if y0.ndim == 2 else None)
    solve_one = lambda p, y: method.solve(model, ts, p, y, key=key, n=n)  # noqa: E731
    return jax.vmap(solve_one, in_axes=axes)(params, y0)


_solve_jit = method_jit(_solve)


def _raise_on_failure(solution: Solution) -> Solution:
    failed = ~solution.succeeded
    if isinstance(failed, jax.core.Tracer):
        ys = eqx.error_if(solution.ys, jnp.any(failed), "simulation failed (see result codes)")
        return eqx.tree_at(lambda s: s.ys, solution, ys)
    failed = np.asarray(failed)
    if failed.any():
        first = int(np.flatnonzero(failed.reshape(-1))[0])
        message = np.asarray(RESULTS[solution.result]).reshape(-1)[first]
        where = "" if failed.ndim == 0 else f" ({int(failed.sum())} of {failed.size} trajectories)"
        error = SolverError(
            f"simulation failed{where}: {message} Pass throw=False to keep "
            "going and read `solution.result` per trajectory."
        )
        error.solution = solution
        raise error
    return solution


def simulate(
    model,
    method: AbstractMethod,
    ts,
    params=None,
    y0=None,
    *,
    key=None,
    n: int | None = None,
    throw: bool = True,
) -> Solution:
    """Simulate ``model`` with ``method``, recording the state at times ``ts`` [T].

    **Arguments:**
    - ``model``: a `Model`.
    - ``method``: `ODE`, or a stochastic method (they need ``key``).
    - ``ts``: save times [T], increasing; integration starts at ``ts[0]``.
    - ``params``: parameters [P] or a batch [B, P] (ordered as ``model.parameter_names``), or a
      dict of overrides; default the model's values.
    - ``y0``: initial state [S] or [B, S], or a dict of overrides; default the model's.
    - ``key``: a JAX PRNG key (stochastic methods); ``n``: ensemble size.
    - ``throw``: raise `SolverError` if any trajectory failed (its ``.solution`` keeps what was
      computed). With ``throw=False`` read ``solution.result``, e.g. under `jax.vmap`.

    **Returns:** a `Solution`; ``ys`` is [T, S], or [B, T, S] for a batch.

    Compiles once per model structure, method and shapes: new parameter values or initial
    states reuse the compiled program.
    """
    ts = jnp.asarray(ts, dtype=model.initial_state.dtype)
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ModelError(f"ts must be 1-D with at least two times, got shape {ts.shape}")
    params = as_parameters(model, params)
    y0 = as_state(model, y0)
    solution = _solve_jit(method, model, ts, params, y0, key, n)
    return _raise_on_failure(solution) if throw else solution
