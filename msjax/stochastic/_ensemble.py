"""Ensembles in chunks, sharded over local devices, with streamed statistics.

Trajectory ``i`` uses ``fold_in(key, i)``, so what a trajectory does never depends on the chunk
size or on the number of devices; `ensemble_stats` only ever holds one chunk of trajectories.
"""

from __future__ import annotations

import math
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from .._devices import dividing_device_count
from .._errors import ModelError
from .._jit import method_jit
from .._simulate import as_parameters, as_state
from .._solution import RESULTS
from ._common import (
    AbstractStochasticMethod,
    check_counts,
    check_key,
    stochastic_model,
    to_counts,
    trajectory_keys,
)

DEFAULT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class EnsembleStats(eqx.Module):
    """Statistics of an ensemble per save time and species (NumPy, float64).

    **Fields:** ``ts`` [T]; ``species_names``; ``n`` successful trajectories; ``failures``
    (trajectories whose result was not successful, excluded from the statistics); ``mean``,
    ``var`` (unbiased), ``sd`` [T, S]; ``quantile_levels`` [Q] and ``quantiles`` [Q, T, S]
    (from the histograms: exact for integer counts when ``bin_width`` is 1); ``edges``
    [S, bins + 1], ``histogram`` [T, S, bins] counts (values outside the range are counted in
    the end bins and in ``outside`` [T, S]).
    """

    ts: np.ndarray
    species_names: tuple[str, ...] = eqx.field(static=True)
    n: int
    failures: int
    mean: np.ndarray
    var: np.ndarray
    quantile_levels: np.ndarray
    quantiles: np.ndarray
    edges: np.ndarray
    histogram: np.ndarray
    outside: np.ndarray

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(self.var)

    def __getitem__(self, name: str) -> dict[str, np.ndarray]:
        """``{"mean", "sd", "quantiles", "histogram", "edges"}`` of one species."""
        if name not in self.species_names:
            raise ModelError(f"no species {name!r}; have {list(self.species_names)}")
        i = self.species_names.index(name)
        return {
            "mean": self.mean[:, i],
            "sd": self.sd[:, i],
            "quantiles": self.quantiles[:, :, i],
            "histogram": self.histogram[:, i],
            "edges": self.edges[i],
        }

    def to_csv(self, path) -> None:
        """One row per (time, species): mean, sd and the quantiles."""
        header = ["time", "species", "mean", "sd"] + [f"q{q:g}" for q in self.quantile_levels]
        lines = [",".join(header)]
        for t_index, t in enumerate(self.ts):
            for s, name in enumerate(self.species_names):
                values = [self.mean[t_index, s], self.sd[t_index, s]]
                values += list(self.quantiles[:, t_index, s])
                lines.append(",".join([f"{t:.10g}", name] + [f"{v:.10g}" for v in values]))
        with open(path, "w") as handle:
            handle.write("\n".join(lines) + "\n")


def _mesh() -> Mesh:
    return Mesh(np.asarray(jax.local_devices()), ("trajectories",))


def _trajectories(method, model, ts, params, y0, key, start, size):
    """ys [size, T, S], ok [size] of trajectories ``start .. start + size - 1``."""
    counts0, valid = to_counts(model, y0, getattr(method, "omega", 1.0))
    keys = trajectory_keys(key, start, size)
    ys, result, _ = method.trajectories(model, ts, params, counts0, keys)
    ok = (result._value == RESULTS.successful._value) & valid
    return ys, ok


def _sharded(fn, method, model, ts, params, y0, key, start, size, devices):
    """Run ``fn(ys, ok, index)`` on the trajectories of one chunk, split over ``devices``."""
    local = size // devices

    def per_device(start_array):
        offset = start_array[0]
        ys, ok = _trajectories(method, model, ts, params, y0, key, offset, local)
        index = offset + jnp.arange(local, dtype=jnp.uint32)
        return jax.tree_util.tree_map(lambda a: a[None], fn(ys, ok, index))

    starts = jnp.asarray(start, dtype=jnp.uint32) + jnp.arange(0, size, local, dtype=jnp.uint32)
    if devices == 1:
        return per_device(starts)
    spec = PartitionSpec("trajectories")
    mapped = jax.shard_map(per_device, mesh=_mesh(), in_specs=spec, out_specs=spec, check_vma=False)
    return mapped(starts)


@method_jit
def _chunk_trajectories(method, model, ts, params, y0, key, start, size, devices):
    def keep(ys, ok, index):
        return ys, ok

    ys, ok = _sharded(keep, method, model, ts, params, y0, key, start, size, devices)
    return ys.reshape(size, *ys.shape[2:]), ok.reshape(size)


def _partial_stats(ys, ok, index, n, lo, width, bins):
    """Statistics of trajectories ``ys`` [B, T, S] with flags ``ok`` [B] and indices [B]
    (those ``≥ n`` are padding): count, mean and M2 [T, S], histogram [T, S, bins] and the
    count outside the bins [T, S]."""
    ok = ok & (index < n)
    values = ys.astype(jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    weight = ok.astype(values.dtype)[:, None, None]
    count = jnp.sum(ok, dtype=jnp.int32)
    mean = jnp.sum(values * weight, axis=0) / jnp.maximum(count, 1).astype(values.dtype)
    m2 = jnp.sum(((values - mean) ** 2) * weight, axis=0)
    position = jnp.floor((values - lo) / width)
    outside = jnp.sum(((position < 0) | (position >= bins)).astype(values.dtype) * weight, axis=0)
    slot = jnp.clip(position, 0, bins - 1).astype(jnp.int32)  # [B, T, S]
    num_times, num_species = values.shape[1:]
    flat = (
        jnp.arange(num_times, dtype=jnp.int32)[None, :, None] * num_species
        + jnp.arange(num_species, dtype=jnp.int32)
    ) * bins + slot
    histogram = jnp.zeros((num_times * num_species * bins,), dtype=jnp.int32)
    histogram = histogram.at[flat.reshape(-1)].add(
        jnp.broadcast_to(ok[:, None, None], flat.shape).reshape(-1).astype(jnp.int32)
    )
    histogram = histogram.reshape(num_times, num_species, bins)
    return count, mean, m2, histogram, outside.astype(jnp.int32)


@method_jit
def _chunk_stats(method, model, ts, params, y0, key, start, size, devices, n, lo, width, bins):
    """Per-device partial statistics of one chunk (`_partial_stats`, leading axis [D])."""

    def reduce(ys, ok, index):
        return _partial_stats(ys, ok, index, n, lo, width, bins)

    return _sharded(reduce, method, model, ts, params, y0, key, start, size, devices)


@eqx.filter_jit
def _kept_stats(ys, ok, n, lo, width, bins):
    """`_partial_stats` of the trajectories [B, T, S] of the first chunk, kept on the host
    (leading axis [1])."""
    index = jnp.arange(ys.shape[0], dtype=jnp.uint32)
    parts = _partial_stats(ys, ok, index, n, lo, width, bins)
    return jax.tree_util.tree_map(lambda a: a[None], parts)


def _combine(total, part):
    """Chan et al. pairwise update of (count, mean, M2) in float64."""
    n_a, mean_a, m2_a = total
    n_b, mean_b, m2_b = part
    n = n_a + n_b
    if n_b == 0:
        return total
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + delta**2 * (n_a * n_b / n)
    return n, mean, m2


def _quantiles(histogram, edges, levels, integer: bool):
    """Quantiles [Q, T, S] from histograms [T, S, bins] and edges [S, bins + 1]."""
    cumulative = np.cumsum(histogram, axis=-1)
    total = cumulative[..., -1:]
    out = np.empty((len(levels), *histogram.shape[:2]))
    for q_index, level in enumerate(levels):
        target = level * total  # [T, S, 1]
        b = np.minimum(
            np.argmax(cumulative >= np.maximum(target, 1e-12), axis=-1), edges.shape[1] - 2
        )
        below = np.take_along_axis(cumulative, b[..., None], -1) - np.take_along_axis(
            histogram, b[..., None], -1
        )
        inside = np.take_along_axis(histogram, b[..., None], -1)
        left = edges[np.arange(edges.shape[0])[None, :], b]
        width = edges[:, 1:2].T - edges[:, 0:1].T
        if integer:
            out[q_index] = left
        else:
            fraction = np.where(inside > 0, (target - below) / np.maximum(inside, 1), 0.0)
            out[q_index] = left + width * fraction[..., 0]
    return out


def ensemble_stats(
    model,
    method: AbstractStochasticMethod,
    ts,
    params=None,
    y0=None,
    *,
    key,
    n: int,
    chunk_size: int = 10_000,
    quantiles=DEFAULT_QUANTILES,
    bins: int | None = None,
    value_range: tuple[float, float] | None = None,
    progress: bool = False,
) -> EnsembleStats:
    """Statistics of ``n`` trajectories, computed in chunks without keeping them.

    **Arguments:**
    - ``model``, ``method`` (`Gillespie`, `TauLeap`, `CLE`), ``ts`` [T], ``params`` [P] (or
      overrides), ``y0`` [S] (concentrations; counts are ``round(Ω V y0)``), as for `simulate`.
    - ``key``: trajectory ``i`` uses ``fold_in(key, i)`` whatever the chunking.
    - ``n``: number of trajectories; ``chunk_size``: trajectories per compiled call (rounded up
      to a multiple of the local device count; each device runs its share).
    - ``quantiles``: levels in [0, 1]; ``bins``: histogram bins per species (default: unit
      width for counts up to 1024 bins, else 256); ``value_range``: ``(lo, hi)`` of the
      histograms (default: from the first chunk, with room above its maximum).
    - ``progress``: show a tqdm progress bar over chunks.

    **Returns:** `EnsembleStats` (mean and variance combined chunk by chunk with Chan's
    pairwise update in float64; peak memory is one chunk of trajectories).

    **Example:**
    ``stats = ensemble_stats(telegraph_gene(), Gillespie(), ts, key=key, n=1_000_000)``
    """
    check_key(method, key)
    if not isinstance(method, AbstractStochasticMethod):
        raise ModelError(f"ensemble_stats needs a stochastic method, got {type(method).__name__}")
    model = stochastic_model(model, method)
    if int(n) < 1 or int(chunk_size) < 1:
        raise ModelError(f"n and chunk_size must be positive, got n={n}, chunk_size={chunk_size}")
    ts = jnp.asarray(ts, dtype=model.initial_state.dtype)
    if ts.ndim != 1 or ts.shape[0] < 2 or not bool(jnp.all(jnp.diff(ts) >= 0)):
        raise ModelError(f"ts must be 1-D, increasing, with at least two times; got {ts.shape}")
    params = as_parameters(model, params)
    y0 = as_state(model, y0)
    if params.ndim != 1 or y0.ndim != 1:
        raise ModelError("ensemble_stats takes one parameter set [P] and one initial state [S]")
    check_counts(model, y0, getattr(method, "omega", 1.0))
    n = int(n)
    devices = jax.local_device_count()
    chunk = min(int(chunk_size), n)
    chunk = devices * math.ceil(chunk / devices)
    devices = dividing_device_count(chunk)
    num_chunks = math.ceil(n / chunk)
    levels = np.asarray(quantiles, dtype=np.float64)
    if np.any((levels < 0) | (levels > 1)):
        raise ModelError(f"quantile levels must be in [0, 1], got {quantiles}")

    run = partial(_chunk_stats, method, model, ts, params, y0, key)
    pilot = None
    if value_range is None:
        # Range from the first chunk, whose trajectories are then reduced as they are.
        zero = jnp.asarray(0, dtype=jnp.uint32)
        pilot = _chunk_trajectories(method, model, ts, params, y0, key, zero, chunk, devices)
        kept = np.asarray(pilot[0])[np.asarray(pilot[1])]
        high = float(kept.max()) if kept.size else 1.0
        low = min(0.0, float(kept.min())) if kept.size else 0.0
        span = 1.5 * (high - low) + 10.0
        is_integer = np.issubdtype(kept.dtype, np.integer)
        if is_integer:
            bins = int(bins or min(math.ceil(span), 1024))
            width = float(max(1, math.ceil(span / bins)))
        else:
            bins = int(bins or 256)
            width = span / bins
    else:
        low, high = map(float, value_range)
        bins = int(bins or 256)
        width = (high - low) / bins
        is_integer = False
    num_species = len(model.species_names)
    total = (0, np.zeros((ts.shape[0], num_species)), np.zeros((ts.shape[0], num_species)))
    histogram = np.zeros((ts.shape[0], num_species, bins), dtype=np.int64)
    outside = np.zeros((ts.shape[0], num_species), dtype=np.int64)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, unit="traj", desc=type(method).__name__)
    for c in range(num_chunks):
        start = c * chunk
        if c == 0 and pilot is not None:
            parts = _kept_stats(*pilot, n, low, width, bins)
        else:
            parts = run(jnp.asarray(start, dtype=jnp.uint32), chunk, devices, n, low, width, bins)
        counts, means, m2s, hists, outs = (np.asarray(p) for p in parts)
        for d in range(counts.shape[0]):
            total = _combine(
                total, (int(counts[d]), means[d].astype(np.float64), m2s[d].astype(np.float64))
            )
        histogram += hists.sum(axis=0)
        outside += outs.sum(axis=0)
        if bar is not None:
            bar.update(min(chunk, n - start))
    if bar is not None:
        bar.close()
    count, mean, m2 = total
    edges = low + width * np.arange(bins + 1, dtype=np.float64)
    edges = np.broadcast_to(edges, (num_species, bins + 1)).copy()
    var = m2 / max(count - 1, 1)
    return EnsembleStats(
        ts=np.asarray(ts),
        species_names=model.species_names,
        n=int(count),
        failures=n - int(count),
        mean=mean,
        var=var,
        quantile_levels=levels,
        quantiles=_quantiles(histogram, edges, levels, is_integer and width == 1.0),
        edges=edges,
        histogram=histogram,
        outside=outside,
    )


def ensemble_trajectories(
    model, method, ts, params=None, y0=None, *, key, n: int, chunk_size: int = 10_000
):
    """All ``n`` trajectories [n, T, S] (NumPy) and success flags [n], run chunk by chunk and
    sharded over local devices; identical to ``simulate(..., key=key, n=n).ys``."""
    check_key(method, key)
    model = stochastic_model(model, method)
    ts = jnp.asarray(ts, dtype=model.initial_state.dtype)
    params = as_parameters(model, params)
    y0 = as_state(model, y0)
    check_counts(model, y0, getattr(method, "omega", 1.0))
    devices = jax.local_device_count()
    chunk = devices * math.ceil(min(int(chunk_size), int(n)) / devices)
    devices = dividing_device_count(chunk)
    pieces, flags = [], []
    for start in range(0, int(n), chunk):
        first = jnp.asarray(start, dtype=jnp.uint32)  # traced: one compile for all chunks
        ys, ok = _chunk_trajectories(method, model, ts, params, y0, key, first, chunk, devices)
        pieces.append(np.asarray(ys))
        flags.append(np.asarray(ok))
    return np.concatenate(pieces)[: int(n)], np.concatenate(flags)[: int(n)]
