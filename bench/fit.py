"""Fitting benchmark on the PEtab benchmark problems: msjax vs pyPESTO + libRoadRunner.

For each problem in ../shared/testdata/petab-benchmark: load time, compile time (first call
minus a warm call) and warm time of one nllh and of one nllh+gradient in forward and in
reverse mode, and a multistart fit (wall time, fraction of starts within 0.1 of the reference
optimum — the objective at the published nominal parameters — or below, time per such start).
For Boehm_JProteomeRes2014 also the peak resident memory of a 1000-start fit (in a child
process). Where pyPESTO with libRoadRunner is installed, the same problem through it
(central finite-difference gradients, scipy L-BFGS-B multistart) and the ratios. Prints a table and
writes bench/results/fit.json.

    python bench/fit.py [--problems Boehm_JProteomeRes2014,...] [--starts 100]
                        [--memory-starts 1000] [--peer-starts 10] [--no-peers] [--out PATH]
                        [--note TEXT] [--all-cores]
"""

import argparse
import csv
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from msjax._devices import use_all_cores, use_one_worker_thread

# As `msjax fit` does (pyPESTO below runs on one core); --all-cores: as the ensembles do.
if "--all-cores" in sys.argv:
    use_all_cores()
else:
    use_one_worker_thread()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import msjax  # noqa: E402
from msjax.inference import default_lanes  # noqa: E402

BENCHMARK = Path(
    os.environ.get(
        "MSJAX_PETAB_BENCHMARK",
        Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata" / "petab-benchmark",
    )
)
RESULTS = Path(__file__).parent / "results"
MEMORY_PROBLEM = "Boehm_JProteomeRes2014"


def _yaml(name: str) -> Path:
    return BENCHMARK / name / f"{name}.yaml"


def reference_nllh() -> dict[str, float]:
    with (BENCHMARK / "reference_nllh.tsv").open() as handle:
        return {
            r["problem"]: float(r["nllh_at_nominal"])
            for r in csv.DictReader(handle, delimiter="\t")
        }


def timed(fn, repeats: int = 5, seconds: float = 2.0) -> tuple[float, float]:
    """(first call, median of the warm calls) in seconds; results blocked on. The first call
    begins with JAX's caches cleared: its compilation reuses nothing traced by an earlier
    measurement (the model's vector field, say), as in a fresh process. Warm calls
    repeat for ``seconds`` (at most 200 calls; at least ``repeats``), so that fast calls on
    a shared machine are timed over many."""
    jax.clear_caches()
    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    warm = []
    while len(warm) < repeats or (sum(warm) < seconds and len(warm) < 200):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        warm.append(time.perf_counter() - start)
    return first, statistics.median(warm)


def bench_msjax(
    name: str,
    starts: int,
    reference: float,
    budget: float | None,
    near_best: float | None = None,
    compile_only: bool = False,
) -> dict:
    start = time.perf_counter()
    problem = msjax.load_petab(_yaml(name))
    load = time.perf_counter() - start
    theta = problem.nominal_parameters()
    row = {"problem": name, "parameters": problem.n_parameters, "load_s": load}
    first, warm = timed(lambda: problem.nllh(theta))
    row.update(nllh_compile_s=first - warm, nllh_s=warm, nllh=float(problem.nllh(theta)))
    for mode in ("forward", "reverse"):
        first, warm = timed(lambda mode=mode: problem.value_and_grad(theta, mode=mode))
        row[f"grad_{mode}_compile_s"] = first - warm
        row[f"grad_{mode}_s"] = warm
    row["default_mode"] = "forward" if problem.forward_mode else "reverse"
    row["compile_s"] = row["nllh_compile_s"] + row[f"grad_{row['default_mode']}_compile_s"]
    print(json.dumps(row), flush=True)
    if starts and compile_only:
        row["fit_compile_s"] = fit_compile_time(problem, starts)
    elif starts:
        row.update(fit_row(problem, starts, reference, budget, near_best))
    return row


def nllh_solved_tightly(problem, theta) -> float:
    """``problem.nllh(θ)`` solved at rtol 1e-10 and atol 1e-16 (AMICI's atol): the check of
    a fit's best end point. Where the observables rest on species far below the problem's
    atol (1e-10), its own solve can be off by a tenth (a stalled Fujita_SciSignal2010 start
    at +7595: +0.1 from rtol 1e-8, atol 1e-10 to rtol 1e-10, atol 1e-12), so an end point
    below the reference at the problem's tolerances alone would be no finding."""
    tight = dataclasses.replace(problem.method, rtol=1e-10, atol=1e-16)
    return float(problem.with_method(tight).nllh(theta))


def fit_row(
    problem,
    starts: int,
    reference: float,
    budget: float | None,
    near_best: float | None = None,
    lanes: int | None = None,
) -> dict:
    """A ``starts``-start fit with msjax's defaults (one call, as a user makes it), beginning
    no new start after ``budget`` seconds. Its compilation is timed first by a fit that stops
    after one iteration of one start: what a user waits before the first iteration (that time
    also holds the iteration and the evaluation again at the problem's tolerance). The best
    end point's nllh minus the nominal one is also given with both solved tightly
    (`nllh_solved_tightly`).
    ``near_best``: `msjax.fit`'s fraction of starts begun near the best end point (None:
    its default); ``lanes``: its lanes (None: `default_lanes`)."""
    theta = problem.nominal_parameters()
    objective_ref = float(problem.objective(theta))
    key = jax.random.key(0)
    compile_s = fit_compile_time(problem, starts, lanes)
    result = msjax.fit(
        problem,
        starts,
        key=key,
        max_time=budget,
        near_best=near_best,
        lanes=lanes,
        progress=False,
    )
    fvals = np.asarray(result.fvals)
    reached = int(np.sum(fvals <= objective_ref + 0.1))
    wall = result.wall_time
    best_nllh = float(problem.nllh(result.x))
    best_minus_nominal = nllh_solved_tightly(problem, result.x) - nllh_solved_tightly(
        problem, theta
    )
    return dict(
        fit_lanes=default_lanes(starts) if lanes is None else min(lanes, starts),
        fit_near_best=near_best,
        fit_compile_s=compile_s,
        fit_starts=len(fvals),
        fit_wall_s=wall,
        fit_iterations=int(np.sum(np.asarray(result.iterations))),
        fit_failed=int(np.sum(np.asarray(result.failed))),
        fit_reached=reached,
        fit_fraction=reached / len(fvals),
        fit_s_per_reached=wall / reached if reached else None,
        fit_best_objective=float(result.fun),
        fit_best_nllh=best_nllh,
        fit_best_within_0_1=best_nllh <= reference + 0.1,
        fit_best_minus_nominal_tight=best_minus_nominal,
        fit_best_x=result.best_parameters(),
        fit_waterfall=fvals.tolist(),
    )


def fit_compile_time(problem, starts: int, lanes: int | None = None) -> float:
    """Seconds to a fit's first iteration, JAX's caches cleared first: a ``starts``-start fit
    that stops after one iteration of one start (the iteration and the evaluation of its end
    point at the problem's tolerance included)."""
    jax.clear_caches()
    start = time.perf_counter()
    msjax.fit(
        problem,
        starts,
        key=jax.random.key(0),
        max_steps=1,
        max_time=0.0,
        lanes=lanes,
        progress=False,
    )
    return time.perf_counter() - start


def peak_rss_child(name: str, starts: int, max_steps: int) -> float:
    """Peak resident memory (GB) of a child process running a ``starts``-start fit of at most
    ``max_steps`` iterations per start (the pool's memory does not grow with iterations): the
    child's own ``VmHWM``. ``getrusage`` would not do: Linux keeps a process's ``ru_maxrss``
    across ``exec``, so a child of this benchmark reported this process's peak (2.76 GB on
    27 November, where the fit's own was 0.83 GB)."""
    code = (
        "import jax; jax.config.update('jax_enable_x64', True); import msjax; "
        f"p = msjax.load_petab({str(_yaml(name))!r}); "
        f"r = msjax.fit(p, n_starts={starts}, max_steps={max_steps}, key=jax.random.key(0), "
        "progress=False); print(float(r.fun), r.wall_time); "
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1]) / 1e6  # kB


def bench_pypesto(name: str, starts: int, reference: float) -> dict | None:
    """pyPESTO's libRoadRunner objective with central finite-difference gradients (2E
    simulations) and scipy L-BFGS-B from uniform starts; None if pyPESTO is not installed."""
    try:
        import petab.v1 as petab
        from pypesto.objective.roadrunner import PetabImporterRR
        from scipy.optimize import minimize
    except ImportError:
        return None
    try:
        importer = PetabImporterRR(petab.Problem.from_yaml(str(_yaml(name))))
        problem = importer.create_problem()
    except Exception as error:  # e.g. PEtab features pyPESTO's RoadRunner importer refuses
        return {"error": f"{type(error).__name__}: {error}"}
    objective = problem.objective  # on the free parameters, on their scales
    lower, upper = np.asarray(problem.lb), np.asarray(problem.ub)
    eps = 1e-5

    def value_and_grad(x):
        steps = eps * np.eye(x.size)
        fd = [(objective(x + e) - objective(x - e)) / (2 * eps) for e in steps]
        return objective(x), np.asarray(fd)

    x = np.asarray(importer.petab_problem.x_nominal_free_scaled)
    try:
        _, nllh = timed(lambda: objective(x), repeats=3)
        _, grad = timed(lambda: value_and_grad(x), repeats=3)
    except RuntimeError as error:  # e.g. CVODE failing at the nominal parameters (Schwen)
        return {"error": f"{type(error).__name__}: {error}"}
    row = {"nllh": float(objective(x)), "nllh_s": nllh, "grad_fd_s": grad}
    if starts:
        rng = np.random.default_rng(0)
        fvals = []
        start = time.perf_counter()
        for x0 in lower + (upper - lower) * rng.random((starts, lower.size)):
            try:
                fit = minimize(
                    value_and_grad,
                    x0,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=list(zip(lower, upper, strict=True)),
                )
                fvals.append(fit.fun)
            except RuntimeError:  # e.g. a CVODE failure RoadRunner raises: a failed start
                fvals.append(np.inf)
        wall = time.perf_counter() - start
        reached = int(np.sum(np.asarray(fvals) <= row["nllh"] + 0.1))
        row.update(fit_starts=starts, fit_wall_s=wall, fit_reached=reached)
        row["fit_s_per_start"] = wall / starts
    return row


GPU_FITS = (  # (problem, starts, lanes, seconds after which no start begins)
    ("Boehm_JProteomeRes2014", 1000, 250, 40.0),
    ("Elowitz_Nature2000", 1000, 100, 60.0),
    ("Brannmark_JBC2010", 1000, 100, 60.0),
    ("Fujita_SciSignal2010", 1000, 100, 60.0),
)


def gpu_cases(cases=GPU_FITS, seconds: float = 330.0) -> list[dict]:
    """On an accelerator: per problem a fit of ``lanes`` lanes (one vmapped program; a lane
    whose solve needs many steps holds up the others, so fewer lanes than starts) that begins
    no start after its budget (`fit_row`), so that starts begun near the best take part. A
    case begins only within ``seconds`` of the first; each row is printed as it finishes."""
    references = reference_nllh()
    end = time.perf_counter() + seconds
    rows = []
    for name, starts, lanes, budget in cases:
        case = f"fit {name}, {starts} starts, {lanes} lanes, {budget:.0f} s"
        if time.perf_counter() > end:
            rows.append({"case": case, "skipped": f"not begun within {seconds:.0f} s"})
            continue
        problem = msjax.load_petab(_yaml(name))
        row = {"case": case, "problem": name, "parameters": problem.n_parameters}
        row["reference"] = references[name]
        row.update(fit_row(problem, starts, references[name], budget, lanes=lanes))
        row["fit_best_minus_reference"] = row["fit_best_nllh"] - references[name]
        row["fit_top"] = [v - references[name] for v in row.pop("fit_waterfall")[:10]]
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'problem':26s} {'E':>3s} {'compile':>8s} {'fit comp':>8s} {'nllh':>8s} {'grad fwd':>9s} "
        f"{'grad rev':>9s} {'fit wall':>9s} {'reached':>8s} {'s/reach':>8s} {'best-ref':>9s} "
        f"{'tight':>9s}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['problem']:26s} {r['parameters']:3d} {r['compile_s']:7.1f}s "
            f"{_fmt(r.get('fit_compile_s'), '7.1f')}s "
            f"{1e3 * r['nllh_s']:6.1f}ms {1e3 * r['grad_forward_s']:7.1f}ms "
            f"{1e3 * r['grad_reverse_s']:7.1f}ms {_fmt(r.get('fit_wall_s'), '8.1f')}s "
            f"{_fmt(r.get('fit_fraction'), '8.2f')} {_fmt(r.get('fit_s_per_reached'), '8.2f')} "
            f"{_fmt(r.get('fit_best_nllh', None) and r['fit_best_nllh'] - r['reference'], '9.3f')} "
            f"{_fmt(r.get('fit_best_minus_nominal_tight'), '9.3f')}"
        )
        peer = r.get("pypesto_roadrunner")
        if peer and "error" in peer:
            print(f"  pyPESTO+RoadRunner: not run ({peer['error']})")
        elif peer:
            ratio = peer["grad_fd_s"] / r[f"grad_{r['default_mode']}_s"]
            line = f"  pyPESTO+RoadRunner (FD): nllh {1e3 * peer['nllh_s']:.1f} ms, "
            line += f"nllh+grad {1e3 * peer['grad_fd_s']:.1f} ms ({ratio:.1f}x msjax)"
            if "fit_s_per_start" in peer and r.get("fit_wall_s"):
                per = r["fit_wall_s"] / r["fit_starts"]
                line += (
                    f", fit {peer['fit_s_per_start']:.2f} s/start "
                    f"({peer['fit_s_per_start'] / per:.1f}x msjax), "
                    f"reached {peer['fit_reached']}/{peer['fit_starts']}"
                )
            print(line)


def write_results(out: Path, info: dict, rows: list[dict], memory: dict | None) -> None:
    out.write_text(
        json.dumps({"info": info, "problems": rows, "memory": memory}, indent=1, default=float)
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=None, help="comma-separated (default: all)")
    parser.add_argument("--starts", type=int, default=100, help="fit starts (0: no fit)")
    parser.add_argument("--memory-starts", type=int, default=1000, help="0: skip")
    parser.add_argument(
        "--memory-max-steps", type=int, default=500, help="iterations per start, memory run"
    )
    parser.add_argument(
        "--fit-budget", type=float, default=None, help="s after which a fit begins no new start"
    )
    parser.add_argument(
        "--near-best", type=float, default=None, help="msjax.fit near_best (default: its own)"
    )
    parser.add_argument(
        "--fit-compile-only",
        action="store_true",
        help="time each fit's compilation (fit_compile_s) without running the fit",
    )
    parser.add_argument("--peer-starts", type=int, default=10, help="pyPESTO fit starts")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument(
        "--all-cores",
        action="store_true",
        help="XLA's CPU runtime with a device and a worker thread per core (default: one)",
    )
    parser.add_argument("--out", default=str(RESULTS / "fit.json"))
    parser.add_argument("--note", default="", help="e.g. 'under load' (stored in the JSON)")
    args = parser.parse_args(argv)
    references = reference_nllh()
    names = args.problems.split(",") if args.problems else sorted(references)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "machine": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "devices": jax.device_count(),
        "jax": jax.__version__,
        "runtime": "a device and a worker thread per core" if args.all_cores else "one thread",
        "note": "timings in seconds; compile = first call minus a warm call; fit wall time "
        "without the fit's compilation (fit_compile_s). " + args.note,
    }
    rows, memory = [], None
    for name in names:
        print(f"--- {name}", flush=True)
        load = os.getloadavg()[0]
        row = bench_msjax(
            name,
            args.starts,
            references[name],
            args.fit_budget,
            args.near_best,
            args.fit_compile_only,
        )
        row["reference"] = references[name]
        if not args.no_peers:
            row["pypesto_roadrunner"] = bench_pypesto(name, args.peer_starts, references[name])
        row["load_average"] = [load, os.getloadavg()[0]]
        rows.append(row)
        print(json.dumps(row, default=float), flush=True)
        write_results(out, info, rows, memory)
    if args.memory_starts and MEMORY_PROBLEM in names:
        memory = {
            "problem": MEMORY_PROBLEM,
            "starts": args.memory_starts,
            "max_steps": args.memory_max_steps,
        }
        memory["peak_rss_gb"] = peak_rss_child(
            MEMORY_PROBLEM, args.memory_starts, args.memory_max_steps
        )
        write_results(out, info, rows, memory)
    print_table(rows)
    if memory:
        print(
            f"{memory['starts']}-start {MEMORY_PROBLEM} fit: "
            f"peak RSS {memory['peak_rss_gb']:.2f} GB"
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
