"""Reaction networks: `Model`, `Reaction`, `Species`, rate laws; SBML and Antimony import."""

from ._antimony import load_antimony as load_antimony
from ._model import Model as Model
from ._model import Reaction as Reaction
from ._model import Species as Species
from ._parse import parse_equation as parse_equation
from ._parse import parse_formula as parse_formula
from ._ratelaws import AbstractRateLaw as AbstractRateLaw
from ._ratelaws import Custom as Custom
from ._ratelaws import Formula as Formula
from ._ratelaws import Hill as Hill
from ._ratelaws import MassAction as MassAction
from ._ratelaws import MichaelisMenten as MichaelisMenten
from ._sbml import load_sbml as load_sbml
from ._sbml_model import RuleModel as RuleModel
