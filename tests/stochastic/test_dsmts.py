"""The Discrete Stochastic Models Test Suite: the suite's own mean and sd tests."""

from pathlib import Path

import jax
import pytest

from msjax.stochastic import Gillespie, TauLeap
from msjax.stochastic.dsmts import run_case

SUITE = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "sbml-stochastic"
if not SUITE.is_dir():
    SUITE = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "sbml-stochastic"
CASES = sorted(p.name for p in SUITE.iterdir() if p.is_dir()) if SUITE.is_dir() else []
QUICK = ["00001", "00020", "00030"]

pytestmark = pytest.mark.skipif(not CASES, reason=f"DSMTS not found at {SUITE}")


def _passes(case, n, seed=0):
    row = run_case(SUITE / case, Gillespie(), key=jax.random.PRNGKey(seed), n=n)
    if row["status"] == "skipped":
        pytest.skip(row["reason"])
    return row, row["mean_failures"] + row["sd_failures"]


@pytest.mark.parametrize("case", QUICK)
def test_dsmts_quick(case):
    """Three networks (birth–death, immigration–death, dimerisation) at n = 2000."""
    row, failures = _passes(case, 2000)
    if failures:  # the suite: judge a failure by re-running with another key
        row, failures = _passes(case, 2000, seed=1)
    assert failures == 0, row


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_dsmts_gillespie_full(case):
    row, failures = _passes(case, 10_000)
    if failures:
        row, failures = _passes(case, 10_000, seed=1)
    assert failures == 0, row


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_dsmts_tauleap_band(case):
    row = run_case(SUITE / case, TauLeap(eps=0.03), key=jax.random.PRNGKey(0), n=10_000)
    if row["status"] == "skipped":
        pytest.skip(row["reason"])
    assert row["ratio_failures"] == 0, row
