"""Test configuration: float64 and strict dtype promotion everywhere (DESIGN.md §4.6); compiled
programs freed after each test module."""

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    """Drop JAX's compiled executables after each module: a run of the whole suite otherwise
    holds every program it compiled (memory maps pile up; XLA crashed once in CI near the end)."""
    yield
    jax.clear_caches()
