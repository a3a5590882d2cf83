"""Vectorised evaluation of SBML definitions: one jnp expression per *shape* of formula.

A model of 100 reactions whose kinetic laws have three shapes (``c*k*A``, ``c*k*A*B``,
``c*V*A/(K + A)``) traces three expressions on vectors instead of 100 scalar ones, so the
compiled graph — and the compile time — grows with the number of shapes, not of reactions.
Definitions are grouped by dependency level: a group reads only values of earlier levels.
Numbers stay in the shapes (``x^2`` keeps its integer power), only the leaves that read
``y``, ``θ`` or other definitions become gathered vectors.
"""

import functools
from collections.abc import Mapping
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from ._sbml_math import Evaluator, Node, names_in

_JNP = Evaluator(jnp)
_LEAVES = ("state", "param", "name")


class Group(NamedTuple):
    """Definitions of one shape and level: ``template`` with slot leaves ``("name", "\\0k")``,
    ``members`` [G] (their positions among the definitions) and per slot its leaf kind and
    source indices [G]."""

    template: Node
    members: np.ndarray
    slots: tuple[tuple[str, np.ndarray], ...]


def _template(node: Node, leaves: list[Node]) -> Node:
    """``node`` with each leaf reading ``y``, ``θ`` or a definition replaced by a slot."""
    if node[0] in _LEAVES:
        leaves.append(node)
        return ("name", f"\0{len(leaves) - 1}")
    if node[0] == "op":
        return ("op", node[1], tuple(_template(c, leaves) for c in node[2]))
    return node


@functools.lru_cache(maxsize=128)
def plan(definitions: tuple[tuple[str, Node], ...]) -> tuple[Group, ...]:
    """Groups of ``definitions`` (given in dependency order), in an order that evaluates
    every definition after those it reads."""
    index = {name: i for i, (name, _) in enumerate(definitions)}
    level: dict[str, int] = {}
    buckets: dict[tuple, list[tuple[int, list[Node]]]] = {}
    for name, node in definitions:
        level[name] = 1 + max((level[n] for n in names_in(node) if n in index), default=-1)
        leaves: list[Node] = []
        key = (level[name], _template(node, leaves), tuple(leaf[0] for leaf in leaves))
        buckets.setdefault(key, []).append((index[name], leaves))
    groups = []
    for (_, template, kinds), members in sorted(buckets.items(), key=lambda kv: kv[0][0]):
        slots = tuple(
            (
                kind,
                np.asarray(
                    [index[m[1][k][1]] if kind == "name" else m[1][k][1] for m in members],
                    dtype=np.int32,
                ),
            )
            for k, kind in enumerate(kinds)
        )
        groups.append(Group(template, np.asarray([m[0] for m in members], np.int32), slots))
    return tuple(groups)


def evaluate(definitions: tuple[tuple[str, Node], ...], t, y, theta) -> jnp.ndarray:
    """Values [D] of all definitions at ``(t, y [S], θ [P])``, booleans read as 0/1."""
    values = jnp.zeros((len(definitions),), dtype=y.dtype)
    for group in plan(definitions):
        sources = {"state": y, "param": theta, "name": values}
        env = {f"\0{k}": sources[kind][idx] for k, (kind, idx) in enumerate(group.slots)}
        value = jnp.asarray(_JNP.num(_JNP(group.template, env, t, y, theta)), dtype=y.dtype)
        values = values.at[group.members].set(jnp.broadcast_to(value, group.members.shape))
    return values


class Values(Mapping):
    """Name → value view of a vector of definitions [D], sliced lazily; other entries
    (e.g. the trigger relations' truth values) can be added."""

    def __init__(self, definitions: tuple[tuple[str, Node], ...], values):
        self._index = positions(definitions)
        self._values = values
        self._extra: dict = {}

    def __getitem__(self, name):
        if name in self._extra:
            return self._extra[name]
        return self._values[self._index[name]]

    def __setitem__(self, name, value):
        self._extra[name] = value

    def __contains__(self, name):
        return name in self._extra or name in self._index

    def __iter__(self):
        return iter((*self._index, *self._extra))

    def __len__(self):
        return len(self._index) + len(self._extra)


@functools.lru_cache(maxsize=128)
def positions(definitions: tuple[tuple[str, Node], ...]) -> dict[str, int]:
    """Name → position of each definition (cached per model; do not mutate)."""
    return {name: i for i, (name, _) in enumerate(definitions)}
