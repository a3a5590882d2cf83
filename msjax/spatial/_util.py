"""Small helpers shared by the spatial modules."""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np


def check(x, pred, msg: str, error: type[Exception]):
    """Return `x`, raising `error(msg)` when `pred` holds.

    If `pred` is concrete (eager call, or a value known at trace time) the error is raised at once
    as `error`; under `jit` it becomes an `eqx.error_if` runtime check on `x` (rebind the result).
    """
    if isinstance(pred, jax.core.Tracer):
        return eqx.error_if(x, pred, f"{error.__name__}: {msg}")
    if bool(np.any(np.asarray(pred))):
        raise error(msg)
    return x


def is_traced(*xs) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(xs))
