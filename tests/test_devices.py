"""The command line's two set-ups of XLA's CPU runtime (`msjax._devices`), each in a fresh
process: JAX reads them when its runtime starts."""

import json
import os
import subprocess
import sys

import pytest


def _in_fresh_process(setup: str) -> dict:
    """What a fresh Python reports after ``setup()`` and one computation: its affinity before
    and after, the CPU devices, and the affinity of each of its threads."""
    code = f"""
import json, os
from msjax._devices import {setup}
before = sorted(os.sched_getaffinity(0))
{setup}()
import jax, jax.numpy as jnp
jnp.ones(3).sum().block_until_ready()
threads = []
for t in os.listdir("/proc/self/task"):
    try:
        threads.append(sorted(os.sched_getaffinity(int(t))))
    except ProcessLookupError:  # a thread that ended meanwhile
        pass
print(json.dumps(dict(before=before, after=sorted(os.sched_getaffinity(0)),
                      devices=jax.local_device_count(), threads=threads)))
"""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


linux = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity (Linux)")


@linux
def test_one_worker_thread_leaves_the_process_on_its_cores_and_the_runtime_on_one():
    report = _in_fresh_process("use_one_worker_thread")
    assert report["after"] == report["before"]
    assert report["devices"] == 1
    one_core = [min(report["before"])]
    assert one_core in report["threads"]  # the runtime's workers, started while narrowed
    assert report["before"] in report["threads"]  # the main thread


@linux
def test_all_cores_gives_a_device_per_core():
    report = _in_fresh_process("use_all_cores")
    assert report["devices"] == os.cpu_count()
    assert all(t == report["before"] for t in report["threads"])
