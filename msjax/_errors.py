"""The error hierarchy: every problem msjax reports is a `MsjaxError`."""


class MsjaxError(Exception):
    """Base class of every error msjax raises on purpose."""


class ModelError(MsjaxError):
    """A model is malformed: unknown names, inconsistent reactions, bad values."""


class ParseError(ModelError):
    """A reaction equation or rate-law formula could not be parsed."""


class SolverError(MsjaxError):
    """A numerical solve failed: too many steps, a singular Jacobian, no convergence."""


class SBMLError(ModelError):
    """An SBML document is malformed or uses a feature msjax does not support."""


class CapacityError(MsjaxError):
    """A fixed-capacity buffer (agents, events) ran out of room."""
