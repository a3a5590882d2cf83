"""Benchmark of the stochastic methods (not a test): prints a table, writes bench/results/ssa.json.

Models (10^4 trajectories, 101 save times): birth–death (k=10, γ=0.1, t=100), telegraph gene
(kon=koff=0.05, production 20 when on, degradation 1, t=200), dimerisation (DSMTS 003: 2P⇌P2,
k1=0.001, k2=0.01, P0=100, t=50). Reports reaction events/s, ns/event, trajectories/s and
compile time for msjax's Gillespie (float64 and float32), TauLeap on a high-copy birth–death,
and the peers GillesPy2 (C++ SSA solver) and libroadrunner (gillespie) on the same models, as
ratios. GillesPy2 runs on every core; so do msjax's "N cores" rows (`ensemble_trajectories`
sharded over one CPU device per core, ``--devices``; the plain rows are `simulate` on one).
Memory: peak RSS of a 10^6-trajectory telegraph `ensemble_stats` in a subprocess.

``python bench/ssa.py [--n 10000] [--quick]``; `gpu_cases()` runs 10^5–10^6 trajectories when a
GPU is present (jax/numpy only; called from bench/gpu.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPECS = {
    "birth_death": {"t_end": 100.0},
    "telegraph": {"t_end": 200.0},
    "dimerisation": {"t_end": 50.0},
}


def build(name: str):
    """The msjax `Model` of a benchmark case (counts = amounts, Ω = 1)."""
    import msjax

    if name == "birth_death":
        return msjax.models.birth_death(k=10.0, gamma=0.1)
    if name == "telegraph":
        return msjax.models.telegraph_gene()
    if name == "dimerisation":
        return msjax.Model(
            species={"P": 100.0, "P2": 0.0},
            reactions=[
                msjax.Reaction("2 P -> P2", msjax.MassAction("k1"), name="dimerisation"),
                msjax.Reaction("P2 -> 2 P", msjax.MassAction("k2"), name="dissociation"),
            ],
            parameters={"k1": 0.0005, "k2": 0.01},  # a = k n(n−1) = 0.001 n(n−1)/2 (DSMTS 003)
        )
    if name == "birth_death_high":
        return msjax.models.birth_death(k=1000.0, gamma=0.1)
    raise KeyError(name)


def time_msjax(model, method, ts, n: int, *, seed: int = 0) -> dict:
    """Compile (first call) and run (second call, new key) times, events and trajectories/s."""
    import jax

    import msjax

    start = time.perf_counter()
    sol = msjax.simulate(model, method, ts, key=jax.random.PRNGKey(seed), n=n)
    sol.ys.block_until_ready()
    first = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    sol = msjax.simulate(model, method, ts, key=jax.random.PRNGKey(seed + 1), n=n)
    sol.ys.block_until_ready()
    run = time.perf_counter() - start
    cpu = time.process_time() - cpu
    stats = {k: int(np.asarray(v).sum()) for k, v in sol.stats.items()}
    events = stats.get("num_events", 0)
    return {
        "run_s": run,
        "cpu_s": cpu,
        "compile_s": max(first - run, 0.0),
        "events": events,
        "events_per_s": events / run if events else None,
        "ns_per_event": 1e9 * run / events if events else None,
        "trajectories_per_s": n / run,
        "final_mean": np.asarray(sol.ys[:, -1]).astype(float).mean(0).tolist(),
        "final_sd": np.asarray(sol.ys[:, -1]).astype(float).std(0, ddof=1).tolist(),
        "stats": stats,
    }


def time_all_cores(model, method, ts, n: int, events: int, *, seed: int = 0) -> dict:
    """`ensemble_trajectories` sharded over every local device (one per core), timed on its
    second call with the key of `time_msjax`'s timed run: the same trajectories, so the same
    ``events``."""
    import jax

    from msjax.stochastic import ensemble_trajectories

    def run(key):
        return ensemble_trajectories(model, method, ts, key=jax.random.PRNGKey(key), n=n)

    start = time.perf_counter()
    run(seed)
    first = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    run(seed + 1)
    seconds = time.perf_counter() - start
    return {
        "run_s": seconds,
        "cpu_s": time.process_time() - cpu,
        "compile_s": max(first - seconds, 0.0),
        "events": events,
        "events_per_s": events / seconds,
        "ns_per_event": 1e9 * seconds / events,
        "trajectories_per_s": n / seconds,
        "devices": jax.local_device_count(),
    }


def gillespy2_model(name: str, t_end: float):
    import gillespy2

    m = gillespy2.Model(name=name)
    if name == "birth_death":
        m.add_species(gillespy2.Species("X", initial_value=0))
        m.add_parameter([gillespy2.Parameter("k", 10.0), gillespy2.Parameter("g", 0.1)])
        m.add_reaction(gillespy2.Reaction("birth", {}, {"X": 1}, rate="k"))
        m.add_reaction(gillespy2.Reaction("death", {"X": 1}, {}, rate="g"))
    elif name == "telegraph":
        m.add_species(
            [
                gillespy2.Species(s, initial_value=v)
                for s, v in (("G_off", 1), ("G_on", 0), ("P", 0))
            ]
        )
        m.add_parameter(
            [
                gillespy2.Parameter(p, v)
                for p, v in (("kon", 0.05), ("koff", 0.05), ("kp", 20.0), ("g", 1.0))
            ]
        )
        m.add_reaction(gillespy2.Reaction("on", {"G_off": 1}, {"G_on": 1}, rate="kon"))
        m.add_reaction(gillespy2.Reaction("off", {"G_on": 1}, {"G_off": 1}, rate="koff"))
        m.add_reaction(gillespy2.Reaction("expr", {"G_on": 1}, {"G_on": 1, "P": 1}, rate="kp"))
        m.add_reaction(gillespy2.Reaction("deg", {"P": 1}, {}, rate="g"))
    elif name == "dimerisation":
        m.add_species(
            [gillespy2.Species("P", initial_value=100), gillespy2.Species("P2", initial_value=0)]
        )
        m.add_parameter([gillespy2.Parameter("k1", 0.002), gillespy2.Parameter("k2", 0.01)])
        # GillesPy2 mass action for 2P is k·P(P−1)/2, as in DSMTS 003
        m.add_reaction(gillespy2.Reaction("dim", {"P": 2}, {"P2": 1}, rate="k1"))
        m.add_reaction(gillespy2.Reaction("dis", {"P2": 1}, {"P": 2}, rate="k2"))
    m.timespan(np.linspace(0.0, t_end, 101))
    return m


def time_gillespy2(name: str, t_end: float, n: int, events_per_traj: float) -> dict:
    try:
        from gillespy2 import SSACSolver
    except ImportError as error:
        return {"error": f"gillespy2 not installed ({error})"}
    # GillesPy2 builds its C++ solver with `python -m SCons` of the base interpreter: make the
    # venv's site-packages visible to it.
    site = next(p for p in sys.path if p.endswith("site-packages"))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [site, os.environ.get("PYTHONPATH")]))
    try:
        model = gillespy2_model(name, t_end)
        start = time.perf_counter()
        solver = SSACSolver(model=model)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        results = solver.run(number_of_trajectories=n, seed=1)
        run = time.perf_counter() - start
    except Exception as error:  # a peer failing must not stop the benchmark
        return {"error": f"GillesPy2 failed: {type(error).__name__}: {str(error)[:200]}"}
    species = "X" if name == "birth_death" else ("P" if name == "telegraph" else "P2")
    final = float(np.mean([r[species][-1] for r in results]))
    return {
        "run_s": run,
        "compile_s": compile_s,
        "events_per_s": events_per_traj * n / run,
        "trajectories_per_s": n / run,
        "final_mean_" + species: final,
        "threads": 1,
    }


def roadrunner_sbml(name: str) -> str:
    import msjax  # noqa: F401

    reactions = {
        "birth_death": ("X=0", ["-> X; k", "X ->; g*X"], "k=10; g=0.1"),
        "telegraph": (
            "Goff=1; Gon=0; P=0",
            [
                "Goff -> Gon; kon*Goff",
                "Gon -> Goff; koff*Gon",
                "Gon -> Gon + P; kp*Gon",
                "P ->; g*P",
            ],
            "kon=0.05; koff=0.05; kp=20; g=1",
        ),
        "dimerisation": (
            "P=100; P2=0",
            ["2P -> P2; k1*P*(P-1)/2", "P2 -> 2P; k2*P2"],
            "k1=0.001; k2=0.01",
        ),
    }[name]
    return reactions


def time_roadrunner(name: str, t_end: float, n: int, events_per_traj: float) -> dict:
    try:
        import roadrunner
    except ImportError as error:
        return {"error": f"libroadrunner not installed ({error})"}
    species, reactions, params = roadrunner_sbml(name)
    antimony = "\n".join(
        [species + ";", *[f"J{i}: {r};" for i, r in enumerate(reactions)], params + ";"]
    )
    try:
        import antimony as ant

        ant.loadAntimonyString(antimony)
        sbml = ant.getSBMLString(ant.getMainModuleName())
    except ImportError:
        return {"error": "antimony not installed (needed to build the roadrunner model)"}
    rr = roadrunner.RoadRunner(sbml)
    rr.setIntegrator("gillespie")
    rr.getIntegrator().setValue("variable_step_size", False)
    start = time.perf_counter()
    for i in range(n):
        rr.reset()
        rr.getIntegrator().setValue("seed", i + 1)
        rr.simulate(0.0, t_end, 101)
    run = time.perf_counter() - start
    return {
        "run_s": run,
        "events_per_s": events_per_traj * n / run,
        "trajectories_per_s": n / run,
        "threads": 1,
    }


def memory_case(n: int) -> dict:
    """Peak RSS of a child process computing 10^6-trajectory telegraph statistics."""
    code = (
        "import jax, time; jax.config.update('jax_enable_x64', True)\n"
        "import jax.numpy as jnp\n"
        "from msjax.models import telegraph_gene\n"
        "from msjax.stochastic import Gillespie, ensemble_stats\n"
        "t = time.perf_counter()\n"
        f"s = ensemble_stats(telegraph_gene(), Gillespie(), jnp.linspace(0, 200, 101), "
        f"key=jax.random.PRNGKey(0), n={n}, chunk_size=20000)\n"
        "print(s.n, s.mean[-1, 2], time.perf_counter() - t)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "n": n,
        "peak_rss_mb": max(peak_kb, before) / 1024,
        "seconds": time.perf_counter() - start,
        "output": out.stdout.strip() or out.stderr[-500:],
    }


def gpu_cases() -> list[dict]:
    """10^5–10^6-trajectory ensembles (birth–death, telegraph) on the default device (GPU)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from msjax.stochastic import Gillespie

    rows = []
    for name, n, float32 in (
        ("birth_death", 100_000, False),
        ("birth_death", 1_000_000, True),
        ("telegraph", 100_000, False),
        ("telegraph", 1_000_000, True),
    ):
        model = build(name)
        ts = jnp.linspace(0.0, SPECS[name]["t_end"], 101)
        row = time_msjax(model, Gillespie(float32=float32), ts, n)
        row.update(case=name, n=n, float32=float32, device=str(jax.devices()[0]))
        row.pop("final_mean", None)
        rows.append(row)
        print(
            f"{name:14s} n={n:>8d} f32={float32!s:5s} {row['events_per_s'] / 1e6:10.1f} M ev/s "
            f"{row['ns_per_event']:8.3f} ns/ev  compile {row['compile_s']:.1f}s"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--memory-n", type=int, default=1_000_000)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only the 10^6-trajectory memory case; writes bench/results/ssa_memory.json",
    )
    parser.add_argument("--roadrunner-n", type=int, default=1000)
    parser.add_argument("--note", default="", help="recorded in the JSON (e.g. machine load)")
    parser.add_argument(
        "--devices",
        type=int,
        default=os.cpu_count(),
        help="CPU devices (one per core) for the all-cores rows; GillesPy2 also uses every core",
    )
    args = parser.parse_args()
    if args.devices > 1 and "host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        flag = f"--xla_force_host_platform_device_count={args.devices}"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
    if args.memory_only:
        memory = memory_case(args.memory_n)
        print(json.dumps(memory, indent=1))
        (HERE / "results" / "ssa_memory.json").write_text(json.dumps(memory, indent=1))
        return
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from msjax.stochastic import Gillespie, TauLeap

    load_before = os.getloadavg()

    rows = []
    for name, spec in SPECS.items():
        model = build(name)
        ts = jnp.linspace(0.0, spec["t_end"], 101)
        for label, method in (
            ("Gillespie f64", Gillespie()),
            ("Gillespie f32", Gillespie(float32=True)),
        ):
            row = time_msjax(model, method, ts, args.n)
            row.update(case=name, solver=f"msjax {label}", n=args.n)
            timed = [row]
            if jax.local_device_count() > 1:
                wide = time_all_cores(model, method, ts, args.n, row["events"])
                wide.update(case=name, solver=f"msjax {label}, {wide['devices']} cores", n=args.n)
                timed.append(wide)
            for r in timed:
                print(name, r["solver"], f"{r['events_per_s'] / 1e6:.2f} M events/s", flush=True)
            rows += timed
        f64 = next(r for r in rows if r["case"] == name and r["solver"] == "msjax Gillespie f64")
        events_per_traj = f64["events"] / args.n
        if not args.skip_peers:
            peer = time_gillespy2(name, spec["t_end"], args.n, events_per_traj)
            peer.update(case=name, solver="GillesPy2 SSACSolver (C++)", n=args.n)
            rows.append(peer)
            n_rr = min(args.n, args.roadrunner_n)
            peer = time_roadrunner(name, spec["t_end"], n_rr, events_per_traj)
            peer.update(case=name, solver="libroadrunner gillespie", n=n_rr)
            rows.append(peer)
    # Tau-leaping vs exact SSA on a high-copy birth–death (X ≈ 10^4).
    model = build("birth_death_high")
    ts = jnp.linspace(0.0, 100.0, 101)
    n_high = max(args.n // 10, 100)
    exact = time_msjax(model, Gillespie(), ts, n_high)
    exact.update(case="birth_death_high", solver="msjax Gillespie f64", n=n_high)
    leap = time_msjax(model, TauLeap(eps=0.03), ts, n_high)
    poisson = 1000.0 / 0.1 * (1 - np.exp(-0.1 * 100.0))  # X(100) ~ Poisson(k/γ (1 − e^{−γt}))
    leap.update(
        case="birth_death_high",
        solver="msjax TauLeap eps=0.03",
        n=n_high,
        speedup_vs_ssa=exact["run_s"] / leap["run_s"],
        speedup_vs_ssa_cpu=exact["cpu_s"] / leap["cpu_s"],
        final_mean_over_mu=leap["final_mean"][0] / poisson,
        final_sd_over_sigma=leap["final_sd"][0] / np.sqrt(poisson),
    )
    rows += [exact, leap]
    memory = None if args.skip_memory else memory_case(args.memory_n)

    print(
        f"\n{'case':18s} {'solver':30s} {'n':>7s} {'M events/s':>11s} {'ns/event':>9s} "
        f"{'traj/s':>9s} {'compile s':>9s} {'vs GillesPy2':>12s}"
    )
    for row in rows:
        if "error" in row:
            print(f"{row['case']:18s} {row['solver']:30s} {row['error']}")
            continue
        ref = next(
            (
                r
                for r in rows
                if r["case"] == row["case"]
                and r["solver"].startswith("GillesPy2")
                and "error" not in r
            ),
            None,
        )
        ratio = (
            row["events_per_s"] / ref["events_per_s"] if ref and row.get("events_per_s") else None
        )
        eps = row.get("events_per_s")
        print(
            f"{row['case']:18s} {row['solver']:30s} {row['n']:7d} "
            f"{(eps or 0) / 1e6:11.2f} {(1e9 / eps if eps else float('nan')):9.1f} "
            f"{row['trajectories_per_s']:9.0f} {row.get('compile_s', 0.0):9.2f} "
            f"{(f'{ratio:.2f}x' if ratio else '-'):>12s}"
        )
        row["ratio_vs_gillespy2"] = ratio
    print(
        f"TauLeap speed-up over exact SSA (high copy): {leap['speedup_vs_ssa']:.1f}x wall, "
        f"{leap['speedup_vs_ssa_cpu']:.1f}x CPU; X(100) mean/μ {leap['final_mean_over_mu']:.4f}, "
        f"s/σ {leap['final_sd_over_sigma']:.4f}"
    )
    if memory:
        print(
            f"memory: {memory['n']} telegraph trajectories' statistics, peak RSS "
            f"{memory['peak_rss_mb']:.0f} MB in {memory['seconds']:.0f} s ({memory['output']})"
        )
    out = HERE / "results" / "ssa.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "rows": rows,
                "memory": memory,
                "cpu_count": os.cpu_count(),
                "load_average": {"before": load_before, "after": os.getloadavg()},
                "note": args.note,
                "devices": [str(d) for d in jax.devices()],
            },
            indent=1,
            default=str,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
