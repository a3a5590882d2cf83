"""Noise models: the distribution of a measurement ``y`` given the simulated observable ``μ``.

Each model is an equinox module with ``log_prob(y, mu, sigma)`` (elementwise, any shape),
``residual(y, mu, sigma)`` (standardised, for Gauss–Newton: ``−log p = ½ r² + scale terms``)
and ``fisher(mu, sigma)``: the expected information per measurement about ``μ`` and about
``log σ``, used by `fisher_information`.
"""

import abc
import math

import equinox as eqx
import jax.numpy as jnp
import jax.scipy.special as jsp

from .._types import Array

_LOG_2PI = math.log(2.0 * math.pi)
_LN10 = math.log(10.0)


class AbstractNoiseModel(eqx.Module):
    """A measurement distribution ``p(y | μ, σ)``; subclasses are final."""

    @abc.abstractmethod
    def log_prob(self, y: Array, mu: Array, sigma: Array) -> Array:
        """``log p(y | μ, σ)``, elementwise."""

    @abc.abstractmethod
    def residual(self, y: Array, mu: Array, sigma: Array) -> Array:
        """Standardised residual ``r`` (``½ r²`` is the data term of ``−log p``)."""

    @abc.abstractmethod
    def fisher(self, mu: Array, sigma: Array) -> tuple[Array, Array]:
        """Expected Fisher information per measurement about ``μ`` and about ``log σ``."""

    @property
    def gaussian(self) -> bool:
        """Whether ``−log p = ½ r² + log σ + const`` (least squares applies exactly)."""
        return False


def _transform(x: Array, base: str) -> Array:
    return x if base == "lin" else jnp.log(x) if base == "log" else jnp.log10(x)


def _jacobian_log(y: Array, base: str) -> Array:
    """``log |d transform(y) / dy|``: the change of variables of a log-scale density."""
    if base == "lin":
        return jnp.zeros_like(y)
    return -jnp.log(y) if base == "log" else -jnp.log(y * _LN10)


class Normal(AbstractNoiseModel):
    """Gaussian noise on a scale: ``scale(y) ~ N(scale(μ), σ²)``, ``scale`` in lin, log, log10.

    ``Normal()`` is additive Gaussian noise; ``Normal("log")`` is log-normal (multiplicative)
    noise; the density is of ``y`` itself (with the Jacobian of the transform), as in PEtab.
    """

    scale: str = eqx.field(static=True, default="lin")

    def log_prob(self, y, mu, sigma):
        r = self.residual(y, mu, sigma)
        return -0.5 * _LOG_2PI - jnp.log(sigma) - 0.5 * r**2 + _jacobian_log(y, self.scale)

    def residual(self, y, mu, sigma):
        return (_transform(y, self.scale) - _transform(mu, self.scale)) / sigma

    def fisher(self, mu, sigma):
        dmu = (
            1.0 if self.scale == "lin" else 1.0 / mu if self.scale == "log" else 1.0 / (mu * _LN10)
        )
        return (dmu / sigma) ** 2, jnp.full_like(sigma, 2.0)

    @property
    def gaussian(self):
        return True


def LogNormal(base: str = "log") -> Normal:  # noqa: N802 (a constructor by name)
    """Log-normal noise: ``ln y ~ N(ln μ, σ²)`` (``base="log10"``: ``log10 y ~ N(log10 μ, σ²)``)."""
    return Normal(base)


class Laplace(AbstractNoiseModel):
    """Laplace noise on a scale: ``p = exp(−|scale(y) − scale(μ)| / σ) / (2σ)``."""

    scale: str = eqx.field(static=True, default="lin")

    def log_prob(self, y, mu, sigma):
        z = jnp.abs(_transform(y, self.scale) - _transform(mu, self.scale)) / sigma
        return -jnp.log(2.0 * sigma) - z + _jacobian_log(y, self.scale)

    def residual(self, y, mu, sigma):
        z = (_transform(y, self.scale) - _transform(mu, self.scale)) / sigma
        return jnp.sign(z) * jnp.sqrt(2.0 * jnp.abs(z))

    def fisher(self, mu, sigma):
        dmu = (
            1.0 if self.scale == "lin" else 1.0 / mu if self.scale == "log" else 1.0 / (mu * _LN10)
        )
        return (dmu / sigma) ** 2, jnp.ones_like(sigma)


class Poisson(AbstractNoiseModel):
    """Counts ``y ~ Poisson(μ)``; ``σ`` is ignored."""

    def log_prob(self, y, mu, sigma):
        del sigma
        return jsp.xlogy(y, mu) - mu - jsp.gammaln(y + 1.0)

    def residual(self, y, mu, sigma):
        del sigma
        # signed deviance residual: ½ r² = y log(y/μ) − (y − μ)
        d = 2.0 * (jsp.xlogy(y, y) - jsp.xlogy(y, mu) - (y - mu))
        return jnp.sign(y - mu) * jnp.sqrt(jnp.maximum(d, 0.0))

    def fisher(self, mu, sigma):
        return 1.0 / mu, jnp.zeros_like(mu)


class NegativeBinomial(AbstractNoiseModel):
    """Over-dispersed counts: mean ``μ``, dispersion ``r = σ`` (variance ``μ + μ²/r``)."""

    def log_prob(self, y, mu, sigma):
        r = sigma
        return (
            jsp.gammaln(y + r)
            - jsp.gammaln(r)
            - jsp.gammaln(y + 1.0)
            + r * jnp.log(r / (r + mu))
            + jsp.xlogy(y, mu / (r + mu))
        )

    def residual(self, y, mu, sigma):
        return (y - mu) / jnp.sqrt(mu + mu**2 / sigma)

    def fisher(self, mu, sigma):
        return sigma / (mu * (mu + sigma)), jnp.zeros_like(mu)


_PETAB = {"normal": Normal, "laplace": Laplace}


def noise_model_from_petab(distribution: str, transformation: str) -> AbstractNoiseModel:
    """The noise model of a PEtab observable (``noiseDistribution``,
    ``observableTransformation``)."""
    from .._errors import ModelError

    distribution = (distribution or "normal").strip()
    transformation = (transformation or "lin").strip()
    if distribution not in _PETAB or transformation not in ("lin", "log", "log10"):
        raise ModelError(
            f"unsupported noise model {distribution!r} with transformation {transformation!r}"
        )
    return _PETAB[distribution](transformation)
