"""Array type aliases shared by all modules (jaxtyping)."""

from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

Scalar = Float[Array, ""]
ScalarLike = Float[ArrayLike, ""]
State = Float[Array, " species"]
Params = Float[Array, " params"]
Key = PRNGKeyArray

__all__ = ["Array", "ArrayLike", "Float", "Int", "Key", "Params", "Scalar", "ScalarLike", "State"]
