"""Poisson variates from given random words, for tau-leaping under `vmap`.

``λ < 10``: inversion (sequential search from 0; exact, a short loop that runs only while some
lane is still searching). ``λ ≥ 10``: one candidate of Hörmann's transformed rejection with
squeeze (PTRS; W. Hörmann, "The transformed rejection method for generating Poisson random
variables", Insurance: Mathematics and Economics 12:39, 1993), as in NumPy's
``random_poisson_ptrs``: the candidate is accepted with probability about 0.9, and the caller
draws a fresh candidate from new words when it is rejected; the accepted values are exactly
Poisson(λ). Uniforms are ``(w + ½) 2⁻³²`` from uint32 words ``w`` (never 0 or 1).
"""

import jax
import jax.numpy as jnp
import numpy as np

SMALL = 10.0  # below: inversion; at or above: PTRS
_MAX_INVERSION = 200  # P(X ≥ 200 | λ < 10) < 1e-150; guards only against rounding in F


def unit_open(word, dtype):
    """Uniform in (0, 1) from a uint32 word [...]: ``(w + ½) 2⁻³²``."""
    return (word.astype(dtype) + 0.5) * (2.0**-32)


def poisson_inversion(lam, word):
    """Poisson(λ) [...] (int32) by inversion of one uniform per entry; for ``λ < SMALL``."""
    u = unit_open(word, lam.dtype)
    p0 = jnp.exp(-lam)

    def cond(carry):
        k, _, cdf = carry
        return jnp.any((u > cdf) & (k < _MAX_INVERSION))

    def body(carry):
        k, p, cdf = carry
        going = (u > cdf) & (k < _MAX_INVERSION)
        k1 = k + 1
        p = jnp.where(going, p * lam / k1.astype(lam.dtype), p)
        return jnp.where(going, k1, k), p, jnp.where(going, cdf + p, cdf)

    k, _, _ = jax.lax.while_loop(cond, body, (jnp.zeros(lam.shape, jnp.int32), p0, p0))
    return k


_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)


def log_factorial(k):
    """``ln k!`` [...] for float ``k ≥ 0``: Stirling's series at ``x = k + 7`` (six terms,
    error below 1e-13) less ``ln((k+1)(k+2)…(k+6))``; cheaper than `jax.lax.lgamma`."""
    x = k + 7.0
    inv = 1.0 / x
    inv2 = inv * inv
    series = _STIRLING[-1]
    for c in reversed(_STIRLING[:-1]):
        series = series * inv2 + c
    shift = (k + 1.0) * (k + 2.0) * (k + 3.0) * (k + 4.0) * (k + 5.0) * (k + 6.0)
    return (x - 0.5) * jnp.log(x) - x + 0.5 * np.log(2 * np.pi) + series * inv - jnp.log(shift)


def poisson_ptrs(lam, word_u, word_v):
    """One PTRS candidate for Poisson(λ) [...] (``λ ≥ SMALL``). Returns ``(k, accepted)``:
    int32 and bool [...]; a rejected candidate must be replaced by one from fresh words."""
    dtype = lam.dtype
    u = unit_open(word_u, dtype) - 0.5
    v = unit_open(word_v, dtype)
    slam = jnp.sqrt(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    us = 0.5 - jnp.abs(u)
    k = jnp.floor((2.0 * a / us + b) * u + lam + 0.43)
    squeeze = (us >= 0.07) & (v <= vr)
    hopeless = (k < 0) | ((us < 0.013) & (v > us))
    log_ratio = jnp.log(v) + jnp.log(inv_alpha) - jnp.log(a / (us * us) + b)
    kk = jnp.maximum(k, 0.0)
    full = log_ratio <= -lam + kk * jnp.log(lam) - log_factorial(kk)
    accepted = squeeze | (~hopeless & full)
    return jnp.where(accepted, kk, 0.0).astype(jnp.int32), accepted


def poisson_candidate(lam, word_u, word_v):
    """A Poisson(λ) candidate [...] from two uint32 words per entry: ``(k, accepted)``;
    always accepted for ``λ < SMALL`` (inversion), PTRS above. ``λ = 0`` gives 0."""
    small = lam < SMALL
    k_small = poisson_inversion(jnp.where(small, lam, 0.0), word_u)
    k_large, accepted = poisson_ptrs(jnp.where(small, SMALL, lam), word_u, word_v)
    return jnp.where(small, k_small, k_large), small | accepted
