"""SBML math: libsbml's AST → a small tuple AST → jnp (or NumPy) code. Never eval, never sympy.

Nodes (hashable tuples, so a compiled model can be static):

- ``("num", value)``; ``("name", id)``: another symbol, read from the environment;
- ``("state", i)``, ``("param", i)``, ``("time",)``: leaves read from ``y``, ``θ`` and ``t``;
- ``("op", name, (children...))``: arithmetic, functions, relations, logic, piecewise.

Relations and logic give booleans; arithmetic on a boolean reads it as 0/1 (SBML's
"BoolNumericSwap"), logic on a number reads it as ``x != 0``.
"""

import math
from collections.abc import Callable, Mapping

import jax.numpy as jnp
import jax.scipy.special as jss
import numpy as np

from .._errors import SBMLError

Node = tuple

_ARITY_ANY = -1

# op name -> (arity, kind); kind: "num" (numeric args), "bool" (boolean args), "rel"
_UNARY = {
    "abs",
    "exp",
    "ln",
    "log10",
    "log2",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "sec",
    "csc",
    "cot",
    "sinh",
    "cosh",
    "tanh",
    "sech",
    "csch",
    "coth",
    "arcsin",
    "arccos",
    "arctan",
    "arcsec",
    "arccsc",
    "arccot",
    "arcsinh",
    "arccosh",
    "arctanh",
    "arcsech",
    "arccsch",
    "arccoth",
    "floor",
    "ceiling",
    "factorial",
    "neg",
}
_BINARY = {"-", "/", "pow", "log", "root", "quotient", "rem"}
_NARY = {"+", "*", "max", "min"}
_RELATIONAL = {"eq", "neq", "gt", "geq", "lt", "leq"}
_LOGICAL = {"and", "or", "xor", "not", "implies"}


def _ast_types() -> dict[int, str]:
    import libsbml

    names = {
        "AST_PLUS": "+",
        "AST_MINUS": "-",
        "AST_TIMES": "*",
        "AST_DIVIDE": "/",
        "AST_POWER": "pow",
        "AST_FUNCTION_POWER": "pow",
        "AST_FUNCTION_LOG": "log",
        "AST_FUNCTION_ROOT": "root",
        "AST_FUNCTION_ABS": "abs",
        "AST_FUNCTION_EXP": "exp",
        "AST_FUNCTION_LN": "ln",
        "AST_FUNCTION_FLOOR": "floor",
        "AST_FUNCTION_CEILING": "ceiling",
        "AST_FUNCTION_FACTORIAL": "factorial",
        "AST_FUNCTION_SIN": "sin",
        "AST_FUNCTION_COS": "cos",
        "AST_FUNCTION_TAN": "tan",
        "AST_FUNCTION_SEC": "sec",
        "AST_FUNCTION_CSC": "csc",
        "AST_FUNCTION_COT": "cot",
        "AST_FUNCTION_SINH": "sinh",
        "AST_FUNCTION_COSH": "cosh",
        "AST_FUNCTION_TANH": "tanh",
        "AST_FUNCTION_SECH": "sech",
        "AST_FUNCTION_CSCH": "csch",
        "AST_FUNCTION_COTH": "coth",
        "AST_FUNCTION_ARCSIN": "arcsin",
        "AST_FUNCTION_ARCCOS": "arccos",
        "AST_FUNCTION_ARCTAN": "arctan",
        "AST_FUNCTION_ARCSEC": "arcsec",
        "AST_FUNCTION_ARCCSC": "arccsc",
        "AST_FUNCTION_ARCCOT": "arccot",
        "AST_FUNCTION_ARCSINH": "arcsinh",
        "AST_FUNCTION_ARCCOSH": "arccosh",
        "AST_FUNCTION_ARCTANH": "arctanh",
        "AST_FUNCTION_ARCSECH": "arcsech",
        "AST_FUNCTION_ARCCSCH": "arccsch",
        "AST_FUNCTION_ARCCOTH": "arccoth",
        "AST_FUNCTION_MAX": "max",
        "AST_FUNCTION_MIN": "min",
        "AST_FUNCTION_QUOTIENT": "quotient",
        "AST_FUNCTION_REM": "rem",
        "AST_FUNCTION_PIECEWISE": "piecewise",
        "AST_RELATIONAL_EQ": "eq",
        "AST_RELATIONAL_NEQ": "neq",
        "AST_RELATIONAL_GT": "gt",
        "AST_RELATIONAL_GEQ": "geq",
        "AST_RELATIONAL_LT": "lt",
        "AST_RELATIONAL_LEQ": "leq",
        "AST_LOGICAL_AND": "and",
        "AST_LOGICAL_OR": "or",
        "AST_LOGICAL_XOR": "xor",
        "AST_LOGICAL_NOT": "not",
        "AST_LOGICAL_IMPLIES": "implies",
    }
    return {getattr(libsbml, k): v for k, v in names.items() if hasattr(libsbml, k)}


_UNSUPPORTED = {
    "AST_FUNCTION_DELAY": "the delay csymbol",
    "AST_FUNCTION_RATE_OF": "the rateOf csymbol",
    "AST_NAME_AVOGADRO": "the avogadro csymbol",
    "AST_LAMBDA": "a lambda outside a function definition",
    "AST_CSYMBOL_FUNCTION": "a csymbol function",
    "AST_DISTRIB_FUNCTION_NORMAL": "the distrib package",
}


class MathTranslator:
    """Translates libsbml ASTs into tuple ASTs, inlining function definitions.

    **Arguments:** ``functions``: ``{id: (argument names, body libsbml AST)}``.
    """

    def __init__(self, functions: Mapping[str, tuple[tuple[str, ...], object]]):
        import libsbml

        self._lib = libsbml
        self._types = _ast_types()
        self._unsupported = {
            getattr(libsbml, k): v for k, v in _UNSUPPORTED.items() if hasattr(libsbml, k)
        }
        self._functions = functions
        self._cache: dict[str, tuple[tuple[str, ...], Node]] = {}

    def function(self, name: str, where: str) -> tuple[tuple[str, ...], Node]:
        if name not in self._functions:
            raise SBMLError(f"{where}: calls undefined function {name!r}")
        if name not in self._cache:
            self._cache[name] = (None, None)  # recursion guard
            args, body = self._functions[name]
            if body is None:
                raise SBMLError(f"function definition {name!r} has no math")
            self._cache[name] = (args, self.translate(body, f"function definition {name!r}"))
        args, body = self._cache[name]
        if body is None:
            raise SBMLError(f"function definition {name!r} is recursive")
        return args, body

    def translate(self, ast, where: str) -> Node:
        """Translate a libsbml ``ASTNode`` (``where`` names the element, for errors)."""
        if ast is None:
            raise SBMLError(f"{where}: missing math")
        lib = self._lib
        kind = ast.getType()
        if kind in self._unsupported:
            raise SBMLError(f"{where}: unsupported feature: {self._unsupported[kind]}")
        if kind == lib.AST_INTEGER:
            return ("num", float(ast.getInteger()))
        if kind == lib.AST_RATIONAL:
            return ("num", float(ast.getNumerator()) / float(ast.getDenominator()))
        if kind in (lib.AST_REAL, lib.AST_REAL_E):
            return ("num", float(ast.getReal()))
        if kind == lib.AST_CONSTANT_E:
            return ("num", math.e)
        if kind == lib.AST_CONSTANT_PI:
            return ("num", math.pi)
        if kind == lib.AST_CONSTANT_TRUE:
            return ("bool", True)
        if kind == lib.AST_CONSTANT_FALSE:
            return ("bool", False)
        if kind == lib.AST_NAME_TIME:
            return ("time",)
        if kind == lib.AST_NAME:
            return ("name", ast.getName())
        children = [ast.getChild(i) for i in range(ast.getNumChildren())]
        if kind == lib.AST_FUNCTION:
            params, body = self.function(ast.getName(), where)
            if len(params) != len(children):
                raise SBMLError(
                    f"{where}: function {ast.getName()!r} takes {len(params)} argument(s), "
                    f"got {len(children)}"
                )
            values = {p: self.translate(c, where) for p, c in zip(params, children, strict=True)}
            return substitute(body, values)
        if kind not in self._types:
            raise SBMLError(f"{where}: unsupported MathML element {ast.getName() or kind!r}")
        op = self._types[kind]
        args = tuple(self.translate(c, where) for c in children)
        return _normalise(op, args, where)


def _normalise(op: str, args: tuple[Node, ...], where: str) -> Node:
    n = len(args)
    if op == "+":
        return ("num", 0.0) if n == 0 else args[0] if n == 1 else ("op", "+", args)
    if op == "*":
        return ("num", 1.0) if n == 0 else args[0] if n == 1 else ("op", "*", args)
    if op == "-":
        if n == 1:
            return ("op", "neg", args)
        if n != 2:
            raise SBMLError(f"{where}: minus takes 1 or 2 arguments, got {n}")
        return ("op", "-", args)
    if op == "log":
        return ("op", "log10", args) if n == 1 else ("op", "log", args)
    if op == "root":
        return ("op", "sqrt", args) if n == 1 else ("op", "root", args)
    if op in ("and", "or", "xor"):
        if n == 0:
            return ("bool", op == "and")
        return args[0] if n == 1 and op != "xor" else ("op", op, args)
    if op in _RELATIONAL:
        if n < 2:
            return ("bool", True)
        if n > 2:
            return ("op", "and", tuple(("op", op, args[i : i + 2]) for i in range(n - 1)))
        return ("op", op, args)
    if op == "piecewise" or op in _NARY:
        if n == 0:
            raise SBMLError(f"{where}: {op} with no arguments")
        return ("op", op, args)
    arity = 1 if op in _UNARY or op == "not" else 2
    if n != arity:
        raise SBMLError(f"{where}: {op} takes {arity} argument(s), got {n}")
    return ("op", op, args)


def substitute(node: Node, values: Mapping[str, Node]) -> Node:
    """Replace ``("name", id)`` leaves by ``values[id]``."""
    kind = node[0]
    if kind == "name":
        return values.get(node[1], node)
    if kind == "op":
        return ("op", node[1], tuple(substitute(c, values) for c in node[2]))
    return node


def names_in(node: Node) -> set[str]:
    """The ``("name", id)`` leaves a node reads."""
    if node[0] == "name":
        return {node[1]}
    if node[0] == "op":
        return set().union(*(names_in(c) for c in node[2]))
    return set()


def uses(node: Node, kind: str) -> bool:
    """Whether a node contains a leaf of this kind (``"time"``, ``"state"``, ...)."""
    if node[0] == kind:
        return True
    return node[0] == "op" and any(uses(c, kind) for c in node[2])


# --- evaluation ----------------------------------------------------------------------------


def _factorial(xp):
    gammaln = jss.gammaln if xp is jnp else np.vectorize(math.lgamma, otypes=[float])
    return lambda x: xp.round(xp.exp(gammaln(x + 1.0)))


def _functions(xp) -> dict[str, Callable]:
    return {
        "abs": xp.abs,
        "exp": xp.exp,
        "ln": xp.log,
        "log10": xp.log10,
        "log2": xp.log2,
        "sqrt": xp.sqrt,
        "sin": xp.sin,
        "cos": xp.cos,
        "tan": xp.tan,
        "sec": lambda x: 1.0 / xp.cos(x),
        "csc": lambda x: 1.0 / xp.sin(x),
        "cot": lambda x: 1.0 / xp.tan(x),
        "sinh": xp.sinh,
        "cosh": xp.cosh,
        "tanh": xp.tanh,
        "sech": lambda x: 1.0 / xp.cosh(x),
        "csch": lambda x: 1.0 / xp.sinh(x),
        "coth": lambda x: 1.0 / xp.tanh(x),
        "arcsin": xp.arcsin,
        "arccos": xp.arccos,
        "arctan": xp.arctan,
        "arcsec": lambda x: xp.arccos(1.0 / x),
        "arccsc": lambda x: xp.arcsin(1.0 / x),
        "arccot": lambda x: xp.arctan(1.0 / x),
        "arcsinh": xp.arcsinh,
        "arccosh": xp.arccosh,
        "arctanh": xp.arctanh,
        "arcsech": lambda x: xp.arccosh(1.0 / x),
        "arccsch": lambda x: xp.arcsinh(1.0 / x),
        "arccoth": lambda x: xp.arctanh(1.0 / x),
        "floor": xp.floor,
        "ceiling": xp.ceil,
        "factorial": _factorial(xp),
        "neg": xp.negative,
        "-": xp.subtract,
        "/": xp.divide,
        "log": lambda b, x: xp.log(x) / xp.log(b),
        "root": lambda n, x: xp.power(x, 1.0 / n),
        "quotient": lambda a, b: xp.trunc(a / b),
        "rem": xp.fmod,
        "max": xp.maximum,
        "min": xp.minimum,
    }


_XP_FUNCTIONS = {"jnp": _functions(jnp), "np": _functions(np)}


def _is_bool(x) -> bool:
    return isinstance(x, bool) or getattr(x, "dtype", None) in (np.bool_, jnp.bool_)


class Evaluator:
    """Evaluates tuple ASTs with ``xp`` (``jax.numpy`` for traced code, NumPy for outputs).

    ``env`` maps names to values; ``t``, ``y``, ``theta`` feed the leaves.
    """

    def __init__(self, xp=jnp):
        self.xp = xp
        self.fns = _XP_FUNCTIONS["jnp" if xp is jnp else "np"]

    def num(self, x):
        xp = self.xp
        if _is_bool(x):
            return xp.where(x, 1.0, 0.0)
        return x

    def truth(self, x):
        if _is_bool(x):
            return x
        return self.xp.not_equal(x, 0.0)

    def __call__(self, node: Node, env, t, y, theta):
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "name":
            return env[node[1]]
        if kind == "state":
            return y[..., node[1]]
        if kind == "param":
            return theta[node[1]]
        if kind == "time":
            return t
        if kind == "bool":
            return node[1]
        if kind == "atom":
            return env["\0atoms"][node[1]]
        xp = self.xp
        _, op, children = node
        if op == "piecewise":
            return self._piecewise(children, env, t, y, theta)
        if op in _LOGICAL:
            values = [self.truth(self(c, env, t, y, theta)) for c in children]
            if op == "not":
                return xp.logical_not(values[0])
            if op == "implies":
                return xp.logical_or(xp.logical_not(values[0]), values[1])
            combine = {"and": xp.logical_and, "or": xp.logical_or, "xor": xp.logical_xor}[op]
            out = values[0]
            for v in values[1:]:
                out = combine(out, v)
            return out
        values = [self.num(self(c, env, t, y, theta)) for c in children]
        if op in _RELATIONAL:
            return getattr(
                xp,
                {
                    "eq": "equal",
                    "neq": "not_equal",
                    "gt": "greater",
                    "geq": "greater_equal",
                    "lt": "less",
                    "leq": "less_equal",
                }[op],
            )(values[0], values[1])
        if op == "+":
            out = values[0]
            for v in values[1:]:
                out = out + v
            return out
        if op == "*":
            out = values[0]
            for v in values[1:]:
                out = out * v
            return out
        if op == "pow":
            exponent = children[1]
            if exponent[0] == "num" and float(exponent[1]).is_integer() and abs(exponent[1]) < 64:
                return xp.asarray(values[0]) ** int(exponent[1])
            return xp.power(values[0], values[1])
        if op in ("max", "min"):
            out = values[0]
            for v in values[1:]:
                out = self.fns[op](out, v)
            return out
        return self.fns[op](*values)

    def _piecewise(self, children, env, t, y, theta):
        xp = self.xp
        pieces = [(children[i], children[i + 1]) for i in range(0, len(children) - 1, 2)]
        otherwise = children[-1] if len(children) % 2 else None
        boolean = _is_boolean(children[0])
        convert = self.truth if boolean else self.num
        out = (
            convert(self(otherwise, env, t, y, theta))
            if otherwise is not None
            else (False if boolean else float("nan"))
        )
        for value, condition in reversed(pieces):
            out = xp.where(
                self.truth(self(condition, env, t, y, theta)),
                convert(self(value, env, t, y, theta)),
                out,
            )
        return out


def _is_boolean(node: Node) -> bool:
    if node[0] == "bool":
        return True
    return node[0] == "op" and (node[1] in _RELATIONAL or node[1] in _LOGICAL)


def is_boolean(node: Node) -> bool:
    """Whether a node gives a boolean (a relation, logic or a boolean constant)."""
    if node[0] == "op" and node[1] == "piecewise":
        return _is_boolean(node[2][0])
    return _is_boolean(node)


def relations(node: Node) -> list[Node]:
    """The relational sub-expressions of a boolean trigger, outermost first, deduplicated."""
    found: list[Node] = []

    def visit(n):
        if n[0] != "op":
            return
        if n[1] in _RELATIONAL:
            if n not in found:
                found.append(n)
            return
        for c in n[2]:
            visit(c)

    visit(node)
    return found


# --- switches in time ------------------------------------------------------------------------


def time_switches(definitions: tuple[tuple[str, Node], ...], nodes) -> tuple[Node, ...]:
    """Root functions ``g(t, θ)`` (no names, no states) of the relations in ``nodes`` and in
    the definitions that read time and no state and are affine in time: a dose given at a
    time, a stimulus switched off. Each switches once, at ``t* = −g(0) / (g(1) − g(0))``,
    an instant an adaptive integrator must step to rather than across (its error estimate
    does not see a discontinuity inside a step, and the step pattern then moves the solution
    by far more than the tolerance). ``definitions`` (``(name, AST)``) resolve names."""
    table = dict(definitions)
    memo: dict[str, Node | None] = {}
    found: list[Node] = []
    for node in (*table.values(), *nodes):
        for relation in relations(node):
            left, right = (_state_free(c, table, memo) for c in relation[2])
            if left is None or right is None:
                continue
            g = ("op", "-", (left, right))
            if _time_degree(g) == 1 and g not in found:
                found.append(g)
    return tuple(found)


def _state_free(node: Node, table: Mapping[str, Node], memo: dict) -> Node | None:
    """``node`` with every name replaced by its definition, recursively; None where it reads
    a state."""
    kind = node[0]
    if kind in ("state", "atom"):
        return None
    if kind == "name":
        name = node[1]
        if name not in table:
            return None
        if name not in memo:
            memo[name] = None  # a cycle reads as state-dependent
            memo[name] = _state_free(table[name], table, memo)
        return memo[name]
    if kind != "op":
        return node
    children = tuple(_state_free(c, table, memo) for c in node[2])
    return None if None in children else ("op", node[1], children)


def _time_degree(node: Node) -> int | None:
    """0 where ``node`` does not read time, 1 where it is affine in time, else None."""
    if node[0] == "time":
        return 1
    if node[0] != "op":
        return 0
    op, children = node[1], node[2]
    degrees = [_time_degree(c) for c in children]
    if None in degrees:
        return None
    if op in ("+", "-", "neg"):
        return max(degrees)
    if op == "*" and sum(degrees) <= 1:
        return sum(degrees)
    if op == "/" and degrees[1] == 0:
        return degrees[0]
    return None if any(degrees) else 0
