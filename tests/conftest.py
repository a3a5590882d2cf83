"""Test configuration: float64 and strict dtype promotion everywhere (DESIGN.md §4.6)."""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
