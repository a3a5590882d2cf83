"""GPU benchmark: large ODE batches, stochastic ensembles and tissues on one accelerator.

Installs nothing; runs in a few minutes; prints a short table and writes JSON to $OUT (or
bench/results/). Each case runs once to compile, then is timed. Groups: ode, ssa, spatial,
and fit (multistart fits of PEtab benchmark problems: needs petab, and the problems in
``MSJAX_PETAB_BENCHMARK`` or ../shared); named groups only, or all but fit by default.

    python bench/gpu.py [GROUP ...]
"""

import json
import os
import sys
import time
import traceback
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import msjax  # noqa: E402


def timed(fn):
    fn()  # compile
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ode_cases(sizes=(1_000, 10_000, 100_000)) -> list[dict]:
    records = []
    cases = [
        ("MAPK cascade, Tsit5", msjax.models.mapk_cascade(), 3000.0, msjax.ODE.nonstiff()),
        ("Robertson, Rodas4", msjax.models.robertson(), 1e5, msjax.ODE()),
    ]
    for label, model, t_end, method in cases:
        ts = jnp.linspace(0.0, t_end, 300)
        for n in sizes:
            factors = jnp.exp(
                0.1 * jax.random.normal(jax.random.key(n), (n, len(model.parameter_names)))
            )
            batch = model.parameter_values * factors
            seconds = timed(
                lambda b=batch, m=model, me=method, t=ts: msjax.simulate(
                    m, me, t, b, throw=False
                ).ys.block_until_ready()
            )
            records.append(
                {
                    "case": f"{label}, {n} parameter sets (float64)",
                    "seconds": seconds,
                    "per_set_us": seconds / n * 1e6,
                }
            )
            print(f"{records[-1]['case']:55s} {seconds:8.3f} s")
    return records


def guarded(name, fn) -> list[dict]:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - one failing group must not lose the others' numbers
        traceback.print_exc()
        return [{"case": name, "error": traceback.format_exc(limit=3)}]


def _group(name: str):
    """The case list of one group (imported lazily: each bench module has its own needs)."""
    if name == "ode":
        return ode_cases
    module = __import__(name)
    return module.gpu_cases


DEFAULT_GROUPS = ("ode", "ssa", "spatial")


def main(groups=DEFAULT_GROUPS) -> None:
    device = str(jax.devices()[0])
    print(f"device: {device} ({jax.devices()[0].device_kind}), jax {jax.__version__}")
    records = []
    for name in groups:
        records += guarded(name, lambda name=name: _group(name)())
    for r in records:
        r.setdefault("device", device)
    out = Path(os.environ.get("OUT", Path(__file__).parent / "results"))
    out.mkdir(parents=True, exist_ok=True)
    stem = "gpu" if tuple(groups) == DEFAULT_GROUPS else "gpu_" + "_".join(groups)
    (out / f"{stem}.json").write_text(
        json.dumps({"device": device, "jax": jax.__version__, "results": records}, indent=1)
    )
    print(json.dumps(records, indent=1))


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or DEFAULT_GROUPS)
