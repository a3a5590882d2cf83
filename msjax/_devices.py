"""One XLA CPU device per core, so that work split over local devices uses every core."""

import os

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
