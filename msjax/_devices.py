"""Local devices: one XLA CPU device per core, and how many devices a batch splits over."""

import os

import jax

_FLAG = "--xla_force_host_platform_device_count"


def use_all_cores() -> None:
    """Ask XLA for one CPU device per core (``os.cpu_count()``), unless ``XLA_FLAGS`` already
    sets a count. Must run before JAX's first computation (XLA reads the flag when its CPU
    client starts); the command line does. Ensembles and fit lanes are split over local
    devices, so they then run on every core; single-device work runs on the first."""
    flags = os.environ.get("XLA_FLAGS", "")
    cores = os.cpu_count() or 1
    if _FLAG in flags or cores == 1:
        return
    os.environ["XLA_FLAGS"] = f"{flags} {_FLAG}={cores}".strip()


def dividing_device_count(n: int) -> int:
    """The most local devices that split ``n`` items evenly (1 when none but one does)."""
    devices = jax.local_device_count()
    while n % devices:
        devices -= 1
    return devices
