"""Errors of `msjax.inference` (subclasses of `MsjaxError`)."""

from .._errors import ModelError


class InferenceError(ModelError):
    """A fitting problem is malformed: unknown observables or parameters, bad bounds or data."""


class PEtabError(InferenceError):
    """A PEtab problem is malformed or uses a feature msjax does not support; names file/row."""
