"""Benchmark of QSSA reduction: a stiff full model vs its reduced model — solve time, steps and
compile time, at the tolerances of bench/ode.py, with the reduction's error against the full
solve. `qssa_cases()` is called from bench/ode.py; run on its own it prints a table and writes
bench/results/qssa.json.

    python bench/qssa_cases.py [--quick]
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import msjax  # noqa: E402
from msjax.deterministic._qssa import qssa, qssa_expand, qssa_inputs  # noqa: E402
from msjax.deterministic._qssa_models import cooperative_promoter, dimer_switch  # noqa: E402

RTOL, ATOL = 1e-6, 1e-10
RESULTS = Path(__file__).parent / "results" / "qssa.json"


def _cases() -> list[tuple[str, msjax.Model, list[str], float]]:
    """(name, full model, fast species, end time)."""
    s0, km, kcat = 10.0, 1.5, 0.5
    cases = []
    for eps in (1e-2, 1e-4):
        e0 = eps * (s0 + km)
        model = msjax.models.michaelis_menten(e0=e0, s0=s0)
        cases.append((f"Michaelis-Menten eps={eps:g}", model, ["C"], 5 * (s0 + km) / (kcat * e0)))
    cases.append(
        (
            "cooperative promoter n=4",
            cooperative_promoter(n=4, kon=1e5),
            ["D1", "D2", "D3", "D4"],
            10.0,
        )
    )
    cases.append(
        (
            "dimer switch (Newton)",
            dimer_switch(ka=5e3, kda=5e5, kb=1e4, ku=50.0),
            ["X2", "G_on"],
            10.0,
        )
    )
    return cases


def _time(fn, repeats: int) -> tuple[float, float, object]:
    """(first call incl. compile, median of the rest, result)."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return first, statistics.median(times), out


def _scaled_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.maximum(np.abs(b).max(axis=0), 1e-300)
    return float((np.abs(a - b).max(axis=0) / scale).max())


def qssa_cases(repeats: int = 5) -> list[dict]:
    """One row per (case, model, solver): ``label``, ``case``, ``model`` (full/reduced),
    ``solver``, ``species``, ``steps``, ``compile_s``, ``solve_s``, ``speedup`` (full Rodas4
    solve time / this one), ``error`` (max relative error of the slow species vs the full
    Rodas4 solve, at the benchmark tolerances; ``inf`` when the solve failed, e.g. Tsit5 on
    the stiff full model running out of steps)."""
    rows = []
    solvers = {"Rodas4": msjax.Rodas4(), "Tsit5": diffrax.Tsit5()}
    for name, full, fast, t_end in _cases():
        reduced = qssa(full, fast)
        theta, y0 = qssa_inputs(reduced)
        ts = jnp.linspace(0.0, t_end, 201)
        reference = None
        runs = [("full", full, s, full.parameter_values, full.initial_state) for s in solvers]
        runs += [("reduced", reduced, s, theta, y0) for s in solvers]
        for kind, model, solver, params, x0 in runs:
            method = msjax.ODE(solver=solvers[solver], rtol=RTOL, atol=ATOL)

            def solve(model=model, method=method, params=params, x0=x0, ts=ts):
                return msjax.simulate(model, method, ts, params, x0, throw=False)

            first, median, sol = _time(solve, repeats)
            ys = np.asarray(sol.ys)
            if not bool(sol.succeeded):
                error = float("inf")  # e.g. an explicit method on the stiff full model
            elif kind == "full" and solver == "Rodas4":
                reference, full_time = ys, median
                error = 0.0
            elif kind == "full":
                error = _scaled_error(ys, reference)
            else:
                expanded = np.asarray(qssa_expand(reduced, sol, theta).ys)
                slow = [full.species_index(n) for n in reduced.species_names]
                dynamic = [i for i in slow if not full.boundary[i]]
                error = _scaled_error(expanded[:, dynamic], reference[:, dynamic])
            rows.append(
                dict(
                    label=f"{name}: {kind} {solver}",
                    case=name,
                    model=kind,
                    solver=solver,
                    species=len(model.species_names),
                    steps=int(sol.stats["num_steps"]),
                    compile_s=max(first - median, 0.0),
                    solve_s=median,
                    speedup=full_time / median,
                    error=error,
                )
            )
    return rows


def print_table(rows: list[dict]) -> None:
    header = f"{'case':32s} {'model':8s} {'solver':7s} {'S':>2s} {'steps':>7s} {'compile s':>10s} "
    header += f"{'solve ms':>9s} {'speedup':>8s} {'error':>9s}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['case']:32s} {r['model']:8s} {r['solver']:7s} {r['species']:2d} {r['steps']:7d} "
            f"{r['compile_s']:10.2f} {1e3 * r['solve_s']:9.2f} {r['speedup']:8.1f} "
            f"{r['error']:9.2e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    rows = qssa_cases(repeats=2 if args.quick else 5)
    print_table(rows)
    meta = {
        "machine": platform.processor() or platform.machine(),
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
        "rtol": RTOL,
        "atol": ATOL,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"meta": meta, "results": rows}, indent=1))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
