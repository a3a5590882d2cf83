"""Deterministic benchmark: msjax vs libRoadRunner on the MAPK cascade and Robertson.

Measures, in one run on one machine: compile time, one solve, 1000 perturbed parameter sets
(vmapped for msjax, a loop for libRoadRunner), and value-and-gradient of a sum-of-squares loss
(single and 1000 sets). Accuracy of each at matched tolerances is reported against a tight
reference solve, so speed is compared at equal error. Prints a table and writes
bench/results/ode.json.

    python bench/ode.py [--quick]
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
from msjax.model import Formula, MassAction, MichaelisMenten  # noqa: E402

RTOL, ATOL = 1e-6, 1e-10
N_SETS = 1000
RESULTS = Path(__file__).parent / "results"


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def first_call_seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- libRoadRunner side ------------------------------------------------------------------


def _law_text(channel) -> str:
    law = channel.rate
    if isinstance(law, MassAction):
        factors = [law.forward] + [f"{s}^{m}" if m > 1 else s for s, m in channel.reactants.items()]
        return " * ".join(factors)
    if isinstance(law, MichaelisMenten):
        return f"{law.vmax} * {law.substrate} / ({law.km} + {law.substrate})"
    if isinstance(law, Formula):
        return law.text
    raise TypeError(f"no Antimony text for {type(law).__name__}")


def to_antimony(model) -> str:
    """Antimony text of a one-compartment msjax Model (for running peers on it)."""
    lines = []
    for channel in model.channels:
        left = " + ".join(f"{m} {s}" for s, m in channel.reactants.items())
        right = " + ".join(f"{m} {s}" for s, m in channel.products.items())
        lines.append(f"{channel.name}: {left} -> {right}; {_law_text(channel)}")
    for name, value in zip(model.species_names, np.asarray(model.initial_state), strict=True):
        lines.append(f"{name} = {float(value)!r}")
    for name, value in zip(model.parameter_names, np.asarray(model.parameter_values), strict=True):
        lines.append(f"{name} = {float(value)!r}")
    return "\n".join(lines)


def roadrunner_case(model, t_end, points, perturbed, sens_params, repeats):
    try:
        import antimony
        import roadrunner
    except ImportError:
        return None
    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(to_antimony(model)) < 0:
        raise RuntimeError(antimony.getLastError())
    rr = roadrunner.RoadRunner(antimony.getSBMLString(antimony.getMainModuleName()))
    rr.integrator.relative_tolerance = RTOL
    rr.integrator.absolute_tolerance = ATOL
    rr.integrator.maximum_num_steps = 100_000
    species = [f"[{s}]" for s in model.species_names]
    rr.timeCourseSelections = ["time", *species]

    def solve():
        rr.resetAll()
        return rr.simulate(0.0, t_end, points)

    final = np.asarray(solve())[-1, 1:]
    single = median_seconds(solve, repeats)

    def loop():
        for theta in perturbed:
            rr.resetAll()
            for name, value in zip(model.parameter_names, theta, strict=True):
                rr[name] = float(value)
            rr.simulate(0.0, t_end, points)
        rr.resetAll()

    sets = median_seconds(loop, 1)
    sensitivities = None
    try:

        def value_and_gradient():
            rr.resetAll()
            rr.simulate(0.0, t_end, points)
            rr.resetAll()
            return rr.timeSeriesSensitivities(0.0, t_end, points, params=sens_params)

        value_and_gradient()
        sensitivities = median_seconds(value_and_gradient, max(1, repeats // 5))
    except Exception as error:  # noqa: BLE001 - report, don't hide, a peer's missing feature
        print(f"  libroadrunner sensitivities failed: {error}")
    return {
        "final": final.tolist(),
        "single_s": single,
        "sets_s": sets,
        "value_and_grad_s": sensitivities,
        "version": roadrunner.__version__,
    }


# --- msjax side --------------------------------------------------------------------------


def msjax_case(model, method, ts, perturbed, repeats):
    theta = model.parameter_values
    target = msjax.simulate(model, method, ts).ys * 1.01

    solve = jax.jit(lambda th: msjax.simulate(model, method, ts, th, throw=False).ys)
    solve_many = jax.jit(lambda ths: msjax.simulate(model, method, ts, ths, throw=False).ys)

    def loss(th):
        return jnp.sum((msjax.simulate(model, method, ts, th, throw=False).ys - target) ** 2)

    value_and_grad = jax.jit(jax.value_and_grad(loss))
    value_and_grad_many = jax.jit(jax.vmap(jax.value_and_grad(loss)))
    fresh = theta * 1.0001

    record = {
        "compile_solve_s": first_call_seconds(lambda: solve(theta).block_until_ready()),
        "compile_grad_s": first_call_seconds(lambda: jax.block_until_ready(value_and_grad(theta))),
    }
    final = np.asarray(solve(fresh))[-1]
    record["single_s"] = median_seconds(lambda: solve(fresh).block_until_ready(), repeats)
    record["simulate_call_s"] = median_seconds(
        lambda: msjax.simulate(model, method, ts, fresh).ys.block_until_ready(), repeats
    )
    solve_many(perturbed).block_until_ready()
    record["sets_s"] = median_seconds(lambda: solve_many(perturbed).block_until_ready(), 3)
    record["value_and_grad_s"] = median_seconds(
        lambda: jax.block_until_ready(value_and_grad(fresh)), repeats
    )
    jax.block_until_ready(value_and_grad_many(perturbed))
    record["value_and_grad_sets_s"] = median_seconds(
        lambda: jax.block_until_ready(value_and_grad_many(perturbed)), 3
    )
    sol = msjax.simulate(model, method, ts, fresh)
    record["steps"] = int(sol.stats["num_steps"])
    record["final"] = final.tolist()
    return record


def relative_error(final, reference) -> float:
    final, reference = np.asarray(final), np.asarray(reference)
    scale = np.maximum(np.abs(reference), 1e-6 * np.abs(reference).max())
    return float(np.max(np.abs(final - reference) / scale))


def run_model(name, model, t_end, points, solvers, repeats, quick):
    print(f"\n== {name}: t in [0, {t_end:g}], {points} points, rtol={RTOL:g}, atol={ATOL:g}")
    ts = jnp.linspace(0.0, t_end, points)
    key = jax.random.key(0)
    n_sets = 100 if quick else N_SETS
    factors = jnp.exp(0.1 * jax.random.normal(key, (n_sets, len(model.parameter_names))))
    perturbed = model.parameter_values * factors
    reference = msjax.simulate(
        model,
        msjax.ODE(rtol=1e-12, atol=1e-14, max_steps=1_000_000),
        ts,
        model.parameter_values * 1.0001,
    ).ys[-1]
    rows = {}
    for label, solver in solvers.items():
        method = msjax.ODE(solver=solver, rtol=RTOL, atol=ATOL)
        rows[f"msjax {label}"] = msjax_case(model, method, ts, perturbed, repeats)
    method = msjax.ODE(rtol=RTOL, atol=ATOL, adjoint=diffrax.ForwardMode())
    fwd = jax.jit(
        jax.jacfwd(lambda th: jnp.sum(msjax.simulate(model, method, ts, th, throw=False).ys ** 2))
    )
    theta = model.parameter_values * 1.0001
    compile_fwd = first_call_seconds(lambda: fwd(theta).block_until_ready())
    rows["msjax Rodas4 forward-mode grad"] = {
        "compile_grad_s": compile_fwd,
        "value_and_grad_s": median_seconds(lambda: fwd(theta).block_until_ready(), repeats),
    }
    peer = roadrunner_case(
        model, t_end, points, np.asarray(perturbed), list(model.parameter_names), repeats
    )
    if peer is not None:
        # libRoadRunner's solve used the unperturbed parameters; compare it to its own
        # reference at those parameters.
        ref0 = msjax.simulate(model, msjax.ODE(rtol=1e-12, atol=1e-14, max_steps=1_000_000), ts).ys[
            -1
        ]
        peer["error"] = relative_error(peer["final"], ref0)
        rows["libroadrunner CVODE"] = peer
    for row in rows.values():
        if "final" in row and "error" not in row:
            row["error"] = relative_error(row["final"], reference)
    return rows


def print_table(results) -> None:
    columns = [
        ("compile_solve_s", "compile"),
        ("single_s", "1 solve"),
        ("simulate_call_s", "simulate()"),
        ("sets_s", f"{N_SETS} sets"),
        ("value_and_grad_s", "val+grad"),
        ("value_and_grad_sets_s", "val+grad sets"),
        ("steps", "steps"),
        ("error", "rel.err"),
    ]
    for model, rows in results.items():
        print(f"\n{model}")
        print(f"{'':34s}" + "".join(f"{title:>14s}" for _, title in columns))
        for label, row in rows.items():
            cells = []
            for key, _ in columns:
                value = row.get(key)
                if value is None:
                    cells.append(f"{'-':>14s}")
                elif key == "steps":
                    cells.append(f"{value:>14d}")
                elif key == "error":
                    cells.append(f"{value:>14.1e}")
                else:
                    cells.append(f"{value * 1e3:>12.2f}ms")
            print(f"{label:34s}" + "".join(cells))
        peer = rows.get("libroadrunner CVODE")
        if peer:
            for label, row in rows.items():
                if label.startswith("msjax") and row.get("sets_s"):
                    print(
                        f"  {label}: single {peer['single_s'] / row['single_s']:.2f}x, "
                        f"{N_SETS} sets {peer['sets_s'] / row['sets_s']:.1f}x faster than "
                        "libroadrunner"
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer sets and repeats")
    args = parser.parse_args()
    repeats = 5 if args.quick else 20
    results = {
        "MAPK cascade (Kholodenko 2000)": run_model(
            "MAPK",
            msjax.models.mapk_cascade(),
            3000.0,
            300,
            {"Rodas4": msjax.Rodas4(), "Tsit5": diffrax.Tsit5()},
            repeats,
            args.quick,
        ),
        "Robertson": run_model(
            "Robertson",
            msjax.models.robertson(),
            1e5,
            300,
            {"Rodas4": msjax.Rodas4(), "Kvaerno5": diffrax.Kvaerno5()},
            repeats,
            args.quick,
        ),
    }
    if not args.quick:
        try:
            from qssa_cases import qssa_cases
        except ImportError:
            qssa_cases = None
        if qssa_cases is not None:
            results["QSSA"] = {row.pop("label"): row for row in qssa_cases()}
    print_table({k: v for k, v in results.items() if k != "QSSA"})
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "machine": platform.processor() or platform.machine(),
        "cpus": jax.device_count(),
        "backend": jax.default_backend(),
        "jax": jax.__version__,
        "rtol": RTOL,
        "atol": ATOL,
        "sets": N_SETS if not args.quick else 100,
    }
    out = RESULTS / ("ode_quick.json" if args.quick else "ode.json")
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
