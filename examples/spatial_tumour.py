"""A tumour spheroid growing in an oxygen field (the PhysiCell/BioFVM demonstration).

Oxygen diffuses in from the boundary (Dirichlet, value 1); cells consume it, divide where it is
high and die where it is low, so a proliferating rim forms around a hypoxic core.

Run: python examples/spatial_tumour.py --out msjax-output/
"""

import argparse
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import msjax.spatial as sp  # noqa: E402


def main(out: Path, steps: int = 600) -> None:
    tissue, state, params = sp.tissue_example("tumour", key=jax.random.PRNGKey(0))
    final, info = sp.run_tissue(tissue, state, params, steps, key=jax.random.PRNGKey(1))
    g = tissue.grid
    extent = [g.origin[0], g.upper[0], g.origin[1], g.upper[1]]
    count, births, deaths = (np.asarray(info[k]) for k in ("count", "births", "deaths"))
    assert np.all(count == int(state.agents.count) + births - deaths)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    pos = np.asarray(final.agents.position)[np.asarray(final.agents.alive)]
    im = axes[0].imshow(
        np.asarray(final.fields[0]).T, origin="lower", extent=extent, cmap="Blues_r"
    )
    fig.colorbar(im, ax=axes[0], shrink=0.8, label="oxygen")
    axes[0].scatter(pos[:, 0], pos[:, 1], s=2, c="red")
    axes[0].set_title(f"spheroid at t = {float(final.t):.0f}: {int(final.agents.count)} cells")
    t = np.arange(1, steps + 1) * tissue.dt
    axes[1].plot(t, count, label="alive")
    axes[1].plot(t, births, label="births (cumulative)")
    axes[1].plot(t, deaths, label="deaths (cumulative)")
    axes[1].set_xlabel("time")
    axes[1].legend()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "spatial_tumour.png", dpi=100, bbox_inches="tight")
    print(f"cells {count[0]} -> {count[-1]} (births {births[-1]}, deaths {deaths[-1]})")
    print(f"wrote {out / 'spatial_tumour.png'}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=Path("msjax-output"))
    p.add_argument("--steps", type=int, default=600)
    a = p.parse_args()
    main(a.out, a.steps)
