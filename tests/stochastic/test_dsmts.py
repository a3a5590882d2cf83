"""The Discrete Stochastic Models Test Suite: the suite's own mean and sd tests."""

from pathlib import Path

import jax
import pytest

from msjax.stochastic import Gillespie, TauLeap
from msjax.stochastic.dsmts import run_case

SUITE = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "sbml-stochastic"
CASES = sorted(p.name for p in SUITE.iterdir() if p.is_dir())
EVENTS = ["00028", "00033"]  # SBML events (a time and a state trigger)
QUICK = ["00001", "00019", "00020", "00030", "00033"]


def _passes(case, n, seed=0):
    row = run_case(SUITE / case, Gillespie(), key=jax.random.PRNGKey(seed), n=n)
    return row, row["mean_failures"] + row["sd_failures"]


@pytest.mark.parametrize("case", QUICK)
def test_dsmts_quick(case):
    """Birth–death (with an assignment-rule output), immigration–death, dimerisation, and
    dimerisation with a state-triggered event (00033) at n = 2000."""
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
def test_dsmts_tauleap(case):
    """TauLeap (ε = 0.03) passes the suite's own mean and sd tests at n = 10^4 (a failure judged
    by a rerun with another key, as for Gillespie), the event cases included. The guide's m/μ,
    s/σ band [0.98, 1.02] is reported by the runner, not asserted: on low-count cases it is
    within sampling noise at n = 10^4 (exact Gillespie leaves it on 00004 with key 2)."""
    method = TauLeap(eps=0.03)
    row = run_case(SUITE / case, method, key=jax.random.PRNGKey(0), n=10_000)
    if row["mean_failures"] + row["sd_failures"]:
        row = run_case(SUITE / case, method, key=jax.random.PRNGKey(1), n=10_000)
    assert row["mean_failures"] + row["sd_failures"] == 0, row
