"""Figures with matplotlib; imported lazily, never by the numeric core."""

from ._inference import plot_data_fit as plot_data_fit
from ._inference import plot_profiles as plot_profiles
from ._inference import plot_spectrum as plot_spectrum
from ._inference import plot_waterfall as plot_waterfall
from ._inference import waterfall_offsets as waterfall_offsets
from ._trajectories import plot_trajectories as plot_trajectories
