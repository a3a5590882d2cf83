"""`Model`: a reaction network with rate laws; static structure, traced numbers."""

from collections.abc import Iterable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ModelError
from .._types import Array, Float, Params, Scalar, State
from ._conservation import left_null_space
from ._parse import parse_equation
from ._ratelaws import AbstractRateLaw, MassAction, as_rate_law

DEFAULT_COMPARTMENT = "default"
TIME = "time"


class Species(eqx.Module):
    """A species: its initial value, compartment, and whether it is clamped.

    **Arguments:** ``name``; ``initial`` (a concentration, or an amount when ``amount=True``);
    ``compartment``; ``boundary``: clamped at its initial value (a boundary condition).
    """

    name: str
    initial: float = 0.0
    compartment: str = DEFAULT_COMPARTMENT
    amount: bool = False
    boundary: bool = False


class Reaction(eqx.Module):
    """A reaction: stoichiometry and a rate law.

    **Arguments:**
    - ``equation``: ``"2 A + B -> C"``, or ``"A <-> B"`` for a reversible reaction; or leave it
      out and give ``reactants``/``products`` as ``{species: coefficient}`` dicts.
    - ``rate``: a rate law (`MassAction`, `MichaelisMenten`, `Hill`, `Formula`, `Custom`), a
      formula string (``"kcat*E*S/(Km+S)"``) or a callable ``f(x, p)``.
    - ``name``: defaults to ``R1``, ``R2``, ... by position.
    - ``compartment``: where the rate law's concentrations live (default: the compartment of
      the first reactant, else of the first product).
    """

    reactants: dict[str, int]
    products: dict[str, int]
    rate: AbstractRateLaw
    reversible: bool = False
    name: str | None = None
    compartment: str | None = None

    def __init__(
        self,
        equation: str | None = None,
        rate=None,
        *,
        reactants: Mapping[str, int] | None = None,
        products: Mapping[str, int] | None = None,
        reversible: bool = False,
        name: str | None = None,
        compartment: str | None = None,
    ):
        where = f"reaction {name or equation or ''!s}".strip()
        if equation is not None:
            if reactants is not None or products is not None:
                raise ModelError(f"{where}: give an equation or reactants/products, not both")
            reactants, products, reversible = parse_equation(equation)
        for side in (reactants or {}, products or {}):
            for species, coefficient in side.items():
                if int(coefficient) != coefficient or coefficient <= 0:
                    raise ModelError(
                        f"{where}: coefficient of {species} must be a positive integer"
                    )
        if rate is None:
            raise ModelError(f"{where}: no rate law given")
        self.reactants = {s: int(c) for s, c in (reactants or {}).items()}
        self.products = {s: int(c) for s, c in (products or {}).items()}
        self.rate = as_rate_law(rate)
        self.reversible = reversible
        self.name = name
        self.compartment = compartment


class _Env(Mapping):
    """Name → value view of one state, read lazily (only the names a rate law uses are sliced
    out of the arrays) and cached; unknown names are reported as a `ModelError`."""

    def __init__(self, model: "Model", t, x, theta):
        self._arrays = {"species": x, "parameter": theta, "compartment": model.volumes}
        self._kind_of = model._name_kinds
        self._cache = {TIME: t}
        self.where = "a rate law"
        self.species = _View(self, "species")
        self.others = _View(self, "parameter", "compartment", TIME)

    def __getitem__(self, name):
        if name not in self._cache:
            try:
                kind, index = self._kind_of[name]
            except KeyError:
                raise ModelError(f"{self.where} reads unknown name {name!r}") from None
            self._cache[name] = self._arrays[kind][index]
        return self._cache[name]

    def __iter__(self):
        return iter((*self._kind_of, TIME))

    def __len__(self):
        return len(self._kind_of) + 1


class _View(Mapping):
    """The part of an `_Env` of some kinds (species; or parameters, compartments and time)."""

    def __init__(self, env: _Env, *kinds: str):
        self._env = env
        self._names = [n for n, (k, _) in env._kind_of.items() if k in kinds]
        self._names += [TIME] if TIME in kinds else []

    def __getitem__(self, name):
        if name not in self._names:
            raise ModelError(f"{self._env.where} reads unknown name {name!r}")
        return self._env[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)


class _Channel(eqx.Module):
    """One irreversible (or net, for a reversible general law) reaction, names resolved."""

    name: str
    reactants: dict[str, int]
    products: dict[str, int]
    rate: AbstractRateLaw
    compartment: str
    net: bool  # a reversible general rate law: a net velocity, no stochastic meaning


def _as_species(species) -> list[Species]:
    if isinstance(species, Mapping):
        return [Species(name, float(value)) for name, value in species.items()]
    return [s if isinstance(s, Species) else Species(*s) for s in species]


def _split_reversible(reaction: Reaction, name: str) -> list[_Channel]:
    compartment = reaction.compartment
    law = reaction.rate
    if reaction.reversible and isinstance(law, MassAction) and law.reverse is not None:
        return [
            _Channel(
                name,
                reaction.reactants,
                reaction.products,
                MassAction(law.forward),
                compartment,
                False,
            ),
            _Channel(
                f"{name}_reverse",
                reaction.products,
                reaction.reactants,
                MassAction(law.reverse),
                compartment,
                False,
            ),
        ]
    if reaction.reversible and isinstance(law, MassAction):
        raise ModelError(f"reversible reaction {name} needs MassAction(forward, reverse)")
    return [
        _Channel(name, reaction.reactants, reaction.products, law, compartment, reaction.reversible)
    ]


def _check_unique(kind: str, names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise ModelError(f"{kind} {name!r} is defined twice")
        seen.add(name)


class NamedParameters:
    """Parameter look-ups by name, shared by `Model` and `RuleModel`; they read
    ``parameter_names`` and ``parameter_values``."""

    def parameter_index(self, name: str) -> int:
        """Index of a parameter in parameter vectors."""
        return _index(self.parameter_names, name, "parameter")

    def parameters(self, **overrides: float) -> Float[Array, " params"]:
        """The parameter vector [P] (ordered as ``parameter_names``), with overrides by name."""
        theta = self.parameter_values
        for name, value in overrides.items():
            theta = theta.at[self.parameter_index(name)].set(value)
        return theta

    def parameter_dict(self, theta: Params) -> dict[str, Scalar]:
        """``{name: value}`` of a parameter vector [P]."""
        return dict(zip(self.parameter_names, theta, strict=True))


class Model(NamedParameters, eqx.Module):
    """A reaction network ``dx/dt = N v(x, θ)`` with rate laws, compartments and parameters.

    Structure (names, stoichiometry, rate laws) is static; initial state, parameter values and
    volumes are arrays, so they can be traced, batched and differentiated.

    **Arguments:**
    - ``species``: ``{name: initial concentration}`` or a list of `Species`.
    - ``reactions``: a list of `Reaction`. Reversible mass-action reactions become two
      irreversible reactions (``R`` and ``R_reverse``), so stochastic methods stay exact.
    - ``parameters``: ``{name: default value}``.
    - ``compartments``: ``{name: volume}``; a compartment ``"default"`` of volume 1 exists
      when none is given.

    State is concentrations; a rate law gives concentration per time in its reaction's
    compartment, so ``dx_s/dt = Σ_r N_sr V_r v_r / V_s`` (the COPASI convention).

    **Example:**
    ```python
    model = msjax.Model(
        species={"A": 1.0, "B": 0.0},
        reactions=[msjax.Reaction("A <-> B", msjax.MassAction("kf", "kr"))],
        parameters={"kf": 2.0, "kr": 1.0},
    )
    ```
    """

    species_names: tuple[str, ...] = eqx.field(static=True)
    parameter_names: tuple[str, ...] = eqx.field(static=True)
    compartment_names: tuple[str, ...] = eqx.field(static=True)
    reaction_names: tuple[str, ...] = eqx.field(static=True)
    species_compartments: tuple[int, ...] = eqx.field(static=True)
    boundary: tuple[bool, ...] = eqx.field(static=True)
    channels: tuple[_Channel, ...] = eqx.field(static=True)
    reaction_compartments: tuple[int, ...] = eqx.field(static=True)
    initial_state: Float[Array, " species"]
    parameter_values: Float[Array, " params"]
    volumes: Float[Array, " compartments"]

    def __init__(
        self,
        species,
        reactions: Iterable[Reaction],
        parameters: Mapping[str, float] | None = None,
        compartments: Mapping[str, float] | None = None,
    ):
        species = _as_species(species)
        parameters = dict(parameters or {})
        compartments = dict(compartments or {DEFAULT_COMPARTMENT: 1.0})
        names = [s.name for s in species]
        _check_unique("species", names)
        for kind, group in (("parameter", parameters), ("compartment", compartments)):
            for name in group:
                if name in names or name == TIME:
                    raise ModelError(f"{kind} {name!r} clashes with another name")
            names.extend(group)
        _check_unique("name", names)
        for name, volume in compartments.items():
            if not volume > 0:
                raise ModelError(f"compartment {name!r} must have a positive volume, got {volume}")
        for s in species:
            if s.compartment not in compartments:
                raise ModelError(f"species {s.name!r} is in unknown compartment {s.compartment!r}")
            if not s.initial >= 0:
                raise ModelError(f"species {s.name!r} has a negative initial value {s.initial}")

        self.species_names = tuple(s.name for s in species)
        self.parameter_names = tuple(parameters)
        self.compartment_names = tuple(compartments)
        self.species_compartments = tuple(
            self.compartment_names.index(s.compartment) for s in species
        )
        self.boundary = tuple(s.boundary for s in species)
        channels = []
        for i, reaction in enumerate(reactions):
            name = reaction.name or f"R{i + 1}"
            channels.extend(_split_reversible(self._with_compartment(reaction, name), name))
        _check_unique("reaction", [c.name for c in channels])
        self.channels = tuple(channels)
        self.reaction_names = tuple(c.name for c in channels)
        self.reaction_compartments = tuple(
            self.compartment_names.index(c.compartment) for c in channels
        )
        volume_of = {s.name: compartments[s.compartment] for s in species}
        self.initial_state = jnp.asarray(
            [s.initial / volume_of[s.name] if s.amount else s.initial for s in species],
            dtype=float,
        )
        self.parameter_values = jnp.asarray(list(parameters.values()), dtype=float)
        self.volumes = jnp.asarray(list(compartments.values()), dtype=float)
        self._validate_rate_laws()

    def _with_compartment(self, reaction: Reaction, name: str) -> Reaction:
        for species in (*reaction.reactants, *reaction.products):
            if species not in self.species_names:
                raise ModelError(f"reaction {name} names unknown species {species!r}")
        if reaction.compartment is not None:
            if reaction.compartment not in self.compartment_names:
                raise ModelError(
                    f"reaction {name} is in unknown compartment {reaction.compartment!r}"
                )
            return reaction
        first = next(iter({**reaction.reactants, **reaction.products}), None)
        compartment = (
            self.compartment_names[self.species_compartments[self.species_names.index(first)]]
            if first is not None
            else self.compartment_names[0]
        )
        return eqx.tree_at(
            lambda r: r.compartment, reaction, compartment, is_leaf=lambda x: x is None
        )

    def _validate_rate_laws(self) -> None:
        known = {*self.species_names, *self.parameter_names, *self.compartment_names, TIME}
        for channel in self.channels:
            names = channel.rate.names()
            unknown = sorted(names - known) if names is not None else []
            if unknown:
                raise ModelError(
                    f"rate law of reaction {channel.name} uses unknown name(s) {unknown}"
                )
        # Trace every law once (no FLOPs): catches unknown names in callables, bad shapes.
        jax.eval_shape(self.rates, 0.0, self.initial_state, self.parameter_values)

    # --- names and indices -------------------------------------------------------------

    @property
    def species_state_indices(self) -> tuple[int, ...]:
        """State columns that are species, which must stay non-negative: all of them."""
        return tuple(range(len(self.species_names)))

    def species_index(self, name: str) -> int:
        """Index of a species in state vectors."""
        return _index(self.species_names, name, "species")

    # --- structure -----------------------------------------------------------------------

    @property
    def reactant_matrix(self) -> np.ndarray:
        """Reactant coefficients [S, R] (integers)."""
        return self._side_matrix("reactants")

    @property
    def product_matrix(self) -> np.ndarray:
        """Product coefficients [S, R] (integers)."""
        return self._side_matrix("products")

    def _side_matrix(self, side: str) -> np.ndarray:
        matrix = np.zeros((len(self.species_names), len(self.channels)), dtype=np.int64)
        for r, channel in enumerate(self.channels):
            for species, coefficient in getattr(channel, side).items():
                matrix[self.species_index(species), r] = coefficient
        return matrix

    @property
    def stoichiometry(self) -> np.ndarray:
        """``N = products − reactants`` [S, R], with boundary (clamped) species' rows zero."""
        matrix = self.product_matrix - self.reactant_matrix
        matrix[np.asarray(self.boundary, dtype=bool)] = 0
        return matrix

    def conservation_laws(self) -> np.ndarray:
        """Integer basis ``L`` [K, S] of the left null space of ``N``: ``L · amounts`` is constant.

        Boundary species are excluded (their columns are zero); they are clamped, not conserved.
        """
        dynamic = [i for i, b in enumerate(self.boundary) if not b]
        laws = left_null_space(self.stoichiometry[dynamic])
        embedded = np.zeros((laws.shape[0], len(self.species_names)), dtype=np.int64)
        embedded[:, dynamic] = laws
        return embedded

    def amounts(self, x: Float[Array, "... species"]) -> Float[Array, "... species"]:
        """Amounts (concentration × volume) of a state [..., S]."""
        return x * self.volumes[np.asarray(self.species_compartments)]

    def conserved_totals(self, x: Float[Array, "... species"]) -> Float[Array, "... laws"]:
        """Totals ``L · amounts(x)`` [..., K] of the conservation laws."""
        return self.amounts(x) @ jnp.asarray(self.conservation_laws().T, dtype=x.dtype)

    # --- numerics ------------------------------------------------------------------------

    @property
    def _name_kinds(self) -> dict[str, tuple[str, int]]:
        kinds = {}
        for kind, names in (
            ("species", self.species_names),
            ("parameter", self.parameter_names),
            ("compartment", self.compartment_names),
        ):
            kinds.update({name: (kind, i) for i, name in enumerate(names)})
        return kinds

    @property
    def _one_compartment(self) -> bool:
        """All species and reactions share one compartment: volumes cancel in the rhs."""
        return len({*self.species_compartments, *self.reaction_compartments}) <= 1

    def _rate_list(self, t, x, theta) -> list:
        env = _Env(self, t, x, theta)
        rates = []
        for channel in self.channels:
            env.where = f"rate law of reaction {channel.name}"
            rate = channel.rate(env, channel.reactants, channel.products)
            rates.append(jnp.asarray(rate, dtype=x.dtype))
        return rates

    def rates(self, t: Scalar, x: State, theta: Params) -> Float[Array, " reactions"]:
        """Reaction velocities ``v(x, θ)`` [R], concentration per time in each compartment."""
        rates = self._rate_list(t, x, theta)
        return jnp.stack(rates) if rates else jnp.zeros((0,), dtype=x.dtype)

    def rhs(self, t: Scalar, x: State, theta: Params) -> Float[Array, " species"]:
        """The vector field ``dx/dt = Σ_r N_sr V_r v_r / V_s`` [S].

        Written out as sums over each species' non-zero stoichiometry (a small traced graph,
        which matters for the per-step cost of solvers); volumes are skipped when there is
        one compartment.
        """
        flux = self._rate_list(t, x, theta)
        if not self._one_compartment:
            flux = [
                f * self.volumes[c] for f, c in zip(flux, self.reaction_compartments, strict=True)
            ]
        zero = jnp.zeros((), dtype=x.dtype)
        dxdt = []
        for row in self.stoichiometry:
            terms = [flux[r] * int(row[r]) if row[r] != 1 else flux[r] for r in np.flatnonzero(row)]
            dxdt.append(sum(terms[1:], terms[0]) if terms else zero)
        dxdt = jnp.stack(dxdt)
        if self._one_compartment:
            return dxdt
        return dxdt / self.volumes[np.asarray(self.species_compartments)]

    def jacobian(self, t: Scalar, x: State, theta: Params) -> Float[Array, "species species"]:
        """``∂(dx/dt)/∂x`` [S, S], exact by forward-mode autodiff."""
        return jax.jacfwd(self.rhs, argnums=1)(t, x, theta)

    def check_stochastic(self) -> None:
        """Raise `ModelError` unless every reaction has a stochastic reading (an irreversible
        channel, not a net rate law of a reversible reaction)."""
        for channel in self.channels:
            if channel.net:
                raise ModelError(
                    f"reaction {channel.name} is reversible with a net rate law; stochastic "
                    "methods need two irreversible reactions (or MassAction(forward, reverse))"
                )
        if not self.channels:
            raise ModelError("the model has no reactions to simulate stochastically")

    def propensities(
        self,
        n: Float[Array, " species"],
        theta: Params,
        omega: float | Scalar = 1.0,
        t: Scalar = 0.0,
    ) -> Float[Array, " reactions"]:
        """Stochastic propensities [R] (events per time) at molecule counts ``n`` [S].

        Counts are ``n_s = Ω V_s x_s``. Mass action is combinatorial,
        ``a = k (Ω V_r)^(1−order) Π n(n−1)…(n−m+1)`` (so ``2A →`` gives ``k n(n−1)/Ω``), which
        agrees with the ODE as Ω → ∞; other laws give ``a = Ω V_r v(n / (Ω V_s))``.
        """
        n = jnp.asarray(n, dtype=theta.dtype)
        size = omega * self.volumes
        x = n / size[np.asarray(self.species_compartments)]
        env = _Env(self, t, x, theta)
        self.check_stochastic()
        propensities = []
        for channel, c in zip(self.channels, self.reaction_compartments, strict=True):
            env.where = f"rate law of reaction {channel.name}"
            if isinstance(channel.rate, MassAction):
                order = sum(channel.reactants.values())
                a = env[channel.rate.forward] * size[c] ** (1 - order)
                for species, m in channel.reactants.items():
                    count = n[self.species_index(species)]
                    for i in range(m):
                        a = a * (count - i)
            else:
                a = size[c] * channel.rate(env, channel.reactants, channel.products)
            propensities.append(jnp.asarray(a, dtype=theta.dtype))
        return jnp.stack(propensities)


def _index(names: tuple[str, ...], name: str, kind: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        raise ModelError(f"unknown {kind} {name!r}; known: {list(names)}") from None
