"""Benchmark of msjax.spatial: field-step throughput vs a measured memory-bandwidth bound, and
agent steps per second with neighbour forces (plus peak memory).

Run: python bench/spatial.py            (prints a table, writes bench/results/spatial.json)
`gpu_cases()` is the GPU part (10^6 agents, a 256^3 diffusion step) called from bench/gpu.py.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import msjax.spatial as sp

RESULTS = Path(__file__).parent / "results" / "spatial.json"


def _time(fn, *args, repeats: int = 5) -> float:
    """Best wall time of `fn(*args)` after one warm-up (compile) call."""
    jax.block_until_ready(fn(*args))
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def bandwidth(n_bytes: int = 1 << 28, dtype=jnp.float32) -> float:
    """Memory bandwidth (bytes/s) of a large array copy `y = x + 1` (read + write)."""
    x = jnp.ones((n_bytes // jnp.dtype(dtype).itemsize,), dtype)
    t = _time(jax.jit(lambda x: x + 1), x)
    return 2 * n_bytes / t


def field_case(shape: tuple[int, ...], steps: int = 10, dtype=jnp.float32) -> dict:
    """Explicit diffusion–reaction steps `u += dt (D lap u + u (1 - u))` on a no-flux grid."""
    grid = sp.Grid(shape, spacing=1.0)
    dt = 0.9 * float(sp.stable_dt(grid, diffusion=1.0))
    u0 = jax.random.uniform(jax.random.PRNGKey(0), shape, dtype)

    @jax.jit
    def run(u):
        def body(v, _):
            v = v + dt * (sp.diffusion(grid, v, 1.0) + v * (1 - v))
            return v, None

        return jax.lax.scan(body, u, None, length=steps)[0]

    t = _time(run, u0, repeats=3)
    updates = grid.size * steps / t
    bound = bandwidth() / (2 * jnp.dtype(dtype).itemsize)  # one read + one write per cell
    return dict(
        case=f"field {len(shape)}D {'x'.join(map(str, shape))} {jnp.dtype(dtype).name}",
        cell_updates_per_s=updates,
        bandwidth_bound_per_s=bound,
        fraction_of_bound=updates / bound,
    )


def _agent_setup(n: int, ndim: int = 2, dtype=jnp.float32):
    # density ~0.5 agents per cutoff-sized bin
    side = float(np.sqrt(2 * n) if ndim == 2 else np.cbrt(2 * n))
    cells = 64
    grid = sp.Grid((cells,) * ndim, spacing=side / cells, boundary="periodic")
    x = side * jax.random.uniform(jax.random.PRNGKey(0), (n, ndim), dtype)
    agents = sp.init_agents(grid, x, capacity=n)
    mech = sp.Mechanics(
        repulsion=jnp.asarray(1.0, dtype),
        adhesion=jnp.asarray(0.2, dtype),
        radius=jnp.asarray(0.8, dtype),
        adhesion_radius=jnp.asarray(1.0, dtype),
    )
    return grid, agents, mech


def agent_steps(n: int, steps: int = 10, ndim: int = 2, dtype=jnp.float32) -> dict:
    """Agent steps/s: cell-list neighbour forces + Euler–Maruyama move, `steps` under scan."""
    grid, agents, mech = _agent_setup(n, ndim, dtype)
    key = jax.random.PRNGKey(1)

    @jax.jit
    def run(agents):
        def body(a, k):
            f, _ = sp.neighbour_forces(grid, a, mech, cutoff=1.0, max_per_cell=8)
            a = sp.move(grid, a, 0.01, key=jax.random.fold_in(key, k), motility=0.1, drift=f)
            return a, None

        return jax.lax.scan(body, agents, jnp.arange(steps))[0]

    t = _time(run, agents, repeats=3)
    return dict(case=f"agents {n} ({ndim}D, forces)", steps_per_s=steps / t, n_agents=n)


def _agent_subprocess(n: int) -> dict:
    """Run one agent case in a fresh process so that its peak RSS is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--agents", str(n)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def gpu_cases() -> list[dict]:
    """GPU records: 10^6 agents with neighbour forces, and a 3D 256^3 diffusion step."""
    records = [agent_steps(1_000_000, steps=5), field_case((256, 256, 256), steps=5)]
    for r in records:
        r["device"] = str(jax.devices()[0])
    return records


def main() -> None:
    rows = [field_case((1024, 1024)), field_case((128, 128, 128))]
    rows += [_agent_subprocess(n) for n in (10_000, 100_000)]
    meta = dict(
        device=str(jax.devices()[0]),
        cpu_count=os.cpu_count(),
        platform=platform.platform(),
        jax=jax.__version__,
    )
    print(f"{'case':34s} {'throughput':>16s} {'bound':>14s} {'fraction':>9s} {'peak MB':>8s}")
    for r in rows:
        if "cell_updates_per_s" in r:
            print(
                f"{r['case']:34s} {r['cell_updates_per_s']:12.3e} c/s "
                f"{r['bandwidth_bound_per_s']:10.3e} c/s {r['fraction_of_bound']:9.2f}"
            )
        else:
            print(f"{r['case']:34s} {r['steps_per_s']:10.2f} steps/s {'':24s} {r['peak_mb']:8.0f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(dict(meta=meta, results=rows), indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--agents":
        record = agent_steps(int(sys.argv[2]))
        record["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(record))
    else:
        main()
