"""Semantics-preserving simplification of rules.

* constant folding (``1 - 0.9`` -> ``0.1``; never to a non-finite value);
* identities: ``x*1``, ``x/1``, ``x**1``, ``x+0``, ``x-0``, ``0-x``, ``--x``,
  ``x - -y``, ``x + -y``, ``x * -1``, a conditional on a constant;
* canonical order of commutative operands (``+ * max min``);
* removal of statements and state slots that cannot affect the returned value.

The result computes the same updates as the input (tested on random rules).
"""

from __future__ import annotations

import math

from .expr import Assign, Const, Expr, Name, Op, names_read
from .ops import OPS
from .printer import expr_text
from .rule import Rule
from .semantics import fold_constants


def simplify(rule: Rule) -> Rule:
    """A simpler rule computing the same updates; applied until nothing changes."""
    while True:
        body = tuple(Assign(a.target, simplify_expr(a.value)) for a in rule.body)
        result = simplify_expr(rule.result)
        body = _live_statements(body, result)
        simpler = Rule(rule.name, rule.params, body, result)
        if simpler == rule:
            return simpler
        rule = simpler


def simplify_expr(e: Expr) -> Expr:
    if not isinstance(e, Op):
        return e
    args = tuple(simplify_expr(a) for a in e.args)
    value = fold_constants(e.op, [a.value if isinstance(a, Const) else a for a in args])
    if value is not None and math.isfinite(value):
        return Const(value)
    if OPS[e.op].commutative:
        args = tuple(sorted(args, key=_order))
    return _identity(Op(e.op, args))


def _order(e: Expr) -> tuple:
    """Canonical operand order: constants, then names, then compound expressions."""
    kind = 0 if isinstance(e, Const) else 1 if isinstance(e, Name) else 2
    return kind, expr_text(e)


def _is(e: Expr, value: float) -> bool:
    return isinstance(e, Const) and e.value == value


def _identity(e: Op) -> Expr:
    op, args = e.op, e.args
    a = args[0]
    b = args[1] if len(args) > 1 else None
    if op == "mul":  # constants sort first: a is the constant if there is one
        if _is(a, 1.0):
            return b
        if _is(a, -1.0):
            return _identity(Op("neg", (b,)))
    if op == "add":
        if _is(a, 0.0):
            return b
        if isinstance(b, Op) and b.op == "neg":
            return _identity(Op("sub", (a, b.args[0])))
        if isinstance(a, Op) and a.op == "neg":
            return _identity(Op("sub", (b, a.args[0])))
    if op == "sub":
        if _is(b, 0.0):
            return a
        if _is(a, 0.0):
            return _identity(Op("neg", (b,)))
        if isinstance(b, Op) and b.op == "neg":
            return simplify_expr(Op("add", (a, b.args[0])))
    if op in ("div", "pow") and _is(b, 1.0):
        return a
    if op == "neg":
        if isinstance(a, Op) and a.op == "neg":
            return a.args[0]
        if isinstance(a, Const):
            return Const(-a.value)
    if op == "where" and isinstance(a, Const):
        return args[1] if a.value != 0 else args[2]
    return e


def _live_statements(body: tuple[Assign, ...], result: Expr) -> tuple[Assign, ...]:
    """Drop assignments whose value never reaches the result, in this step or later ones.

    Backward liveness over the body, iterated to a fixed point because a state
    slot read at the start of the next step keeps its last assignment alive.
    """
    carried: set[str] = set()
    while True:
        live = set(carried) | set(names_read(result))
        keep = []
        for stmt in reversed(body):
            if stmt.target in live:
                live.discard(stmt.target)
                live |= set(names_read(stmt.value))
                keep.append(stmt)
        assigned = {a.target for a in body}
        needed = live & assigned  # read before assignment: state carried from the last step
        if needed <= carried:
            return tuple(reversed(keep))
        carried |= needed
