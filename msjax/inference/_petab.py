"""`load_petab`: a PEtab v1 problem (yaml + SBML + tables) → `Problem`.

Tables are read (and, with ``validate=True``, linted) by the ``petab`` library; the SBML
model by `msjax.load_sbml`. Initial values that SBML defines by initial assignments are
re-evaluated from the (condition-specific) parameters (`RuleModel.initial_values`), so they
follow estimated parameters.
"""

import math
from pathlib import Path

from ._errors import PEtabError
from ._noise import noise_model_from_petab
from ._observables import Observable
from ._problem import Measurement, Parameter, Problem


def _split(value) -> tuple:
    """PEtab's ``a;b`` lists of numbers or ids (a float NaN: empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, int | float):
        return (float(value),)
    return tuple(part.strip() for part in str(value).split(";") if part.strip())


def _number_or_id(value):
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value.strip()
    return float(value)


def load_petab(yaml_path, *, validate: bool = False, method=None) -> Problem:
    """Load a PEtab v1 problem as a `Problem`.

    **Arguments:** ``yaml_path``: the problem's yaml file; ``validate``: also run
    ``petab.lint_problem`` (slower); ``method``: an `ODE` (default as `Problem`'s).

    Errors (`PEtabError`) name the file, the row and the column: an unknown observable or
    parameter, bounds with lower > upper, a non-positive value on a log scale, data with NaN.

    **Example:** ``problem = msjax.load_petab("Boehm_JProteomeRes2014.yaml")``
    """
    import petab.v1 as petab
    import yaml

    from ..model import load_sbml

    yaml_path = Path(yaml_path)
    if not yaml_path.is_file():
        raise PEtabError(f"PEtab yaml not found: {yaml_path}")
    config = yaml.safe_load(yaml_path.read_text())
    if len(config.get("problems", [])) != 1:
        raise PEtabError(f"{yaml_path}: exactly one problem per yaml is supported")
    spec = config["problems"][0]
    base = yaml_path.parent
    files = {
        k: [base / f for f in spec.get(k, [])]
        for k in ("sbml_files", "condition_files", "measurement_files", "observable_files")
    }
    files["parameter_file"] = [base / config["parameter_file"]]
    if len(files["sbml_files"]) != 1:
        raise PEtabError(f"{yaml_path}: exactly one SBML file is supported")
    try:
        pp = petab.Problem.from_yaml(str(yaml_path))
    except Exception as error:  # the petab library's own reading errors
        raise PEtabError(f"{yaml_path}: {error}") from error
    if validate and petab.lint_problem(pp):
        raise PEtabError(f"{yaml_path}: petab.lint_problem reports errors (see the log)")
    sbml = files["sbml_files"][0]
    model = load_sbml(sbml)
    par_file = files["parameter_file"][0].name
    meas_file = ", ".join(f.name for f in files["measurement_files"])
    obs_file = ", ".join(f.name for f in files["observable_files"])

    # --- parameters --------------------------------------------------------------------------
    parameters = []
    pdf = pp.parameter_df
    for row, (pid, r) in enumerate(pdf.iterrows(), start=2):
        where = f"{par_file}, row {row} ({pid})"
        prior = None
        ptype = r.get("objectivePriorType")
        if isinstance(ptype, str) and ptype:
            values = tuple(float(v) for v in _split(r.get("objectivePriorParameters")))
            prior = (ptype, values)
        try:
            lower, upper = float(r["lowerBound"]), float(r["upperBound"])
            nominal = float(r["nominalValue"]) if "nominalValue" in r else float("nan")
            estimate = bool(int(r["estimate"]))
        except (KeyError, ValueError) as error:
            raise PEtabError(f"{where}: bad or missing column {error}") from None
        scale = str(r.get("parameterScale", "lin"))
        if not lower <= upper:
            raise PEtabError(
                f"{where}, columns lowerBound/upperBound: lower {lower} > upper {upper}"
            )
        if scale != "lin" and estimate and not (lower > 0 and upper > 0):
            raise PEtabError(f"{where}, column lowerBound: non-positive bound on {scale} scale")
        if scale != "lin" and not nominal > 0 and not math.isnan(nominal):
            raise PEtabError(f"{where}, column nominalValue: non-positive value on {scale} scale")
        parameters.append(Parameter(str(pid), scale, lower, upper, nominal, estimate, prior))
    ids = {p.id for p in parameters}

    # --- observables -------------------------------------------------------------------------
    observables = []
    for row, (oid, r) in enumerate(pp.observable_df.iterrows(), start=2):
        noise = r.get("noiseFormula", 1.0)
        noise = "1" if noise is None or (isinstance(noise, float) and math.isnan(noise)) else noise
        transformation = r.get("observableTransformation", "lin")
        transformation = transformation if isinstance(transformation, str) else "lin"
        distribution = r.get("noiseDistribution", "normal")
        distribution = distribution if isinstance(distribution, str) else "normal"
        try:
            observables.append(
                Observable(
                    str(oid),
                    str(r["observableFormula"]),
                    str(noise),
                    noise_model_from_petab(distribution, transformation),
                )
            )
        except Exception as error:
            raise PEtabError(f"{obs_file}, row {row} ({oid}): {error}") from None

    # --- conditions ---------------------------------------------------------------------------
    conditions = {}
    cdf = pp.condition_df
    if cdf is not None:
        cond_file = ", ".join(f.name for f in files["condition_files"])
        for row, (cid, r) in enumerate(cdf.iterrows(), start=2):
            overrides = {}
            for column, value in r.items():
                if column == "conditionName":
                    continue
                value = _number_or_id(value)
                if isinstance(value, str) and value not in ids:
                    if value in model.parameter_names:
                        # a model parameter's (default) value
                        value = float(model.parameter_values[model.parameter_index(value)])
                    else:
                        raise PEtabError(
                            f"{cond_file}, row {row} (condition {cid!r}), column {column!r}: "
                            f"unknown parameter {value!r}"
                        )
                overrides[str(column)] = value
            conditions[str(cid)] = overrides

    # --- measurements -------------------------------------------------------------------------
    measurements = []
    obs_ids = {o.id for o in observables}
    mdf = pp.measurement_df
    for row, r in enumerate(mdf.itertuples(index=False), start=2):
        r = r._asdict()
        where = f"{meas_file}, row {row}"
        if r["observableId"] not in obs_ids:
            raise PEtabError(
                f"{where}, column observableId: unknown observable {r['observableId']!r}"
            )
        value = float(r["measurement"])
        if math.isnan(value):
            raise PEtabError(f"{where}, column measurement: NaN")
        time = float(r["time"])
        if math.isnan(time):
            raise PEtabError(f"{where}, column time: NaN")
        pre = r.get("preequilibrationConditionId")
        pre = pre if isinstance(pre, str) and pre else None
        params = []
        for column in ("observableParameters", "noiseParameters"):
            values = tuple(_number_or_id(v) for v in _split(r.get(column)))
            for v in values:
                if isinstance(v, str) and v not in ids:
                    raise PEtabError(f"{where}, column {column}: unknown parameter {v!r}")
            params.append(values)
        measurements.append(
            Measurement(
                str(r["observableId"]),
                time,
                value,
                str(r["simulationConditionId"]),
                pre,
                params[0],
                params[1],
            )
        )
    try:
        return Problem(
            model,
            observables,
            measurements,
            parameters,
            conditions,
            method,
            model.initial_values,
            where=str(yaml_path.name),
        )
    except PEtabError:
        raise
    except Exception as error:
        raise PEtabError(f"{yaml_path}: {error}") from error
