"""The ``msjax`` command: parse arguments, call the library, write files."""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ._devices import use_all_cores, use_one_worker_thread
from .cli_ensemble import add_ensemble_command
from .cli_fit import add_fit_commands
from .cli_tissue import add_tissue_command

DEFAULT_OUT = "msjax-output"


def _enable_x64() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)


def _simulate_builtin(name: str, t_end: float, points: int):
    import jax.numpy as jnp

    import msjax

    if name not in msjax.models.LIBRARY:
        raise msjax.ModelError(
            f"unknown built-in model {name!r}; choose one of {sorted(msjax.models.LIBRARY)}"
        )
    model = msjax.models.LIBRARY[name]()
    ts = jnp.linspace(0.0, t_end, points)
    start = time.perf_counter()
    solution = msjax.simulate(model, msjax.ODE(), ts)
    solution.ys.block_until_ready()
    return model, solution, time.perf_counter() - start


def _period(ts: np.ndarray, values: np.ndarray) -> float | None:
    """Mean spacing of upward crossings of the mean after the first quarter (None if < 2)."""
    start = len(ts) // 4
    ts, values = ts[start:], values[start:]
    centred = values - values.mean()
    crossings = ts[1:][(centred[:-1] < 0) & (centred[1:] >= 0)]
    return float(np.diff(crossings).mean()) if len(crossings) >= 2 else None


def _plot(solution, species: list[str], path: Path, title: str) -> None:
    from msjax.plot import plot_trajectories

    plot_trajectories(solution, species, path, title=title)


def run_demo(args) -> int:
    """The main job on the built-in examples: fit a gene-expression model to synthetic data
    (multistart, sloppiness spectrum, identifiable combinations), then the MAPK cascade
    (Kholodenko 2000), then the telegraph gene as a stochastic ensemble beside its ODE."""
    from msjax.cli_fit import fitting_demo
    from msjax.stochastic import telegraph_demo

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fitting_demo(out, n_starts=args.starts)
    print("msjax demo: MAPK cascade with negative feedback (Kholodenko 2000)")
    print(f"  simulating 0..{args.t_end:g} s at {args.points} points with Rodas4 ...")
    model, solution, seconds = _simulate_builtin("mapk_cascade", args.t_end, args.points)
    ts, mapk_pp = np.asarray(solution.ts), np.asarray(solution["MAPK_PP"])
    period = _period(ts, mapk_pp)
    steps = int(solution.stats["num_steps"])
    late = mapk_pp[len(mapk_pp) // 4 :]
    print(f"  done in {seconds:.2f} s (compile included), {steps} solver steps")
    if period:
        print(
            f"  MAPK-PP oscillates between {late.min():.1f} and {late.max():.1f} nM, "
            f"period {period:.0f} s"
        )
    else:
        print(
            f"  MAPK-PP ranges over {late.min():.1f}..{late.max():.1f} nM; no sustained "
            "oscillation detected in this time span"
        )
    totals = np.asarray(model.conserved_totals(solution.ys))
    drift = np.abs(totals - totals[0]).max() / np.abs(totals[0]).max()
    print(f"  conservation laws: {len(totals[0])}, largest relative drift {drift:.1e}")
    csv = out / "mapk_cascade.csv"
    png = out / "mapk_cascade.png"
    solution.to_csv(csv)
    _plot(solution, ["MKKK_P", "MKK_PP", "MAPK_PP"], png, "MAPK cascade (Kholodenko 2000)")
    print(f"  wrote {csv} and {png}")
    print("msjax demo: telegraph gene, 10,000 Gillespie trajectories next to the ODE")
    telegraph_demo(out)
    return 0


MODEL_FILE_SUFFIXES = (".xml", ".sbml", ".ant")


def run_simulate(args) -> int:
    if Path(args.model).suffix.lower() in MODEL_FILE_SUFFIXES:
        from .cli_sbml import run_simulate_file

        return run_simulate_file(args)
    model, solution, seconds = _simulate_builtin(args.model, args.t_end, args.points)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    solution.to_csv(out)
    print(
        f"{args.model}: {len(model.species_names)} species, {len(model.reaction_names)} "
        f"reactions; simulated 0..{args.t_end:g} in {seconds:.2f} s "
        f"({int(solution.stats['num_steps'])} steps)"
    )
    final = ", ".join(
        f"{n}={v:.4g}" for n, v in zip(model.species_names, solution.ys[-1], strict=True)
    )
    print(f"  final state: {final}")
    print(f"  wrote {out}")
    return 0


def run_models(args) -> int:
    import msjax

    for name, build in msjax.models.LIBRARY.items():
        summary = (build.__doc__ or "").strip().splitlines()[0]
        print(f"{name:20s} {summary}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="msjax", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="fit, analyse and simulate the built-in examples (about a minute)"
    )
    demo.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    demo.add_argument("--t-end", type=float, default=6000.0)
    demo.add_argument("--points", type=int, default=601)
    demo.add_argument("--starts", type=int, default=20, help="multistart fit: starts")
    demo.set_defaults(run=run_demo)

    simulate = commands.add_parser(
        "simulate", help="simulate a built-in model, an SBML or an Antimony file to a CSV"
    )
    simulate.add_argument(
        "model", help="a built-in model name (see `msjax models`) or a .xml/.sbml/.ant file"
    )
    simulate.add_argument("--t-end", type=float, required=True)
    simulate.add_argument("--points", type=int, default=101)
    simulate.add_argument("--out", default=f"{DEFAULT_OUT}/simulation.csv")
    simulate.set_defaults(run=run_simulate)

    models = commands.add_parser("models", help="list the built-in models")
    models.set_defaults(run=run_models)

    add_ensemble_command(commands)
    add_tissue_command(commands)
    add_fit_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "one_worker_thread", False):
        use_one_worker_thread()  # fits, profiles: many calls of one program on one device
    else:
        use_all_cores()  # batches split over the cores; compilation uses them all
    _enable_x64()
    from msjax import MsjaxError

    try:
        return args.run(args)
    except MsjaxError as error:
        print(f"msjax: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
