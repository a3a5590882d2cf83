"""`msjax fit | spectrum | profile PROBLEM.yaml`: multistart fits, Fisher spectra and profiles of
a PEtab problem, each printing a table and writing a PNG and TSV files into ``--out``.

- ``fit``: ``--starts`` starts optimised together (a tqdm bar on long fits); writes
  ``waterfall.png``, ``starts.tsv`` (every start's objective, convergence, iterations) and
  ``best_parameters.tsv`` (``parameterId``, ``parameterScale``, ``value`` on the scale,
  ``linearValue``), which ``spectrum`` and ``profile`` read back with ``--parameters``.
- ``spectrum``: Fisher information at the nominal (or given) parameters; writes
  ``spectrum.png`` and ``spectrum.tsv`` (eigenvalues, stiff/sloppy, combinations).
- ``profile``: profile likelihoods with likelihood-ratio confidence intervals; writes
  ``profiles.png`` and ``profiles.tsv`` (estimate, CI, flat flag per parameter).
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np

from ._errors import MsjaxError


def add_fit_commands(subparsers) -> None:
    """Register ``fit``, ``spectrum`` and ``profile`` on an `argparse` subparsers object."""
    fit = subparsers.add_parser("fit", help="multistart fit of a PEtab problem")
    _common(fit)
    fit.add_argument("--starts", type=int, default=100, help="number of starts")
    fit.add_argument(
        "--method",
        default="trust_region",
        choices=["trust_region", "lbfgs", "adam", "levenberg_marquardt", "gauss_newton"],
    )
    fit.add_argument("--max-steps", type=int, default=500, help="iterations per start")
    fit.add_argument("--seed", type=int, default=0, help="seed of the Latin-hypercube starts")
    fit.add_argument(
        "--near-best",
        type=float,
        default=None,
        help="fraction of the starts begun near the best end point so far (default 0.5)",
    )
    # Many calls of one program: XLA's CPU runtime with one worker thread (`cli.main`).
    fit.set_defaults(run=run_fit, one_worker_thread=True)

    spectrum = subparsers.add_parser("spectrum", help="Fisher information eigen-spectrum")
    _common(spectrum)
    _at(spectrum)
    spectrum.set_defaults(run=run_spectrum)

    profile = subparsers.add_parser("profile", help="profile likelihoods and intervals")
    _common(profile)
    _at(profile)
    profile.add_argument("--only", default=None, help="comma-separated parameter ids")
    profile.add_argument("--points", type=int, default=10, help="points to each side")
    profile.add_argument("--width", type=float, default=2.0, help="half-width (its scale)")
    profile.add_argument("--steps", type=int, default=30, help="L-BFGS steps per point")
    profile.set_defaults(run=run_profile, one_worker_thread=True)


def _common(parser) -> None:
    parser.add_argument("problem", help="a PEtab problem yaml")
    parser.add_argument("--out", default="msjax-output", help="output folder")


def _at(parser) -> None:
    parser.add_argument(
        "--parameters",
        default=None,
        help="a best_parameters.tsv from `msjax fit` (default: the nominal values)",
    )


def _load(args):
    import msjax

    problem = msjax.load_petab(args.problem)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"{Path(args.problem).name}: {problem.n_parameters} estimated parameters, "
        f"{problem.data.shape[0]} measurements, {len(problem.condition_ids)} conditions"
    )
    return problem, out


def write_parameters(path: Path, problem, theta) -> Path:
    """``parameterId, parameterScale, value (on its scale), linearValue`` per estimated
    parameter of ``problem`` at ``theta`` [E]."""
    scales = {p.id: p.scale for p in problem.spec[0]}
    linear = np.asarray(problem.linear_parameters(theta))[np.asarray(problem.estimated)]
    rows = [
        [pid, scales[pid], repr(float(value)), repr(float(lin))]
        for pid, value, lin in zip(problem.parameter_ids, np.asarray(theta), linear, strict=True)
    ]
    return write_tsv(path, ["parameterId", "parameterScale", "value", "linearValue"], rows)


def write_tsv(path: Path, header: list[str], rows) -> Path:
    """A tab-separated table: ``header`` then one line per row."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_parameters(path, problem) -> np.ndarray:
    """θ [E] (on the parameter scales) from a `write_parameters` TSV; every estimated
    parameter must be listed, by ``parameterId``, with a finite ``value``."""
    path = Path(path)
    if not path.is_file():
        raise MsjaxError(f"parameter file not found: {path}")
    values = {}
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if reader.fieldnames is None or not {"parameterId", "value"} <= set(reader.fieldnames):
            raise MsjaxError(f"{path}: needs columns parameterId and value")
        for row, record in enumerate(reader, start=2):
            try:
                value = float(record["value"])
            except (TypeError, ValueError):
                raise MsjaxError(f"{path}, row {row}, column value: not a number") from None
            if not math.isfinite(value):
                raise MsjaxError(f"{path}, row {row}, column value: {value}")
            values[record["parameterId"]] = value
    missing = [p for p in problem.parameter_ids if p not in values]
    if missing:
        raise MsjaxError(f"{path}: no value for estimated parameter(s) {missing}")
    return np.asarray([values[p] for p in problem.parameter_ids])


def _theta(args, problem):
    if args.parameters is None:
        return np.asarray(problem.nominal_parameters())
    return read_parameters(args.parameters, problem)


def run_fit(args: argparse.Namespace) -> int:
    import jax

    import msjax
    from msjax.plot import plot_waterfall

    problem, out = _load(args)
    result = msjax.fit(
        problem,
        n_starts=args.starts,
        method=args.method,
        key=jax.random.key(args.seed),
        max_steps=args.max_steps,
        near_best=args.near_best,
    )
    print(result.summary())
    print(f"  nllh at the best start (priors excluded): {float(problem.nllh(result.x)):.6g}")
    fvals = np.asarray(result.fvals)
    starts = zip(fvals, np.asarray(result.converged), np.asarray(result.iterations), strict=True)
    write_tsv(
        out / "starts.tsv",
        ["rank", "objective", "converged", "iterations"],
        ([rank, repr(float(f)), int(c), int(it)] for rank, (f, c, it) in enumerate(starts, 1)),
    )
    best = write_parameters(out / "best_parameters.tsv", problem, result.x)
    png = plot_waterfall(fvals, out / "waterfall.png", title=Path(args.problem).stem)
    print(f"  wrote {best}, {out / 'starts.tsv'} and {png}")
    return 0


def run_spectrum(args: argparse.Namespace) -> int:
    import msjax
    from msjax.plot import plot_spectrum

    problem, out = _load(args)
    theta = _theta(args, problem)
    spectrum = msjax.sloppiness(msjax.fisher_information(problem, theta), problem.parameter_ids)
    print(spectrum.table())
    write_tsv(
        out / "spectrum.tsv",
        ["k", "eigenvalue", "stiff", "combination"],
        (
            [k + 1, repr(float(value)), int(spectrum.stiff[k]), spectrum.combination(k)]
            for k, value in enumerate(spectrum.eigenvalues)
        ),
    )
    png = plot_spectrum(spectrum, out / "spectrum.png", title=Path(args.problem).stem)
    print(f"  wrote {out / 'spectrum.tsv'} and {png}")
    return 0


def run_profile(args: argparse.Namespace) -> int:
    import msjax
    from msjax.plot import plot_profiles

    problem, out = _load(args)
    theta = _theta(args, problem)
    names = None if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names or ()) - set(problem.parameter_ids))
    if unknown:
        raise MsjaxError(f"--only names unknown parameter(s) {unknown}")
    result = msjax.profile(
        problem, theta, names, n_points=args.points, width=args.width, steps=args.steps
    )
    print(f"{'parameter':>24s} {'estimate':>11s} {'CI lower':>11s} {'CI upper':>11s}  flat")
    index = {p: i for i, p in enumerate(problem.parameter_ids)}
    rows = []
    for name, (lower, upper), flat in zip(
        result.parameter_ids, result.ci, result.flat, strict=True
    ):
        estimate = float(theta[index[name]])
        print(f"{name:>24s} {estimate:11.4g} {lower:11.4g} {upper:11.4g}  {bool(flat)}")
        rows.append([name, repr(estimate), repr(float(lower)), repr(float(upper)), int(flat)])
    write_tsv(out / "profiles.tsv", ["parameterId", "estimate", "lower", "upper", "flat"], rows)
    png = plot_profiles(result, out / "profiles.png", title=Path(args.problem).stem)
    print(f"  wrote {out / 'profiles.tsv'} and {png}")
    return 0


def fitting_demo(out: Path, *, n_starts: int = 20, seed: int = 0) -> dict:
    """The main job of ``msjax demo`` on its built-in example (`msjax.inference._demo`):
    synthetic gene-expression data from known parameters (10 % log-normal noise, fixed key),
    a gradient multistart fit, the Fisher sloppiness spectrum at the optimum and the
    structurally identifiable combinations. Prints a report and writes ``fit_waterfall.png``,
    ``fit_spectrum.png``, ``fit_data.png`` and ``fit_parameters.tsv`` into ``out``.

    Returns ``{"problem", "result", "spectrum", "structure", "truth" [E]}``."""
    import time

    import jax
    import jax.numpy as jnp

    import msjax
    from msjax.inference import _demo
    from msjax.plot import plot_data_fit, plot_spectrum, plot_waterfall

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    key_data, key_fit, key_structure = jax.random.split(jax.random.key(seed), 3)
    data = _demo.gene_expression_data(key=key_data)
    problem = _demo.gene_expression_problem(data)
    truth = np.asarray(problem.nominal_parameters())
    print(
        "msjax demo: fitting gene expression (mRNA in relative units, protein) to synthetic "
        f"data, {problem.data.shape[0]} points with 10% noise"
    )
    result = msjax.fit(problem, n_starts=n_starts, key=key_fit)
    fvals = np.asarray(result.fvals)
    near = int(np.sum(fvals <= fvals[0] + 0.1))
    print(
        f"  {n_starts} {result.method} starts: best nllh {float(result.fun):.3f} "
        f"({near}/{n_starts} within 0.1; nllh at the true parameters "
        f"{float(problem.nllh(jnp.asarray(truth))):.3f})"
    )
    print(f"  {'parameter':>10s} {'true':>9s} {'fitted':>9s}  (linear scale)")
    for pid, t, x in zip(problem.parameter_ids, truth, np.asarray(result.x), strict=True):
        print(f"  {pid:>10s} {10**t:9.4g} {10**x:9.4g}")
    spectrum = msjax.sloppiness(msjax.fisher_information(problem, result.x), problem.parameter_ids)
    print("  " + spectrum.table().replace("\n", "\n  "))
    structure = msjax.structural_identifiability(problem, key=key_structure)
    print("  structural identifiability: " + structure.report().replace("\n", "\n  "))
    fitted = structure.combination_values(10.0 ** np.asarray(result.x))
    for combo, t, x in zip(
        structure.identifiable_combinations,
        structure.combination_values(10.0**truth),
        fitted,
        strict=True,
    ):
        print(f"    {combo}: true {t:.4g}, fitted {x:.4g}")
    write_parameters(out / "fit_parameters.tsv", problem, result.x)
    waterfall = plot_waterfall(fvals, out / "fit_waterfall.png", title="gene expression fit")
    spectrum_png = plot_spectrum(spectrum, out / "fit_spectrum.png")
    dense_t = np.linspace(0.25, float(_demo.TIMES[-1]), 60)
    dense = problem.with_measurements(
        [msjax.Measurement(o, float(t), 1.0) for o in ("mRNA", "protein") for t in dense_t]
    )
    h, _, _ = dense.predict(result.x)
    h = np.asarray(h).reshape(2, -1)
    data_png = plot_data_fit(
        {"mRNA": (dense_t, h[0]), "protein": (dense_t, h[1])},
        {name: (_demo.TIMES, values) for name, values in data.items()},
        out / "fit_data.png",
        title="gene expression: synthetic data and best fit",
    )
    print(
        f"  done in {time.perf_counter() - start:.1f} s (compile included); wrote "
        f"{out / 'fit_parameters.tsv'}, {waterfall}, {spectrum_png} and {data_png}"
    )
    return {
        "problem": problem,
        "result": result,
        "spectrum": spectrum,
        "structure": structure,
        "truth": truth,
    }
