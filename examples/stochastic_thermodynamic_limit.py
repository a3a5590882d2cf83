"""Thermodynamic limit: CV ∝ Ω^(-1/2) and the ensemble mean → the ODE.

Birth–death in concentrations (k = 1, γ = 1, x0 = 1) simulated with Gillespie at system sizes
Ω = 1 … 1000 (counts = Ω x). The coefficient of variation of the concentration falls like
Ω^(-1/2) (fitted slope printed) and the mean approaches the ODE solution. Writes
``examples-output/thermodynamic_limit.png``.
Run: ``python examples/stochastic_thermodynamic_limit.py``.
"""

from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import msjax  # noqa: E402
from msjax.stochastic import Gillespie, ensemble_stats  # noqa: E402


def main():
    model = msjax.models.birth_death(k=1.0, gamma=1.0, x0=1.0)
    ts = jnp.linspace(0.0, 2.0, 21)
    ode = np.asarray(msjax.simulate(model, msjax.ODE(), ts)["X"])
    omegas = np.array([1.0, 10.0, 100.0, 1000.0])
    cvs, errors = [], []
    for i, omega in enumerate(omegas):
        stats = ensemble_stats(
            model, Gillespie(omega=float(omega)), ts, key=jax.random.PRNGKey(i), n=2000
        )
        mean = stats.mean[:, 0] / omega
        cvs.append(stats.sd[-1, 0] / stats.mean[-1, 0])
        errors.append(np.abs(mean - ode).max())
        print(f"Ω = {omega:6g}: CV = {cvs[-1]:.4f}, max |mean − ODE| = {errors[-1]:.4f}")
    slope, intercept = np.polyfit(np.log(omegas), np.log(cvs), 1)
    print(f"fitted slope of log CV vs log Ω: {slope:.3f} (theory −0.5)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path("examples-output")
    out.mkdir(exist_ok=True)
    figure, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.loglog(omegas, cvs, "o", label="SSA")
    a.loglog(omegas, np.exp(intercept) * omegas**slope, "-", label=f"slope {slope:.3f}")
    a.set_xlabel("system size Ω")
    a.set_ylabel("CV at t = 2")
    a.legend()
    b.loglog(omegas, errors, "o-")
    b.set_xlabel("system size Ω")
    b.set_ylabel("max |ensemble mean − ODE|")
    figure.tight_layout()
    figure.savefig(out / "thermodynamic_limit.png", dpi=110)
    print(f"wrote {out / 'thermodynamic_limit.png'}")
    assert abs(slope + 0.5) < 0.05


if __name__ == "__main__":
    main()
