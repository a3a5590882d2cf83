"""Integer bases of left null spaces (conservation laws), by exact rational elimination."""

import math
from fractions import Fraction

import numpy as np


def _rref(rows: list[list[Fraction]]) -> tuple[list[list[Fraction]], list[int]]:
    """Reduced row echelon form over the rationals; returns (rows, pivot columns)."""
    rows = [row[:] for row in rows]
    n_cols = len(rows[0]) if rows else 0
    pivots: list[int] = []
    r = 0
    for c in range(n_cols):
        pivot = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        lead = rows[r][c]
        rows[r] = [v / lead for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c] != 0:
                factor = rows[i][c]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append(c)
        r += 1
        if r == len(rows):
            break
    return rows, pivots


def _integer_vector(vector: list[Fraction]) -> np.ndarray:
    scale = math.lcm(*(v.denominator for v in vector))
    ints = [int(v * scale) for v in vector]
    divisor = math.gcd(*ints) or 1
    return np.array([v // divisor for v in ints], dtype=np.int64)


def _negatives(vector: np.ndarray) -> int:
    return int(np.sum(vector < 0))


def _prefer_nonnegative(basis: np.ndarray) -> np.ndarray:
    """Add ± other rows while that removes negative entries (``S − E + P`` → ``S + C + P``)."""
    basis = basis.copy()
    improved = True
    while improved:
        improved = False
        for i in range(len(basis)):
            for j in range(len(basis)):
                for sign in (1, -1):
                    candidate = basis[i] + sign * basis[j]
                    if i != j and _negatives(candidate) < _negatives(basis[i]):
                        basis[i] = candidate
                        improved = True
        basis = np.stack([_integer_vector([Fraction(int(v)) for v in row]) for row in basis])
    return np.stack([row if row[np.flatnonzero(row)[0]] > 0 else -row for row in basis])


def left_null_space(matrix: np.ndarray) -> np.ndarray:
    """Integer basis ``L`` [K, S] with ``L @ matrix == 0`` for an integer ``matrix`` [S, R],
    with as few negative entries as a greedy search finds (moieties read as sums)."""
    n_rows = matrix.shape[0]
    if matrix.shape[1] == 0:
        return np.eye(n_rows, dtype=np.int64)
    reduced, pivots = _rref([[Fraction(int(v)) for v in column] for column in matrix.T])
    basis = []
    for f in (c for c in range(n_rows) if c not in pivots):
        vector = [Fraction(0)] * n_rows
        vector[f] = Fraction(1)
        for row, p in zip(reduced, pivots, strict=False):
            vector[p] = -row[f]
        basis.append(_integer_vector(vector))
    if not basis:
        return np.zeros((0, n_rows), dtype=np.int64)
    return _prefer_nonnegative(np.stack(basis))


def independent_columns(rows: np.ndarray) -> tuple[int, ...]:
    """Pivot columns of ``rows`` [K, S]: K columns whose K×K submatrix is invertible."""
    if len(rows) == 0:
        return ()
    return tuple(_rref([[Fraction(int(v)) for v in row] for row in rows])[1])
