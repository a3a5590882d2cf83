import csv

import numpy as np

from msjax.cli import main


def test_demo_writes_csv_and_png(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--t-end", "4000", "--points", "401"]) == 0
    printed = capsys.readouterr().out
    assert "oscillates" in printed and "period" in printed
    rows = list(csv.reader((tmp_path / "mapk_cascade.csv").open()))
    assert rows[0][:2] == ["time", "MKKK"] and len(rows) == 402
    assert (tmp_path / "mapk_cascade.png").stat().st_size > 10_000


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
