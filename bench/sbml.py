"""Benchmark of SBML import: load + compile time of a 50-species / 100-reaction model, and its
simulation speed against the hand-written `msjax.Model` of the same network.

Run: python bench/sbml.py            (prints a table, writes bench/results/sbml.json)
Target: import + compile < 5 s; simulation as fast as the hand-written Model.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import msjax  # noqa: E402
from msjax.model._antimony import antimony_to_sbml  # noqa: E402
from msjax.model._sbml import load_sbml  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "sbml.json"
N_SPECIES, N_REACTIONS = 50, 100


def network(seed: int = 0):
    """A random network: unimolecular conversions, bimolecular bindings and MM steps."""
    rng = np.random.default_rng(seed)
    reactions = []
    for i in range(N_REACTIONS):
        a, b, c = (int(v) for v in rng.choice(N_SPECIES, 3, replace=False))
        kind = i % 4
        k = float(rng.uniform(0.1, 2.0))
        reactions.append((kind, a, b, c, k))
    initial = rng.uniform(0.5, 2.0, N_SPECIES)
    return reactions, initial


def as_antimony(reactions, initial) -> str:
    lines = ["compartment cell = 1.5"]
    lines.append("species " + ", ".join(f"X{i} in cell" for i in range(N_SPECIES)))
    for i, (kind, a, b, c, k) in enumerate(reactions):
        if kind in (0, 1):
            lines.append(f"R{i}: X{a} -> X{b}; cell*k{i}*X{a}")
        elif kind == 2:
            lines.append(f"R{i}: X{a} + X{b} -> X{c}; cell*k{i}*X{a}*X{b}")
        else:
            lines.append(f"R{i}: X{a} -> X{b}; cell*k{i}*X{a}/(km{i} + X{a})")
            lines.append(f"km{i} = 0.5")
        lines.append(f"k{i} = {float(k)!r}")
    lines += [f"X{i} = {float(v)!r}" for i, v in enumerate(initial)]
    return "\n".join(lines)


def as_model(reactions, initial) -> msjax.Model:
    species = [msjax.Species(f"X{i}", float(v), "cell") for i, v in enumerate(initial)]
    parameters, rs = {}, []
    for i, (kind, a, b, c, k) in enumerate(reactions):
        parameters[f"k{i}"] = k
        if kind in (0, 1):
            rs.append(msjax.Reaction(f"X{a} -> X{b}", msjax.MassAction(f"k{i}")))
        elif kind == 2:
            rs.append(msjax.Reaction(f"X{a} + X{b} -> X{c}", msjax.MassAction(f"k{i}")))
        else:
            parameters[f"km{i}"] = 0.5
            rs.append(msjax.Reaction(f"X{a} -> X{b}", msjax.MichaelisMenten(f"k{i}", f"km{i}")))
    return msjax.Model(species, rs, parameters, {"cell": 1.5})


def _run(model, method, ts, theta):
    return msjax.simulate(model, method, ts, theta).ys.block_until_ready()


def _best(fn, repeats=5) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    reactions, initial = network()
    sbml = antimony_to_sbml(as_antimony(reactions, initial))
    ts = jnp.linspace(0.0, 20.0, 201)
    load_sbml(sbml)  # warm: libsbml import and first-call costs are not the model's

    start = time.perf_counter()
    loaded = load_sbml(sbml)
    load_s = time.perf_counter() - start
    hand = as_model(reactions, initial)
    rows = []
    for solver_name, solver in (("Rodas4", msjax.Rodas4()), ("Tsit5", None)):
        method = msjax.ODE(rtol=1e-8, atol=1e-10, **({"solver": solver} if solver else {}))
        if solver is None:
            method = msjax.ODE.nonstiff(rtol=1e-8, atol=1e-10)
        for label, model in (("SBML (load_sbml)", loaded), ("hand-written Model", hand)):
            theta = model.parameter_values
            start = time.perf_counter()
            _run(model, method, ts, theta)
            compile_s = time.perf_counter() - start
            run_s = _best(lambda m=model, th=theta, me=method: _run(m, me, ts, th * 1.0))
            rows.append(
                {"model": label, "solver": solver_name, "compile_s": compile_s, "simulate_s": run_s}
            )
    # agreement of the two (concentrations)
    a = msjax.simulate(loaded, msjax.ODE(rtol=1e-10, atol=1e-12), ts)
    b = msjax.simulate(hand, msjax.ODE(rtol=1e-10, atol=1e-12), ts)
    conc = loaded.observe(a.ts, a.ys, None, list(hand.species_names))
    max_diff = float(np.max(np.abs(conc - np.asarray(b.ys))))

    print(f"SBML model: {N_SPECIES} species, {N_REACTIONS} reactions; load_sbml {load_s:.3f} s")
    head = ("model", "solver", "compile s", "simulate ms", "load+compile s")
    print(f"{head[0]:22s} {head[1]:8s} {head[2]:>10s} {head[3]:>12s} {head[4]:>15s}")
    for row in rows:
        total = row["compile_s"] + (load_s if row["model"].startswith("SBML") else 0.0)
        row["load_plus_compile_s"] = total
        print(
            f"{row['model']:22s} {row['solver']:8s} {row['compile_s']:10.3f} "
            f"{1e3 * row['simulate_s']:12.3f} {total:15.3f}"
        )
    print(f"max |SBML − hand-written| concentration difference: {max_diff:.2e}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "meta": {
                    "device": str(jax.devices()[0]),
                    "platform": platform.platform(),
                    "jax": jax.__version__,
                    "species": N_SPECIES,
                    "reactions": N_REACTIONS,
                },
                "load_s": load_s,
                "results": rows,
                "max_abs_difference": max_diff,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
