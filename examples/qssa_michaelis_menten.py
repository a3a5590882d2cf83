"""Michaelis–Menten from mass action: QSSA-reduce E + S ⇌ C → E + P and watch the error shrink
as ε = E0/(S0 + Km) → 0 (Segel & Slemrod 1989).

Run: python examples/qssa_michaelis_menten.py --out msjax-output/
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

import msjax  # noqa: E402
from msjax.deterministic._qssa import qssa, qssa_inputs, reduction_error  # noqa: E402
from msjax.deterministic._qssa_diagnostics import suggest_fast_species  # noqa: E402

S0, KF, KR, KCAT = 10.0, 1.0, 1.0, 0.5
KM = (KR + KCAT) / KF


def main(out: Path) -> None:
    full = msjax.models.michaelis_menten(e0=0.1, s0=S0)
    suggestion = suggest_fast_species(full)
    print(f"suggested fast species: {suggestion.fast} (gap between modes {suggestion.gap:.0f}x)")
    reduced = qssa(full, ["C"])
    theta, _ = qssa_inputs(reduced)
    rate = -reduced.rhs(0.0, jnp.array([0.5, 0.0]), theta)[0]
    print(
        f"reduced rate at S = 0.5: {float(rate):.6f}; MM law kcat E0 S/(Km + S) = "
        f"{KCAT * 0.1 * 0.5 / (KM + 0.5):.6f}"
    )

    eps = np.logspace(-3, 0, 7)
    errors, reports = [], {}
    for e in eps:
        e0 = e * (S0 + KM)
        ts = jnp.linspace(0.0, 5.0 * (S0 + KM) / (KCAT * e0), 201)
        report = reduction_error(full, reduced, ts, y0={"E": e0})
        errors.append(float(report.max_error))
        reports[e] = report
    slope = np.polyfit(np.log(eps[:5]), np.log(errors[:5]), 1)[0]
    print("   eps      max rel. error")
    for e, err in zip(eps, errors, strict=True):
        print(f"  {e:8.1e}  {err:10.3e}")
    print(f"fitted slope over eps in [1e-3, 1e-1]: {slope:.3f} (first order: 1)")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for e, style in ((eps[-1], "-"), (eps[4], "--")):
        rep = reports[e]
        t = np.asarray(rep.full.ts) * KCAT * e * (S0 + KM)
        axes[0].plot(t, rep.full["S"], "k" + style, label=f"full, ε = {e:.2g}")
        axes[0].plot(t, rep.reduced["S"], "C1" + style, label=f"QSSA, ε = {e:.2g}")
        axes[0].plot(
            t,
            10 * np.asarray(rep.full["C"]) / e / (S0 + KM),
            "C2" + style,
            lw=0.8,
            label=f"10·C/E0 (full), ε = {e:.2g}",
        )
    axes[0].set_xlim(0, 25)
    axes[0].set_xlabel("time × kcat E0")
    axes[0].set_ylabel("concentration")
    axes[0].set_title("substrate: full vs reduced")
    axes[0].legend(fontsize=7)
    axes[1].loglog(eps, errors, "o-", label="max relative error")
    axes[1].loglog(eps, eps, "k:", label="ε")
    axes[1].set_xlabel("ε = E0 / (S0 + Km)")
    axes[1].set_ylabel("reduction error")
    axes[1].set_title(f"error ∝ ε^{slope:.2f}")
    axes[1].legend()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "qssa_michaelis_menten.png", dpi=100, bbox_inches="tight")
    print(f"wrote {out / 'qssa_michaelis_menten.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("msjax-output"))
    main(parser.parse_args().out)
