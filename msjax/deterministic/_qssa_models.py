"""Small models with a timescale gap, used by the QSSA tests, examples and benchmarks."""

import numpy as np

from ..model import MassAction, Model, Reaction, Species


def cooperative_promoter(
    n: int = 4,
    x: float = 1.0,
    k1: float = 8.0,
    cooperativity: float = 4.0,
    kon: float = 1e3,
    kp: float = 1.0,
    delta: float = 1.0,
) -> Model:
    """A transcription factor ``X`` (clamped: the input) binding ``n`` promoter sites in turn,
    ``D_{i−1} + X ⇌ D_i`` with dissociation constants ``K_i = k1 / cooperativity^(i−1)``
    (each bound factor stabilises the next), and the fully bound promoter expressing ``Y``:
    ``D_n → D_n + Y`` (kp), ``Y → ∅`` (delta). One promoter: ``Σ D_i = 1``.

    Fast binding (``kon`` ≫ ``delta``) makes the promoter states fast; their quasi-steady state
    is the occupancy ``θ_n(x) = (x^n/Π K) / Σ_i x^i/Π_{j≤i} K_j`` (Adair 1925; Hill 1910), so
    ``y* = (kp/delta) θ_n(x)`` and the response is a Hill-type switch of threshold about
    ``(Π K_i)^{1/n}``. See `promoter_occupancy`.
    """
    species = [Species("X", x, boundary=True), Species("D0", 1.0)]
    species += [Species(f"D{i}", 0.0) for i in range(1, n + 1)] + [Species("Y", 0.0)]
    reactions = [
        Reaction(f"D{i - 1} + X <-> D{i}", MassAction("kon", f"koff{i}"), name=f"bind{i}")
        for i in range(1, n + 1)
    ]
    reactions += [
        Reaction(f"D{n} -> D{n} + Y", MassAction("kp"), name="expression"),
        Reaction("Y ->", MassAction("delta"), name="decay"),
    ]
    dissociation = k1 / cooperativity ** np.arange(n)
    parameters = {
        "kon": kon,
        **{f"koff{i + 1}": kon * float(k) for i, k in enumerate(dissociation)},
    }
    parameters.update(kp=kp, delta=delta)
    return Model(species, reactions, parameters)


def promoter_occupancy(x, dissociation) -> np.ndarray:
    """Fraction of promoters with all ``n`` sites bound, ``θ_n(x)`` [..], for dissociation
    constants ``K_1..K_n`` (``koff_i / kon``): ``(x^n/Π K) / Σ_{i=0}^n x^i / Π_{j≤i} K_j``."""
    x = np.asarray(x, dtype=float)[..., None]
    weights = np.cumprod(x / np.asarray(dissociation, dtype=float), axis=-1)
    return weights[..., -1] / (1.0 + weights.sum(axis=-1))


def dimer_switch(
    ka: float = 50.0, kda: float = 5000.0, kb: float = 100.0, ku: float = 0.5
) -> Model:
    """A monomer ``X`` made and degraded slowly, dimerising fast (``2X ⇌ X2``) and the dimer
    binding a gene fast (``X2 + G ⇌ G_on``), which expresses ``Y``. Quasi-steady state of the
    fast species: ``X2 = (ka/kda) x²``, ``G_on = G_T X2/(X2 + ku/kb)`` — bilinear in the fast
    species, so `qssa` solves it by Newton.
    """
    return Model(
        {"X": 1.0, "X2": 0.0, "G": 1.0, "G_on": 0.0, "Y": 0.0},
        [
            Reaction("-> X", MassAction("ks"), name="synthesis"),
            Reaction("X ->", MassAction("kd"), name="degradation"),
            Reaction("2 X <-> X2", MassAction("ka", "kda"), name="dimerisation"),
            Reaction("X2 + G <-> G_on", MassAction("kb", "ku"), name="binding"),
            Reaction("G_on -> G_on + Y", MassAction("kp"), name="expression"),
            Reaction("Y ->", MassAction("dy"), name="dilution"),
        ],
        {"ks": 2.0, "kd": 1.0, "ka": ka, "kda": kda, "kb": kb, "ku": ku, "kp": 1.0, "dy": 0.5},
    )
