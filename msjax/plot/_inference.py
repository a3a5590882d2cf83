"""Figures of fits: multistart waterfall, Fisher eigen-spectrum, profile likelihoods."""

import math
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    _pyplot().close(figure)
    return path


def waterfall_offsets(fvals, *, tol: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``(f − f_best + 1 [N], near [N])`` of sorted objective values ``fvals`` [N]: the
    heights a log-scale waterfall draws (the best start at 1), and which starts lie within
    ``tol`` of the best. Non-finite values (failed starts) stay ``inf``."""
    fvals = np.sort(np.asarray(fvals, dtype=float))
    best = fvals[0]
    return fvals - best + 1.0, fvals <= best + tol


def plot_waterfall(
    fvals, path: Path | str, *, reference: float | None = None, title: str = ""
) -> Path:
    """Waterfall of a multistart fit: sorted final objective values ``fvals`` [N] against
    start rank, as ``f − f_best + 1`` on a log axis; starts within 0.1 of the best in colour,
    failed starts (``inf``) counted in the legend; ``reference`` (e.g. a published optimum)
    as a dashed line. Saves a PNG to ``path`` and returns it."""
    plt = _pyplot()
    heights, near = waterfall_offsets(fvals)
    finite = np.isfinite(heights)
    rank = np.arange(1, heights.size + 1)
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(rank[finite], heights[finite], color="0.6", lw=1, zorder=1)
    axes.scatter(rank[finite & ~near], heights[finite & ~near], s=12, color="0.4", label="other")
    axes.scatter(
        rank[near], heights[near], s=14, color="tab:blue", label=f"within 0.1 ({near.sum()})"
    )
    best = float(np.min(np.asarray(fvals, dtype=float)))
    if reference is not None and math.isfinite(reference):
        level = reference - best + 1.0
        if level > 0:
            axes.axhline(level, ls="--", color="tab:red", label=f"reference {reference:.4g}")
    if (~finite).any():
        axes.plot([], [], " ", label=f"failed: {(~finite).sum()}")
    axes.set_yscale("log")
    axes.set_xlabel("start (sorted)")
    axes.set_ylabel(f"objective − best + 1   (best {best:.6g})")
    axes.set_title(title or "multistart waterfall")
    axes.legend(fontsize=8)
    return _save(figure, path)


def plot_spectrum(spectrum, path: Path | str, *, title: str = "") -> Path:
    """Eigen-spectrum of a Fisher information matrix in the style of Gutenkunst et al. (2007,
    PLoS Comput Biol 3:e189): one horizontal line per eigenvalue ``λ_k / λ_max`` on a log axis
    (decades), stiff directions in colour, sloppy ones grey. ``spectrum`` is a `Sloppiness`.
    Saves a PNG to ``path`` and returns it."""
    plt = _pyplot()
    values = np.asarray(spectrum.eigenvalues, dtype=float)
    stiff = np.asarray(spectrum.stiff, dtype=bool)
    top = values[0] if values.size and values[0] > 0 else 1.0
    relative = np.where(values > 0, values / top, np.nan)
    floor = np.nanmin(relative) if np.isfinite(relative).any() else 1e-16
    figure, axes = plt.subplots(figsize=(2.8, 5))
    for value, is_stiff in zip(relative, stiff, strict=True):
        shown = value if np.isfinite(value) else floor / 10
        axes.hlines(shown, 0, 1, color="tab:blue" if is_stiff else "0.6", lw=1.5)
    axes.hlines([], 0, 1, color="tab:blue", label=f"stiff ({stiff.sum()})")
    axes.hlines([], 0, 1, color="0.6", label=f"sloppy ({(~stiff).sum()})")
    axes.set_yscale("log")
    axes.set_xticks([])
    axes.set_xlim(-0.2, 1.2)
    axes.set_ylabel("λ / λ_max")
    axes.set_title(title or f"FIM spectrum, {spectrum.decades:.1f} decades", fontsize=9)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0))
    return _save(figure, path)


def plot_profiles(profile, path: Path | str, *, title: str = "") -> Path:
    """Profile likelihoods, one panel per profiled parameter: ``objective − min`` against the
    parameter (on its scale), the likelihood-ratio threshold ``χ²₁(0.95)/2`` as a dashed line,
    the confidence interval shaded, flat (non-identifiable) profiles flagged in the panel
    title. ``profile`` is a `Profile`. Saves a PNG to ``path`` and returns it."""
    plt = _pyplot()
    k = len(profile.parameter_ids)
    columns = min(k, 4)
    rows = math.ceil(k / columns)
    figure, grid = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False, sharey=True
    )
    for i, name in enumerate(profile.parameter_ids):
        axes = grid[i // columns, i % columns]
        values, f = np.asarray(profile.values[i]), np.asarray(profile.nllh[i])
        f_min = np.nanmin(np.where(np.isfinite(f), f, np.nan))
        axes.plot(values, f - f_min, "o-", ms=3, color="tab:blue")
        axes.axhline(profile.threshold, ls="--", color="tab:red", lw=1)
        lower, upper = profile.ci[i]
        lo = lower if np.isfinite(lower) else values.min()
        hi = upper if np.isfinite(upper) else values.max()
        axes.axvspan(lo, hi, color="tab:blue", alpha=0.1)
        flag = "  FLAT" if profile.flat[i] else ""
        axes.set_title(f"{name}{flag}", fontsize=9, color="tab:red" if flag else "black")
        axes.set_ylim(-0.1, max(3.0 * profile.threshold, 1.0))
    for j in range(k, rows * columns):
        grid[j // columns, j % columns].axis("off")
    for r in range(rows):
        grid[r, 0].set_ylabel("objective − min")
    figure.suptitle(title or "profile likelihoods (95 % LR threshold dashed)", fontsize=10)
    return _save(figure, path)


def plot_data_fit(curves: dict, data: dict, path: Path | str, *, title: str = "") -> Path:
    """Measured points against fitted curves, one colour per observable on a log axis.

    ``curves``: ``{observable: (t [T], y [T])}``; ``data``: ``{observable: (t [M], y [M])}``.
    Saves a PNG to ``path`` and returns it."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    for i, (name, (t, y)) in enumerate(curves.items()):
        color = f"C{i}"
        axes.plot(np.asarray(t), np.asarray(y), color=color, label=f"{name} (fit)")
        if name in data:
            td, yd = data[name]
            axes.plot(np.asarray(td), np.asarray(yd), "o", color=color, ms=4, label=name)
    axes.set_yscale("log")
    axes.set_xlabel("time")
    axes.set_ylabel("observable")
    axes.set_title(title or "data and fit")
    axes.legend(fontsize=8)
    return _save(figure, path)
