"""`Problem`: a model, observables, conditions, measurements and a parameter table.

``problem.nllh(θ)`` is a pure function of the estimated parameters on their scale: all
experiments (pre-equilibration, simulation condition) are simulated together under `jax.vmap`
(time grids padded to one length), observables are evaluated per observable over its rows,
and each noise model contributes ``−log p``. A failed solve gives ``+inf``, never NaN.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._jit import ode_jit
from .._types import Array, Float
from ..deterministic import ODE, StepAdjoint
from ..model._parse import formula_names
from . import _adapter
from ._errors import InferenceError
from ._noise import Normal
from ._observables import Observable

_SCALES = {"lin": 0, "log": 1, "log10": 2}
# Default derivative mode: forward while it integrates at most this many sensitivity
# equations (experiments × states × simulated parameters). Per step, a solve has a fixed cost
# that reverse mode pays about three times (the step, its recomputation, its adjoint) and a
# cost that forward mode multiplies by the number of parameters. With reverse mode through
# the stored steps (`StepAdjoint`), nllh + gradient, forward against reverse, one worker
# thread (session 26's box): PEtab test-suite cases of 4–8 equations 0.6–0.9 against
# 1.5–2.0 ms; Boehm_JProteomeRes2014 with 3 of its 6 rates fixed (24) 9.0 against 9.5 ms;
# Boehm (48) 8.6 against 8.0 ms; Crauste_CellSystems2017 (60) 20.4 against 16.6 ms;
# Elowitz_Nature2000 (144) 89.3 against 74.6 ms; Fujita, Brannmark and Schwen (864 and
# more) reverse too. Reverse mode compiles 1–2 s longer on these problems.
_FORWARD_MAX = 32
# Steps per solve, as AMICI's default. Reverse mode (`StepAdjoint`) keeps every step's state:
# a buffer of this many rows per experiment, written and read once per gradient. With 10⁵
# rows Fujita_SciSignal2010's nllh + reverse gradient took 84 ms, with 10⁴ 59 ms.
_MAX_STEPS = 10_000
_PRIORS = (
    "normal",
    "laplace",
    "uniform",
    "logNormal",
    "logLaplace",
    "parameterScaleNormal",
    "parameterScaleLaplace",
    "parameterScaleUniform",
)


class Parameter(NamedTuple):
    """One row of the parameter table.

    ``scale``: lin, log or log10 (the optimiser works on this scale); ``lower``/``upper``:
    bounds on the linear scale; ``nominal``: linear-scale value (used when not estimated);
    ``prior``: ``(type, (a, b))`` with PEtab's prior types, or None.
    """

    id: str
    scale: str = "log10"
    lower: float = 1e-5
    upper: float = 1e5
    nominal: float = 1.0
    estimate: bool = True
    prior: tuple[str, tuple[float, float]] | None = None


class Measurement(NamedTuple):
    """One data point: observable id, time (``inf``: at steady state), measured value, the
    simulation condition, an optional pre-equilibration condition, and the values (numbers
    or parameter ids) of the observable's ``observableParameter{k}``/``noiseParameter{k}``."""

    observable: str
    time: float
    value: float
    condition: str = "default"
    preequilibration: str | None = None
    observable_parameters: tuple = ()
    noise_parameters: tuple = ()


def _scale(value: float, scale: str) -> float:
    return value if scale == "lin" else math.log(value) if scale == "log" else math.log10(value)


def _source(name: str, o: Observable, row: int, ids, obs_src, noise_src) -> int | None:
    """The index in ``ids`` (or among the constants after them) that ``name`` reads in
    measurement ``row`` of observable ``o``: a parameter id, or a placeholder's value."""
    if name in ids:
        return ids.index(name)
    for kind, source in (("observable", obs_src), ("noise", noise_src)):
        k = o.placeholder(name, kind)
        if k is not None:
            return int(source[row, k - 1])
    return None


def _sources(names, *at) -> set[int | None]:
    """`_source` of each of ``names`` at ``at = (o, row, ids, obs_src, noise_src)``."""
    return {_source(name, *at) for name in names}


def _factors(node) -> list[tuple[str, tuple]]:
    """``(name, rest)`` for each way to read a formula as ``name * rest``."""
    if node[0] != "op" or node[1] != "*":
        return []
    return [(a[1], b) for a, b in ((node[2], node[3]), (node[3], node[2])) if a[0] == "name"]


def _closed_form_groups(observables, rows, obs_src, noise_src, observation, ids, n_estimated):
    """``(scale_group [M], noise_group [M])``: per measurement row the position, among the
    ``n_estimated`` (E) estimated parameters, of its scaling and of its noise level (E: none),
    when every parameter in ``observation`` ({index in ``ids``: position}) is one of them:
    - a noise level: the whole noise formula of normal-noise observables;
    - a scaling: a factor ``s · y`` of additive-normal observables whose ``y`` and noise read
      no observation parameter, and whose rows share one noise level or have fixed noise.

    Then their optimum for given trajectories is exact (Loos et al. 2018): ``ŝ = Σ w y d /
    Σ w y²`` (``w = 1/σ²``), then ``σ̂² = Σ r²/n`` at ``ŝ``. None otherwise."""
    none = n_estimated
    scale_group = np.full(obs_src.shape[0], none)
    noise_group = np.full(obs_src.shape[0], none)
    for o, r in zip(observables, rows, strict=True):
        normal = isinstance(o.noise_model, Normal)
        factors = _factors(o.ast) if normal and o.noise_model.scale == "lin" else []
        names = formula_names(o.ast)
        noise_names = formula_names(o.noise_ast) - {o.id}
        reads_own_value = o.id in formula_names(o.noise_ast)
        level = o.noise_ast[1] if normal and o.noise_ast[0] == "name" else None
        for i in r:
            at = (o, i, ids, obs_src, noise_src)
            scaling, rest = next(
                ((j, rest) for n, rest in factors if (j := _source(n, *at)) in observation),
                (None, None),
            )
            if scaling is not None and _sources(formula_names(rest), *at) & observation.keys():
                scaling = None
            noisy = reads_own_value or scaling in _sources(noise_names, *at)
            if scaling is not None and noisy:
                return None  # the noise depends on the scaling
            sigma = _source(level, *at) if level else None
            if sigma not in observation or sigma in _sources(names, *at):
                sigma = None
            read = _sources(names | noise_names, *at)
            if read & observation.keys() - {scaling, sigma}:
                return None
            scale_group[i] = observation.get(scaling, none)
            noise_group[i] = observation.get(sigma, none)
    scalings = set(scale_group.tolist()) - {none}
    if scalings & set(noise_group.tolist()):
        return None  # a parameter both scales and is a noise level
    for g in scalings:
        if np.unique(noise_group[scale_group == g]).size > 1:
            return None  # rows of one scaling with different noise levels
    return scale_group, noise_group


def _unscale(theta, codes):
    return jnp.where(codes == 0, theta, jnp.where(codes == 1, jnp.exp(theta), 10.0**theta))


def _rescale(values, codes):
    """Linear-scale ``values`` on the parameter scales ``codes`` (the inverse of `_unscale`)."""
    return jnp.where(codes == 0, values, jnp.where(codes == 1, jnp.log(values), jnp.log10(values)))


def _check_parameter(p: Parameter, where: str) -> None:
    if p.scale not in _SCALES:
        raise InferenceError(f"{where}: parameter {p.id!r} has unknown scale {p.scale!r}")
    if not p.lower <= p.upper:
        raise InferenceError(
            f"{where}: parameter {p.id!r} has lower bound {p.lower} > upper bound {p.upper}"
        )
    if p.scale != "lin":
        values = [("lower bound", p.lower), ("upper bound", p.upper)]
        values += [("nominal value", p.nominal)] if not p.estimate or p.nominal == p.nominal else []
        for what, value in values:
            if not value > 0:
                raise InferenceError(
                    f"{where}: parameter {p.id!r} is on {p.scale} scale but its {what} is "
                    f"{value} (must be > 0)"
                )
    if p.prior is not None and p.prior[0] not in _PRIORS:
        raise InferenceError(f"{where}: parameter {p.id!r} has unknown prior {p.prior[0]!r}")


class Problem(eqx.Module):
    """A parameter-estimation problem; ``nllh(θ)`` is its negative log-likelihood.

    **Arguments:**
    - ``model``: a `Model` (or an SBML `RuleModel`).
    - ``observables``: a list of `Observable`.
    - ``measurements``: a list of `Measurement` (replicates are repeated rows; ``time=inf``
      means at steady state). The problem keeps them grouped by observable, in the order
      given within each (`Problem.measurements`; ``given_rows``: each row's position in the
      list given); every row-wise result (``data``, `predict`, `observe`) follows that order.
    - ``parameters``: the parameter table, a list of `Parameter`. Model parameters not listed
      keep their model value; listed ids that are not model parameters are problem parameters
      (scalings, offsets, noise levels) that observables and conditions may read.
    - ``conditions``: ``{condition id: {target: value or parameter id}}``; targets are model
      parameters or species (initial values). A condition id not listed has no overrides.
    - ``method``: an `ODE`; default Rodas4 at rtol 1e-8, atol 1e-10 with forward-mode
      sensitivities while experiments × states × `simulated_parameters` is at most 32,
      reverse mode through the stored steps (`StepAdjoint`) above (bench/fit.py: reverse
      wins on all six benchmark problems, forward on the PEtab test suite's).
    - ``initial``: optional ``f(θ_model [P]) -> y0 [S]`` (initial values that depend on
      parameters, e.g. SBML initial assignments); default the model's initial state.

    **Example:**
    ```python
    problem = Problem(model, [Observable("x", "X", noise="sigma")],
                      [Measurement("x", 1.0, 3.2), ...],
                      [Parameter("k", "log10", 1e-3, 1e3, 1.0), Parameter("sigma", nominal=0.1)])
    problem.nllh(problem.nominal_parameters())
    ```
    """

    model: eqx.Module
    method: ODE
    observables: tuple[Observable, ...]
    initial: Callable | None
    parameter_ids: tuple[str, ...] = eqx.field(static=True)
    all_parameter_ids: tuple[str, ...] = eqx.field(static=True)
    condition_ids: tuple[str, ...] = eqx.field(static=True)
    override_species: tuple[str, ...] = eqx.field(static=True)
    has_preequilibration: bool = eqx.field(static=True)
    has_inf: bool = eqx.field(static=True)
    observation_only: tuple[bool, ...] = eqx.field(static=True)
    priors: tuple = eqx.field(static=True)
    measurements: tuple[Measurement, ...] = eqx.field(static=True)
    spec: tuple = eqx.field(static=True)  # (parameters, conditions) as given, for rebuilding
    # numbers (traced; indices are integer arrays)
    estimated: Array  # [E] indices into all parameters
    codes: Array  # [E] scale codes of the estimated parameters
    lower: Float[Array, " estimated"]  # bounds on the parameter scale
    upper: Float[Array, " estimated"]
    nominal_linear: Float[Array, " all"]  # [Q]
    constants: Float[Array, " constants"]
    param_src: Array  # [C, P] indices into pool = [all parameters, constants]
    species_src: Array  # [C, K]
    species_mask: Array  # [C, K] bool
    pre_conditions: Array  # [Pe] condition indices pre-equilibrated
    exp_condition: Array  # [X] simulation condition per experiment
    exp_pre: Array  # [X] position in pre_conditions or -1
    ts: Float[Array, "experiments times"]
    inf_experiments: Array  # [I]
    row_experiment: Array  # [M]
    row_time_index: Array  # [M]
    row_time: Float[Array, " rows"]
    data: Float[Array, " rows"]
    obs_src: Array  # [M, Ko]
    noise_src: Array  # [M, Kn]
    row_blocks: tuple[tuple[int, int], ...] = eqx.field(static=True)  # per observable
    given_rows: tuple[int, ...] = eqx.field(static=True)
    scale_group: Array  # [M] position in parameter_ids of the row's scaling, or E: none
    noise_group: Array  # [M] the same for its noise level
    closed_form_observation: bool = eqx.field(static=True)

    def __init__(
        self,
        model,
        observables: Sequence[Observable],
        measurements: Sequence[Measurement],
        parameters: Sequence[Parameter],
        conditions: Mapping[str, Mapping[str, object]] | None = None,
        method: ODE | None = None,
        initial: Callable | None = None,
        *,
        where: str = "problem",
    ):
        conditions = dict(conditions or {})
        parameters = list(parameters)
        for p in parameters:
            _check_parameter(p, where)
        ids = [p.id for p in parameters]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise InferenceError(f"{where}: parameter(s) {dupes} listed twice")
        estimated = [i for i, p in enumerate(parameters) if p.estimate]
        self.parameter_ids = tuple(parameters[i].id for i in estimated)
        self.all_parameter_ids = tuple(ids)
        self.model = model
        self.initial = initial

        # --- observables -------------------------------------------------------------------
        observables = list(observables)
        obs_ids = [o.id for o in observables]
        known = _adapter.known_names(model) | set(ids)
        for o in observables:
            placeholders = {
                n
                for n in o.names()
                if n.startswith(("observableParameter", "noiseParameter"))
                and n.endswith(f"_{o.id}")
            }
            unknown = sorted(o.names() - known - placeholders - set(obs_ids))
            if unknown:
                raise InferenceError(
                    f"{where}: observable {o.id!r} reads unknown name(s) {unknown}"
                )
        self.observables = tuple(observables)

        # --- the pool: all parameters, then constants ----------------------------------------
        constants: list[float] = []

        def constant(value: float) -> int:
            constants.append(float(value))
            return len(ids) + len(constants) - 1

        def source(value, what: str) -> int:
            if isinstance(value, str):
                text = value.strip()
                try:
                    return constant(float(text))
                except ValueError:
                    pass
                if text not in ids:
                    raise InferenceError(f"{where}: {what} names unknown parameter {text!r}")
                return ids.index(text)
            return constant(float(value))

        # --- conditions ---------------------------------------------------------------------
        used = []
        for m in measurements:
            for c in (m.preequilibration, m.condition):
                if c is not None and c not in used:
                    used.append(c)
        self.condition_ids = tuple(used)
        model_params = list(model.parameter_names)
        settable = _adapter.state_names(model)
        for cid, overrides in conditions.items():
            for target in overrides:
                if target not in model_params and target not in settable:
                    raise InferenceError(
                        f"{where}: condition {cid!r} sets {target!r}, which is neither a model "
                        "parameter nor a state variable"
                    )
        override_species = sorted(
            {
                t
                for c in used
                for t in conditions.get(c, {})
                if t in settable and t not in model_params
            }
        )
        self.override_species = tuple(override_species)
        defaults = np.asarray(model.parameter_values, dtype=float)
        param_src = np.zeros((len(used), len(model_params)), dtype=np.int64)
        species_src = np.zeros((len(used), len(override_species)), dtype=np.int64)
        species_mask = np.zeros((len(used), len(override_species)), dtype=bool)
        for c, cid in enumerate(used):
            overrides = conditions.get(cid, {})
            for j, name in enumerate(model_params):
                value = overrides.get(name)
                if value is not None and not isinstance(value, str) and math.isnan(float(value)):
                    value = None  # an empty cell: the default
                if value is not None:
                    param_src[c, j] = source(value, f"condition {cid!r} ({name})")
                elif name in ids:
                    param_src[c, j] = ids.index(name)
                else:
                    param_src[c, j] = constant(defaults[j])
            for k, name in enumerate(override_species):
                if name not in overrides:
                    continue
                value = overrides[name]
                if not isinstance(value, str) and math.isnan(float(value)):
                    continue
                species_src[c, k] = source(value, f"condition {cid!r} ({name})")
                species_mask[c, k] = True

        # --- experiments and time grids ------------------------------------------------------
        experiments: list[tuple[str | None, str]] = []
        for m in measurements:
            key = (m.preequilibration, m.condition)
            if key not in experiments:
                experiments.append(key)
        pre = sorted({used.index(p) for p, _ in experiments if p is not None})
        times = {
            e: sorted(
                {
                    m.time
                    for m in measurements
                    if (m.preequilibration, m.condition) == e and math.isfinite(m.time)
                }
            )
            for e in experiments
        }
        width = 1 + max((len(t) for t in times.values()), default=1)
        width = max(width, 2)
        ts = np.zeros((len(experiments), width))
        for x, e in enumerate(experiments):
            grid = [0.0, *times[e]]
            if len(grid) == 1:
                grid.append(1.0)
            ts[x] = grid + [grid[-1]] * (width - len(grid))

        # --- rows: grouped by observable, in the order given within each ----------------------
        for i, m in enumerate(measurements):
            if m.observable not in obs_ids:
                raise InferenceError(
                    f"{where}: measurement {i + 1} names unknown observable {m.observable!r}"
                )
        given_rows = sorted(
            range(len(measurements)), key=lambda i: obs_ids.index(measurements[i].observable)
        )
        measurements = [measurements[i] for i in given_rows]
        k_obs = max((o.placeholders("observable") for o in observables), default=0)
        k_noise = max((o.placeholders("noise") for o in observables), default=0)
        n = len(measurements)
        row_exp = np.zeros(n, dtype=np.int64)
        row_tidx = np.zeros(n, dtype=np.int64)
        obs_src = np.zeros((n, k_obs), dtype=np.int64)
        noise_src = np.zeros((n, k_noise), dtype=np.int64)
        rows: list[list[int]] = [[] for _ in observables]
        for i, m in enumerate(measurements):
            what = f"{where}: measurement {given_rows[i] + 1}"
            if not math.isfinite(float(m.value)):
                raise InferenceError(f"{what} ({m.observable}) has non-finite value {m.value}")
            if math.isnan(float(m.time)) or float(m.time) < 0:
                raise InferenceError(f"{what} ({m.observable}) has invalid time {m.time}")
            o = obs_ids.index(m.observable)
            x = experiments.index((m.preequilibration, m.condition))
            row_exp[i] = x
            row_tidx[i] = width if math.isinf(m.time) else 1 + times[experiments[x]].index(m.time)
            for kind, values, target, need in (
                (
                    "observable",
                    m.observable_parameters,
                    obs_src,
                    observables[o].placeholders("observable"),
                ),
                ("noise", m.noise_parameters, noise_src, observables[o].placeholders("noise")),
            ):
                values = tuple(values)
                if len(values) < need:
                    raise InferenceError(
                        f"{what} ({m.observable}) gives {len(values)} {kind} parameter(s); "
                        f"the observable needs {need}"
                    )
                for k, value in enumerate(values[:need]):
                    target[i, k] = source(value, f"{what} {kind}Parameters")
            rows[o].append(i)
        for o, r in zip(observables, rows, strict=True):
            model_like = o.noise_model
            if not r:
                continue
            if type(model_like).__name__ in ("Poisson", "NegativeBinomial"):
                data = np.asarray([measurements[i].value for i in r])
                if np.any(data < 0):
                    raise InferenceError(f"{where}: observable {o.id!r} has negative counts")

        inf_exps = sorted(
            {int(row_exp[i]) for i, m in enumerate(measurements) if math.isinf(m.time)}
        )

        # --- estimated parameters ----------------------------------------------------------
        codes = np.asarray([_SCALES[parameters[i].scale] for i in estimated], dtype=np.int64)
        self.estimated = jnp.asarray(np.asarray(estimated, dtype=np.int64))
        self.codes = jnp.asarray(codes)
        self.lower = jnp.asarray(
            [
                _scale(parameters[i].lower, parameters[i].scale)
                if parameters[i].lower > 0 or parameters[i].scale == "lin"
                else -np.inf
                for i in estimated
            ],
            dtype=float,
        ).reshape(-1)
        self.upper = jnp.asarray(
            [_scale(parameters[i].upper, parameters[i].scale) for i in estimated], dtype=float
        ).reshape(-1)
        nominal = [p.nominal if p.nominal == p.nominal else 1.0 for p in parameters]
        self.nominal_linear = jnp.asarray(nominal, dtype=float).reshape(-1)
        self.priors = tuple(
            (
                k,
                parameters[i].prior[0],
                tuple(float(v) for v in parameters[i].prior[1]),
                parameters[i].scale,
            )
            for k, i in enumerate(estimated)
            if parameters[i].prior is not None
        )
        simulated = set(param_src.ravel().tolist()) | set(species_src[species_mask].tolist())
        self.observation_only = tuple(i not in simulated for i in estimated)
        observation = {j: e for e, j in enumerate(estimated) if self.observation_only[e]}
        if any(self.observation_only[k] for k, *_ in self.priors):
            observation = {}  # a prior moves the optimum: no closed form
        groups = _closed_form_groups(
            observables, rows, obs_src, noise_src, observation, ids, len(estimated)
        )
        self.closed_form_observation = bool(observation) and groups is not None
        if not self.closed_form_observation:
            groups = (np.full(n, len(estimated)),) * 2
        self.scale_group, self.noise_group = (jnp.asarray(g, dtype=int).reshape(-1) for g in groups)
        if method is None:
            equations = len(experiments) * len(model.species_names) * len(self.simulated_parameters)
            forward = equations <= _FORWARD_MAX
            adjoint = diffrax.ForwardMode() if forward else StepAdjoint()
            method = ODE(rtol=1e-8, atol=1e-10, max_steps=_MAX_STEPS, adjoint=adjoint)
        self.method = method
        self.constants = jnp.asarray(constants, dtype=float).reshape(-1)
        self.param_src = jnp.asarray(param_src)
        self.species_src = jnp.asarray(species_src)
        self.species_mask = jnp.asarray(species_mask)
        self.pre_conditions = jnp.asarray(np.asarray(pre, dtype=np.int64))
        self.has_preequilibration = bool(pre)
        self.exp_condition = jnp.asarray(
            np.asarray([used.index(c) for _, c in experiments], dtype=np.int64)
        )
        self.exp_pre = jnp.asarray(
            np.asarray(
                [pre.index(used.index(p)) if p is not None else -1 for p, _ in experiments],
                dtype=np.int64,
            )
        )
        self.ts = jnp.asarray(ts, dtype=float)
        self.has_inf = bool(inf_exps)
        self.inf_experiments = jnp.asarray(np.asarray(inf_exps, dtype=np.int64))
        self.row_experiment = jnp.asarray(row_exp)
        self.row_time_index = jnp.asarray(row_tidx)
        self.row_time = jnp.asarray([float(m.time) for m in measurements], dtype=float).reshape(-1)
        self.data = jnp.asarray([float(m.value) for m in measurements], dtype=float).reshape(-1)
        self.obs_src = jnp.asarray(obs_src)
        self.noise_src = jnp.asarray(noise_src)
        self.row_blocks = tuple((r[0], r[-1] + 1) if r else (0, 0) for r in rows)
        self.given_rows = tuple(given_rows)
        self.measurements = tuple(measurements)
        self.spec = (
            tuple(parameters),
            tuple((c, tuple(v.items())) for c, v in conditions.items()),
        )

    def blocks(self) -> list[tuple[Observable, slice]]:
        """``(observable, rows)`` for each observable with measurements; its rows are one
        block. Sliced, not gathered by index arrays: with `_ParameterValues`, Schwen_PONE2014's
        fit program, whose observation parameters are optimised at every trial point, compiled
        in 8.9 s instead of 11.8 s (one core, back to back; docs/inference.md)."""
        return [
            (o, slice(a, b))
            for o, (a, b) in zip(self.observables, self.row_blocks, strict=True)
            if b > a
        ]

    def rowwise(self, values_of, dtype) -> Float[Array, " rows"]:
        """``[M]``: ``values_of(observable, rows)`` (one value, or one per row) for each
        observable's block of rows (`blocks`), joined in row order."""
        return _joined(
            [
                jnp.broadcast_to(
                    jnp.asarray(values_of(o, rows), dtype=dtype), (rows.stop - rows.start,)
                )
                for o, rows in self.blocks()
            ],
            dtype,
        )

    def with_measurements(self, measurements: Sequence[Measurement]) -> "Problem":
        """The same model, observables, parameters and conditions with other measurements."""
        parameters, conditions = self.spec
        return Problem(
            self.model,
            self.observables,
            measurements,
            parameters,
            {c: dict(v) for c, v in conditions},
            self.method,
            self.initial,
        )

    # --- parameters ------------------------------------------------------------------------

    @property
    def n_parameters(self) -> int:
        """Number of estimated parameters E."""
        return len(self.parameter_ids)

    @property
    def observation_parameters(self) -> tuple[int, ...]:
        """Positions in ``parameter_ids`` of the estimated parameters no simulation reads (noise
        levels, scalings, offsets): they change ``observe``, never ``simulate``."""
        return tuple(i for i, only in enumerate(self.observation_only) if only)

    @property
    def simulated_parameters(self) -> tuple[int, ...]:
        """Positions in ``parameter_ids`` of the estimated parameters a simulation reads (the
        complement of `observation_parameters`): forward mode pushes tangents for these only."""
        return tuple(i for i, only in enumerate(self.observation_only) if not only)

    def nominal_parameters(self) -> Float[Array, " estimated"]:
        """Nominal values [E] of the estimated parameters, on their scale, in ``parameter_ids``
        order."""
        return _rescale(self.nominal_linear[self.estimated], self.codes)

    def linear_parameters(self, theta: Float[Array, " estimated"]) -> Float[Array, " all"]:
        """All problem parameters [Q] on the linear scale, estimated ones from ``θ`` [E]."""
        theta = jnp.asarray(theta, dtype=self.nominal_linear.dtype)
        return self.nominal_linear.at[self.estimated].set(_unscale(theta, self.codes))

    def model_parameters(self, theta) -> Float[Array, "conditions params"]:
        """Model parameter vectors [C, P] per condition (``condition_ids`` order)."""
        pool = jnp.concatenate([self.linear_parameters(theta), self.constants])
        return pool[self.param_src]

    # --- the forward model -----------------------------------------------------------------

    def _initial_states(self, theta_c, pool):
        model = self.model
        if self.initial is not None:
            y0 = jax.vmap(self.initial)(theta_c)
        else:
            y0 = jnp.broadcast_to(
                model.initial_state, (theta_c.shape[0], model.initial_state.shape[0])
            )
        return self._override(y0, theta_c, pool, jnp.arange(theta_c.shape[0]))

    def _override(self, y0, theta_c, pool, conditions):
        for k, name in enumerate(self.override_species):
            values = pool[self.species_src[conditions, k]]
            mask = self.species_mask[conditions, k]
            new = jax.vmap(
                lambda y, t, v, name=name: _adapter.set_state(self.model, y, t, name, v)
            )(y0, theta_c, values)
            y0 = jnp.where(mask[:, None], new, y0)
        return y0

    def _pool(self, theta):
        """``(pool [Q + constants], model parameters per experiment [X, P])`` at ``θ``."""
        pool = jnp.concatenate([self.linear_parameters(theta), self.constants])
        return pool, pool[self.param_src][self.exp_condition]

    def simulate(
        self, theta, one_by_one: bool = False
    ) -> tuple[Float[Array, "experiments slots states"], Array]:
        """Trajectories of all experiments and whether every solve succeeded:
        ``(ys [X, T(+1), S], ok)``; the extra time slot holds the steady state of experiments
        measured at ``t = inf``. Failed values are replaced by 1 (``ok`` is False).

        The experiments are solved together (`jax.vmap`), or with ``one_by_one`` one after
        another (`jax.lax.map`). A vmapped adaptive solve takes as many steps for every
        experiment as the longest needs; forward-mode sensitivities on the CPU pay for those
        idle steps (`state_sensitivities`), plain and reverse-mode solves do not. A single
        experiment is never batched: under `jax.vmap` every `lax.cond` of the solver becomes
        a select that runs both branches."""
        pool, theta_x = self._pool(theta)
        theta_c = pool[self.param_src]
        y0_c = self._initial_states(theta_c, pool)
        y0_x = y0_c[self.exp_condition]
        ok = jnp.asarray(True)

        def steady(args):
            return _adapter.steady_state(self.model, self.method, *args)

        def solve(args):
            return _adapter.solve(self.model, self.method, *args)

        if self.has_preequilibration:
            pre = (theta_c[self.pre_conditions], y0_c[self.pre_conditions])
            x_pre, ok_pre = _batched(steady, pre, one_by_one)
            ok = ok & jnp.all(ok_pre)
            from_pre = x_pre[jnp.maximum(self.exp_pre, 0)]
            from_pre = self._override(from_pre, theta_x, pool, self.exp_condition)
            y0_x = jnp.where((self.exp_pre >= 0)[:, None], from_pre, y0_x)

        ys, ok_x = _batched(solve, (self.ts, theta_x, y0_x), one_by_one)
        ok = ok & jnp.all(ok_x)
        if self.has_inf:
            idx = self.inf_experiments
            x_inf, ok_inf = _batched(steady, (theta_x[idx], y0_x[idx]), one_by_one)
            ok = ok & jnp.all(ok_inf)
            extra = jnp.zeros((ys.shape[0], 1, ys.shape[2]), dtype=ys.dtype).at[idx, 0].set(x_inf)
            ys = jnp.concatenate([ys, extra], axis=1)
        ys = jnp.where(ok & jnp.isfinite(ys), ys, 1.0)
        return ys, ok

    def observe(self, theta, ys) -> tuple[Float[Array, " rows"], Float[Array, " rows"]]:
        """Observables ``h`` [M] and noise levels ``σ`` [M] at every measurement, from
        trajectories ``ys`` [X, T(+1), S] (`simulate`) and ``θ`` [E]."""
        pool, theta_x = self._pool(theta)
        parameters = _ParameterValues(self.all_parameter_ids, pool)
        observed = []
        for o, rows in self.blocks():
            x = self.row_experiment[rows]
            y = ys[x, self.row_time_index[rows]]
            th = theta_x[x]
            po = pool[self.obs_src[rows]]
            pn = pool[self.noise_src[rows]]
            k_o, k_n = o.placeholders("observable"), o.placeholders("noise")

            def one(t, y, th, po, pn, o=o, k_o=k_o, k_n=k_n):
                env = _adapter.observation_env(self.model, t, y, th, parameters)
                value, s = o.evaluate(env, po[:k_o], pn[:k_n])
                return jnp.asarray(value, dtype=y.dtype), jnp.asarray(s, dtype=y.dtype)

            observed.append(jax.vmap(one)(self.row_time[rows], y, th, po, pn))
        h, sigma = (_joined([block[k] for block in observed], ys.dtype) for k in (0, 1))
        return h, sigma

    def predict(self, theta) -> tuple[Float[Array, " rows"], Float[Array, " rows"], Array]:
        """Simulated observables ``h`` [M] and noise levels ``σ`` [M] at every measurement, and
        whether every solve succeeded. One compiled program: run op by op, a call on the
        built-in example took 1.9 s; compiled, 1.5 ms."""
        return _predict(self, jnp.asarray(theta, dtype=self.nominal_linear.dtype))

    def log_likelihood_of(self, h, sigma) -> Float[Array, " rows"]:
        """``log p(y_i | h_i, σ_i)`` [M] of the data given predictions ``h`` [M] and noise
        levels ``σ`` [M] (each observable's noise model)."""
        return self.rowwise(
            lambda o, rows: o.noise_model.log_prob(self.data[rows], h[rows], sigma[rows]), h.dtype
        )

    def chi2(self, theta) -> Float[Array, ""]:
        """``Σ_i r_i²`` of the standardised residuals (PEtab's chi2:
        ``((scale(y) − scale(h)) / σ)²`` for normal and Laplace noise on their scales)."""
        h, sigma, _ = self.predict(jnp.asarray(theta, dtype=self.nominal_linear.dtype))
        total = jnp.zeros((), dtype=h.dtype)
        for o, rows in self.blocks():
            scale = getattr(o.noise_model, "scale", "lin")
            r = Normal(scale).residual(self.data[rows], h[rows], sigma[rows])
            total = total + jnp.sum(r**2)
        return total

    def log_prior(self, theta) -> Float[Array, ""]:
        """``log π(θ)`` of the priors in the parameter table (0 without priors)."""
        total = jnp.zeros((), dtype=self.nominal_linear.dtype)
        lin = _unscale(jnp.asarray(theta, dtype=self.nominal_linear.dtype), self.codes)
        for k, kind, (a, b), _ in self.priors:
            x = theta[k] if kind.startswith("parameterScale") else lin[k]
            kind = kind.removeprefix("parameterScale")
            kind = kind[0].lower() + kind[1:]
            if kind == "normal":
                total = total - 0.5 * math.log(2 * math.pi * b * b) - 0.5 * ((x - a) / b) ** 2
            elif kind == "laplace":
                total = total - math.log(2 * b) - jnp.abs(x - a) / b
            elif kind == "logNormal":
                total = (
                    total
                    - 0.5 * math.log(2 * math.pi * b * b)
                    - jnp.log(x)
                    - 0.5 * ((jnp.log(x) - a) / b) ** 2
                )
            elif kind == "logLaplace":
                total = total - math.log(2 * b) - jnp.log(x) - jnp.abs(jnp.log(x) - a) / b
            elif kind == "uniform":
                total = total - math.log(b - a)
        return total

    def nllh(self, theta: Float[Array, " estimated"]) -> Float[Array, ""]:
        """Negative log-likelihood ``−Σ_i log p(y_i | θ)`` at ``θ`` [E] on the parameter scale
        (the value PEtab benchmarks publish; priors excluded); ``+inf`` when a solve fails."""
        return _nllh(self, jnp.asarray(theta, dtype=self.nominal_linear.dtype), False)

    def objective(self, theta: Float[Array, " estimated"]) -> Float[Array, ""]:
        """What `fit` and `profile` minimise: ``nllh(θ) − log π(θ)`` (the negative log
        posterior; equal to ``nllh`` without priors); ``+inf`` when a solve fails."""
        return _nllh(self, jnp.asarray(theta, dtype=self.nominal_linear.dtype), True)

    def residuals(self, theta) -> Float[Array, " residuals"]:
        """Residuals ``r`` with ``½ Σ r² = objective + const`` for Gaussian (normal, log-normal)
        problems: standardised data residuals, then ``sqrt(log(2πσ²) + c)`` per measurement
        (σ-dependence; AMICI's trick) and Gaussian priors."""
        return _residuals(self, jnp.asarray(theta, dtype=self.nominal_linear.dtype))

    def value_and_grad(self, theta, mode: str | None = None):
        """``(objective, ∇objective [E])``; ``mode`` forward (jacfwd; the method's adjoint must be
        `diffrax.ForwardMode`) or reverse; default: as the method's adjoint allows."""
        theta = jnp.asarray(theta, dtype=self.nominal_linear.dtype)
        if mode is None:
            mode = "forward" if isinstance(self.method.adjoint, diffrax.ForwardMode) else "reverse"
        problem = self
        if mode == "reverse" and isinstance(self.method.adjoint, diffrax.ForwardMode):
            problem = self.with_adjoint(StepAdjoint())
        if mode == "forward" and not isinstance(self.method.adjoint, diffrax.ForwardMode):
            problem = self.with_adjoint(diffrax.ForwardMode())
        return _value_and_grad(problem, theta, mode == "forward")

    def with_adjoint(self, adjoint) -> "Problem":
        """The same problem differentiated with another diffrax adjoint."""
        return eqx.tree_at(lambda p: p.method.adjoint, self, adjoint)

    def with_method(self, method: ODE) -> "Problem":
        """The same problem solved with another `ODE` method (e.g. other tolerances)."""
        return eqx.tree_at(lambda p: p.method, self, method)

    @property
    def forward_mode(self) -> bool:
        return isinstance(self.method.adjoint, diffrax.ForwardMode)


def objective_given(problem: Problem, theta, ys, prior: bool = True) -> Float[Array, ""]:
    """``nllh − log π`` (``nllh`` without ``prior``) at ``θ`` [E] for fixed trajectories
    ``ys`` [X, T(+1), S] (exact for a change of the `Problem.observation_parameters` alone; no
    solve)."""
    h, sigma = problem.observe(theta, ys)
    value = -jnp.sum(problem.log_likelihood_of(h, sigma))
    return value - problem.log_prior(theta) if prior else value


def state_sensitivities(problem: Problem, theta):
    """``(ys [X, T(+1), S], ∂ys/∂θ [X, T(+1), S, E], ok)`` by one forward-mode pass
    (``problem`` in forward mode) with tangents for the `Problem.simulated_parameters` only;
    the other columns are zero. On the CPU several experiments are solved one after another
    (`Problem.simulate`): back to back, Schwen_PONE2014's sensitivities (19 experiments) took
    63 ms instead of 101, Brannmark_JBC2010's (8) 39 instead of 67, at rtol 1e-6; a fit of
    Schwen ran 136 ms per trust-region iteration instead of 179. On other devices a vmapped
    solve keeps them in parallel."""
    simulated = jnp.asarray(problem.simulated_parameters, dtype=int)
    one_by_one = jax.default_backend() == "cpu"

    def simulate(z):
        ys, ok = problem.simulate(theta.at[simulated].set(z), one_by_one)
        return ys, (ys, ok)

    partial, (ys, ok) = jax.jacfwd(simulate, has_aux=True)(theta[simulated])
    dys = jnp.zeros(ys.shape + theta.shape, dtype=ys.dtype).at[..., simulated].set(partial)
    return ys, dys, ok


def _batched(fn, args, one_by_one: bool):
    """``fn`` over the leading axis of ``args``: one after another (`jax.lax.map`) where
    asked or where there is only one, else together (`jax.vmap`). A single item is never
    batched: under `jax.vmap` every `lax.cond` of a solver becomes a select that runs both
    branches (a vmapped pre-equilibration of Brannmark_JBC2010's one condition compiled its
    nllh 0.6 s slower)."""
    if one_by_one or jax.tree.leaves(args)[0].shape[0] == 1:
        return jax.lax.map(fn, args)
    return jax.vmap(fn)(args)


class _ParameterValues:
    """Problem parameters by id, read from the pool when a formula asks (not every one
    sliced out for every observable, in every transformation of the objective)."""

    def __init__(self, ids, pool):
        self.index, self.pool = {name: k for k, name in enumerate(ids)}, pool

    def __contains__(self, name) -> bool:
        return name in self.index

    def __getitem__(self, name):
        return self.pool[self.index[name]]


def _joined(blocks, dtype) -> Array:
    """The values of every block of rows [M], in row order (`Problem.blocks`)."""
    return jnp.concatenate(blocks) if blocks else jnp.zeros(0, dtype=dtype)


def _guard(ok, value):
    return jnp.where(ok & jnp.isfinite(value), value, jnp.inf)


def _safe_nllh(problem: Problem, theta, prior: bool):
    ys, ok = problem.simulate(theta)
    return _guard(ok, objective_given(problem, theta, ys, prior))


_nllh = ode_jit(_safe_nllh)


@ode_jit
def _predict(problem: Problem, theta):
    ys, ok = problem.simulate(theta)
    h, sigma = problem.observe(theta, ys)
    return h, sigma, ok


def _residuals_impl(problem: Problem, theta):
    h, sigma, ok = problem.predict(theta)
    for o, _ in problem.blocks():
        if not o.noise_model.gaussian:
            raise InferenceError(
                f"least squares needs Gaussian noise; observable {o.id!r} has "
                f"{type(o.noise_model).__name__}"
            )

    def standardised(o, rows):
        return o.noise_model.residual(problem.data[rows], h[rows], sigma[rows])

    def of_sigma(o, rows):
        # -log p = ½ r² + ½ log(2π σ²) + log-Jacobian: positive offset keeps the sqrt real.
        log_p = o.noise_model.log_prob(problem.data[rows], h[rows], sigma[rows])
        return jnp.sqrt(2.0 * (-log_p - 0.5 * standardised(o, rows) ** 2) + _SIGMA_OFFSET)

    parts = [problem.rowwise(standardised, h.dtype), problem.rowwise(of_sigma, h.dtype)]
    for k, kind, (a, b), _ in problem.priors:
        if kind in ("parameterScaleNormal",):
            parts.append(jnp.reshape((theta[k] - a) / b, (1,)))
    r = jnp.concatenate(parts)
    return jnp.where(ok & jnp.isfinite(r), r, 1e10)


_SIGMA_OFFSET = 50.0
_residuals = ode_jit(_residuals_impl)


@ode_jit
def _value_and_grad(problem: Problem, theta, forward: bool):
    if forward:
        ys, dys, ok = state_sensitivities(problem, theta)
        value, (partial, by_state) = jax.value_and_grad(objective_given, argnums=(1, 2))(
            problem, theta, ys
        )
        value = _guard(ok, value)
        grad = partial + jnp.tensordot(by_state, dys, axes=by_state.ndim)
    else:
        value, grad = jax.value_and_grad(lambda t: _safe_nllh(problem, t, True))(theta)
    grad = jnp.where(jnp.isfinite(value) & jnp.isfinite(grad), grad, 0.0)
    return value, grad
