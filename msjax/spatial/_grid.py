"""Regular 1-3D cell-centred grids with no-flux, Dirichlet or periodic boundaries."""

from __future__ import annotations

import math
from typing import Literal

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._errors import MsjaxError
from .._types import Array, Float

Boundary = Literal["noflux", "dirichlet", "periodic"]
_BOUNDARIES = ("noflux", "dirichlet", "periodic")


class SpatialError(MsjaxError):
    """Misuse of a spatial object: mismatched grid shapes, bad boundary, agents outside."""


class StabilityError(SpatialError):
    """An explicit time step exceeds the stability limit of the scheme."""


class Grid(eqx.Module):
    """A regular, cell-centred grid in 1, 2 or 3 dimensions (all fields static).

    Cell `i` along axis `a` covers `[origin[a] + i h[a], origin[a] + (i + 1) h[a]]`; its value is
    the cell average (finite volumes). The domain is the box `origin + [0, shape * spacing]`.

    Arguments:
        shape: cells per axis, e.g. `(128, 128)`.
        spacing: cell width per axis `h` (a float applies to every axis).
        origin: lower corner of the domain (default zeros).
        boundary: `"noflux"` (zero normal flux; conserves mass), `"dirichlet"` (a fixed value on
            the boundary faces, given to the operators as `boundary_value`) or `"periodic"`.

    Example:
        >>> grid = Grid((64, 64), spacing=0.1, boundary="noflux")
        >>> grid.ndim, grid.cell_volume
        (2, 0.01...)
    """

    shape: tuple[int, ...] = eqx.field(static=True)
    spacing: tuple[float, ...] = eqx.field(static=True)
    origin: tuple[float, ...] = eqx.field(static=True)
    boundary: str = eqx.field(static=True)

    def __init__(
        self,
        shape: int | tuple[int, ...],
        spacing: float | tuple[float, ...] = 1.0,
        origin: float | tuple[float, ...] | None = None,
        boundary: Boundary = "noflux",
    ):
        shape = (
            (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)
        )
        ndim = len(shape)
        if not 1 <= ndim <= 3:
            raise SpatialError(f"Grid must have 1, 2 or 3 dimensions, got shape {shape}")
        if any(s < 2 for s in shape):
            raise SpatialError(f"Grid needs at least 2 cells per axis, got shape {shape}")
        spacing = _per_axis(spacing, ndim, "spacing")
        if any(not (h > 0 and math.isfinite(h)) for h in spacing):
            raise SpatialError(f"Grid spacing must be positive and finite, got {spacing}")
        origin = (0.0,) * ndim if origin is None else _per_axis(origin, ndim, "origin")
        if boundary not in _BOUNDARIES:
            raise SpatialError(f"unknown boundary {boundary!r}; expected one of {_BOUNDARIES}")
        self.shape = shape
        self.spacing = spacing
        self.origin = origin
        self.boundary = boundary

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def cell_volume(self) -> float:
        return math.prod(self.spacing)

    @property
    def extent(self) -> tuple[float, ...]:
        """Side lengths of the domain, `shape * spacing`."""
        return tuple(n * h for n, h in zip(self.shape, self.spacing, strict=True))

    @property
    def upper(self) -> tuple[float, ...]:
        """Upper corner of the domain."""
        return tuple(o + e for o, e in zip(self.origin, self.extent, strict=True))

    def centers(self, axis: int) -> Float[Array, " n"]:
        """Cell-centre coordinates along one axis, shape `[shape[axis]]`."""
        n, h, o = self.shape[axis], self.spacing[axis], self.origin[axis]
        return o + h * (jnp.arange(n, dtype=jnp.float64 if _x64() else jnp.float32) + 0.5)

    def mesh(self) -> Float[Array, "*shape ndim"]:
        """Coordinates of every cell centre, shape `[*shape, ndim]`."""
        axes = [self.centers(a) for a in range(self.ndim)]
        return jnp.stack(jnp.meshgrid(*axes, indexing="ij"), axis=-1)

    def zeros(self, *leading: int, dtype=None) -> Float[Array, "*leading *shape"]:
        """A zero field, shape `[*leading, *shape]`."""
        return jnp.zeros((*leading, *self.shape), dtype=dtype)

    def total(self, u: Float[Array, "*shape"]) -> Float[Array, ""]:
        """Integral of a field over the domain, `sum(u) * cell_volume`."""
        check_field(self, u)
        return jnp.sum(u) * self.cell_volume

    def inner(self, u: Float[Array, "*shape"], v: Float[Array, "*shape"]) -> Float[Array, ""]:
        """Volume-weighted inner product `<u, v> = sum(u v) * cell_volume`."""
        check_field(self, u)
        check_field(self, v)
        return jnp.sum(u * v) * self.cell_volume


def check_field(grid: Grid, u, *, leading: int = 0, name: str = "field") -> None:
    """Raise `SpatialError` at trace time unless `u.shape[leading:] == grid.shape`."""
    shape = tuple(jnp.shape(u))
    if shape[leading:] != grid.shape or len(shape) != leading + grid.ndim:
        raise SpatialError(
            f"{name} has shape {shape}, but the grid needs "
            f"{'[...]' * leading}{list(grid.shape)} (mismatched grid shapes)"
        )


def _per_axis(value, ndim: int, name: str) -> tuple[float, ...]:
    if isinstance(value, int | float | np.integer | np.floating):
        return (float(value),) * ndim
    value = tuple(float(v) for v in value)
    if len(value) != ndim:
        raise SpatialError(f"{name} has {len(value)} entries but the grid has {ndim} dimensions")
    return value


def _x64() -> bool:
    return jnp.zeros(()).dtype == jnp.float64
