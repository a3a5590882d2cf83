"""`msjax ensemble MODEL --n N --t-end T`: a stochastic ensemble with streamed statistics.

Runs the ensemble chunk by chunk (a tqdm progress bar), prints a summary table at the final
time, and writes ``ensemble.csv`` (mean, sd and quantiles per time and species) and
``ensemble.png`` (distributions over time) into ``--out``. MODEL is a built-in model name, an
SBML file or an Antimony file (``.ant``).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_ensemble_command(subparsers) -> argparse.ArgumentParser:
    """Register ``ensemble`` on an `argparse` subparsers object (handler: `run_ensemble`)."""
    parser = subparsers.add_parser("ensemble", help="run a stochastic ensemble with statistics")
    parser.add_argument(
        "model", help="a built-in model name (see `msjax models`), an SBML or Antimony file"
    )
    parser.add_argument("--n", type=int, default=10_000, help="number of trajectories")
    parser.add_argument("--t-end", type=float, required=True, help="final time")
    parser.add_argument("--points", type=int, default=101, help="save times")
    parser.add_argument("--method", choices=["gillespie", "tauleap", "cle"], default="gillespie")
    parser.add_argument("--omega", type=float, default=1.0, help="system size Ω")
    parser.add_argument("--chunk", type=int, default=10_000, help="trajectories per chunk")
    parser.add_argument("--float32", action="store_true", help="float32 propensities/time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="msjax-output", help="output folder")
    parser.set_defaults(run=run_ensemble)
    return parser


def _model(name: str):
    import msjax

    if name in msjax.models.LIBRARY:
        return msjax.models.LIBRARY[name]()
    path = Path(name)
    if path.is_file():
        if path.suffix == ".ant":
            return msjax.load_antimony(path.read_text())
        return msjax.load_sbml(path)
    raise msjax.ModelError(
        f"unknown model {name!r}: not a built-in ({sorted(msjax.models.LIBRARY)}) nor a file"
    )


def run_ensemble(args: argparse.Namespace) -> int:
    import time

    import jax
    import jax.numpy as jnp

    from msjax.stochastic import CLE, Gillespie, TauLeap, ensemble_stats
    from msjax.stochastic._demo import plot_distributions

    model = _model(args.model)
    method = {
        "gillespie": lambda: Gillespie(omega=args.omega, float32=args.float32),
        "tauleap": lambda: TauLeap(omega=args.omega, float32=args.float32),
        "cle": lambda: CLE(omega=args.omega, float32=args.float32),
    }[args.method]()
    ts = jnp.linspace(0.0, args.t_end, args.points)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    stats = ensemble_stats(
        model,
        method,
        ts,
        key=jax.random.PRNGKey(args.seed),
        n=args.n,
        chunk_size=args.chunk,
        progress=True,
    )
    seconds = time.perf_counter() - start
    print(
        f"{args.model}: {args.n} {type(method).__name__} trajectories in {seconds:.1f} s "
        f"({args.n / seconds:.0f} trajectories/s, compile included); failed: {stats.failures}"
    )
    levels = [f"q{q:g}" for q in stats.quantile_levels]
    print(f"{'species':>12s} {'mean':>10s} {'sd':>10s} " + " ".join(f"{q:>8s}" for q in levels))
    for s, name in enumerate(stats.species_names):
        quantiles = " ".join(f"{v:8.4g}" for v in stats.quantiles[:, -1, s])
        print(f"{name:>12s} {stats.mean[-1, s]:10.4g} {stats.sd[-1, s]:10.4g} {quantiles}")
    csv, png = out / "ensemble.csv", out / "ensemble.png"
    stats.to_csv(csv)
    varying = [n for s, n in enumerate(stats.species_names) if stats.sd[:, s].max() > 0]
    species = max(varying or stats.species_names, key=lambda n: stats[n]["mean"].max())
    plot_distributions(stats, species, png, title=f"{args.model}: {stats.n} trajectories")
    print(f"wrote {csv} and {png}")
    return 0
