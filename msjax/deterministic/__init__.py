"""Deterministic simulation: `ODE`, steady states, timescales."""

from ._ode import ODE as ODE
from ._rosenbrock import Rodas4 as Rodas4
from ._steady import SteadyState as SteadyState
from ._steady import steady_state as steady_state
from ._timescales import Timescales as Timescales
from ._timescales import timescales as timescales
