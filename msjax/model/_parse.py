"""Small parsers of our own: reaction equations and rate-law formulas.

Formulas are parsed into a tiny AST of tuples and compiled to jnp code by `compile_formula`;
no text ever reaches `eval`. Grammar (precedence low → high)::

    expr   := term (('+' | '-') term)*
    term   := unary (('*' | '/') unary)*
    unary  := ('+' | '-') unary | power
    power  := atom ('^' | '**') unary | atom
    atom   := NUMBER | NAME | NAME '(' expr (',' expr)* ')' | '(' expr ')'
"""

import re
from collections.abc import Callable, Mapping

import jax.numpy as jnp

from .._errors import ParseError

# AST nodes: ("num", float) | ("name", str) | ("neg", node) | ("op", "+-*/^", lhs, rhs)
#            | ("call", fname, (args...))
Node = tuple

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<op>\*\*|[-+*/^(),]))"
)

_FUNCTIONS: dict[str, tuple[Callable, int]] = {
    "exp": (jnp.exp, 1),
    "log": (jnp.log, 1),
    "ln": (jnp.log, 1),
    "log10": (jnp.log10, 1),
    "sqrt": (jnp.sqrt, 1),
    "abs": (jnp.abs, 1),
    "sin": (jnp.sin, 1),
    "cos": (jnp.cos, 1),
    "tan": (jnp.tan, 1),
    "tanh": (jnp.tanh, 1),
    "min": (jnp.minimum, 2),
    "max": (jnp.maximum, 2),
    "pow": (jnp.power, 2),
}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ParseError(f"cannot parse {text!r}: unexpected {text[pos:].strip()[:10]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _FormulaParser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ParseError(f"cannot parse {self.text!r}: unexpected end of formula")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise ParseError(f"cannot parse {self.text!r}: expected {expected!r}, got {token[1]!r}")
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self._expr()
        if self.pos != len(self.tokens):
            raise ParseError(f"cannot parse {self.text!r}: unexpected {self._peek()!r}")
        return node

    def _expr(self) -> Node:
        node = self._term()
        while self._peek() in ("+", "-"):
            node = ("op", self._take()[1], node, self._term())
        return node

    def _term(self) -> Node:
        node = self._unary()
        while self._peek() in ("*", "/"):
            node = ("op", self._take()[1], node, self._unary())
        return node

    def _unary(self) -> Node:
        if self._peek() in ("+", "-"):
            sign = self._take()[1]
            operand = self._unary()
            return ("neg", operand) if sign == "-" else operand
        return self._power()

    def _power(self) -> Node:
        node = self._atom()
        if self._peek() in ("^", "**"):
            self._take()
            return ("op", "^", node, self._unary())
        return node

    def _atom(self) -> Node:
        kind, value = self._take()
        if kind == "num":
            return ("num", float(value))
        if kind == "name":
            if self._peek() != "(":
                return ("name", value)
            return self._call(value)
        if value == "(":
            node = self._expr()
            self._take(")")
            return node
        raise ParseError(f"cannot parse {self.text!r}: unexpected {value!r}")

    def _call(self, fname: str) -> Node:
        if fname not in _FUNCTIONS:
            raise ParseError(
                f"unknown function {fname!r} in {self.text!r}; known: {sorted(_FUNCTIONS)}"
            )
        self._take("(")
        args = [self._expr()]
        while self._peek() == ",":
            self._take()
            args.append(self._expr())
        self._take(")")
        arity = _FUNCTIONS[fname][1]
        if len(args) != arity:
            raise ParseError(
                f"{fname}() takes {arity} argument(s), got {len(args)} in {self.text!r}"
            )
        return ("call", fname, tuple(args))


def parse_formula(text: str) -> Node:
    """Parse a rate-law formula such as ``"kcat*E*S/(Km+S)"`` into an AST of tuples."""
    return _FormulaParser(text).parse()


def formula_names(node: Node) -> frozenset[str]:
    """The identifiers a formula AST reads."""
    kind = node[0]
    if kind == "name":
        return frozenset([node[1]])
    if kind == "num":
        return frozenset()
    children = node[2:] if kind == "op" else (node[1],) if kind == "neg" else node[2]
    return frozenset().union(*(formula_names(child) for child in children))


_BINARY = {
    "+": jnp.add,
    "-": jnp.subtract,
    "*": jnp.multiply,
    "/": jnp.divide,
}


def _power(base, exponent_node: Node, exponent):
    # Integer literal exponents use integer_pow: exact, and its derivative is finite at 0.
    if exponent_node[0] == "num" and float(exponent_node[1]).is_integer():
        return base ** int(exponent_node[1])
    return jnp.power(base, exponent)


def evaluate_formula(node: Node, env: Mapping[str, object]):
    """Evaluate a formula AST with jnp operations, reading identifiers from ``env``."""
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "name":
        return env[node[1]]
    if kind == "neg":
        return -evaluate_formula(node[1], env)
    if kind == "call":
        return _FUNCTIONS[node[1]][0](*(evaluate_formula(arg, env) for arg in node[2]))
    _, op, lhs, rhs = node
    if op == "^":
        return _power(evaluate_formula(lhs, env), rhs, evaluate_formula(rhs, env))
    return _BINARY[op](evaluate_formula(lhs, env), evaluate_formula(rhs, env))


_ARROWS = ("<->", "<=>", "->", "=>")
_SPECIES_TERM = re.compile(r"^\s*(?:(?P<coef>\d+)\s*\*?\s*)?(?P<name>[A-Za-z_]\w*)\s*$")


def _parse_side(text: str, equation: str) -> dict[str, int]:
    side: dict[str, int] = {}
    text = text.strip()
    if text in ("", "0", "∅"):
        return side
    for term in text.split("+"):
        match = _SPECIES_TERM.match(term)
        if match is None:
            raise ParseError(
                f"cannot parse reaction {equation!r}: bad term {term.strip()!r} "
                "(write 'n Name' with a positive integer n)"
            )
        coefficient = int(match.group("coef") or 1)
        if coefficient <= 0:
            raise ParseError(f"reaction {equation!r}: coefficient of {match['name']} must be > 0")
        name = match.group("name")
        if name in side:
            raise ParseError(
                f"reaction {equation!r} names {name} twice on one side; write its total, "
                f"e.g. '{side[name] + coefficient} {name}'"
            )
        side[name] = coefficient
    return side


def parse_equation(equation: str) -> tuple[dict[str, int], dict[str, int], bool]:
    """Parse ``"2 A + B -> C"`` (or ``<->`` for reversible) into reactants, products, reversible.

    A species named twice on one side is an error (write ``2 A``, not ``A + A``).
    ``0`` or an empty side means no species (``-> X`` is a birth, ``X -> 0`` a death).
    """
    for arrow in _ARROWS:
        if arrow in equation:
            left, _, right = equation.partition(arrow)
            if any(a in right for a in _ARROWS):
                raise ParseError(f"cannot parse reaction {equation!r}: more than one arrow")
            reversible = arrow in ("<->", "<=>")
            return _parse_side(left, equation), _parse_side(right, equation), reversible
    raise ParseError(f"cannot parse reaction {equation!r}: no arrow (use '->' or '<->')")
