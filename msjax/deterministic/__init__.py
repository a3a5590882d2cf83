"""Deterministic simulation: `ODE`, steady states, timescales."""

from ._ode import ODE as ODE
from ._qssa import ReductionReport as ReductionReport
from ._qssa import qssa as qssa
from ._qssa import qssa_expand as qssa_expand
from ._qssa import qssa_fast_values as qssa_fast_values
from ._qssa import qssa_inputs as qssa_inputs
from ._qssa import reduction_error as reduction_error
from ._qssa_diagnostics import FastSpeciesSuggestion as FastSpeciesSuggestion
from ._qssa_diagnostics import TimescaleProfile as TimescaleProfile
from ._qssa_diagnostics import suggest_fast_species as suggest_fast_species
from ._qssa_diagnostics import timescale_profile as timescale_profile
from ._rosenbrock import Rodas4 as Rodas4
from ._steady import SteadyState as SteadyState
from ._steady import steady_state as steady_state
from ._timescales import Timescales as Timescales
from ._timescales import timescales as timescales
