"""Observables: formulas of species, parameters and time, parsed by msjax's own parser."""

import equinox as eqx
import jax.numpy as jnp

from ..model._parse import evaluate_formula, formula_names, parse_formula
from ._errors import InferenceError
from ._noise import AbstractNoiseModel, Normal


class Observable(eqx.Module):
    """What is measured: ``y = formula(x, θ, t)`` with noise ``σ = noise(x, θ, t, y)``.

    **Arguments:**
    - ``formula``: e.g. ``"scale * (A + B)"`` — species (concentrations), model parameters,
      problem parameters, ``observableParameter{k}_{id}`` placeholders and ``time``/``t``.
    - ``noise``: formula of ``σ`` (a number, a parameter, ``noiseParameter1_{id}``, or a
      formula that may read the observable's own id); default ``"1"``.
    - ``noise_model``: a noise model (`Normal`, `Laplace`, `Poisson`, ...); default `Normal()`.

    A latent state is never measured directly: ``y`` is always this formula's value.

    **Example:** ``Observable("P_tot", "P + C", noise="sigma", noise_model=Normal("log"))``
    """

    id: str = eqx.field(static=True)
    formula: str = eqx.field(static=True)
    noise: str = eqx.field(static=True)
    noise_model: AbstractNoiseModel
    ast: tuple = eqx.field(static=True)
    noise_ast: tuple = eqx.field(static=True)

    def __init__(
        self,
        id: str,  # noqa: A002
        formula: str,
        noise: str | float = "1",
        noise_model: AbstractNoiseModel | None = None,
    ):
        self.id = id
        self.formula = str(formula)
        self.noise = str(noise)
        self.noise_model = Normal() if noise_model is None else noise_model
        try:
            self.ast = parse_formula(self.formula)
            self.noise_ast = parse_formula(self.noise)
        except Exception as error:
            raise InferenceError(f"observable {id!r}: {error}") from None

    def names(self) -> frozenset[str]:
        """Identifiers read by the formula and the noise formula (without the own id)."""
        return (formula_names(self.ast) | formula_names(self.noise_ast)) - {self.id}

    def placeholders(self, kind: str) -> int:
        """How many ``{kind}Parameter{k}_{id}`` placeholders the formulas use
        (kind: observable/noise)."""
        names = formula_names(self.ast) | formula_names(self.noise_ast)
        return max((self.placeholder(name, kind) or 0 for name in names), default=0)

    def placeholder(self, name: str, kind: str) -> int | None:
        """``k`` where ``name`` is this observable's ``{kind}Parameter{k}_{id}``, else None."""
        prefix, suffix = f"{kind}Parameter", f"_{self.id}"
        k = name[len(prefix) : -len(suffix)]
        return int(k) if name.startswith(prefix) and name.endswith(suffix) and k.isdigit() else None

    def evaluate(self, env, obs_params, noise_params):
        """``(y, σ)`` from an environment mapping and placeholder values [K], [Kn]."""
        env = _Layered(env)
        for k in range(obs_params.shape[0]):
            env.top[f"observableParameter{k + 1}_{self.id}"] = obs_params[k]
        for k in range(noise_params.shape[0]):
            env.top[f"noiseParameter{k + 1}_{self.id}"] = noise_params[k]
        value = jnp.asarray(evaluate_formula(self.ast, env))
        env.top[self.id] = value
        sigma = jnp.asarray(evaluate_formula(self.noise_ast, env))
        return value, sigma


class _Layered:
    """A mapping with a writable top layer over a read-only base."""

    def __init__(self, base):
        self.base = base
        self.top = {}

    def __getitem__(self, name):
        if name in self.top:
            return self.top[name]
        return self.base[name]
