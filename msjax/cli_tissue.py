"""`msjax tissue EXAMPLE --steps K --out DIR`: run a built-in tissue example.

Writes PNG snapshots (agents over the first field) and `tissue.csv` with the step, time, alive
count, cumulative births and deaths, and the total of every field. The lead wires
`add_tissue_command` into `msjax.cli`.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def add_tissue_command(subparsers) -> argparse.ArgumentParser:
    """Register `tissue` on argparse subparsers; `run_tissue` is its handler (``args.run``)."""
    parser = subparsers.add_parser("tissue", help="run a built-in hybrid tissue example")
    parser.add_argument("example", choices=["chemotaxis", "tumour"], help="which example")
    parser.add_argument("--steps", type=int, default=200, help="number of tissue steps")
    parser.add_argument("--out", default="msjax-output", help="output folder")
    parser.add_argument("--snapshots", type=int, default=4, help="number of PNG snapshots")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.set_defaults(run=run_tissue)
    return parser


def run_tissue(args: argparse.Namespace) -> int:
    """Run the example in chunks (one progress-bar tick each) and write PNGs + CSV."""
    import jax
    from tqdm import tqdm

    jax.config.update("jax_enable_x64", True)
    import msjax.spatial as sp

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    key = jax.random.PRNGKey(args.seed)
    tissue, state, params = sp.tissue_example(args.example, key=jax.random.fold_in(key, 0))
    run_key = jax.random.fold_in(key, 1)
    extent = [
        tissue.grid.origin[0],
        tissue.grid.upper[0],
        tissue.grid.origin[1],
        tissue.grid.upper[1],
    ]
    n_snap = max(args.snapshots, 1)
    chunk = max(args.steps // (10 * n_snap), 1)
    snap_every = max(args.steps // n_snap, 1)
    rows = []
    written = []
    done = 0

    def snapshot(step):
        path = out / f"{args.example}_{step:06d}.png"
        _plot(path, state, extent, f"{args.example}: step {step}, {int(state.agents.count)} cells")
        written.append(path)

    snapshot(0)
    with tqdm(total=args.steps, desc=f"tissue {args.example}", unit="step") as bar:
        while done < args.steps:
            k = min(chunk, args.steps - done)
            state, info = sp.run_tissue(tissue, state, params, k, key=run_key)
            info = jax.device_get(info)
            for i in range(k):
                rows.append(
                    [done + i + 1, float(state.t) - (k - 1 - i) * tissue.dt]
                    + [int(info[c][i]) for c in ("count", "births", "deaths")]
                    + [float(v) for v in info["totals"][i]]
                )
            done += k
            bar.update(k)
            if done % snap_every < k or done == args.steps:
                snapshot(done)
    n_fields = state.fields.shape[0]
    with open(out / f"{args.example}.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["step", "t", "count", "births", "deaths"] + [f"total_{i}" for i in range(n_fields)]
        )
        writer.writerows(rows)
    print(f"wrote {out / (args.example + '.csv')} and {len(written)} PNG snapshots to {out}")
    return 0


def _plot(path: Path, state, extent, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    field = np.asarray(state.fields[0])
    alive = np.asarray(state.agents.alive)
    pos = np.asarray(state.agents.position)[alive]
    fig, ax = plt.subplots(figsize=(5, 5))
    im = ax.imshow(field.T, origin="lower", extent=extent, cmap="viridis")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.scatter(pos[:, 0], pos[:, 1], s=3, c="white", edgecolors="black", linewidths=0.2)
    ax.set_title(title)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    """Standalone entry (`python -m msjax.cli_tissue tumour --steps 100`)."""
    parser = argparse.ArgumentParser(prog="msjax")
    add_tissue_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["tissue", *(argv if argv is not None else __import__("sys").argv[1:])]
    )
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
