"""The agent <-> continuum bridge: independent random walkers match the diffusion PDE, and
biased walkers match advection–diffusion, within sampling error.

Run: python examples/spatial_bridge.py --out msjax-output/
"""

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import msjax.spatial as sp  # noqa: E402

LENGTH, CELLS, D, T_END, N = 4.0, 200, 0.1, 1.0, 50_000


def walkers(grid, v, key):
    x0 = jnp.mod(1.0 + 0.2 * jax.random.normal(key, (N, 1)), LENGTH)
    agents = sp.init_agents(grid, x0, capacity=N)
    drift = jnp.full((N, 1), v)

    def body(a, k):
        return sp.move(
            grid, a, T_END / 100, key=jax.random.fold_in(key, k), motility=D, drift=drift
        ), None

    return jax.jit(lambda a: jax.lax.scan(body, a, jnp.arange(100))[0])(agents)


def pde(grid, v):
    x = grid.centers(0)
    rho = N * jnp.exp(-((x - 1.0) ** 2) / 0.08) / jnp.sqrt(0.08 * jnp.pi)
    dt = 0.5 * float(sp.stable_dt(grid, diffusion=D, velocity=[v], scheme="limited"))
    steps = int(np.ceil(T_END / dt))
    dt = T_END / steps

    def body(u, _):
        return sp.ssp_rk2_step(grid, u, dt, diffusion_coefficient=D, velocity=[v]), None

    return jax.jit(lambda u: jax.lax.scan(body, u, None, length=steps)[0])(rho)


def main(out: Path) -> None:
    grid = sp.Grid(CELLS, spacing=LENGTH / CELLS, boundary="periodic")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, v in zip(axes, (0.0, 0.8), strict=True):
        a = walkers(grid, v, jax.random.PRNGKey(int(10 * v)))
        rho = np.asarray(pde(grid, v))
        counts, edges = np.histogram(np.asarray(a.position[:, 0]), bins=40, range=(0, LENGTH))
        expected = rho.reshape(40, -1).sum(1) * grid.spacing[0]
        p = expected / N
        z = (counts - expected) / np.sqrt(N * p * (1 - p) + 1.0)
        centres = 0.5 * (edges[1:] + edges[:-1])
        width = edges[1] - edges[0]
        ax.bar(centres, counts / width, width=width, alpha=0.4, label=f"{N} walkers")
        ax.plot(np.asarray(grid.centers(0)), rho, "k", label="finite-volume PDE")
        ax.set_title(f"drift v = {v}: max |z| = {np.max(np.abs(z)):.2f} (bins within 5 SE)")
        ax.legend()
        print(f"v = {v}: max |count - PDE| / SE over 40 bins = {np.max(np.abs(z)):.2f}")
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "spatial_bridge.png", dpi=100, bbox_inches="tight")
    print(f"wrote {out / 'spatial_bridge.png'}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=Path("msjax-output"))
    main(p.parse_args().out)
