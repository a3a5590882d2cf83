"""A precise prediction from sloppy parameters.

Fitting gene expression (mRNA in relative units, protein) to noisy data leaves the
transcription rate ``k_m`` undetermined: every start of a multistart fit that reaches the
optimum lands elsewhere along the valley ``k_m · k_p``, ``k_m · s`` fixed, spread over decades.
Yet the aggregated phenotype the data constrain — the steady-state protein level
``P* = k_m k_p / (g_m g_p)`` — is the same for all of them to within a few per cent, and the
Laplace approximation from the Fisher information agrees. Run:
``python examples/sloppy_prediction.py``.
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import msjax  # noqa: E402
from msjax.inference import (  # noqa: E402
    gene_expression_data,
    gene_expression_problem,
    predict_uncertainty,
)


def steady_protein(theta):
    """``log10 P*`` from ``θ = log10 (k_m, g_m, k_p, g_p, s)``."""
    k_m, g_m, k_p, g_p, _ = theta
    return jnp.reshape(k_m + k_p - g_m - g_p, (1,))


if __name__ == "__main__":
    problem = gene_expression_problem(gene_expression_data(key=jax.random.key(1)))
    truth = problem.nominal_parameters()
    result = msjax.fit(problem, n_starts=20, key=jax.random.key(4))
    good = np.asarray(result.fvals) <= float(result.fun) + 0.1
    fits = result.xs[good]  # [n, 5]: every start that reached the optimum
    spread = np.ptp(np.asarray(fits), axis=0)
    ensemble = predict_uncertainty(problem, result.x, steady_protein, samples=fits)
    laplace = predict_uncertainty(problem, result.x, steady_protein)
    print(f"{good.sum()} of 20 starts reached the optimum (nllh {float(result.fun):.3f})")
    for name, s in zip(problem.parameter_ids, spread, strict=True):
        print(f"  {name:>4s}: fitted values span {s:5.2f} decades")
    print(
        f"steady-state protein P*: true {10 ** float(steady_protein(truth)[0]):.1f}; ensemble "
        f"{10 ** float(ensemble.mean[0]):.1f} (sd {float(ensemble.std[0]):.4f} decades); Laplace "
        f"{10 ** float(laplace.mean[0]):.1f} (sd {float(laplace.std[0]):.4f} decades)"
    )
    assert spread[0] > 0.5, "k_m should be sloppy across the fits"
    assert float(ensemble.std[0]) < 0.01 and float(laplace.std[0]) < 0.05
    assert abs(float(laplace.mean[0] - steady_protein(truth)[0])) < 3 * float(laplace.std[0])
