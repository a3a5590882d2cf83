"""`msjax fit | spectrum | profile` on PEtab test case 0001 (A ⇌ B, two measurements of A,
σ = 0.5, four free parameters): two points are fitted exactly, so the best objective is
``2 · ½ log(2π σ²) = log(π/2)``, the Fisher information has rank 2, and every profile is flat."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from msjax.cli import main
from msjax.inference import fisher_information, load_petab

CASE = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "testdata"
    / "petab-testsuite"
    / "v1.0.0"
    / "sbml"
    / "0001"
    / "_0001.yaml"
)


def _rows(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit")
    args = ["fit", str(CASE), "--starts", "4", "--max-steps", "200", "--out", str(out)]
    assert main([*args, "--near-best", "0.5"]) == 0  # two starts begin near the best
    return out


def test_fit_reaches_the_exact_fit(fitted):
    problem = load_petab(CASE)
    best = _rows(fitted / "best_parameters.tsv")
    assert [r["parameterId"] for r in best] == list(problem.parameter_ids)
    theta = np.asarray([float(r["value"]) for r in best])
    starts = _rows(fitted / "starts.tsv")
    assert len(starts) == 4
    assert float(starts[0]["objective"]) == pytest.approx(math.log(math.pi / 2), abs=1e-6)
    assert float(problem.objective(theta)) == pytest.approx(float(starts[0]["objective"]), 1e-10)
    assert (fitted / "waterfall.png").stat().st_size > 10_000


def test_spectrum_has_rank_two(fitted, capsys):
    out = fitted / "spectrum"
    args = ["spectrum", str(CASE), "--parameters", str(fitted / "best_parameters.tsv")]
    assert main([*args, "--out", str(out)]) == 0
    assert "FIM spectrum" in capsys.readouterr().out
    rows = _rows(out / "spectrum.tsv")
    values = np.asarray([float(r["eigenvalue"]) for r in rows])
    problem = load_petab(CASE)
    theta = np.asarray([float(r["value"]) for r in _rows(fitted / "best_parameters.tsv")])
    expected = np.linalg.eigvalsh(np.asarray(fisher_information(problem, theta)))[::-1]
    np.testing.assert_allclose(values, expected, rtol=1e-8, atol=1e-10 * expected[0])
    assert values[1] > 1e-6 * values[0]  # two measured points: two informative directions
    assert np.all(np.abs(values[2:]) < 1e-10 * values[0])
    assert [int(r["stiff"]) for r in rows][2:] == [0, 0]
    assert (out / "spectrum.png").stat().st_size > 5_000


def test_profile_of_a_compensated_parameter_is_flat(fitted):
    out = fitted / "profile"
    args = ["profile", str(CASE), "--parameters", str(fitted / "best_parameters.tsv")]
    args += ["--only", "k1", "--points", "3", "--width", "0.3", "--steps", "40"]
    assert main([*args, "--out", str(out)]) == 0
    (row,) = _rows(out / "profiles.tsv")
    assert row["parameterId"] == "k1" and row["flat"] == "1"
    assert math.isinf(float(row["lower"])) and math.isinf(float(row["upper"]))
    assert (out / "profiles.png").stat().st_size > 5_000


def test_unknown_profile_parameter_is_a_clear_error(fitted, capsys):
    assert main(["profile", str(CASE), "--only", "k9", "--out", str(fitted / "x")]) == 2
    assert "--only names unknown parameter(s) ['k9']" in capsys.readouterr().err


def test_parameter_file_missing_a_parameter(tmp_path, capsys):
    table = tmp_path / "p.tsv"
    table.write_text("parameterId\tvalue\na0\t1.0\n")
    args = ["spectrum", str(CASE), "--parameters", str(table), "--out", str(tmp_path)]
    assert main(args) == 2
    assert "no value for estimated parameter(s) ['b0', 'k1', 'k2']" in capsys.readouterr().err
