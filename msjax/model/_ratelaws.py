"""Rate laws: each gives a reaction's velocity (concentration per time) from named values."""

import abc
from collections.abc import Callable, Mapping

import equinox as eqx

from .._errors import ModelError
from ._parse import evaluate_formula, formula_names, parse_formula


class AbstractRateLaw(eqx.Module):
    """A reaction velocity ``v(env)``, in concentration per time of the reaction's compartment.

    ``env`` maps every species (concentration), parameter, compartment (volume) and ``time``
    to a scalar. ``reactants``/``products`` are the reaction's ``{species: coefficient}``.
    """

    @abc.abstractmethod
    def names(self) -> frozenset[str] | None:
        """Identifiers the law reads, or None when it cannot tell (a Python callable)."""

    @abc.abstractmethod
    def __call__(self, env: Mapping, reactants: Mapping[str, int], products: Mapping[str, int]):
        """The velocity, a scalar."""


def _mass_action_term(env: Mapping, k: str, species: Mapping[str, int]):
    rate = env[k]
    for name, coefficient in species.items():
        rate = rate * env[name] ** coefficient
    return rate


class MassAction(AbstractRateLaw):
    """Mass action, ``v = kf Π [R]^m − kr Π [P]^m`` (the reverse term only when ``reverse``).

    **Arguments:** ``forward``, ``reverse``: names of rate-constant parameters.

    A reversible mass-action reaction is split by `Model` into two irreversible channels, so
    that its stochastic propensities are exact.
    """

    forward: str
    reverse: str | None = None

    def names(self) -> frozenset[str]:
        return frozenset(n for n in (self.forward, self.reverse) if n is not None)

    def __call__(self, env, reactants, products):
        rate = _mass_action_term(env, self.forward, reactants)
        if self.reverse is not None:
            rate = rate - _mass_action_term(env, self.reverse, products)
        return rate


class MichaelisMenten(AbstractRateLaw):
    """Michaelis–Menten, ``v = vmax [S] / (km + [S])`` (Michaelis & Menten 1913).

    **Arguments:** ``vmax``, ``km``: parameter names; ``substrate``: a species name (default:
    the reaction's only reactant).
    """

    vmax: str
    km: str
    substrate: str | None = None

    def names(self) -> frozenset[str]:
        return frozenset(n for n in (self.vmax, self.km, self.substrate) if n is not None)

    def __call__(self, env, reactants, products):
        substrate = env[_only_reactant(self.substrate, reactants, "MichaelisMenten")]
        return env[self.vmax] * substrate / (env[self.km] + substrate)


class Hill(AbstractRateLaw):
    """Hill activation ``vmax xⁿ/(Kⁿ + xⁿ)``, or repression ``vmax Kⁿ/(Kⁿ + xⁿ)`` (Hill 1910).

    **Arguments:** ``vmax``, ``k``, ``n``: parameter names; ``species``: the regulator (default:
    the reaction's only reactant); ``repressor``: repression instead of activation.
    """

    vmax: str
    k: str
    n: str
    species: str | None = None
    repressor: bool = False

    def names(self) -> frozenset[str]:
        return frozenset(x for x in (self.vmax, self.k, self.n, self.species) if x is not None)

    def __call__(self, env, reactants, products):
        x = env[_only_reactant(self.species, reactants, "Hill")]
        kn = env[self.k] ** env[self.n]
        xn = x ** env[self.n]
        return env[self.vmax] * (kn if self.repressor else xn) / (kn + xn)


class Formula(AbstractRateLaw):
    """A formula string such as ``"kcat*E*S/(Km+S)"``, parsed by our own parser (never eval).

    Knows ``+ - * / ^ **``, parentheses, and exp, log/ln, log10, sqrt, abs, sin, cos, tan,
    tanh, min, max, pow.
    """

    text: str
    ast: tuple

    def __init__(self, text: str):
        self.text = text
        self.ast = parse_formula(text)

    def names(self) -> frozenset[str]:
        return formula_names(self.ast)

    def __call__(self, env, reactants, products):
        return evaluate_formula(self.ast, env)


class Custom(AbstractRateLaw):
    """Any jnp callable ``fn(x, p)``; ``x`` maps species to concentrations, ``p`` maps
    parameters and compartments (and ``time``) to values. Example: ``lambda x, p: p["k"] * x["A"]``.
    """

    fn: Callable

    def names(self) -> None:
        return None

    def __call__(self, env, reactants, products):
        return self.fn(env.species, env.others)


def _only_reactant(name: str | None, reactants: Mapping[str, int], law: str) -> str:
    if name is not None:
        return name
    if len(reactants) != 1:
        raise ModelError(
            f"{law} needs a species name when a reaction has {len(reactants)} reactants"
        )
    return next(iter(reactants))


def as_rate_law(rate) -> AbstractRateLaw:
    """Normalise what a user gives as a rate: a law, a formula string or a callable."""
    if isinstance(rate, AbstractRateLaw):
        return rate
    if isinstance(rate, str):
        return Formula(rate)
    if callable(rate):
        return Custom(rate)
    raise ModelError(f"a rate must be a rate law, a formula string or a callable, got {rate!r}")
