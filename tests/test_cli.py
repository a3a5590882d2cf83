import csv

import numpy as np

from msjax.cli import main


def test_demo_writes_csv_and_png(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--t-end", "4000", "--points", "401"]) == 0
    printed = capsys.readouterr().out
    assert "oscillates" in printed and "period" in printed
    # the fitting step: k_m, k_p and s are confounded; the fit recovers the identifiable
    # k_m·k_p (true 10) and k_m·s (true 0.2) to within 5 Laplace standard errors
    assert "only k_m · k_p is identifiable" in printed and "only k_m · s is identifiable" in printed
    fitted = {
        r["parameterId"]: float(r["value"])
        for r in csv.DictReader((tmp_path / "fit_parameters.tsv").open(), delimiter="\t")
    }
    for combination, truth, powers in (
        ("k_m·k_p", 10.0, (1, 0, 1, 0, 0)),
        ("k_m·s", 0.2, (1, 0, 0, 0, 1)),
    ):
        value = sum(
            p * fitted[k] for p, k in zip(powers, ("k_m", "g_m", "k_p", "g_p", "s"), strict=True)
        )
        assert abs(value - np.log10(truth)) < 5 * _laplace_sd(fitted, powers), combination
    for name in ("fit_waterfall", "fit_spectrum", "fit_data"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000
    rows = list(csv.reader((tmp_path / "mapk_cascade.csv").open()))
    assert rows[0][:2] == ["time", "MKKK"] and len(rows) == 402
    assert (tmp_path / "mapk_cascade.png").stat().st_size > 10_000


def _laplace_sd(fitted: dict, powers) -> float:
    """Standard deviation (log10) of ``Σ p_i log10 θ_i`` from the pseudo-inverse Fisher
    information of the demo problem at the fitted parameters."""
    import jax

    from msjax.inference import fisher_information, gene_expression_data, gene_expression_problem

    key_data = jax.random.split(jax.random.key(0), 3)[0]  # as msjax demo draws its data
    problem = gene_expression_problem(gene_expression_data(key=key_data))
    theta = np.asarray([fitted[k] for k in problem.parameter_ids])
    cov = np.linalg.pinv(np.asarray(fisher_information(problem, theta)), hermitian=True, rtol=1e-10)
    p = np.asarray(powers, dtype=float)
    return float(np.sqrt(p @ cov @ p))


def test_simulate_builtin_model_to_csv(tmp_path, capsys):
    out = tmp_path / "bd.csv"
    assert (
        main(["simulate", "birth_death", "--t-end", "5", "--points", "6", "--out", str(out)]) == 0
    )
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 1], 10.0 * (1 - np.exp(-table[:, 0])), rtol=1e-5)


def test_unknown_model_is_a_clear_error(capsys):
    assert main(["simulate", "no_such_model", "--t-end", "1"]) == 2
    assert "unknown built-in model 'no_such_model'" in capsys.readouterr().err


def test_tissue_command_writes_snapshots_and_counts(tmp_path):
    assert (
        main(["tissue", "chemotaxis", "--steps", "10", "--snapshots", "1", "--out", str(tmp_path)])
        == 0
    )
    rows = list(csv.DictReader((tmp_path / "chemotaxis.csv").open()))
    assert rows and all(
        int(r["count"]) == int(rows[0]["count"]) + int(r["births"]) - int(r["deaths"]) for r in rows
    )
    assert sorted(p.suffix for p in tmp_path.iterdir()).count(".png") >= 1


def test_simulate_sbml_file_to_csv(tmp_path):
    case = "../shared/testdata/sbml-semantic/00001"
    out = tmp_path / "case.csv"
    assert (
        main(
            [
                "simulate",
                f"{case}/00001-sbml-l3v2.xml",
                "--t-end",
                "5",
                "--points",
                "51",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    ours = np.loadtxt(out, delimiter=",", skiprows=1)
    expected = np.loadtxt(f"{case}/00001-results.csv", delimiter=",", skiprows=1)
    # the suite reports S1, S2 in amounts; the compartment has volume 1
    np.testing.assert_allclose(ours[:, 1:3], expected[:, 1:3], rtol=1e-5, atol=1e-10)


def test_ensemble_of_an_sbml_file_matches_the_suite(tmp_path):
    """`msjax ensemble` on DSMTS 00001 (birth–death, SBML): the mean and sd at t = 10, 20, …,
    50 within 5 standard errors of the suite's exact values."""
    case = "../shared/testdata/sbml-stochastic/00001"
    n = 4000
    args = [f"{case}/00001-sbml-l3v2.xml", "--n", str(n), "--t-end", "50", "--points", "6"]
    assert main(["ensemble", *args, "--out", str(tmp_path)]) == 0
    rows = np.genfromtxt(tmp_path / "ensemble.csv", delimiter=",", names=True, dtype=None)
    expected = np.loadtxt(f"{case}/00001-results.csv", delimiter=",", skiprows=1)[::10]
    np.testing.assert_array_equal(np.asarray(rows["time"], float), expected[:, 0])
    mean, sd = np.asarray(rows["mean"], float)[1:], np.asarray(rows["sd"], float)[1:]
    mu, sigma = expected[1:, 1], expected[1:, 2]  # t = 0 is deterministic
    assert np.all(np.abs(mean - mu) <= 5 * sigma / np.sqrt(n))
    assert np.all(np.abs(sd**2 / sigma**2 - 1) <= 5 * np.sqrt(2 / n))
