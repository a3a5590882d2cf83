"""The Discrete Stochastic Models Test Suite (DSMTS; Evans, Gillespie & Wilkinson 2008).

``python -m msjax.stochastic.dsmts DIR --n 10000 --json FILE [--method gillespie|tauleap]``
runs every case folder ``DIR/NNNNN`` and applies the suite's own tests: with ``n`` runs, the
mean test ``Z_t = √n (m_t − μ_t)/σ_t`` inside ``meanRange`` and the sd test
``Y_t = √(n/2) (s_t²/σ_t² − 1)`` inside ``sdRange`` at every time point (Gillespie); for
approximate methods the guide's ``m_t/μ_t`` and ``s_t/σ_t`` within [0.98, 1.02] (times where
``μ_t`` or ``σ_t`` is zero are skipped).

`load_reaction_model` reads the reaction structure of an SBML file (species, compartments,
global and local parameters, reactions with kinetic laws) into a `msjax.Model` whose
propensities are the kinetic laws in amounts (``Ω = 1``). `msjax.load_sbml` returns an ODE
`RuleModel` without per-reaction structure, so the stochastic methods cannot run on it yet;
features outside reactions (events, rules) raise `SBMLError` and the case is reported skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .._errors import SBMLError

APPROXIMATE_BAND = (0.98, 1.02)


def _rename(ast, old: str, new_formula: str):
    import libsbml

    replacement = libsbml.parseL3Formula(new_formula)
    ast.replaceArgument(old, replacement)
    return ast


def load_reaction_model(path):
    """A `msjax.Model` with one channel per SBML reaction; counts = amounts (use Ω = 1).

    Kinetic laws are extensive (amount per time) and see species as amounts when
    ``hasOnlySubstanceUnits`` (else concentrations); they become `Formula` rate laws in the
    Model's convention (concentration per time in the reaction's compartment).
    """
    import libsbml

    from ..model import Formula, Model, Reaction, Species

    document = libsbml.readSBMLFromFile(str(path))
    if document.getNumErrors(libsbml.LIBSBML_SEV_ERROR):
        raise SBMLError(f"{path}: {document.getError(0).getMessage()}")
    sbml = document.getModel()
    for what, count in (
        ("events", sbml.getNumEvents()),
        ("rules", sbml.getNumRules()),
        ("initial assignments", sbml.getNumInitialAssignments()),
        ("function definitions", sbml.getNumFunctionDefinitions()),
    ):
        if count:
            raise SBMLError(f"{path}: {what} are not supported by the stochastic reader")
    compartments = {
        c.getId(): c.getSize() if c.isSetSize() else 1.0 for c in sbml.getListOfCompartments()
    }
    species, only_substance, volume = [], {}, {}
    for s in sbml.getListOfSpecies():
        size = compartments[s.getCompartment()]
        amount = (
            s.getInitialAmount() if s.isSetInitialAmount() else s.getInitialConcentration() * size
        )
        species.append(
            Species(
                s.getId(),
                amount,
                compartment=s.getCompartment(),
                amount=True,
                boundary=s.getBoundaryCondition() or s.getConstant(),
            )
        )
        only_substance[s.getId()] = s.getHasOnlySubstanceUnits()
        volume[s.getId()] = s.getCompartment()
    parameters = {p.getId(): p.getValue() for p in sbml.getListOfParameters()}
    reactions = []
    for r in sbml.getListOfReactions():
        law = r.getKineticLaw()
        if law is None or law.getMath() is None:
            raise SBMLError(f"{path}: reaction {r.getId()} has no kinetic law")
        ast = law.getMath().deepCopy()
        for p in list(law.getListOfParameters()) + list(law.getListOfLocalParameters()):
            local = f"{r.getId()}__{p.getId()}"
            parameters[local] = p.getValue()
            _rename(ast, p.getId(), local)
        compartment = (
            r.getCompartment()
            if r.isSetCompartment()
            else volume[
                (list(r.getListOfReactants()) + list(r.getListOfProducts()))[0].getSpecies()
            ]
        )
        for name, only in only_substance.items():
            if only:  # the law reads an amount: concentration × volume in the Model's env
                _rename(ast, name, f"({name} * {volume[name]})")
        text = f"({libsbml.formulaToL3String(ast)}) / {compartment}"
        sides = []
        for refs in (r.getListOfReactants(), r.getListOfProducts()):
            side = {}
            for ref in refs:
                coefficient = ref.getStoichiometry()
                if coefficient != int(coefficient) or coefficient <= 0:
                    raise SBMLError(f"{path}: reaction {r.getId()} has stoichiometry {coefficient}")
                side[ref.getSpecies()] = side.get(ref.getSpecies(), 0) + int(coefficient)
            sides.append(side)
        reactions.append(
            Reaction(
                rate=Formula(text.replace("^", "^")),
                reactants=sides[0],
                products=sides[1],
                name=r.getId(),
                compartment=compartment,
            )
        )
    return Model(species, reactions, parameters, compartments)


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


def run_case(folder, method, *, key, n: int, chunk_size: int = 10_000) -> dict:
    """Simulate one case with ``n`` runs; return its statistics and test outcomes."""
    from ._ensemble import ensemble_stats

    case = read_case(folder)
    try:
        model = load_reaction_model(case["sbml"])
    except SBMLError as error:
        return {"case": case["name"], "status": "skipped", "reason": str(error)}
    start = time.perf_counter()
    stats = ensemble_stats(model, method, case["ts"], key=key, n=n, chunk_size=chunk_size)
    seconds = time.perf_counter() - start
    mean = {v: stats.mean[:, model.species_index(v)] for v in case["variables"]}
    sd = {v: stats.sd[:, model.species_index(v)] for v in case["variables"]}
    report = {"case": case["name"], "n": stats.n, "failures": stats.failures, "seconds": seconds}
    report.update(suite_tests(case, mean, sd, stats.n))
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
    import jax

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
                f"{row['worst_sd_ratio']:.4f}  outside band {bad}  {row['seconds']:.1f}s"
            )
        failed += bad > 0
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=float))
    ran = sum(r["status"] == "ran" for r in rows)
    print(f"{ran} cases ran, {len(rows) - ran} skipped, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
