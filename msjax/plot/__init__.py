"""Figures with matplotlib; imported lazily, never by the numeric core."""

from ._trajectories import plot_trajectories as plot_trajectories
