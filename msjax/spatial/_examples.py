"""Built-in tissue examples (used by `examples/spatial_*.py` and `msjax tissue EXAMPLE`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._agents import Mechanics
from ._grid import Grid, SpatialError
from ._tissue import Tissue, TissueParams, TissueState


def _sigmoid_rate(rate, x, threshold, width):
    return rate * jax.nn.sigmoid((x - threshold) / width)


def oxygen_division(agents, local, params):
    """Divide when oxygen (field 0) is high: `rate * sigmoid((O2 - 0.6) / 0.05)`."""
    return _sigmoid_rate(params.division_rate, local[:, 0], 0.6, 0.05)


def hypoxic_death(agents, local, params):
    """Die when oxygen (field 0) is low: `rate * sigmoid((0.25 - O2) / 0.05)`."""
    return _sigmoid_rate(params.death_rate, -local[:, 0], -0.25, 0.05)


def chemotactic_aggregation(*, key) -> tuple[Tissue, TissueState, TissueParams]:
    """Agents secrete a diffusing, decaying attractant and climb its gradient (Keller–Segel)."""
    grid = Grid((64, 64), spacing=0.1, boundary="noflux")
    tissue = Tissue(grid, dt=0.02, capacity=400, forces=True, cutoff=0.12, max_per_cell=64)
    x = 0.3 + 5.8 * jax.random.uniform(key, (400, 2))
    state = tissue.init(x, jnp.zeros((1, *grid.shape)))
    params = TissueParams(
        diffusion=0.05,
        decay=0.5,
        secretion=1.0,
        motility=0.002,
        chemotaxis=0.5,
        mechanics=Mechanics(repulsion=2.0, adhesion=0.0, radius=0.08, adhesion_radius=0.1),
    )
    return tissue, state, params


def tumour_spheroid(*, key) -> tuple[Tissue, TissueState, TissueParams]:
    """A spheroid in an oxygen field supplied at the boundary (PhysiCell/BioFVM demonstration):
    cells consume oxygen, divide where it is high and die where it is low."""
    grid = Grid((64, 64), spacing=0.1, boundary="dirichlet")
    tissue = Tissue(
        grid,
        dt=0.05,
        capacity=3000,
        forces=True,
        cutoff=0.12,
        max_per_cell=32,
        division_rule=oxygen_division,
        death_rule=hypoxic_death,
    )
    x = 3.2 + 0.15 * jax.random.normal(key, (30, 2))
    state = tissue.init(x, jnp.ones((1, *grid.shape)))
    params = TissueParams(
        diffusion=0.5,
        uptake=0.02,
        boundary_value=1.0,
        motility=1e-4,
        division_rate=0.8,
        death_rate=0.5,
        division_distance=0.06,
        mechanics=Mechanics(repulsion=5.0, adhesion=0.5, radius=0.1, adhesion_radius=0.12),
    )
    return tissue, state, params


EXAMPLES = {"chemotaxis": chemotactic_aggregation, "tumour": tumour_spheroid}


def tissue_example(name: str, *, key) -> tuple[Tissue, TissueState, TissueParams]:
    """A built-in example by name: `"chemotaxis"` or `"tumour"`."""
    if name not in EXAMPLES:
        raise SpatialError(f"unknown tissue example {name!r}; choose from {sorted(EXAMPLES)}")
    return EXAMPLES[name](key=key)
