"""The built-in fitting example: gene expression with mRNA measured in relative units.

``∅ → M`` (k_m), ``M → ∅`` (g_m), ``M → M + P`` (k_p), ``P → ∅`` (g_p); protein is measured in
absolute units, mRNA only up to an unknown scale ``s`` (``s·M``), both with 10 % log-normal
noise. Scaling ``k_m`` up by c and ``k_p``, ``s`` down by c leaves every observable unchanged:
only ``k_m·k_p`` and ``k_m·s`` are identifiable (with ``g_m`` and ``g_p``), a textbook
structural non-identifiability that `structural_identifiability` names.
"""

import numpy as np

from ._noise import Normal
from ._observables import Observable
from ._problem import Measurement, Parameter, Problem

TRUE_PARAMETERS = {"k_m": 2.0, "g_m": 0.5, "k_p": 5.0, "g_p": 0.2, "s": 0.1}
NOISE = 0.1  # standard deviation of ln(measurement)
TIMES = np.linspace(1.0, 24.0, 12)


def gene_expression_model():
    """mRNA ``M`` and protein ``P`` from zero, mass-action production and decay."""
    import msjax

    return msjax.Model(
        species={"M": 0.0, "P": 0.0},
        reactions=[
            msjax.Reaction("-> M", msjax.MassAction("k_m"), name="transcription"),
            msjax.Reaction("M ->", msjax.MassAction("g_m"), name="mRNA_decay"),
            msjax.Reaction("M -> M + P", msjax.MassAction("k_p"), name="translation"),
            msjax.Reaction("P ->", msjax.MassAction("g_p"), name="protein_decay"),
        ],
        parameters=dict(TRUE_PARAMETERS),
    )


def gene_expression_problem(data=None) -> Problem:
    """The fitting problem; ``data``: ``{"mRNA": [T], "protein": [T]}`` at `TIMES`
    (default: ones, to be replaced by `gene_expression_data`). All five parameters are estimated on
    log10 scale within [1e-2, 1e2]."""
    data = data or {"mRNA": np.ones_like(TIMES), "protein": np.ones_like(TIMES)}
    observables = [
        Observable("mRNA", "s * M", noise=str(NOISE), noise_model=Normal("log")),
        Observable("protein", "P", noise=str(NOISE), noise_model=Normal("log")),
    ]
    measurements = [
        Measurement(name, float(t), float(y))
        for name in ("mRNA", "protein")
        for t, y in zip(TIMES, data[name], strict=True)
    ]
    parameters = [
        Parameter(name, "log10", 1e-2, 1e2, value) for name, value in TRUE_PARAMETERS.items()
    ]
    return Problem(gene_expression_model(), observables, measurements, parameters)


def gene_expression_data(*, key) -> dict[str, np.ndarray]:
    """Measurements [T] per observable simulated at `TRUE_PARAMETERS` with log-normal noise
    ``y = h · exp(NOISE · z)``, ``z ~ N(0, 1)`` drawn from ``key``."""
    import jax

    problem = gene_expression_problem()
    h, _, _ = problem.predict(problem.nominal_parameters())
    z = jax.random.normal(key, h.shape, dtype=h.dtype)
    y = np.asarray(h * np.exp(NOISE * np.asarray(z)))
    return {"mRNA": y[: TIMES.size], "protein": y[TIMES.size :]}
