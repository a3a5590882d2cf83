"""msjax: a GPU-accelerated, differentiable simulator for multi-scale systems biology."""

import jax

from . import models as models
from ._errors import CapacityError as CapacityError
from ._errors import ModelError as ModelError
from ._errors import MsjaxError as MsjaxError
from ._errors import ParseError as ParseError
from ._errors import SBMLError as SBMLError
from ._errors import SolverError as SolverError
from ._simulate import simulate as simulate
from ._solution import RESULTS as RESULTS
from ._solution import Solution as Solution
from .deterministic import ODE as ODE
from .deterministic import FastSpeciesSuggestion as FastSpeciesSuggestion
from .deterministic import ReductionReport as ReductionReport
from .deterministic import Rodas4 as Rodas4
from .deterministic import SteadyState as SteadyState
from .deterministic import StepAdjoint as StepAdjoint
from .deterministic import TimescaleProfile as TimescaleProfile
from .deterministic import Timescales as Timescales
from .deterministic import qssa as qssa
from .deterministic import qssa_expand as qssa_expand
from .deterministic import qssa_fast_values as qssa_fast_values
from .deterministic import qssa_inputs as qssa_inputs
from .deterministic import reduction_error as reduction_error
from .deterministic import steady_state as steady_state
from .deterministic import suggest_fast_species as suggest_fast_species
from .deterministic import timescale_profile as timescale_profile
from .deterministic import timescales as timescales
from .inference import FitResult as FitResult
from .inference import Laplace as Laplace
from .inference import LogNormal as LogNormal
from .inference import Measurement as Measurement
from .inference import NegativeBinomial as NegativeBinomial
from .inference import Normal as Normal
from .inference import Observable as Observable
from .inference import Parameter as Parameter
from .inference import Poisson as Poisson
from .inference import Problem as Problem
from .inference import fisher_information as fisher_information
from .inference import fit as fit
from .inference import load_petab as load_petab
from .inference import predict_uncertainty as predict_uncertainty
from .inference import profile as profile
from .inference import sensitivities as sensitivities
from .inference import sloppiness as sloppiness
from .inference import structural_identifiability as structural_identifiability
from .model import Custom as Custom
from .model import Formula as Formula
from .model import Hill as Hill
from .model import MassAction as MassAction
from .model import MichaelisMenten as MichaelisMenten
from .model import Model as Model
from .model import Reaction as Reaction
from .model import RuleModel as RuleModel
from .model import Species as Species
from .model import load_antimony as load_antimony
from .model import load_sbml as load_sbml
from .stochastic import CLE as CLE
from .stochastic import EnsembleStats as EnsembleStats
from .stochastic import Gillespie as Gillespie
from .stochastic import TauLeap as TauLeap
from .stochastic import ensemble_stats as ensemble_stats

# float64 by default (DESIGN.md §4.6): stiff solves and Fisher spectra spanning many decades
# need it. float32 stays available as an explicit dtype choice. (No array is created at import.)
jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
