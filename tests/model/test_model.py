import jax
import jax.numpy as jnp
import numpy as np
import pytest

import msjax
from msjax import MassAction, Model, Reaction, Species


def enzyme():
    return msjax.models.michaelis_menten()


def test_stoichiometry_and_reversible_split():
    model = enzyme()
    assert model.reaction_names == ("binding", "binding_reverse", "catalysis")
    expected = np.array([[-1, 1, 1], [-1, 1, 0], [1, -1, -1], [0, 0, 1]])
    np.testing.assert_array_equal(model.stoichiometry, expected)
    np.testing.assert_array_equal(model.product_matrix - model.reactant_matrix, expected)


def test_conservation_laws_are_integer_left_null_space():
    model = enzyme()
    laws = model.conservation_laws()
    np.testing.assert_array_equal(laws @ model.stoichiometry, 0)
    assert laws.dtype.kind == "i"
    # the moieties: free + bound enzyme, and substrate in all its forms
    assert {tuple(row) for row in laws} == {(1, 0, 1, 0), (0, 1, 1, 1)}


def test_mapk_has_three_moieties():
    laws = msjax.models.mapk_cascade().conservation_laws()
    assert laws.shape == (3, 8)
    np.testing.assert_array_equal(laws.sum(axis=0), np.ones(8))


def test_rhs_is_n_times_v_for_mass_action():
    model = enzyme()
    x = jnp.array([0.7, 3.0, 0.4, 1.2])
    theta = model.parameters(kf=2.0, kr=0.3, kcat=0.9)
    v = jnp.array([2.0 * 0.7 * 3.0, 0.3 * 0.4, 0.9 * 0.4])
    np.testing.assert_allclose(model.rates(0.0, x, theta), v, rtol=1e-15)
    np.testing.assert_allclose(
        model.rhs(0.0, x, theta), model.stoichiometry @ np.asarray(v), rtol=1e-15
    )


def test_rate_law_kinds_agree():
    species = {"S": 2.0, "P": 0.0}
    parameters = {"vmax": 3.0, "km": 0.5, "n": 2.0}
    laws = [
        msjax.MichaelisMenten("vmax", "km"),
        "vmax * S / (km + S)",
        lambda x, p: p["vmax"] * x["S"] / (p["km"] + x["S"]),
        msjax.Hill("vmax", "km", "n"),
    ]
    values = [
        Model(species, [Reaction("S -> P", law)], parameters).rhs(
            0.0, jnp.array([2.0, 0.0]), jnp.array([3.0, 0.5, 2.0])
        )[1]
        for law in laws
    ]
    np.testing.assert_allclose(values[:3], 3.0 * 2.0 / 2.5, rtol=1e-15)
    np.testing.assert_allclose(values[3], 3.0 * 4.0 / (0.25 + 4.0), rtol=1e-15)


def test_jacobian_matches_finite_differences():
    model = msjax.models.mapk_cascade()
    x, theta = model.initial_state, model.parameter_values
    jac = model.jacobian(0.0, x, theta)
    eps = 1e-6
    columns = [
        (model.rhs(0.0, x.at[i].add(eps), theta) - model.rhs(0.0, x.at[i].add(-eps), theta))
        / (2 * eps)
        for i in range(x.shape[0])
    ]
    np.testing.assert_allclose(jac, jnp.stack(columns, axis=1), rtol=1e-7, atol=1e-10)


def test_combinatorial_propensities():
    model = Model(
        {"A": 0.0, "B": 0.0},
        [
            Reaction("2 A -> B", MassAction("k2")),
            Reaction("A + B -> 0", MassAction("k3")),
            Reaction("-> A", MassAction("k0")),
            Reaction("B -> A", "kmm * B / (K + B)"),
        ],
        {"k2": 0.5, "k3": 2.0, "k0": 7.0, "kmm": 1.0, "K": 3.0},
    )
    omega = 10.0
    n = jnp.array([5.0, 3.0])
    a = model.propensities(n, model.parameter_values, omega)
    x = n / omega
    expected = [
        0.5 * 5 * 4 / omega,
        2.0 * 5 * 3 / omega,
        7.0 * omega,
        omega * 1.0 * x[1] / (3.0 + x[1]),
    ]
    np.testing.assert_allclose(a, expected, rtol=1e-14)
    # as Ω → ∞ with x fixed, propensities / Ω → the ODE velocities
    big = 1e9
    ratio = model.propensities(x * big, model.parameter_values, big) / big
    np.testing.assert_allclose(ratio, model.rates(0.0, x, model.parameter_values), rtol=1e-8)


def test_compartment_volumes_scale_the_flux():
    model = Model(
        [Species("A", 1.0, compartment="cell"), Species("B", 0.0, compartment="nucleus")],
        [Reaction("A -> B", MassAction("k"))],
        {"k": 1.0},
        compartments={"cell": 2.0, "nucleus": 0.5},
    )
    dxdt = model.rhs(0.0, model.initial_state, model.parameter_values)
    # flux = k [A] V_cell = 2 amount/time; d[A]/dt = -2/2, d[B]/dt = 2/0.5
    np.testing.assert_allclose(dxdt, [-1.0, 4.0])
    totals = model.conserved_totals(jnp.array([0.25, 1.5]))
    np.testing.assert_allclose(totals, [0.25 * 2.0 + 1.5 * 0.5])


def test_initial_amounts_become_concentrations():
    model = Model([Species("A", 3.0, compartment="c", amount=True)], [], compartments={"c": 2.0})
    np.testing.assert_allclose(model.initial_state, [1.5])


def test_parameters_by_name():
    model = enzyme()
    theta = model.parameters(kcat=5.0)
    assert theta[model.parameter_index("kcat")] == 5.0
    assert {k: float(v) for k, v in model.parameter_dict(theta).items()} == {
        "kf": 1.0,
        "kr": 1.0,
        "kcat": 5.0,
    }
    assert model.species_index("P") == 3


def test_boundary_species_are_clamped():
    model = msjax.models.schlogl()
    assert model.stoichiometry[1:].sum() == 0
    dxdt = model.rhs(0.0, model.initial_state, model.parameter_values)
    assert float(dxdt[1]) == float(dxdt[2]) == 0.0


@pytest.mark.parametrize(
    "build, fragment",
    [
        (
            lambda: Model({"A": 1.0}, [Reaction("A -> B", MassAction("k"))], {"k": 1.0}),
            "unknown species 'B'",
        ),
        (
            lambda: Model({"A": 1.0}, [Reaction("A ->", "k * A * Q")], {"k": 1.0}),
            r"unknown name\(s\) \['Q'\]",
        ),
        (
            lambda: Model(
                {"A": 1.0}, [Reaction("A ->", lambda x, p: p["kk"] * x["A"])], {"k": 1.0}
            ),
            "unknown name 'kk'",
        ),
        (lambda: Model({"A": -1.0}, []), "negative initial value"),
        (
            lambda: Model({"A": 1.0}, [Reaction("A + A -> 0", MassAction("k"))], {"k": 1.0}),
            "names A twice",
        ),
        (
            lambda: Model({"A": 1.0}, [Reaction("A <-> 0", MassAction("k"))], {"k": 1.0}),
            "needs MassAction",
        ),
        (lambda: Model({"A": 1.0}, [], {"A": 1.0}), "clashes"),
        (lambda: Model({"A": 1.0}, [Reaction("A ->")]), "no rate law"),
        (lambda: Model({"A": 1.0}, [], compartments={"c": 0.0}), "positive volume"),
    ],
)
def test_bad_models_raise_model_errors(build, fragment):
    with pytest.raises(msjax.ModelError, match=fragment):
        build()


def test_model_is_a_pytree_of_traced_numbers():
    model = enzyme()
    leaves = jax.tree_util.tree_leaves(model)
    assert len(leaves) == 3  # initial state, parameter values, volumes
