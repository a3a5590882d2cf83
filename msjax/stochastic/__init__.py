"""Stochastic simulation: exact SSA, tau-leaping, the chemical Langevin equation; ensembles.

See `msjax.stochastic._common` for the counts convention (``n = round(Ω V x)``).
"""

from ._cle import CLE as CLE
from ._demo import telegraph_demo as telegraph_demo
from ._ensemble import EnsembleStats as EnsembleStats
from ._ensemble import ensemble_stats as ensemble_stats
from ._ensemble import ensemble_trajectories as ensemble_trajectories
from ._ssa import Gillespie as Gillespie
from ._tauleap import TauLeap as TauLeap
