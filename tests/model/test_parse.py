import jax.numpy as jnp
import pytest

import msjax
from msjax.model import parse_equation, parse_formula
from msjax.model._parse import evaluate_formula, formula_names


def test_equation_with_coefficients_and_reversibility():
    assert parse_equation("2 A + B -> C") == ({"A": 2, "B": 1}, {"C": 1}, False)
    assert parse_equation("A <-> 3*B") == ({"A": 1}, {"B": 3}, True)
    assert parse_equation("-> X") == ({}, {"X": 1}, False)
    assert parse_equation("X -> 0") == ({"X": 1}, {}, False)


@pytest.mark.parametrize(
    "equation, fragment",
    [
        ("A + A -> B", "names A twice"),
        ("A B -> C", "bad term"),
        ("A = B", "no arrow"),
        ("A -> B -> C", "more than one arrow"),
        ("1.5 A -> B", "bad term"),
    ],
)
def test_bad_equations_name_the_problem(equation, fragment):
    with pytest.raises(msjax.ParseError, match=fragment):
        parse_equation(equation)


def test_formula_precedence_and_functions():
    env = {"a": 2.0, "b": 3.0, "c": 4.0}
    cases = {
        "a + b * c": 14.0,
        "(a + b) * c": 20.0,
        "-a ^ 2": -4.0,
        "a ** b ** 0.5": 2.0 ** (3.0**0.5),
        "a * b / c - 1": 0.5,
        "exp(ln(a)) + max(b, c) + sqrt(c)": 8.0,
        "1e-3 * 2.5e3": 2.5,
        "pow(a, b) / 2": 4.0,
    }
    for text, expected in cases.items():
        value = evaluate_formula(parse_formula(text), env)
        assert float(value) == pytest.approx(expected, rel=1e-14), text


def test_formula_names():
    assert formula_names(parse_formula("kcat*E*S/(Km+S) + exp(-t)")) == {
        "kcat",
        "E",
        "S",
        "Km",
        "t",
    }


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("a +", "unexpected end"),
        ("a $ b", "unexpected"),
        ("foo(a)", "unknown function"),
        ("max(a)", "takes 2"),
        ("(a + b", "unexpected end"),
    ],
)
def test_bad_formulas(text, fragment):
    with pytest.raises(msjax.ParseError, match=fragment):
        parse_formula(text)


def test_integer_power_has_finite_derivative_at_zero():
    import jax

    ast = parse_formula("x^2")
    assert float(jax.grad(lambda x: evaluate_formula(ast, {"x": x}))(jnp.asarray(0.0))) == 0.0
