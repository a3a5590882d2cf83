"""PEtab against its references: the PEtab v1 test suite (llh, chi2, simulations), the published
benchmark problems (nllh at the nominal parameters, gradients against central finite
differences), and malformed tables (errors naming file, row and column)."""

import csv
from pathlib import Path

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

import msjax
from msjax.inference import PEtabError, load_petab

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
SUITE = TESTDATA / "petab-testsuite" / "v1.0.0" / "sbml"
BENCHMARK = TESTDATA / "petab-benchmark"
CASES = sorted(p.name for p in SUITE.iterdir() if p.is_dir())
REFERENCE = {
    r["problem"]: float(r["nllh_at_nominal"])
    for r in csv.DictReader((BENCHMARK / "reference_nllh.tsv").open(), delimiter="\t")
}


@eqx.filter_jit
def _evaluate(problem, theta):
    """nllh, chi2 and the simulated observables in one compiled program."""
    return problem.nllh(theta), problem.chi2(theta), problem.predict(theta)


@pytest.mark.parametrize("case", CASES)
def test_petab_test_suite_case(case):
    folder = SUITE / case
    solution = yaml.safe_load((folder / f"_{case}_solution.yaml").read_text())
    problem = load_petab(folder / f"_{case}.yaml")
    nllh, chi2, (h, _, ok) = _evaluate(problem, problem.nominal_parameters())
    assert -float(nllh) == pytest.approx(solution["llh"], abs=solution["tol_llh"])
    assert float(chi2) == pytest.approx(solution["chi2"], abs=solution["tol_chi2"])
    (simulations,) = solution["simulation_files"]
    with (folder / simulations).open() as handle:
        expected = [float(r["simulation"]) for r in csv.DictReader(handle, delimiter="\t")]
    assert bool(ok)
    expected = np.asarray(expected)[list(problem.given_rows)]  # the problem's row order
    np.testing.assert_allclose(h, expected, rtol=0, atol=solution["tol_simulations"])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_benchmark_nllh_at_nominal(name):
    problem = load_petab(BENCHMARK / name / f"{name}.yaml")
    value = float(problem.nllh(problem.nominal_parameters()))
    assert value == pytest.approx(REFERENCE[name], rel=1e-3, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("adjoint", [msjax.StepAdjoint(), diffrax.RecursiveCheckpointAdjoint()])
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_benchmark_gradient_matches_central_differences(name, adjoint):
    """∇objective at solver tolerances 1e-8 (reverse mode: a problem's own `StepAdjoint`,
    and diffrax's) against central differences (step 1e-4 on the parameter scale) of a
    tighter solve (1e-12), at a point 0.01 off the nominal one in every coordinate (at the
    optimum itself the gradient is ~0)."""
    method = msjax.ODE(rtol=1e-8, atol=1e-8, adjoint=adjoint)
    problem = load_petab(BENCHMARK / name / f"{name}.yaml", method=method)
    theta = problem.nominal_parameters() + 0.01 * (-1.0) ** np.arange(problem.n_parameters)
    _, grad = problem.value_and_grad(theta)
    reference = problem.with_method(msjax.ODE(rtol=1e-12, atol=1e-12))
    eps = 1e-4
    shifts = eps * jnp.eye(problem.n_parameters)
    values = np.asarray(
        jax.vmap(reference.objective)(jnp.concatenate([theta + shifts, theta - shifts]))
    )
    fd = (values[: problem.n_parameters] - values[problem.n_parameters :]) / (2 * eps)
    grad = np.asarray(grad)
    assert np.linalg.norm(grad - fd) / np.linalg.norm(fd) < 1e-3
    # componentwise, relative to the component or (for tiny ones) to the largest
    assert np.all(np.abs(grad - fd) <= 1e-3 * np.maximum(np.abs(fd), 1e-2 * np.abs(fd).max()))


def test_schwen_priors_enter_the_objective_not_the_likelihood():
    """The benchmark's published value is the likelihood alone; fitting minimises it minus the
    log prior (six parameterScaleNormal priors with σ = 3)."""
    problem = load_petab(BENCHMARK / "Schwen_PONE2014" / "Schwen_PONE2014.yaml")
    theta = problem.nominal_parameters()
    ids = problem.parameter_ids
    priors = {
        "ini_R1": 1.809765366817905,
        "ini_R2fold": 1.196922192866968,
        "ka1": -4.006774320046476,
        "ka2fold": -0.018613892336092,
        "kd1": -0.917792647716124,
        "kd2fold": -0.105608820817629,
    }
    expected = sum(
        0.5 * np.log(2 * np.pi * 9.0) + 0.5 * ((float(theta[ids.index(p)]) - mu) / 3.0) ** 2
        for p, mu in priors.items()
    )
    gap = float(problem.objective(theta)) - float(problem.nllh(theta))
    assert gap == pytest.approx(expected, rel=1e-12)


# --- malformed tables -------------------------------------------------------------------------


def _copy_case(tmp_path, case="0001"):
    for f in (SUITE / case).iterdir():
        (tmp_path / f.name).write_text(f.read_text())
    return tmp_path / f"_{case}.yaml"


def _edit(path: Path, row: int, column: str, value: str) -> None:
    """Set ``column`` in data row ``row`` (1 = first row after the header), adding the column
    if missing."""
    lines = [line.split("\t") for line in path.read_text().splitlines()]
    if column not in lines[0]:
        lines[0].append(column)
        for line in lines[1:]:
            line.append("")
    lines[row][lines[0].index(column)] = value
    path.write_text("\n".join("\t".join(line) for line in lines) + "\n")


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "message"),
    [
        (
            "_measurements.tsv",
            2,
            "observableId",
            "obs_x",
            r"_measurements.tsv, row 3, column observableId: unknown observable 'obs_x'",
        ),
        (
            "_measurements.tsv",
            1,
            "noiseParameters",
            "sd_unknown",
            r"_measurements.tsv, row 2, column noiseParameters: unknown parameter 'sd_unknown'",
        ),
        (
            "_measurements.tsv",
            2,
            "measurement",
            "nan",
            r"_measurements.tsv, row 3, column measurement: NaN",
        ),
        (
            "_parameters.tsv",
            1,
            "lowerBound",
            "100",
            r"_parameters.tsv, row 2 \(a0\), columns lowerBound/upperBound: lower 100.0 > upper",
        ),
        (
            "_parameters.tsv",
            3,
            "parameterScale",
            "log10",
            r"_parameters.tsv, row 4 \(k1\), column lowerBound: non-positive bound on log10",
        ),
        (
            "_parameters.tsv",
            2,
            "nominalValue",
            "-1",
            None,
        ),
    ],
)
def test_malformed_table_error_names_file_row_and_column(
    tmp_path, table, row, column, value, message
):
    yaml_path = _copy_case(tmp_path)
    _edit(tmp_path / table, row, column, value)
    if message is None:  # a negative nominal value on a log scale
        _edit(tmp_path / table, row, "parameterScale", "log")
        _edit(tmp_path / table, row, "lowerBound", "0.1")
        message = r"_parameters.tsv, row 3 \(b0\), column nominalValue: non-positive value on log"
    with pytest.raises(PEtabError, match=message):
        load_petab(yaml_path)


def test_condition_naming_unknown_parameter(tmp_path):
    yaml_path = _copy_case(tmp_path)
    _edit(tmp_path / "_conditions.tsv", 1, "k1", "k_unknown")
    message = r"_conditions.tsv, row 2 \(condition 'c0'\), column 'k1': unknown parameter"
    with pytest.raises(PEtabError, match=message):
        load_petab(yaml_path)
