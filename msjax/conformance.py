"""Conformance runner: ``python -m msjax.conformance sbml DIR [--tier T1] [--json FILE]``.

Runs every semantic case in a folder laid out like the SBML Test Suite (``NNNNN/`` with
``NNNNN-sbml-l3v2.xml``, ``-settings.txt``, ``-results.csv``, ``-model.m``; optional
``tiers.tsv``) and judges each by the suite's own rule,
``|sim − expected| ≤ absolute + relative·|expected|`` at every reported point. Statuses:

- ``pass``; ``wrong``: simulated but some value is off (the largest scaled error
  ``|sim − expected| / (absolute + relative·|expected|)`` is reported);
- ``refused``: `SBMLError` (an unsupported feature, named); ``error``: anything else.

Prints pass/wrong/refused/error counts per tier and per tag and the failing cases; ``--json``
writes one record per case, ``--markdown`` a validation page. Exits 1 on any wrong answer,
and on any failure in the tiers named by ``--require``.
"""

import argparse
import json
import multiprocessing
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

STATUSES = ("pass", "wrong", "refused", "error")


# --- reading a case ----------------------------------------------------------------------------


def read_settings(path: Path) -> dict:
    """The ``-settings.txt`` of a case: start, duration, steps, variables, tolerances, units."""
    settings = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            settings[key.strip()] = value.strip()

    def names(key):
        return [v.strip() for v in settings.get(key, "").split(",") if v.strip()]

    return {
        "start": float(settings["start"]),
        "duration": float(settings["duration"]),
        "steps": int(float(settings["steps"])),
        "variables": names("variables"),
        "absolute": float(settings["absolute"]),
        "relative": float(settings["relative"]),
        "amount": names("amount"),
        "concentration": names("concentration"),
    }


def read_results(path: Path) -> tuple[list[str], np.ndarray]:
    """Header and values [T, 1 + K] of a ``-results.csv`` (NaN, INF and -INF as floats)."""
    lines = path.read_text().strip().splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    rows = [[float(v.strip().replace("INF", "inf")) for v in line.split(",")] for line in lines[1:]]
    return header, np.asarray(rows, dtype=float)


def read_tags(path: Path) -> list[str]:
    """componentTags and testTags from a case's ``-model.m`` header."""
    tags = []
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines()[:30]:
            if line.startswith(("componentTags:", "testTags:")):
                tags += [t.strip() for t in line.partition(":")[2].split(",") if t.strip()]
    return tags


def model_file(case_dir: Path) -> Path:
    """The highest-level SBML file of a case (l3v2 first)."""
    files = sorted(case_dir.glob(f"{case_dir.name}-sbml-l*.xml"))
    if not files:
        raise FileNotFoundError(f"no SBML file in {case_dir}")
    return max(files, key=lambda p: p.stem.split("-")[-1])


def read_tiers(folder: Path) -> dict[str, str]:
    tiers_file = folder / "tiers.tsv"
    tiers = {}
    if tiers_file.is_file():
        for line in tiers_file.read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 2:
                tiers[parts[0]] = parts[1]
    return tiers


def scaled_error(sim: np.ndarray, expected: np.ndarray, absolute: float, relative: float):
    """``|sim − expected| / (absolute + relative·|expected|)``, 0 where both are equal
    (NaN = NaN, ±inf = ±inf), inf where exactly one is non-finite."""
    with np.errstate(all="ignore"):
        same = (sim == expected) | (np.isnan(sim) & np.isnan(expected))
        error = np.abs(sim - expected) / (absolute + relative * np.abs(expected))
        error = np.where(same, 0.0, error)
        return np.where(np.isnan(error), np.inf, error)


# --- running a case ----------------------------------------------------------------------------


def simulate_case(case_dir: Path):
    """Simulate one case; returns (variables, values [T, K], expected [T, K], settings)."""
    import diffrax  # noqa: F401  (imported here: workers import JAX lazily)

    import msjax
    from msjax.model._sbml import load_sbml

    settings = read_settings(case_dir / f"{case_dir.name}-settings.txt")
    header, expected = read_results(case_dir / f"{case_dir.name}-results.csv")
    model = load_sbml(model_file(case_dir))
    ts = np.linspace(
        settings["start"], settings["start"] + settings["duration"], settings["steps"] + 1
    )
    atol = min(1e-10, settings["absolute"] * 1e-4)
    method = msjax.ODE(solver=diffrax.Tsit5(), rtol=1e-9, atol=atol)
    solution = msjax.simulate(model, method, ts, throw=False)
    if not bool(solution.succeeded):  # stiff: Tsit5 gave up; Rodas4 is L-stable
        method = msjax.ODE(rtol=1e-9, atol=atol)
        solution = msjax.simulate(model, method, ts)
    variables = [h for h in header[1:]]
    values = model.observe(solution.ts, solution.ys, None, variables, settings["amount"])
    return variables, values, expected[:, 1:], settings


def run_case(case_dir) -> dict:
    """Run and judge one case: ``{id, tier, tags, status, max_scaled_error, seconds, message}``."""
    import os

    # Small models: compile time dominates, so ask XLA for cheap code generation.
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
    )
    import jax

    jax.config.update("jax_enable_x64", True)
    from msjax._errors import SBMLError

    case_dir = Path(case_dir)
    record = {"id": case_dir.name, "status": "error", "max_scaled_error": None, "message": ""}
    start = time.perf_counter()
    try:
        _, values, expected, settings = simulate_case(case_dir)
        if values.shape != expected.shape:
            raise ValueError(f"shape {values.shape} != expected {expected.shape}")
        errors = scaled_error(values, expected, settings["absolute"], settings["relative"])
        worst = float(errors.max()) if errors.size else 0.0
        record["max_scaled_error"] = worst
        record["status"] = "pass" if worst <= 1.0 else "wrong"
    except SBMLError as error:
        record["status"] = "refused"
        record["message"] = str(error)
    except Exception as error:  # noqa: BLE001  (every other failure is an `error` record)
        record["message"] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


# --- the sweep ---------------------------------------------------------------------------------


def run_suite(folder, tiers=None, cases=None, processes: int = 2, progress=None) -> list[dict]:
    """Run the cases of ``folder`` (optionally only ``tiers`` or ``cases``) in a process pool."""
    folder = Path(folder)
    tier_of = read_tiers(folder)
    dirs = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
    if cases:
        dirs = [d for d in dirs if d.name in set(cases)]
    if tiers:
        dirs = [d for d in dirs if tier_of.get(d.name, "?") in set(tiers)]
    records = []
    if processes <= 1:
        results = map(run_case, dirs)
    else:
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(processes, maxtasksperchild=200)
        results = pool.imap(run_case, dirs, chunksize=1)
    try:
        for i, record in enumerate(results):
            case_dir = dirs[i]
            record["tier"] = tier_of.get(record["id"], "?")
            record["tags"] = read_tags(case_dir / f"{case_dir.name}-model.m")
            records.append(record)
            if progress:
                progress(i + 1, len(dirs), record)
    finally:
        if processes > 1:
            pool.terminate()
    return records


def summarise(records: list[dict]) -> dict:
    """Counts per tier and per tag: ``{group: Counter(status)}``."""
    tiers, tags = defaultdict(Counter), defaultdict(Counter)
    for r in records:
        tiers[r["tier"]][r["status"]] += 1
        tiers["all"][r["status"]] += 1
        for tag in r["tags"]:
            tags[tag][r["status"]] += 1
    return {"tiers": dict(sorted(tiers.items())), "tags": dict(sorted(tags.items()))}


def _row(name, counts) -> str:
    total = sum(counts.values())
    share = 100.0 * counts["pass"] / total if total else 0.0
    cells = " | ".join(str(counts[s]) for s in STATUSES)
    return f"| {name} | {total} | {cells} | {share:.1f}% |"


def table(groups: dict, title: str) -> list[str]:
    lines = [f"| {title} | cases | " + " | ".join(STATUSES) + " | pass rate |"]
    lines.append("|" + " --- |" * (len(STATUSES) + 3))
    lines += [_row(name, counts) for name, counts in groups.items()]
    return lines


def report(records: list[dict], folder: str = "") -> str:
    """A Markdown report: per tier, per tag, failing cases, seconds per case."""
    summary = summarise(records)
    seconds = [r["seconds"] for r in records]
    lines = [
        "# Validation: the SBML Test Suite (semantic cases)",
        "",
        "Generated by `python -m msjax.conformance sbml " + (folder or "DIR") + " --markdown "
        "docs/validation.md`; do not edit by hand.",
        "",
        "Each case is judged by the suite's rule, `|sim - expected| <= absolute + relative "
        "* |expected|` at every reported point, with the case's own tolerances. `wrong`: "
        "simulated but off; `refused`: an `SBMLError` naming an unsupported feature; "
        "`error`: any other failure.",
        "",
        "## Per tier",
        "",
        *table(summary["tiers"], "tier"),
        "",
        f"Time per case: mean {np.mean(seconds) if seconds else 0:.2f} s, median "
        f"{np.median(seconds) if seconds else 0:.2f} s (load + compile + simulate, one process).",
        "",
        "## Per tag",
        "",
        *table(summary["tags"], "tag"),
        "",
        "## Cases that did not pass",
        "",
        "| case | tier | status | max scaled error | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in records:
        if r["status"] != "pass":
            err = "" if r["max_scaled_error"] is None else f"{r['max_scaled_error']:.3g}"
            reason = r["message"].replace("|", "\\|").replace("\n", " ")[:200]
            lines.append(f"| {r['id']} | {r['tier']} | {r['status']} | {err} | {reason} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msjax.conformance", description=__doc__)
    parser.add_argument("suite", choices=["sbml"], help="which test suite")
    parser.add_argument("folder", help="folder of cases (NNNNN/ subfolders, optional tiers.tsv)")
    parser.add_argument("--tier", action="append", help="only this tier (repeatable)")
    parser.add_argument("--case", action="append", help="only this case id (repeatable)")
    parser.add_argument("--json", help="write one record per case to this file")
    parser.add_argument("--markdown", help="write the report as Markdown to this file")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--merge",
        action="append",
        help="JSON files of earlier runs: their records fill in the cases not run now",
    )
    parser.add_argument(
        "--require", default="", help="comma-separated tiers that must pass completely"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()

    def progress(done, total, record):
        if record["status"] != "pass":
            err = record["max_scaled_error"]
            err = "" if err is None else f" (scaled error {err:.3g})"
            print(
                f"  {record['id']} [{record['tier']}] {record['status']}{err} "
                f"{record['message'][:160]}",
                flush=True,
            )
        if done % 50 == 0 or done == total:
            print(f"  ... {done}/{total} cases, {time.perf_counter() - started:.0f} s", flush=True)

    records = []
    if not args.merge or args.tier or args.case:
        records = run_suite(args.folder, args.tier, args.case, args.processes, progress)
    if args.merge:
        ran = {r["id"] for r in records}
        earlier = {}
        for path in args.merge:  # later files win
            earlier.update({r["id"]: r for r in json.loads(Path(path).read_text())})
        records = sorted(
            [*records, *(r for i, r in earlier.items() if i not in ran)], key=lambda r: r["id"]
        )
    summary = summarise(records)
    print("\n".join(table(summary["tiers"], "tier")))
    print()
    print("\n".join(table(summary["tags"], "tag")))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(records, indent=1))
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(report(records, args.folder))
    required = {t.strip() for t in args.require.split(",") if t.strip()}
    wrong = sum(r["status"] == "wrong" for r in records)
    missed = [r["id"] for r in records if r["tier"] in required and r["status"] != "pass"]
    print(
        f"\n{len(records)} cases in {time.perf_counter() - started:.0f} s; wrong answers: {wrong}"
    )
    if missed:
        print(f"required tiers {sorted(required)} not fully passing: {missed}")
    return 1 if wrong or missed else 0


if __name__ == "__main__":
    sys.exit(main())
