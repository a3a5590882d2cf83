"""A Hill switch from a mechanism: a transcription factor binds n promoter sites cooperatively;
QSSA-reducing the fast binding leaves a Hill-type response, whose fitted Hill coefficient and
threshold are printed next to the mechanism's (Adair 1925; Hill 1910; Alon 2006, ch. 2).

Run: python examples/qssa_cooperative_binding.py --out msjax-output/
"""

import argparse
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optimistix as optx  # noqa: E402

import msjax  # noqa: E402
from msjax.deterministic._qssa import qssa, qssa_inputs, reduction_error  # noqa: E402
from msjax.deterministic._qssa_diagnostics import suggest_fast_species  # noqa: E402
from msjax.deterministic._qssa_models import (  # noqa: E402
    cooperative_promoter,
    promoter_occupancy,
)

N, K1, W, KP, DELTA = 4, 8.0, 4.0, 1.0, 1.0


def hill(params, x):
    vmax, k, n = params
    return vmax * x**n / (k**n + x**n)


def fit_hill(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares Hill fit (vmax, K, n) by Levenberg–Marquardt (optimistix)."""
    residual = lambda p, args: hill(p, args[0]) - args[1]  # noqa: E731
    solver = optx.LevenbergMarquardt(rtol=1e-10, atol=1e-12)
    guess = jnp.array([float(y.max()), float(np.median(x)), 2.0])
    return np.asarray(optx.least_squares(residual, solver, guess, (x, y)).value)


def main(out: Path) -> None:
    full = cooperative_promoter(n=N, k1=K1, cooperativity=W, kp=KP, delta=DELTA)
    suggestion = suggest_fast_species(full)
    print(f"suggested fast species: {suggestion.fast} (gap {suggestion.gap:.0f}x)")
    reduced = qssa(full, [f"D{i}" for i in range(1, N + 1)])
    print(
        f"reduced model: species {reduced.species_names}, new parameter(s) "
        f"{reduced.parameter_names[len(full.parameter_names) :]}"
    )

    xs = np.logspace(-1, 1.3, 40)
    theta, _ = qssa_inputs(reduced)
    response = np.array([float(msjax.steady_state(reduced, theta, y0={"X": x})["Y"]) for x in xs])
    dissociation = K1 / W ** np.arange(N)
    exact = KP / DELTA * promoter_occupancy(xs, dissociation)
    print(f"max |reduced steady state - analytic occupancy| = {np.abs(response - exact).max():.2e}")

    vmax, k_fit, n_fit = fit_hill(jnp.asarray(xs), jnp.asarray(response))
    threshold = float(np.prod(dissociation) ** (1 / N))
    print("                 Hill coefficient   threshold")
    print(f"  mechanism      {N:16d}   {threshold:9.3f}   (n sites, (Π K_i)^(1/n))")
    print(f"  fitted Hill    {n_fit:16.3f}   {k_fit:9.3f}   (vmax {vmax:.3f})")

    ts = jnp.linspace(0.0, 8.0, 81)
    report = reduction_error(full, reduced, ts, y0={"X": threshold})
    print(f"dynamics at X = threshold: max relative error of Y = {float(report.max_error):.2e}")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    axes[0].semilogx(xs, exact, "k-", lw=3, alpha=0.3, label="analytic occupancy")
    axes[0].semilogx(xs, response, "C1.", label="QSSA steady state")
    axes[0].semilogx(
        xs,
        hill((vmax, k_fit, n_fit), xs),
        "C0--",
        label=f"Hill fit, n = {n_fit:.2f}, K = {k_fit:.2f}",
    )
    axes[0].axvline(threshold, color="grey", lw=0.8)
    axes[0].set_xlabel("transcription factor X")
    axes[0].set_ylabel("steady-state Y")
    axes[0].set_title(f"{N} cooperative sites → switch")
    axes[0].legend(fontsize=8)
    axes[1].plot(ts, report.full["Y"], "k-", label="full")
    axes[1].plot(ts, report.reduced["Y"], "C1--", label="QSSA")
    axes[1].plot(ts, report.full[f"D{N}"], "k:", label=f"D{N} (full)")
    axes[1].plot(ts, report.reduced[f"D{N}"], "C2--", label=f"D{N} (QSSA)")
    axes[1].set_xlabel("time")
    axes[1].set_title("response at X = threshold")
    axes[1].legend(fontsize=8)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "qssa_cooperative_binding.png", dpi=100, bbox_inches="tight")
    print(f"wrote {out / 'qssa_cooperative_binding.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("msjax-output"))
    main(parser.parse_args().out)
