"""Counter-based random numbers for the stochastic kernels: Threefry-2x32 written out in
elementwise `jnp` operations, so XLA fuses it with the arithmetic that consumes it.

``threefry2x32(k0, k1, c0, c1)`` is bit-identical to JAX's ``threefry_2x32`` (Salmon et al.,
"Parallel random numbers: as easy as 1, 2, 3", SC 2011) on the key ``(k0, k1)`` and counter
``(c0, c1)``; a trajectory draws step ``s``'s numbers from its own key and the counter
``(s, stream)``, so they depend on nothing but the trajectory's key and its own step count.
"""

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(v, d: int):
    return (v << np.uint32(d)) | (v >> np.uint32(32 - d))


def threefry2x32(k0, k1, c0, c1):
    """Threefry-2x32 (20 rounds) of counters ``(c0, c1)`` under key ``(k0, k1)``; all uint32
    arrays of one broadcast shape. Returns two uint32 arrays of that shape."""
    k2 = k0 ^ k1 ^ _PARITY
    schedule = (k0, k1, k2)
    x0, x1 = c0 + k0, c1 + k1
    for i in range(5):
        for rotation in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = _rotate_left(x1, rotation) ^ x0
        x0 = x0 + schedule[(i + 1) % 3]
        x1 = x1 + schedule[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


def unit_float64(hi, lo):
    """Uniform in [0, 1) with 52 random bits from two uint32 words [...] (float64 [...])."""
    bits = (hi.astype(jnp.uint64) << np.uint64(32)) | lo.astype(jnp.uint64)
    one = np.uint64(0x3FF0000000000000)
    return jax.lax.bitcast_convert_type((bits >> np.uint64(12)) | one, jnp.float64) - 1.0


def unit_float32(word):
    """Uniform in [0, 1) with 23 random bits from one uint32 word [...] (float32 [...])."""
    one = np.uint32(0x3F800000)
    return jax.lax.bitcast_convert_type((word >> np.uint32(9)) | one, jnp.float32) - 1.0


def uniform_pair(k0, k1, step, dtype):
    """Two independent uniforms in [0, 1) of step ``step`` (uint32 [...]) of the trajectory with
    key ``(k0, k1)``: float64 from counters ``(step, 0)`` and ``(step, 1)``, float32 from the two
    words of ``(step, 0)``."""
    h0, h1 = threefry2x32(k0, k1, step, jnp.zeros_like(step))
    if dtype == jnp.float32:
        return unit_float32(h0), unit_float32(h1)
    g0, g1 = threefry2x32(k0, k1, step, jnp.ones_like(step))
    return unit_float64(h0, h1), unit_float64(g0, g1)


def key_words(keys) -> tuple[jax.Array, jax.Array]:
    """The two uint32 key words [B] of each trajectory key in ``keys`` [B] (typed or raw
    threefry keys; wider key data is folded into two words by xor)."""
    typed = jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key)
    data = jax.random.key_data(keys) if typed else keys
    data = jnp.asarray(data, dtype=jnp.uint32).reshape(data.shape[0], -1)
    k0, k1 = data[:, 0], data[:, 1]
    for extra in range(2, data.shape[1]):
        k0, k1 = (k0, k1 ^ data[:, extra]) if extra % 2 else (k0 ^ data[:, extra], k1)
    return k0, k1
