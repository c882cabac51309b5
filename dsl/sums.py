"""Sums as linear combinations of terms, collected and written back canonically.

A chain of ``+``, ``-``, unary ``-`` and multiplications by a literal is read
as ``c0 + sum_i c_i * term_i`` with like terms (equal expressions) collected
and zero coefficients dropped, then written back with the constant first, the
terms in canonical operand order, each positive term added and each negative
one subtracted::

    t - (t - x)              ->  x
    x + x                    ->  2 * x
    eps + (eps + y)          ->  2 * eps + y
    a - (b - 2 * a)          ->  3 * a - b

A literal multiple of a sum (``2 * (a + b)``) is one term: distributing it
would grow the expression. The rewrite is exact for finite values; where a term is
inf or NaN, dropping it (``x - x`` -> ``0``) changes that NaN into a number.
"""

from __future__ import annotations

from .expr import Const, Expr, Name, Op
from .printer import expr_text


def operand_order(e: Expr) -> tuple:
    """Canonical operand order: constants, then names, then compound expressions, by text."""
    kind = 0 if isinstance(e, Const) else 1 if isinstance(e, Name) else 2
    return kind, expr_text(e)


def linear_form(e: Expr) -> tuple[float, dict[Expr, float]]:
    """``(c0, {term: coefficient})`` with ``e == c0 + sum(coefficient * term)``."""
    constant = 0.0
    coefficients: dict[Expr, float] = {}
    stack = [(e, 1.0)]
    while stack:
        node, scale = stack.pop()
        factor, rest = _scaled(node)
        if isinstance(node, Const):
            constant += scale * node.value
        elif _is_sum(node):
            a, b = node.args
            stack += [(a, scale), (b, scale if node.op == "add" else -scale)]
        elif factor is None:
            coefficients[node] = coefficients.get(node, 0.0) + scale
        elif _is_sum(rest) and abs(factor) != 1:
            coefficients[rest] = coefficients.get(rest, 0.0) + scale * factor
        else:
            stack.append((rest, scale * factor))
    return constant, coefficients


def _is_sum(e: Expr) -> bool:
    return isinstance(e, Op) and e.op in ("add", "sub")


def _scaled(e: Expr) -> tuple[float | None, Expr]:
    """``(c, x)`` for ``-x`` (c = -1) and ``c * x`` with a literal ``c``, else ``(None, e)``."""
    if isinstance(e, Op) and e.op == "neg":
        return -1.0, e.args[0]
    if isinstance(e, Op) and e.op == "mul":
        for i, arg in enumerate(e.args):
            if isinstance(arg, Const):
                return arg.value, e.args[1 - i]
    return None, e


def written_sum(constant: float, coefficients: dict[Expr, float]) -> Expr:
    """The canonical expression of ``constant + sum(coefficient * term)``.

    It opens with its first positive item (the constant, then the terms in
    ``operand_order``), or with the first item negated when none is positive;
    every other item follows in order, added or subtracted.
    """
    items = [(constant, None)] if constant != 0 else []
    items += [(c, term) for term, c in sorted(coefficients.items(), key=lambda kv: operand_order(kv[0]))
              if c != 0]
    if not items:
        return Const(0.0)
    lead = next((i for i, (c, _) in enumerate(items) if c > 0), 0)
    out = _item(*items[lead])
    for i, (c, term) in enumerate(items):
        if i != lead:
            out = Op("add" if c > 0 else "sub", (out, _item(abs(c), term)))
    return out


def _item(c: float, term: Expr | None) -> Expr:
    """``c * term`` as written: ``term``, ``-term``, ``c * term`` or the constant ``c``."""
    if term is None:
        return Const(c)
    if c == 1:
        return term
    if c == -1:
        return Op("neg", (term,))
    return Op("mul", (Const(c), term))
