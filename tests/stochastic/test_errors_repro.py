"""Bad input gives MsjaxError or result codes; results are independent of chunks and devices."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax
from msjax import models
from msjax.stochastic import Gillespie, TauLeap, ensemble_stats, ensemble_trajectories

TS = jnp.linspace(0.0, 1.0, 3)


def test_missing_key_is_an_error():
    with pytest.raises(msjax.MsjaxError, match="key"):
        msjax.simulate(models.birth_death(), Gillespie(), TS, n=3)


def test_non_integer_counts():
    model = models.birth_death(x0=0.5)
    with pytest.raises(msjax.ModelError, match="non-integer"):
        ensemble_stats(model, Gillespie(), TS, key=jax.random.PRNGKey(0), n=4)
    with pytest.raises(msjax.SolverError):
        msjax.simulate(model, Gillespie(), TS, key=jax.random.PRNGKey(0), n=4)
    sol = msjax.simulate(model, TauLeap(), TS, key=jax.random.PRNGKey(0), n=4, throw=False)
    assert not np.asarray(sol.succeeded).any()


def test_negative_counts():
    with pytest.raises(msjax.ModelError, match="negative"):
        msjax.simulate(models.birth_death(), Gillespie(), TS, y0=[-1.0], key=jax.random.PRNGKey(0))


def _bad_rate_model():
    return msjax.Model(
        species={"X": 0.0},
        reactions=[msjax.Reaction("-> X", "k * (2.5 - X)", name="leaky_production")],
        parameters={"k": 1.0},
    )


@pytest.mark.parametrize("method", [Gillespie(), TauLeap()])
def test_negative_propensity_gives_result_code(method):
    """``k (2.5 − X)`` goes negative at X = 3: a failed result, not a silent trajectory."""
    ts = jnp.linspace(0.0, 50.0, 3)
    sol = msjax.simulate(_bad_rate_model(), method, ts, key=jax.random.PRNGKey(1), n=8, throw=False)
    assert not np.asarray(sol.succeeded).any()
    with pytest.raises(msjax.SolverError, match="simulation failed"):
        msjax.simulate(_bad_rate_model(), method, ts, key=jax.random.PRNGKey(1), n=8)


def test_step_limit_gives_result_code():
    sol = msjax.simulate(
        models.birth_death(k=100.0),
        Gillespie(max_steps=10),
        TS,
        key=jax.random.PRNGKey(2),
        n=4,
        throw=False,
    )
    assert not np.asarray(sol.succeeded).any()
    assert (np.asarray(sol.result._value) == msjax.RESULTS.max_steps_reached._value).all()
    stats = ensemble_stats(
        models.birth_death(k=100.0), Gillespie(max_steps=10), TS, key=jax.random.PRNGKey(2), n=4
    )
    assert stats.failures == 4 and stats.n == 0


@pytest.mark.parametrize(
    ("method", "k"),
    [
        (Gillespie(), 10.0),
        pytest.param(TauLeap(), 1000.0, marks=pytest.mark.slow),  # a high-copy leap
    ],
)
def test_same_key_same_trajectories_whatever_the_chunk(method, k):
    """Each trajectory draws from its own key: chunks do not matter, nor does `simulate`."""
    model = models.birth_death(k=k, gamma=1.0)
    ts = jnp.linspace(0.0, 2.0, 6)
    key = jax.random.PRNGKey(3)
    a, _ = ensemble_trajectories(model, method, ts, key=key, n=50, chunk_size=7)
    b, _ = ensemble_trajectories(model, method, ts, key=key, n=50, chunk_size=64)
    c = np.asarray(msjax.simulate(model, method, ts, key=key, n=50).ys)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_gillespie_lanes_do_not_change_trajectories():
    """Lanes refilled with the next trajectory: the same trajectories for any lane count."""
    model = models.birth_death(k=10.0, gamma=1.0)
    ts = jnp.linspace(0.0, 2.0, 6)
    key = jax.random.PRNGKey(3)
    runs = [msjax.simulate(model, Gillespie(lanes=n), ts, key=key, n=50).ys for n in (1, 7, 64)]
    for ys in runs[1:]:
        np.testing.assert_array_equal(np.asarray(runs[0]), np.asarray(ys))


def test_threefry_matches_jax():
    """The fused Threefry-2x32 is JAX's, bit for bit."""
    from jax.extend.random import threefry_2x32

    from msjax.stochastic._random import threefry2x32

    key = jnp.array([0x13198A2E, 0x03707344], dtype=jnp.uint32)
    counts = jnp.arange(16, dtype=jnp.uint32).reshape(2, 8)
    expected = threefry_2x32(key, counts.reshape(-1)).reshape(2, 8)
    got = jnp.stack(threefry2x32(key[0], key[1], counts[0], counts[1]))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


_DEVICE_SCRIPT = textwrap.dedent(
    """
    import sys, jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from msjax import models
    from msjax.stochastic import Gillespie, TauLeap, ensemble_trajectories, ensemble_stats
    model = models.birth_death(k=10.0, gamma=1.0)
    ts = jnp.linspace(0.0, 2.0, 6)
    out = {"devices": np.array(jax.local_device_count())}
    out["ssa"], _ = ensemble_trajectories(
        model, Gillespie(), ts, key=jax.random.PRNGKey(4), n=40, chunk_size=20)
    s = ensemble_stats(model, Gillespie(), ts, key=jax.random.PRNGKey(4), n=40, chunk_size=20)
    out["mean"] = s.mean
    np.savez(sys.argv[1], **out)
    """
)


def test_same_results_on_4_devices(tmp_path):
    """Trajectories are bit-identical on 1 and 4 (forced host) devices."""
    script = tmp_path / "run.py"
    script.write_text(_DEVICE_SCRIPT)
    root = Path(__file__).resolve().parents[2]
    results = {}
    for devices in (1, 4):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
        env["PYTHONPATH"] = str(root)
        path = tmp_path / f"out{devices}.npz"
        subprocess.run([sys.executable, str(script), str(path)], env=env, check=True, cwd=root)
        results[devices] = np.load(path)
    assert int(results[4]["devices"]) == 4
    np.testing.assert_array_equal(results[1]["ssa"], results[4]["ssa"])
    np.testing.assert_allclose(results[1]["mean"], results[4]["mean"], rtol=1e-12)
