"""Shared pieces of the stochastic methods: counts, per-trajectory keys, result codes.

**Counts convention.** Stochastic methods work on molecule counts ``n = Ω · model.amounts(x)``,
where ``x`` is the model state as `simulate` passes it (for `Model`, concentrations, so
``n_s = Ω V_s x_s``; an SBML model's state already holds amounts) and ``Ω`` the method's system
size (``omega``, default 1, so counts equal amounts). Counts must be
non-negative integers up to a relative tolerance of 1e-6; anything else is an error (a `ModelError`
on concrete input, the result code ``invalid_counts`` under ``throw=False``). Outputs ``ys``
are counts (``int32`` for SSA and tau-leaping, floats for the CLE); divide by ``Ω V_s`` for
concentrations.
"""

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ModelError
from .._method import AbstractMethod
from .._solution import RESULTS, Solution

COUNT_RTOL = 1e-6


def to_counts(model, y0, omega):
    """Counts ``round(Ω V x)`` [S] (int32) of a state [S], and whether they are valid (bool []).

    Valid means finite, non-negative and integer within ``COUNT_RTOL``.
    """
    scaled = (omega * model.amounts(y0)).astype(y0.dtype)
    rounded = jnp.round(scaled)
    tolerance = COUNT_RTOL * jnp.maximum(1.0, jnp.abs(scaled))
    valid = jnp.all(jnp.isfinite(scaled) & (scaled > -tolerance))
    valid = valid & jnp.all(jnp.abs(scaled - rounded) <= tolerance)
    valid = valid & jnp.all(rounded < np.iinfo(np.int32).max)
    counts = jnp.where(valid, rounded, 0.0).astype(jnp.int32)
    return counts, valid


def check_counts(model, y0, omega) -> np.ndarray:
    """Concrete counts [S] or [B, S] (int64); raises `ModelError` naming the bad species."""
    y0 = np.asarray(y0, dtype=np.float64)
    scaled = omega * np.asarray(model.amounts(y0), dtype=np.float64)
    rounded = np.round(scaled)
    tolerance = COUNT_RTOL * np.maximum(1.0, np.abs(scaled))
    bad_sign = np.any((scaled < -tolerance) | ~np.isfinite(scaled), axis=tuple(range(y0.ndim - 1)))
    bad_int = np.any(np.abs(scaled - rounded) > tolerance, axis=tuple(range(y0.ndim - 1)))
    for mask, what in ((bad_sign, "negative or non-finite"), (bad_int, "non-integer")):
        if mask.any():
            names = [model.species_names[i] for i in np.flatnonzero(mask)]
            raise ModelError(
                f"initial counts round(Ω·V·x) must be non-negative integers; {what}: {names} "
                f"(Ω = {omega}; counts {scaled.reshape(-1, scaled.shape[-1])[0].tolist()})"
            )
    return rounded.astype(np.int64)


def trajectory_keys(key, start, n: int) -> jax.Array:
    """Keys [n] of trajectories ``start .. start + n - 1``: ``fold_in(key, index)``.

    Trajectory ``i`` always gets the same key, whatever the chunk or device it runs on.
    """
    indices = jnp.asarray(start, dtype=jnp.uint32) + jnp.arange(n, dtype=jnp.uint32)
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, indices)


def system_size(value) -> np.ndarray:
    """Ω as a 0-d float64 array: a traced leaf under `eqx.filter_jit`, so a new Ω does not
    recompile (a Python float field would be static)."""
    return np.asarray(value, dtype=np.float64)


def check_key(method, key) -> None:
    if key is None:
        raise ModelError(
            f"{type(method).__name__} is stochastic: pass key=jax.random.PRNGKey(seed) "
            "(and n=... for an ensemble)"
        )


def has_events(model) -> bool:
    """Whether the model has events (SBML models loaded by `load_sbml` may)."""
    return bool(getattr(model, "events", ()))


def check_event_values(model) -> None:
    """Raise `ModelError` naming an event that assigns a constant that is not a count (a
    negative or non-integer number); computed assignments are checked as they execute."""
    for event in model.events:
        for target, value in zip(event.targets, event.values, strict=True):
            if value[0] == "num" and (value[1] < 0 or value[1] != round(value[1])):
                raise ModelError(
                    f"event {event.name!r} assigns {value[1]} to {model.state_names[target]!r}: "
                    "stochastic methods need non-negative integer counts"
                )


def stochastic_model(model, method):
    """The model as ``method`` reads it. Raises `ModelError` unless it has a stochastic reading
    (the model's own check), and, for a model with events, unless the method executes events
    (``method.executes_events``) and its constant assignments are counts."""
    if not has_events(model):
        model.check_stochastic()
        return model
    names = ", ".join(e.name for e in model.events)
    if not method.executes_events:
        raise ModelError(
            f"{type(method).__name__} does not execute SBML events (the model has {names}); "
            "use Gillespie or TauLeap"
        )
    model.check_stochastic(events=True)
    check_event_values(model)
    return model


class AbstractStochasticMethod(AbstractMethod):
    """A stochastic method: an ensemble of independent trajectories, one key each.

    Subclasses implement `trajectories`; `solve` (what `simulate` calls) and `ensemble_stats`
    both run through it, so the same key gives the same trajectories on either path. Those
    that execute SBML events set ``executes_events``; the others refuse models with events.
    """

    executes_events: ClassVar[bool] = False

    @abc.abstractmethod
    def trajectories(self, model, ts, params, counts0, keys):
        """Simulate one trajectory per key [B] from counts ``counts0`` [S] (int32).

        **Returns:** ``(ys [B, T, S], result [B], stats {name: [B]})``.
        """

    @property
    def float_dtype(self):
        return jnp.float32 if getattr(self, "float32", False) else jnp.float64

    def solve(self, model, ts, params, y0, *, key, n) -> Solution:
        check_key(self, key)
        model = stochastic_model(model, self)
        count = 1 if n is None else int(n)
        if count < 1:
            raise ModelError(f"n must be a positive number of trajectories, got {n}")
        counts0, valid = to_counts(model, y0, getattr(self, "omega", 1.0))
        keys = trajectory_keys(key, 0, count)
        ys, result, stats = self.trajectories(model, ts, params, counts0, keys)
        result = RESULTS.where(valid, result, RESULTS.invalid_counts)
        if n is None:
            ys, result, stats = jax.tree_util.tree_map(lambda a: a[0], (ys, result, stats))
        return Solution(ts, ys, model.species_names, stats, result)


def float_params(method, model, ts, params):
    """``(model, ts, θ, Ω)`` in the method's float dtype (the model's float arrays cast too)."""
    dtype = method.float_dtype
    omega = jnp.asarray(getattr(method, "omega", 1.0), dtype=dtype)
    model = jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, model)
    return model, ts.astype(dtype), params.astype(dtype), omega


def propensity_fn(model, theta, omega):
    """``a(t, counts)`` [R] in θ's dtype, for int counts [S]."""

    def propensities(t, counts):
        return model.propensities(counts.astype(theta.dtype), theta, omega, t)

    return propensities


def stoichiometry_rows(model) -> np.ndarray:
    """``Nᵀ`` [R, S] as int32: row r is the change reaction r makes."""
    return np.ascontiguousarray(model.stoichiometry.T.astype(np.int32))
