"""`AbstractMethod`: methods are data (the diffrax pattern); `simulate` runs any of them."""

import abc
from typing import ClassVar

import equinox as eqx

from ._solution import Solution


class AbstractMethod(eqx.Module):
    """A simulation method: ODE, SSA, tau-leaping, ... Subclasses implement `solve`.

    ``fast_compile``: whether `simulate` and the ensembles compile the method with `ode_jit`'s
    options (true for ODE solves, whose compile time they halve, and for tau-leaping).
    """

    fast_compile: ClassVar[bool] = False

    @abc.abstractmethod
    def solve(self, model, ts, params, y0, *, key, n) -> Solution:
        """Simulate one trajectory (or an ensemble of ``n``) from ``y0`` [S] with ``params`` [P].

        Inputs are validated arrays; batching over parameter sets is done by `simulate`.
        """
