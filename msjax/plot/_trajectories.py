"""Trajectory figures."""

from pathlib import Path

import numpy as np


def plot_trajectories(solution, species: list[str], path: Path | str, title: str = "") -> None:
    """Plot ``species`` of an unbatched `Solution` over time and save a PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for name in species:
        axes.plot(np.asarray(solution.ts), np.asarray(solution[name]), label=name)
    axes.set_xlabel("time")
    axes.set_ylabel("concentration")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
