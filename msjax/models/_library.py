"""Built-in models used by examples, tests and benchmarks; each names its source."""

from ..model import Hill, MassAction, MichaelisMenten, Model, Reaction, Species


def birth_death(k: float = 10.0, gamma: float = 1.0, x0: float = 0.0) -> Model:
    """Birth–death (immigration–death) process ``∅ → X`` (rate k), ``X → ∅`` (rate γ x).

    ODE: ``x(t) = k/γ + (x0 − k/γ) e^{−γt}``; CME from x0 = 0: Poisson with that mean.
    Source: Gardiner, *Handbook of Stochastic Methods* (2009), §7.1.
    """
    return Model(
        species={"X": x0},
        reactions=[
            Reaction("-> X", MassAction("k"), name="birth"),
            Reaction("X ->", MassAction("gamma"), name="death"),
        ],
        parameters={"k": k, "gamma": gamma},
    )


def michaelis_menten(e0: float = 1.0, s0: float = 10.0) -> Model:
    """Mass-action enzyme kinetics ``E + S ⇌ C → E + P`` (Michaelis & Menten 1913;
    Briggs & Haldane 1925). Conserved: ``E + C`` and ``S + C + P``."""
    return Model(
        species={"E": e0, "S": s0, "C": 0.0, "P": 0.0},
        reactions=[
            Reaction("E + S <-> C", MassAction("kf", "kr"), name="binding"),
            Reaction("C -> E + P", MassAction("kcat"), name="catalysis"),
        ],
        parameters={"kf": 1.0, "kr": 1.0, "kcat": 0.5},
    )


def isomerisation(a0: float = 1.0, kf: float = 2.0, kr: float = 1.0) -> Model:
    """Reversible isomerisation ``A ⇌ B``; equilibrium ``B/A = kf/kr``, relaxation rate
    ``kf + kr``. Source: any physical chemistry text, e.g. Atkins, *Physical Chemistry*."""
    return Model(
        species={"A": a0, "B": 0.0},
        reactions=[Reaction("A <-> B", MassAction("kf", "kr"), name="isomerisation")],
        parameters={"kf": kf, "kr": kr},
    )


def telegraph_gene() -> Model:
    """Two-state (telegraph) promoter with protein: ``G_off ⇌ G_on``, ``G_on → G_on + P``,
    ``P → ∅``. Slow switching gives a bimodal protein distribution.
    Source: Peccoud & Ycart, Theor. Popul. Biol. 48:222 (1995); Raj et al., PLoS Biol. 2006.
    """
    return Model(
        species={"G_off": 1.0, "G_on": 0.0, "P": 0.0},
        reactions=[
            Reaction("G_off <-> G_on", MassAction("k_on", "k_off"), name="switch"),
            Reaction("G_on -> G_on + P", MassAction("k_p"), name="expression"),
            Reaction("P ->", MassAction("gamma"), name="degradation"),
        ],
        parameters={"k_on": 0.05, "k_off": 0.05, "k_p": 20.0, "gamma": 1.0},
    )


def toggle_switch() -> Model:
    """Genetic toggle switch: two mutually repressing genes,
    ``du/dt = α1/(1 + v^β) − u``, ``dv/dt = α2/(1 + u^γ) − v``.
    Source: Gardner, Cantor & Collins, Nature 403:339 (2000).
    """
    return Model(
        species={"U": 2.0, "V": 0.1},
        reactions=[
            Reaction("-> U", "alpha1 / (1 + V^beta)", name="U_synthesis"),
            Reaction("U ->", MassAction("d"), name="U_decay"),
            Reaction("-> V", "alpha2 / (1 + U^gamma)", name="V_synthesis"),
            Reaction("V ->", MassAction("d"), name="V_decay"),
        ],
        parameters={"alpha1": 10.0, "alpha2": 10.0, "beta": 2.0, "gamma": 2.0, "d": 1.0},
    )


def repressilator() -> Model:
    """Repressilator: three genes repressing each other in a ring (mRNAs m, proteins p),
    ``dm_i/dt = α/(1 + p_j^n) + α0 − m_i``, ``dp_i/dt = β (m_i − p_i)``.
    Source: Elowitz & Leibler, Nature 403:335 (2000).
    """
    genes = ("lacI", "tetR", "cI")
    reactions = []
    for gene, repressor in zip(genes, (genes[2], genes[0], genes[1]), strict=True):
        reactions += [
            Reaction(
                f"-> m_{gene}",
                f"alpha / (1 + p_{repressor}^n) + alpha0",
                name=f"transcription_{gene}",
            ),
            Reaction(f"m_{gene} ->", MassAction("one"), name=f"m_decay_{gene}"),
            Reaction(
                f"m_{gene} -> m_{gene} + p_{gene}", MassAction("beta"), name=f"translation_{gene}"
            ),
            Reaction(f"p_{gene} ->", MassAction("beta"), name=f"p_decay_{gene}"),
        ]
    species = {"m_lacI": 1.0, "m_tetR": 0.0, "m_cI": 0.0, "p_lacI": 2.0, "p_tetR": 1.0, "p_cI": 3.0}
    return Model(
        species=species,
        reactions=reactions,
        parameters={"alpha": 216.0, "alpha0": 0.216, "beta": 5.0, "n": 2.0, "one": 1.0},
    )


def schlogl() -> Model:
    """Schlögl's model: ``2X + A ⇌ 3X``, ``B ⇌ X`` with A and B clamped; bistable for the
    classic parameters. Source: Schlögl, Z. Physik 253:147 (1972); rates from Vellela & Qian,
    J. R. Soc. Interface 6:925 (2009).
    """
    return Model(
        species=[
            Species("X", 250.0),
            Species("A", 1e5, boundary=True),
            Species("B", 2e5, boundary=True),
        ],
        reactions=[
            Reaction("2 X + A <-> 3 X", MassAction("k1", "k2"), name="autocatalysis"),
            Reaction("B <-> X", MassAction("k3", "k4"), name="exchange"),
        ],
        parameters={"k1": 3e-7, "k2": 1e-4, "k3": 1e-3, "k4": 3.5},
    )


def lotka_volterra() -> Model:
    """Lotka–Volterra predator–prey: ``X → 2X``, ``X + Y → 2Y``, ``Y → ∅``; conserves
    ``H = c x − d ln x + b y − a ln y`` (with rates a, b, c=b, d).
    Source: Lotka (1920); Volterra (1926); Gillespie, J. Phys. Chem. 81:2340 (1977).
    """
    return Model(
        species={"X": 10.0, "Y": 5.0},
        reactions=[
            Reaction("X -> 2 X", MassAction("a"), name="prey_birth"),
            Reaction("X + Y -> 2 Y", MassAction("b"), name="predation"),
            Reaction("Y ->", MassAction("d"), name="predator_death"),
        ],
        parameters={"a": 1.0, "b": 0.1, "d": 1.5},
    )


def mapk_cascade() -> Model:
    """MAPK cascade with negative feedback and sustained oscillations (BioModels
    BIOMD0000000010). Source: Kholodenko, Eur. J. Biochem. 267:1583 (2000); concentrations
    in nM, time in s; MAPK-PP inhibits the first step (Hill coefficient n, Ki).
    """

    def mm(vmax: str, km: str, substrate: str) -> MichaelisMenten:
        return MichaelisMenten(vmax, km, substrate)

    return Model(
        species={
            "MKKK": 90.0,
            "MKKK_P": 10.0,
            "MKK": 280.0,
            "MKK_P": 10.0,
            "MKK_PP": 10.0,
            "MAPK": 280.0,
            "MAPK_P": 10.0,
            "MAPK_PP": 10.0,
        },
        reactions=[
            Reaction(
                "MKKK -> MKKK_P", "V1 * MKKK / ((1 + (MAPK_PP / Ki)^n) * (K1 + MKKK))", name="J1"
            ),
            Reaction("MKKK_P -> MKKK", mm("V2", "KK2", "MKKK_P"), name="J2"),
            Reaction("MKK -> MKK_P", "k3 * MKKK_P * MKK / (KK3 + MKK)", name="J3"),
            Reaction("MKK_P -> MKK_PP", "k4 * MKKK_P * MKK_P / (KK4 + MKK_P)", name="J4"),
            Reaction("MKK_PP -> MKK_P", mm("V5", "KK5", "MKK_PP"), name="J5"),
            Reaction("MKK_P -> MKK", mm("V6", "KK6", "MKK_P"), name="J6"),
            Reaction("MAPK -> MAPK_P", "k7 * MKK_PP * MAPK / (KK7 + MAPK)", name="J7"),
            Reaction("MAPK_P -> MAPK_PP", "k8 * MKK_PP * MAPK_P / (KK8 + MAPK_P)", name="J8"),
            Reaction("MAPK_PP -> MAPK_P", mm("V9", "KK9", "MAPK_PP"), name="J9"),
            Reaction("MAPK_P -> MAPK", mm("V10", "KK10", "MAPK_P"), name="J10"),
        ],
        parameters={
            "V1": 2.5,
            "Ki": 9.0,
            "n": 1.0,
            "K1": 10.0,
            "V2": 0.25,
            "KK2": 8.0,
            "k3": 0.025,
            "KK3": 15.0,
            "k4": 0.025,
            "KK4": 15.0,
            "V5": 0.75,
            "KK5": 15.0,
            "V6": 0.75,
            "KK6": 15.0,
            "k7": 0.025,
            "KK7": 15.0,
            "k8": 0.025,
            "KK8": 15.0,
            "V9": 0.5,
            "KK9": 15.0,
            "V10": 0.5,
            "KK10": 15.0,
        },
    )


def robertson() -> Model:
    """Robertson's stiff chemical kinetics: ``A → B`` (0.04), ``2B → B + C`` (3e7),
    ``B + C → A + C`` (1e4); ``A + B + C = 1``. Source: Robertson (1966); Hairer & Wanner,
    *Solving ODEs II* (1996), §IV.10.
    """
    return Model(
        species={"A": 1.0, "B": 0.0, "C": 0.0},
        reactions=[
            Reaction("A -> B", MassAction("k1"), name="R1"),
            Reaction("2 B -> B + C", MassAction("k2"), name="R2"),
            Reaction("B + C -> A + C", MassAction("k3"), name="R3"),
        ],
        parameters={"k1": 0.04, "k2": 3e7, "k3": 1e4},
    )


def cooperative_switch() -> Model:
    """A Hill-type activation of production, ``∅ → Y`` at ``vmax xⁿ/(Kⁿ + xⁿ)``, with X clamped
    and ``Y → ∅``; steady state ``y* = (vmax/δ) xⁿ/(Kⁿ + xⁿ)``. Source: Hill (1910); Alon,
    *An Introduction to Systems Biology* (2006), ch. 2.
    """
    return Model(
        species=[Species("X", 1.0, boundary=True), Species("Y", 0.0)],
        reactions=[
            Reaction("-> Y", Hill("vmax", "K", "n", species="X"), name="production"),
            Reaction("Y ->", MassAction("delta"), name="decay"),
        ],
        parameters={"vmax": 2.0, "K": 0.5, "n": 3.0, "delta": 1.0},
    )


LIBRARY = {
    "birth_death": birth_death,
    "michaelis_menten": michaelis_menten,
    "isomerisation": isomerisation,
    "telegraph_gene": telegraph_gene,
    "toggle_switch": toggle_switch,
    "repressilator": repressilator,
    "schlogl": schlogl,
    "lotka_volterra": lotka_volterra,
    "mapk_cascade": mapk_cascade,
    "robertson": robertson,
    "cooperative_switch": cooperative_switch,
}
