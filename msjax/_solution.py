"""`Solution`, the result of every simulation method, and its `RESULTS` codes."""

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ._errors import ModelError
from ._types import Array, Float, Int


class RESULTS(diffrax.RESULTS):  # pyright: ignore[reportGeneralTypeIssues]
    """Per-trajectory outcome codes (diffrax's, plus msjax's own)."""

    nonfinite_state = "The state became NaN or infinite (check rate laws and parameters)."
    negative_state = "A species became negative beyond the solver tolerance."
    capacity_exceeded = "A fixed-capacity buffer ran out of room."
    invalid_counts = "Initial counts round(Ω·V·x) are negative or not integers."
    invalid_propensity = "A propensity became negative or NaN."
    singular_jacobian = "The Jacobian is singular: the steady state is not isolated."
    no_steady_state = "No steady state was found (Newton and integration both failed)."


class Solution(eqx.Module):
    """Trajectories at the requested times.

    **Fields:**
    - ``ts``: save times [T].
    - ``ys``: states [T, S] (or [..., T, S] for ensembles and batches).
    - ``species_names``: names of the columns of ``ys``.
    - ``stats``: solver statistics (``num_steps``, ``num_accepted_steps``, ``num_rejected_steps``).
    - ``result``: a `RESULTS` code per trajectory ([] or [...]).

    ``sol["P"]`` is the trajectory of species ``P``: [T] (or [..., T]).
    """

    ts: Float[Array, " times"]
    ys: Float[Array, "*batch times species"]
    species_names: tuple[str, ...] = eqx.field(static=True)
    stats: dict[str, Int[Array, "*batch"]]
    result: RESULTS

    def __getitem__(self, name: str) -> Float[Array, "*batch times"]:
        try:
            index = self.species_names.index(name)
        except ValueError:
            raise ModelError(
                f"no species {name!r} in this solution; it has {list(self.species_names)}"
            ) from None
        return self.ys[..., index]

    @property
    def succeeded(self) -> Array:
        """Boolean [*batch]: which trajectories finished without error."""
        return jnp.asarray(self.result._value == RESULTS.successful._value)

    def to_csv(self, path) -> None:
        """Write ``time`` and one column per species (an unbatched solution only)."""
        if self.ys.ndim != 2:
            raise ModelError("to_csv writes one trajectory; index a batched solution first")
        table = np.column_stack([np.asarray(self.ts), np.asarray(self.ys)])
        header = ",".join(("time", *self.species_names))
        np.savetxt(path, table, delimiter=",", header=header, comments="")
