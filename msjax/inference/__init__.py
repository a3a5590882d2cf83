"""Fitting to data: observables, noise models, `Problem`, fits, sensitivities, identifiability."""

from ._analysis import Prediction as Prediction
from ._analysis import Profile as Profile
from ._analysis import Sloppiness as Sloppiness
from ._analysis import StructuralIdentifiability as StructuralIdentifiability
from ._analysis import fisher_information as fisher_information
from ._analysis import predict_uncertainty as predict_uncertainty
from ._analysis import profile as profile
from ._analysis import sensitivities as sensitivities
from ._analysis import sloppiness as sloppiness
from ._analysis import structural_identifiability as structural_identifiability
from ._errors import InferenceError as InferenceError
from ._errors import PEtabError as PEtabError
from ._fit import FitResult as FitResult
from ._fit import fit as fit
from ._fit import latin_hypercube as latin_hypercube
from ._noise import AbstractNoiseModel as AbstractNoiseModel
from ._noise import Laplace as Laplace
from ._noise import LogNormal as LogNormal
from ._noise import NegativeBinomial as NegativeBinomial
from ._noise import Normal as Normal
from ._noise import Poisson as Poisson
from ._observables import Observable as Observable
from ._petab import load_petab as load_petab
from ._problem import Measurement as Measurement
from ._problem import Parameter as Parameter
from ._problem import Problem as Problem
