"""Local devices and XLA's CPU runtime: one device per core or one worker thread, and how many
devices a batch splits over."""

import importlib.metadata
import importlib.util
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


def use_one_worker_thread() -> None:
    """Start XLA's CPU runtime with a single worker thread, for many calls of one program on
    one device: a fit on the CPU (one lane, `msjax.inference.default_lanes`), profiles.

    The runtime sizes its thread pool by the process's CPU affinity when it starts (the way
    JAX's maintainers give to limit its threads, jax-ml/jax#1539), so the affinity is
    narrowed to one core for that moment and restored after; the pool's threads stay on that
    core. Must run before JAX's first computation, in place of `use_all_cores`; does nothing
    where an accelerator plugin is installed. On two cores, threads passing a solver loop's
    small operations between them cost more than they share: Boehm_JProteomeRes2014's nllh +
    forward gradient took 16–17 ms, with one worker thread 9.4–10.7 ms; XLA's code generation
    shares the pool, so compiling took 15–35 % longer (bench/fit.py)."""
    if not hasattr(os, "sched_setaffinity") or _accelerator_plugins():
        return
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        jax.devices("cpu")
    finally:
        os.sched_setaffinity(0, cores)


def _accelerator_plugins() -> bool:
    """Whether a PJRT plugin for an accelerator is installed (JAX finds them by this entry
    point group or namespace package; TPUs through libtpu)."""
    plugins = importlib.metadata.entry_points(group="jax_plugins")
    return bool(plugins) or any(
        importlib.util.find_spec(name) is not None for name in ("jax_plugins", "libtpu")
    )


def dividing_device_count(n: int) -> int:
    """The most local devices that split ``n`` items evenly (1 when none but one does)."""
    devices = jax.local_device_count()
    while n % devices:
        devices -= 1
    return devices
