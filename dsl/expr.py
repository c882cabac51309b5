"""Expression nodes and statements of the rule language, and walks over them.

An expression is a constant ``Const``, a name ``Name`` (an input, a
hyper-parameter or a variable) or an operator applied to argument expressions
``Op`` (operators: ``dsl.ops``). A statement ``Assign`` binds a name to the
value of an expression.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Const:
    value: float


@dataclass(frozen=True, slots=True)
class Name:
    id: str


@dataclass(frozen=True, slots=True)
class Op:
    op: str
    args: tuple


Expr = Const | Name | Op


@dataclass(frozen=True, slots=True)
class Assign:
    target: str
    value: Expr


def walk(expr: Expr) -> Iterator[Expr]:
    """All nodes of an expression, parents before children, left to right."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Op):
            stack.extend(reversed(node.args))


def names_read(expr: Expr) -> list[str]:
    """The names an expression reads, in order, with repeats."""
    return [n.id for n in walk(expr) if isinstance(n, Name)]


def depth_exceeds(expr: Expr, limit: int) -> bool:
    """True if ``expr`` is nested deeper than ``limit`` (iterative, never recurses)."""
    stack = [(expr, 1)]
    while stack:
        node, d = stack.pop()
        if d > limit:
            return True
        if isinstance(node, Op) and isinstance(node.args, tuple):
            stack.extend((a, d + 1) for a in node.args)
    return False


def replace_at(expr: Expr, index: int, new: Expr) -> Expr:
    """``expr`` with its node number ``index`` (in ``walk`` order) replaced by ``new``."""
    counter = itertools.count()

    def visit(node: Expr) -> Expr:
        if next(counter) == index:
            return new
        return Op(node.op, tuple(visit(a) for a in node.args)) if isinstance(node, Op) else node

    return visit(expr)


def substitute(expr: Expr, name: str, new: Expr) -> Expr:
    """``expr`` with every read of ``name`` replaced by ``new``."""
    if isinstance(expr, Name):
        return new if expr.id == name else expr
    return Op(expr.op, tuple(substitute(a, name, new) for a in expr.args)) if isinstance(expr, Op) else expr
