"""`load_sbml`: SBML Level 2/3 → `RuleModel`, on python-libsbml (imported lazily).

SBML semantics, as translated here:

- species are integrated as **amounts** ``n``: ``dn_s/dt = c_s Σ_r σ_sr K_r``, with ``K_r``
  the kinetic law (extent per time, SBML's extensive convention), ``σ`` the stoichiometry
  (a number or a symbol) and ``c_s`` the conversion factor. A species symbol in math is its
  concentration ``n / V`` unless ``hasOnlySubstanceUnits``; so changing compartment sizes
  dilute concentrations and keep amounts;
- a rate rule on a (non-``hasOnlySubstanceUnits``) species integrates its concentration;
- assignment rules and kinetic laws are definitions evaluated in dependency order;
- initial values: attributes, then initial assignments and assignment rules, in dependency
  order, at load time;
- events without delay: triggers' relations become root functions (see `msjax.ODE`).

Anything else raises `SBMLError` naming the feature and the element.
"""

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from .._errors import SBMLError
from ._sbml_math import (
    Evaluator,
    MathTranslator,
    Node,
    is_boolean,
    names_in,
    relations,
    substitute,
    time_switches,
)
from ._sbml_model import Event, RuleModel

_NP = Evaluator(np)
# Packages that do not change a simulation: extended math is core math, layout is drawing.
_IGNORED_PACKAGES = {"l3v2extendedmath", "layout", "render"}
_NAN = float("nan")


def load_sbml(source) -> RuleModel:
    """Load an SBML model (Level 2 or 3) from a file path or an XML string.

    **Arguments:** ``source``: a path (``str`` or `os.PathLike`), or the document itself as a
    string starting with ``<``.

    **Returns:** a `RuleModel` for `msjax.simulate` with `msjax.ODE`, and — when it reads as a
    network of irreversible reactions without events or rate rules on species — with
    `msjax.Gillespie`, `msjax.TauLeap` and `msjax.CLE` (kinetic laws are the propensities in
    amounts) and `msjax.steady_state`. Its state holds species amounts (see
    `RuleModel.observe` for amounts or concentrations).

    Raises `SBMLError` for a missing file, malformed XML, undefined identifiers, and every
    feature not supported (algebraic rules, delays, fast reactions, packages, ...).

    **Example:** ``model = msjax.load_sbml("model.xml")``
    """
    document, where = _read(source)
    return _Builder(document.getModel(), document.getLevel(), where).build()


def _read(source):
    import libsbml

    if isinstance(source, bytes):
        source = source.decode()
    if isinstance(source, os.PathLike) or not str(source).lstrip().startswith("<"):
        path = Path(source)
        if not path.is_file():
            raise SBMLError(f"SBML file not found: {path}")
        document = libsbml.readSBMLFromFile(str(path))
        where = str(path)
    else:
        document = libsbml.readSBMLFromString(source)
        where = "SBML string"
    errors = [
        document.getError(i)
        for i in range(document.getNumErrors())
        if document.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
    ]
    if errors:
        messages = "; ".join(f"line {e.getLine()}: {e.getMessage().strip()}" for e in errors[:5])
        raise SBMLError(f"{where}: invalid SBML: {messages}")
    if document.getModel() is None:
        raise SBMLError(f"{where}: the document has no model")
    for i in range(document.getNumPlugins()):
        package = document.getPlugin(i).getPackageName()
        if package not in _IGNORED_PACKAGES and document.isPackageEnabled(package):
            raise SBMLError(f"{where}: unsupported feature: the SBML package {package!r}")
    return document, where


def _topological(definitions: Mapping[str, Node], what: str) -> list[str]:
    """Order of definitions so that each comes after the definitions it reads."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]):
        mark = state.get(name)
        if mark == 2:
            return
        if mark == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise SBMLError(f"unsupported feature: a cycle among {what}: {cycle}")
        state[name] = 1
        for dep in sorted(names_in(definitions[name])):
            if dep in definitions:
                visit(dep, [*path, name])
        state[name] = 2
        order.append(name)

    for name in definitions:
        visit(name, [])
    return order


class _Builder:
    def __init__(self, model, level: int, where: str):
        self.m = model
        self.level = level
        self.where = where

    # --- helpers -------------------------------------------------------------------------

    def _math(self, ast, where: str) -> Node:
        return self.translator.translate(ast, where)

    def _check_names(self, node: Node, where: str, extra=()) -> None:
        unknown = sorted(names_in(node) - self.known - set(extra))
        if unknown:
            raise SBMLError(f"{where}: undefined id(s) {unknown} in its math")

    # --- build ---------------------------------------------------------------------------

    def build(self) -> RuleModel:
        m = self.m
        self._refuse_unsupported()
        functions = {}
        for fd in m.getListOfFunctionDefinitions():
            args = tuple(fd.getArgument(i).getName() for i in range(fd.getNumArguments()))
            functions[fd.getId()] = (args, fd.getBody())
        self.translator = MathTranslator(functions)
        self._collect()
        self._classify()
        self._initial_values()
        return self._assemble()

    def _refuse_unsupported(self) -> None:
        m = self.m
        for i, rule in enumerate(m.getListOfRules()):
            if rule.isAlgebraic():
                name = rule.getIdAttribute() or rule.getMetaId() or f"number {i + 1} in the list"
                raise SBMLError(f"unsupported feature: algebraic rule (id {name})")
        for reaction in m.getListOfReactions():
            if reaction.isSetFast() and reaction.getFast():
                raise SBMLError(f"unsupported feature: fast reaction {reaction.getId()!r}")
            for ref in (*reaction.getListOfReactants(), *reaction.getListOfProducts()):
                if hasattr(ref, "isSetStoichiometryMath") and ref.isSetStoichiometryMath():
                    raise SBMLError(
                        f"unsupported feature: stoichiometryMath in reaction {reaction.getId()!r}"
                    )
        for event in m.getListOfEvents():
            if event.isSetDelay():
                raise SBMLError(f"unsupported feature: event delay (event {event.getId()!r})")

    def _collect(self) -> None:
        m = self.m
        self.compartments = {}
        for c in m.getListOfCompartments():
            dims = c.getSpatialDimensionsAsDouble() if self.level >= 3 else c.getSpatialDimensions()
            size = c.getSize() if c.isSetSize() else _NAN
            self.compartments[c.getId()] = dict(
                size=size, constant=c.getConstant(), zero_d=dims == 0
            )
        self.species = {}
        for s in m.getListOfSpecies():
            self.species[s.getId()] = dict(
                compartment=s.getCompartment(),
                amount=s.getInitialAmount() if s.isSetInitialAmount() else None,
                concentration=(
                    s.getInitialConcentration() if s.isSetInitialConcentration() else None
                ),
                hosu=s.getHasOnlySubstanceUnits(),
                boundary=s.getBoundaryCondition(),
                constant=s.getConstant(),
                conversion=(
                    s.getConversionFactor()
                    if self.level >= 3 and s.isSetConversionFactor()
                    else None
                ),
            )
        self.parameters = {
            p.getId(): dict(
                value=p.getValue() if p.isSetValue() else _NAN, constant=p.getConstant()
            )
            for p in m.getListOfParameters()
        }
        self.model_conversion = (
            m.getConversionFactor() if self.level >= 3 and m.isSetConversionFactor() else None
        )
        self.references = {}  # species-reference id -> {value, constant}
        self.reactions = []
        for r in m.getListOfReactions():
            rid = r.getId()
            where = f"reaction {rid!r}"
            law = r.getKineticLaw() if r.isSetKineticLaw() else None
            if law is None or not law.isSetMath():
                raise SBMLError(f"{where} has no kinetic law math")
            local = {}
            for plist in (
                law.getListOfLocalParameters() if self.level >= 3 else [],
                law.getListOfParameters(),
            ):
                for p in plist:
                    if not p.isSetValue():
                        raise SBMLError(
                            f"unsupported feature: local parameter {p.getId()!r} of {where} "
                            "has no value"
                        )
                    local[p.getId()] = p.getValue()
            stoich = []
            for sign, refs in ((-1.0, r.getListOfReactants()), (1.0, r.getListOfProducts())):
                for ref in refs:
                    value = ref.getStoichiometry()
                    if self.level >= 3 and not ref.isSetStoichiometry():
                        value = _NAN
                    ref_id = ref.getId() if ref.isSetId() else None
                    if ref_id:
                        constant = ref.getConstant() if self.level >= 3 else True
                        self.references[ref_id] = dict(value=value, constant=constant)
                    elif math.isnan(value):
                        raise SBMLError(
                            f"unsupported feature: species reference to {ref.getSpecies()!r} "
                            f"in {where} has no stoichiometry"
                        )
                    stoich.append((ref.getSpecies(), sign, ref_id, value))
            self.reactions.append(dict(id=rid, math=law.getMath(), local=local, stoich=stoich))
        self.assignment_rules, self.rate_rules = {}, {}
        # Elements without math (allowed by L3v2) assign nothing: they are skipped.
        for rule in m.getListOfRules():
            target = self.assignment_rules if rule.isAssignment() else self.rate_rules
            if rule.isSetMath():
                target[rule.getVariable()] = rule.getMath()
        self.initial_assignments = {
            ia.getSymbol(): ia.getMath() for ia in m.getListOfInitialAssignments() if ia.isSetMath()
        }
        self.unset = {
            *(n for n, i in self.parameters.items() if math.isnan(i["value"])),
            *(n for n, i in self.references.items() if math.isnan(i["value"])),
            *(
                n
                for n, i in self.species.items()
                if i["amount"] is None and i["concentration"] is None
            ),
        }
        self.known = {
            *self.compartments,
            *self.species,
            *self.parameters,
            *self.references,
            *(r["id"] for r in self.reactions),
        }

    def _classify(self) -> None:
        """Decide what is state, what is a constant parameter, what is a definition."""
        event_targets = {
            a.getVariable()
            for e in self.m.getListOfEvents()
            for a in e.getListOfEventAssignments()
            if a.isSetMath()
        }
        for name in (
            *self.assignment_rules,
            *self.rate_rules,
            *event_targets,
            *self.initial_assignments,
        ):
            if name not in self.known:
                raise SBMLError(
                    f"a rule, event or initial assignment targets undefined id {name!r}"
                )
        self.state: list[str] = []  # names of state variables
        self.state_kind: dict[str, str] = {}  # amount | concentration | value
        self.constants: list[str] = []
        for group in (self.compartments, self.parameters, self.references):
            for name, info in group.items():
                if name in self.assignment_rules:
                    continue
                if info["constant"] and name not in self.rate_rules and name not in event_targets:
                    self.constants.append(name)
                else:
                    self.state.append(name)
                    self.state_kind[name] = "value"
        for name, info in self.species.items():
            compartment = self.compartments.get(info["compartment"])
            if compartment is None:
                raise SBMLError(
                    f"species {name!r} is in undefined compartment {info['compartment']!r}"
                )
            if name in self.assignment_rules:
                continue
            self.state.append(name)
            # A constant species keeps its amount, even when its compartment changes size.
            concentration = not info["hosu"] and name in self.rate_rules
            self.state_kind[name] = "concentration" if concentration else "amount"
        self.local_names = []
        for r in self.reactions:
            for p in r["local"]:
                self.local_names.append(f"{r['id']}.{p}")
        self.parameter_names = [*self.constants, *self.local_names]

    def _volume(self, species: str) -> Node:
        return ("name", self.species[species]["compartment"])

    def _symbol_value(self, species: str, leaf: Node) -> Node:
        """The symbol value of a species (concentration unless hasOnlySubstanceUnits)."""
        info = self.species[species]
        if self.state_kind[species] == "amount" and not info["hosu"]:
            return ("op", "/", (leaf, self._volume(species)))
        return leaf

    def _initial_definitions(self, constant: Callable[[str, float], Node]) -> dict[str, Node]:
        """Attributes, initial assignments and assignment rules at t0 as ASTs; the value of
        a compartment, parameter or species reference is ``constant(name, attribute value)``."""
        defs: dict[str, Node] = {}
        for name, info in self.compartments.items():
            defs[name] = constant(name, info["size"])
        for group in (self.parameters, self.references):
            for name, info in group.items():
                defs[name] = constant(name, info["value"])
        for name, info in self.species.items():
            volume = self._volume(name)
            amount, conc = info["amount"], info["concentration"]
            if info["hosu"]:
                node = (
                    ("num", amount)
                    if amount is not None
                    else (
                        ("op", "*", (("num", conc), volume)) if conc is not None else ("num", _NAN)
                    )
                )
            else:
                node = (
                    ("num", conc)
                    if conc is not None
                    else (
                        ("op", "/", (("num", amount), volume))
                        if amount is not None
                        else ("num", _NAN)
                    )
                )
            defs[name] = node
        for r in self.reactions:
            local = {p: ("num", v) for p, v in r["local"].items()}
            defs[r["id"]] = substitute(self._math(r["math"], f"reaction {r['id']!r}"), local)
            self._check_names(defs[r["id"]], f"kinetic law of reaction {r['id']!r}", local)
        for name, ast in self.assignment_rules.items():
            defs[name] = self._math(ast, f"assignment rule for {name!r}")
            self._check_names(defs[name], f"assignment rule for {name!r}")
        for name, ast in self.initial_assignments.items():
            defs[name] = self._math(ast, f"initial assignment for {name!r}")
            self._check_names(defs[name], f"initial assignment for {name!r}")
        return defs

    def _initial_values(self) -> None:
        """Evaluate attributes, initial assignments and assignment rules at t0 (NumPy)."""
        defs = self._initial_definitions(lambda name, value: ("num", value))
        order = _topological(defs, "initial assignments and rules")
        env: dict = {}
        with np.errstate(all="ignore"):
            for name in order:
                env[name] = float(_NP.num(_NP(defs[name], env, 0.0, None, None)))
        self.initial = env

    def _initial_program(self, pindex: Mapping[str, int]) -> tuple[tuple[str, Node], ...]:
        """The t0 definitions for `RuleModel.initial_values`, in evaluation order, with the
        model's constants read from θ."""
        defs = self._initial_definitions(
            lambda name, value: ("param", pindex[name]) if name in pindex else ("num", value)
        )
        return tuple((name, defs[name]) for name in _topological(defs, "initial assignments"))

    def _state_volumes(self) -> list[str | None]:
        """Per state: the compartment its symbol value is multiplied by to give the state (a
        species integrated as an amount), or None."""
        return [
            self.species[name]["compartment"]
            if name in self.species
            and self.state_kind[name] == "amount"
            and not self.species[name]["hosu"]
            else None
            for name in self.state
        ]

    def _resolve(self, node: Node, local: Mapping[str, Node] = ()) -> Node:
        """Replace names of state variables and constants by their leaves."""
        kind = node[0]
        if kind == "name":
            name = node[1]
            if name in local:
                return local[name]
            if name in self.leaves:
                return self.leaves[name]
            if name in self.definition_names:
                return node
            raise SBMLError(f"undefined id {name!r}")
        if kind == "op":
            return ("op", node[1], tuple(self._resolve(c, local) for c in node[2]))
        return node

    def _assemble(self) -> RuleModel:
        index = {name: i for i, name in enumerate(self.state)}
        pindex = {name: i for i, name in enumerate(self.parameter_names)}
        self.leaves: dict[str, Node] = {}
        for name in self.state:
            if name not in self.species:
                self.leaves[name] = ("state", index[name])
        for name in self.constants:
            self.leaves[name] = ("param", pindex[name])
        self.definition_names = {
            *self.assignment_rules,
            *(r["id"] for r in self.reactions),
            *(s for s in self.species if s not in self.assignment_rules),
        }
        defs: dict[str, Node] = {}
        for name in self.species:
            if name not in self.assignment_rules:
                defs[name] = self._resolve(self._symbol_value(name, ("state", index[name])))
        for r in self.reactions:
            local = {p: ("param", pindex[f"{r['id']}.{p}"]) for p in r["local"]}
            where = f"kinetic law of reaction {r['id']!r}"
            defs[r["id"]] = self._resolve_at(self._math(r["math"], where), where, local)
        for name, ast in self.assignment_rules.items():
            where = f"assignment rule for {name!r}"
            defs[name] = self._resolve_at(self._math(ast, where), where)
        order = _topological(defs, "assignment rules and kinetic laws")
        definitions = tuple((name, defs[name]) for name in order)

        derivatives = [self._derivative(name, index) for name in self.state]

        # initial state and parameters
        volumes = self._state_volumes()
        y0 = [
            self.initial[name] * (1.0 if volume is None else self.initial[volume])
            for name, volume in zip(self.state, volumes, strict=True)
        ]
        theta = []
        for name in self.constants:
            theta.append(self.initial[name])
        for r in self.reactions:
            theta.extend(r["local"].values())
        named = [*zip(self.state, y0, strict=True), *zip(self.constants, theta, strict=False)]
        for name, _value in named:
            if name in self.unset and name not in self.initial_assignments:
                raise SBMLError(
                    f"unsupported feature: {name!r} has no initial value (no value, size, "
                    "initial amount/concentration or initial assignment)"
                )
        if not self.state:  # a model with nothing to integrate still needs a state vector
            self.state.append("\0none")
            derivatives.append(("num", 0.0))
            y0.append(0.0)
            volumes.append(None)

        species_out = []
        for name in self.species:
            volume = self._resolve(self._volume(name))
            value = ("name", name)
            hosu = self.species[name]["hosu"]
            amount = value if hosu else ("op", "*", (value, volume))
            conc = ("op", "/", (value, volume)) if hosu else value
            species_out.append((name, amount, conc))
        symbols = [
            (name, self._resolve(("name", name)))
            for name in (
                *self.compartments,
                *self.parameters,
                *self.references,
                *(r["id"] for r in self.reactions),
            )
        ]
        atoms: list[tuple[str, Node]] = []
        self.atoms_seen = atoms
        events = tuple(
            self._event(e, index, atoms)
            for e in self.m.getListOfEvents()
            if e.getTrigger() is not None and e.getTrigger().isSetMath()  # else never fires
        )
        self._refuse_prioritised_cascades(events)
        reactants, products, network_rows = self._network()
        return RuleModel(
            state_names=tuple(self.state),
            parameter_names=tuple(self.parameter_names),
            definitions=definitions,
            derivatives=tuple(derivatives),
            atoms=tuple(atoms),
            switches=time_switches(definitions, derivatives),
            events=events,
            species=tuple(species_out),
            symbols=tuple(symbols),
            reaction_names=tuple(r["id"] for r in self.reactions),
            reactants=reactants,
            products=products,
            network_rows=network_rows,
            network_problem=self._network_problem(network_rows, derivatives),
            initial_definitions=self._initial_program(pindex),
            initial_scaling=tuple(volumes),
            initial_state=jnp.asarray(y0, dtype=float),
            parameter_values=jnp.asarray(theta, dtype=float),
        )

    def _network(self):
        """Reactant and product coefficients [S][R] on the state rows, and which rows are
        network rows (species amounts whose derivative is exactly ``Σ_r N_sr K_r``)."""
        reactants = np.zeros((len(self.state), len(self.reactions)))
        products = np.zeros_like(reactants)
        symbolic = set()
        for j, r in enumerate(self.reactions):
            for species, sign, ref_id, value in r["stoich"]:
                if species not in self.state:
                    continue
                if ref_id:
                    symbolic.add(species)
                side = reactants if sign < 0 else products
                side[self.state.index(species), j] += value
        network_rows = tuple(
            name in self.species
            and self.state_kind[name] == "amount"
            and name not in self.rate_rules
            and name not in symbolic
            and not (self.species[name]["conversion"] or self.model_conversion)
            for name in self.state
        )
        return _as_rows(reactants), _as_rows(products), network_rows

    def _network_problem(self, network_rows, derivatives) -> str | None:
        """Why the reactions have no stochastic reading (None when they have one; events are
        the stochastic method's business)."""
        if not self.reactions:
            return "it has no reactions"
        for name, row, derivative in zip(self.state, network_rows, derivatives, strict=True):
            if not row and derivative != ("num", 0.0):
                return (
                    f"{name!r} changes other than by reactions with fixed stoichiometry "
                    "(a rate rule, a conversion factor or a variable stoichiometry)"
                )
        for r, sbml in zip(self.reactions, self.m.getListOfReactions(), strict=True):
            if sbml.getReversible() and _is_difference(self._math(r["math"], r["id"])):
                return (
                    f"reaction {r['id']!r} is reversible with a net rate law (forward − "
                    "reverse); split it into two irreversible reactions"
                )
        for r in self.reactions:
            for species, _, _, value in r["stoich"]:
                if value != round(value):
                    return f"reaction {r['id']!r} has stoichiometry {value} for {species!r}"
        return None

    def _refuse_prioritised_cascades(self, events) -> None:
        """Events with priorities whose assignments change what a trigger reads can fire
        repeatedly at one instant; that ordering is not validated yet, so refuse it."""
        if not any(e.priority is not None for e in events) or len(events) < 2:
            return
        read = set()
        for event in events:
            read |= _leaves(event.trigger)
        for _, g in self.atoms_seen:
            read |= _leaves(g)
        for event in events:
            if any(("state", t) in read or ("name", self.state[t]) in read for t in event.targets):
                raise SBMLError(
                    f"unsupported feature: event {event.name!r} changes what the prioritised "
                    "events' triggers read (cascading events at one instant)"
                )

    def _resolve_at(self, node: Node, where: str, local: Mapping[str, Node] = ()) -> Node:
        try:
            return self._resolve(node, local)
        except SBMLError as error:
            raise SBMLError(f"{where}: {error}") from None

    def _derivative(self, name: str, index: Mapping[str, int]) -> Node:
        if name in self.rate_rules:
            where = f"rate rule for {name!r}"
            return self._resolve_at(self._math(self.rate_rules[name], where), where)
        info = self.species.get(name)
        if info is None or info["boundary"] or info["constant"]:
            return ("num", 0.0)
        terms = []
        for r in self.reactions:
            for species, sign, ref_id, value in r["stoich"]:
                if species != name:
                    continue
                stoich = self._resolve(("name", ref_id)) if ref_id else ("num", value)
                if sign < 0:
                    stoich = ("op", "neg", (stoich,))
                terms.append(("op", "*", (stoich, ("name", r["id"]))))
        if not terms:
            return ("num", 0.0)
        total = terms[0] if len(terms) == 1 else ("op", "+", tuple(terms))
        factor = info["conversion"] or self.model_conversion
        if factor:
            total = ("op", "*", (self._resolve_at(("name", factor), f"species {name!r}"), total))
        return total

    def _event(self, event, index: Mapping[str, int], atoms: list) -> Event:
        eid = event.getId() or "?"
        where = f"event {eid!r}"
        trigger_ast = event.getTrigger()
        trigger = self._resolve_at(self._math(trigger_ast.getMath(), where), where)
        if not is_boolean(trigger) and trigger[0] != "op":
            raise SBMLError(f"{where}: its trigger is not a boolean expression")
        replacements = {}
        for relation in relations(trigger):
            op, (lhs, rhs) = relation[1], relation[2]
            if op in ("eq", "neq"):
                raise SBMLError(f"unsupported feature: {op} in the trigger of {where}")
            if op in ("lt", "leq"):
                op, lhs, rhs = {"lt": "gt", "leq": "geq"}[op], rhs, lhs
            atom = (op, ("op", "-", (lhs, rhs)))
            if atom not in atoms:
                atoms.append(atom)
            replacements[relation] = ("atom", atoms.index(atom))
        trigger = _replace(trigger, replacements)
        priority = None
        if event.isSetPriority() and event.getPriority().isSetMath():
            priority = self._resolve_at(self._math(event.getPriority().getMath(), where), where)
        targets, values, assignment_names = [], [], []
        for assignment in event.getListOfEventAssignments():
            if not assignment.isSetMath():
                continue
            name = assignment.getVariable()
            if name not in index:
                raise SBMLError(f"{where} assigns {name!r}, which is constant or set by a rule")
            value = self._resolve_at(self._math(assignment.getMath(), where), where)
            if (
                name in self.species
                and self.state_kind[name] == "amount"
                and not self.species[name]["hosu"]
            ):
                value = ("op", "*", (value, self._resolve(self._volume(name))))
            targets.append(index[name])
            values.append(value)
            assignment_names.append(name)
        if self.level >= 3:
            persistent = trigger_ast.getPersistent()
            initial_value = trigger_ast.getInitialValue()
        else:
            persistent, initial_value = True, True
        use_trigger = (
            event.getUseValuesFromTriggerTime() if event.isSetUseValuesFromTriggerTime() else True
        )
        for name in assignment_names:
            if name in self.compartments:
                for species, info in self.species.items():
                    if info["compartment"] == name and self.state_kind.get(species) == (
                        "concentration"
                    ):
                        raise SBMLError(
                            f"unsupported feature: {where} resizes compartment {name!r} of "
                            f"species {species!r}, whose concentration has a rate rule"
                        )
        return Event(
            name=eid,
            trigger=trigger,
            priority=priority,
            targets=tuple(targets),
            values=tuple(values),
            persistent=bool(persistent),
            use_values_from_trigger_time=bool(use_trigger),
            initial_value=bool(initial_value),
        )


def _is_difference(node: Node) -> bool:
    """Whether a kinetic law reads as a net rate: a difference, possibly times factors."""
    if node[0] != "op":
        return False
    if node[1] == "-" and len(node[2]) == 2:
        return True
    return node[1] in ("*", "/") and any(_is_difference(c) for c in node[2])


def _as_rows(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """A matrix as nested tuples of floats (hashable, for static fields)."""
    return tuple(tuple(float(v) for v in row) for row in matrix)


def _replace(node: Node, replacements: Mapping[Node, Node]) -> Node:
    if node in replacements:
        return replacements[node]
    if node[0] == "op":
        return ("op", node[1], tuple(_replace(c, replacements) for c in node[2]))
    return node


def _leaves(node: Node) -> set:
    if node[0] == "op":
        return set().union(*(_leaves(c) for c in node[2]))
    return {node}
