"""`RuleModel`: an ODE system with assignment rules, rate rules and events (what SBML needs).

The state ``y`` [S] holds every quantity that is integrated or changed by events: species
(as amounts, or as concentrations when a rate rule gives ``d[S]/dt``), and parameters,
compartment sizes and stoichiometries that are not constant. Constants are the parameter
vector ``θ`` [P]. Everything else — assignment rules, species concentrations, reaction rates —
is a *definition*, evaluated in dependency order from ``(t, y, θ)`` before the derivatives.

All math is a tuple AST (`msjax.model._sbml_math`), compiled to jnp at trace time, so the
structure is static and hashable while ``y`` and ``θ`` are traced.
"""

from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ModelError
from .._types import Array, Float, Params, Scalar, State
from ._conservation import left_null_space
from ._model import NamedParameters, _index
from ._sbml_math import Evaluator, Node
from ._sbml_vector import Values, evaluate, positions

ATOMS = "\0atoms"
VECTORISE_FROM = 64  # definitions
_JNP = Evaluator(jnp)
_NP = Evaluator(np)


class _LazyDefinitions(Mapping):
    """`RuleModel.lazy_env`: definitions evaluated on first read, then remembered."""

    def __init__(self, definitions: tuple[tuple[str, Node], ...], at: tuple):
        self._nodes = dict(definitions)
        self._at = at
        self._values: dict = {}

    def __getitem__(self, name):
        if name not in self._values:
            self._values[name] = _JNP(self._nodes[name], self, *self._at)
        return self._values[name]

    def __contains__(self, name):
        return name in self._nodes

    def __iter__(self):
        return iter(self._nodes)

    def __len__(self):
        return len(self._nodes)


class Event(eqx.Module):
    """An event without delay, as data.

    **Fields:** ``trigger`` (a boolean AST whose relations are ``("atom", i)`` leaves of the
    model's ``atoms``); ``priority`` (an AST or None); ``targets`` (state indices);
    ``values`` (ASTs of the new state values, one per target); ``persistent``;
    ``use_values_from_trigger_time``; ``initial_value`` (the trigger's value before ``t0``).
    """

    name: str
    trigger: Node
    priority: Node | None
    targets: tuple[int, ...]
    values: tuple[Node, ...]
    persistent: bool = True
    use_values_from_trigger_time: bool = True
    initial_value: bool = True


class RuleModel(NamedParameters, eqx.Module):
    """An ODE model ``dy/dt = f(t, y, θ)`` defined by definitions, derivatives and events.

    Built by `load_sbml` / `load_antimony`; runs under `msjax.simulate` with `msjax.ODE`.

    **Fields (static):** ``state_names`` [S]; ``parameter_names`` [P]; ``definitions``
    (``(name, AST)`` in evaluation order); ``derivatives`` (one AST per state);
    ``atoms`` (``(op, g)``: the relation ``g op 0`` with ``op`` in ``gt``/``geq``);
    ``switches`` (root functions ``g(t, θ)`` of the formulas' relations in time alone:
    `time_switches`);
    ``events``; ``species`` (``(name, amount AST, concentration AST)``) and ``symbols``
    (``(name, AST)`` of every other named quantity), read by `observe`.
    The reaction network, read by stochastic methods, `steady_state` and `timescales`:
    ``reaction_names`` [R] (each a definition: its kinetic law, amount per time);
    ``reactants``/``products`` [S][R] (coefficients on the state rows; zero rows for
    states that reactions do not change); ``network_rows`` [S] (states whose derivative is
    exactly ``Σ_r N_sr K_r``: species amounts without rate rules or conversion factors);
    ``network_problem``: why its reactions have no stochastic reading (events aside), or None.
    ``initial_definitions`` (``(name, AST)``: attributes, initial assignments and rules at t0,
    constants read from θ) and ``initial_scaling`` (per state: the compartment its value is
    multiplied by, or None), read by `initial_values`.
    **Fields (traced):** ``initial_state`` [S]; ``parameter_values`` [P].
    """

    state_names: tuple[str, ...] = eqx.field(static=True)
    parameter_names: tuple[str, ...] = eqx.field(static=True)
    definitions: tuple[tuple[str, Node], ...] = eqx.field(static=True)
    derivatives: tuple[Node, ...] = eqx.field(static=True)
    atoms: tuple[tuple[str, Node], ...] = eqx.field(static=True)
    switches: tuple[Node, ...] = eqx.field(static=True)
    events: tuple[Event, ...] = eqx.field(static=True)
    species: tuple[tuple[str, Node, Node], ...] = eqx.field(static=True)
    symbols: tuple[tuple[str, Node], ...] = eqx.field(static=True)
    reaction_names: tuple[str, ...] = eqx.field(static=True)
    reactants: tuple[tuple[float, ...], ...] = eqx.field(static=True)
    products: tuple[tuple[float, ...], ...] = eqx.field(static=True)
    network_rows: tuple[bool, ...] = eqx.field(static=True)
    network_problem: str | None = eqx.field(static=True)
    initial_definitions: tuple[tuple[str, Node], ...] = eqx.field(static=True)
    initial_scaling: tuple[str | None, ...] = eqx.field(static=True)
    initial_state: Float[Array, " states"]
    parameter_values: Float[Array, " params"]

    # --- the Model interface that simulate() and ODE read --------------------------------

    @property
    def species_names(self) -> tuple[str, ...]:
        """Names of the state columns (``Solution.ys``): species and integrated quantities."""
        return self.state_names

    @property
    def species_state_indices(self) -> tuple[int, ...]:
        """State columns that are species (non-negative); the others are integrated
        parameters or compartments, which may be negative."""
        species = {name for name, _, _ in self.species}
        return tuple(i for i, name in enumerate(self.state_names) if name in species)

    def species_index(self, name: str) -> int:
        """Index of a state variable."""
        return _index(self.state_names, name, "state variable")

    def initial_values(self, theta: Params) -> State:
        """The initial state [S] for parameters ``θ`` [P]: SBML's initial assignments (and
        rules and attributes they read) evaluated again, so that a state whose initial value
        depends on a parameter follows it. ``initial_values(parameter_values)`` equals
        ``initial_state``."""
        env: dict = {}
        for name, node in self.initial_definitions:
            env[name] = _JNP.num(_JNP(node, env, 0.0, None, theta))
        values = [
            env.get(name, 0.0) * (1.0 if volume is None else env[volume])
            for name, volume in zip(self.state_names, self.initial_scaling, strict=True)
        ]
        return jnp.stack([jnp.asarray(v, dtype=theta.dtype) for v in values])

    # --- the reaction network ------------------------------------------------------------

    @property
    def reactant_matrix(self) -> np.ndarray:
        """Reactant coefficients [S, R] on the state rows."""
        return _matrix(self.reactants, len(self.reaction_names))

    @property
    def product_matrix(self) -> np.ndarray:
        """Product coefficients [S, R] on the state rows."""
        return _matrix(self.products, len(self.reaction_names))

    @property
    def stoichiometry(self) -> np.ndarray:
        """``N = products − reactants`` [S, R]; rows of clamped states (boundary or constant
        species, states without a derivative) and of states outside the network are zero."""
        matrix = self.product_matrix - self.reactant_matrix
        matrix[~np.asarray(self.network_rows) | np.asarray(self.boundary, bool)] = 0
        return matrix

    @property
    def boundary(self) -> tuple[bool, ...]:
        """Per state [S]: clamped (its derivative is identically zero)."""
        return tuple(d == ("num", 0.0) for d in self.derivatives)

    @property
    def _integer_stoichiometry(self) -> bool:
        matrix = self.stoichiometry
        return bool(np.all(matrix == np.round(matrix)))

    @property
    def laws_complete(self) -> bool:
        """Whether `conservation_laws` holds every linear invariant of the dynamics: every
        state is a reaction-network row or clamped, and the stoichiometry is an integer (rate
        rules may conserve what the network does not show). Newton with these laws then has a
        non-singular Jacobian at an isolated steady state."""
        rows = np.asarray(self.network_rows) | np.asarray(self.boundary, bool)
        return bool(rows.all()) and self._integer_stoichiometry

    def conservation_laws(self) -> np.ndarray:
        """Integer basis ``L`` [K, S] of conserved sums of amounts among the network rows
        (none when a stoichiometry is not an integer); ``L · amounts(y)`` is constant between
        events."""
        rows = np.flatnonzero(np.asarray(self.network_rows) & ~np.asarray(self.boundary, bool))
        matrix = self.stoichiometry[rows]
        if not self._integer_stoichiometry:
            return np.zeros((0, len(self.state_names)), dtype=np.int64)
        laws = left_null_space(matrix.astype(np.int64))
        embedded = np.zeros((laws.shape[0], len(self.state_names)), dtype=np.int64)
        embedded[:, rows] = laws
        return embedded

    def amounts(self, y: Float[Array, "... states"]) -> Float[Array, "... states"]:
        """Amounts [..., S]: the state itself (species are integrated as amounts)."""
        return y

    def check_stochastic(self, *, events: bool = False) -> None:
        """Raise `ModelError` unless the model reads as a network of irreversible reactions
        whose kinetic laws are propensities in amounts (SBML's extensive convention), and,
        unless ``events`` (a method that executes them itself), has no events."""
        problem = self.network_problem
        if problem is None and self.events and not events:
            problem = f"it has events ({', '.join(e.name for e in self.events)})"
        if problem is not None:
            raise ModelError(f"no stochastic reading of this SBML model: {problem}")

    def propensities(
        self, n: Float[Array, " states"], theta: Params, omega=1.0, t: Scalar = 0.0
    ) -> Float[Array, " reactions"]:
        """Propensities [R] at counts ``n`` [S]: ``a_r = Ω K_r(n / Ω)``, the kinetic laws
        evaluated on amounts ``n / Ω`` (``Ω = 1``: the laws themselves, as in the DSMTS)."""
        self.check_stochastic(events=True)
        y = jnp.asarray(n, dtype=theta.dtype) / omega
        env = self._env(t, y, theta)
        return jnp.stack(
            [omega * jnp.asarray(_JNP.num(env[r]), dtype=theta.dtype) for r in self.reaction_names]
        )

    # --- numerics ------------------------------------------------------------------------

    @property
    def _vectorised(self) -> bool:
        """Large models evaluate their definitions by formula shape (`_sbml_vector`): a
        graph that grows with the shapes, not the reactions. Small ones compile and run
        faster as scalar code (measured on the PEtab benchmark models, ≤ 25 definitions)."""
        return len(self.definitions) >= VECTORISE_FROM

    def _env(self, t, y, theta, evaluator=_JNP) -> Mapping:
        """Name → value of every definition at ``(t, y, θ)``."""
        if evaluator is _JNP and self._vectorised:
            return Values(self.definitions, evaluate(self.definitions, t, y, theta))
        env: dict = {}
        for name, node in self.definitions:
            env[name] = evaluator(node, env, t, y, theta)
        return env

    def lazy_env(self, t, y, theta) -> Mapping:
        """Name → value of the definitions at ``(t, y, θ)``, each evaluated when first read
        (with the definitions it reads): a formula that reads two of them (an observable)
        traces only those, not every rate of the model. Large models: `_env`."""
        if self._vectorised:
            return self._env(t, y, theta)
        return _LazyDefinitions(self.definitions, (t, y, theta))

    def rhs(self, t: Scalar, y: State, theta: Params) -> Float[Array, " states"]:
        """``dy/dt`` [S]: the definitions, then one derivative per state variable (for large
        models, ``Σ_r N_sr K_r`` on the network rows as one scatter-add)."""
        if self._vectorised:
            return self._rhs_vectorised(t, y, theta)
        env = self._env(t, y, theta)
        values = [_JNP.num(_JNP(d, env, t, y, theta)) for d in self.derivatives]
        return jnp.stack([jnp.broadcast_to(jnp.asarray(v, dtype=y.dtype), ()) for v in values])

    @property
    def _derived_rows(self) -> tuple[int, ...]:
        """States whose derivative is not read off the stoichiometry: rate rules, conversion
        factors, variable stoichiometry (their derivative ASTs are evaluated)."""
        clamped = self.boundary
        return tuple(
            i
            for i, (row, fixed) in enumerate(zip(self.network_rows, clamped, strict=True))
            if not row and not fixed
        )

    def _rhs_vectorised(self, t, y, theta):
        derived = self._derived_rows
        extended = self.definitions + tuple((f"\0d{i}", self.derivatives[i]) for i in derived)
        values = evaluate(extended, t, y, theta)
        rates = np.asarray(self._rate_indices, dtype=np.int32)
        rows, reactions = np.nonzero(self.stoichiometry)
        coefficients = self.stoichiometry[rows, reactions].astype(np.float64)
        dydt = jnp.zeros_like(y)
        if rows.size:
            flux = jnp.asarray(coefficients, dtype=y.dtype) * values[rates[reactions]]
            dydt = dydt.at[rows].add(flux)
        if derived:
            positions = np.arange(len(self.definitions), len(extended))
            dydt = dydt.at[np.asarray(derived)].set(values[positions])
        return dydt

    @property
    def _rate_indices(self) -> list[int]:
        """Positions of the reactions' kinetic laws among the definitions [R]."""
        position = positions(self.definitions)
        return [position[r] for r in self.reaction_names]

    def jacobian(self, t: Scalar, y: State, theta: Params) -> Float[Array, "states states"]:
        """``∂(dy/dt)/∂y`` [S, S] by forward-mode autodiff."""
        return jax.jacfwd(self.rhs, argnums=1)(t, y, theta)

    def switch_times(self, theta: Params) -> Float[Array, " switches"]:
        """Instants [J] at which a relation of time alone in the formulas switches (a dose at
        a time, a stimulus switched off); +inf where one never does. `msjax.ODE` steps to
        each rather than across it."""
        if not self.switches:
            return jnp.zeros((0,), dtype=theta.dtype)

        def g(t):
            return jnp.stack(
                [jnp.asarray(_JNP.num(_JNP(s, {}, t, None, theta))) for s in self.switches]
            )

        start = g(jnp.zeros((), dtype=theta.dtype))
        slope = g(jnp.ones((), dtype=theta.dtype)) - start
        moving = slope != 0
        at = -start / jnp.where(moving, slope, 1.0)
        return jnp.where(moving & jnp.isfinite(at), at, jnp.inf).astype(theta.dtype)

    # --- events: the interface ODE's event loop reads --------------------------------------

    def event_roots(self, t: Scalar, y: State, theta: Params) -> Float[Array, " atoms"]:
        """Root functions ``g`` [A] of the triggers' relations (``g op 0``)."""
        env = self._env(t, y, theta)
        return jnp.stack(
            [jnp.asarray(_JNP.num(_JNP(g, env, t, y, theta)), dtype=y.dtype) for _, g in self.atoms]
        )

    def atom_values(self, g: Float[Array, " atoms"]) -> Array:
        """The relations' truth values [A] from their root functions."""
        geq = np.asarray([op == "geq" for op, _ in self.atoms])
        return jnp.where(geq, g >= 0, g > 0)

    def event_state(self, t, y, theta, atoms) -> tuple[Array, Array, Array]:
        """Trigger values [E] (bool), priorities [E] and assignment values [E, K] at ``(t, y)``."""
        env = self._env(t, y, theta)
        env[ATOMS] = atoms
        width = max((len(e.values) for e in self.events), default=0) or 1
        triggers, priorities, values = [], [], []
        for event in self.events:
            triggers.append(jnp.asarray(_JNP.truth(_JNP(event.trigger, env, t, y, theta))))
            priority = (
                -jnp.inf
                if event.priority is None
                else _JNP.num(_JNP(event.priority, env, t, y, theta))
            )
            priorities.append(jnp.asarray(priority, dtype=y.dtype))
            row = [
                jnp.asarray(_JNP.num(_JNP(v, env, t, y, theta)), dtype=y.dtype)
                for v in event.values
            ]
            row += [jnp.zeros((), dtype=y.dtype)] * (width - len(row))
            values.append(jnp.stack(row))
        return jnp.stack(triggers), jnp.stack(priorities), jnp.stack(values)

    def event_assign(self, index, values: Float[Array, " K"], y: State) -> State:
        """Apply event ``index``'s assignments (``values`` [K] computed beforehand) to ``y``."""

        def branch(event):
            def apply(values, y):
                for k, target in enumerate(event.targets):
                    y = y.at[target].set(values[k])
                return y

            return apply

        return jax.lax.switch(index, [branch(e) for e in self.events], values, y)

    # --- outputs ---------------------------------------------------------------------------

    def observe(
        self,
        ts,
        ys,
        theta=None,
        names: Sequence[str] | None = None,
        amounts: Sequence[str] | bool = (),
    ) -> np.ndarray:
        """Values [..., T, K] of named quantities along trajectories (NumPy, no compilation).

        **Arguments:** ``ts`` [T]; ``ys`` [..., T, S] (e.g. an ensemble [n, T, S]);
        ``theta`` [P] (default the model's);
        ``names``: species, parameters, compartments or reactions (default: all species);
        ``amounts``: species to report as amounts (``True``: all); the others are
        concentrations (species in SBML report in amounts when ``hasOnlySubstanceUnits``).
        """
        ts = np.asarray(ts, dtype=float)
        ys = np.asarray(ys, dtype=float)
        theta = np.asarray(self.parameter_values if theta is None else theta, dtype=float)
        env = self._env(ts, ys, theta, _NP)
        species = {name: (amount, conc) for name, amount, conc in self.species}
        symbols = dict(self.symbols)
        names = list(species) if names is None else list(names)
        columns = []
        with np.errstate(all="ignore"):
            for name in names:
                if name in species:
                    as_amount = amounts is True or (amounts is not False and name in amounts)
                    node = species[name][0 if as_amount else 1]
                elif name in symbols:
                    node = symbols[name]
                else:
                    raise ModelError(f"unknown output {name!r}")
                value = _NP.num(_NP(node, env, ts, ys, theta))
                columns.append(np.broadcast_to(np.asarray(value, dtype=float), ys.shape[:-1]))
        return np.stack(columns, axis=-1) if columns else np.zeros((*ys.shape[:-1], 0))


def _matrix(rows: tuple[tuple[float, ...], ...], n_reactions: int) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), n_reactions)
    return matrix.astype(np.int64) if np.all(matrix == np.round(matrix)) else matrix
