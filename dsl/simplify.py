"""Simplification of rules by exact identities: the same updates, within float rounding.

* constant folding (``1 - 0.9`` -> ``0.1``; never to a non-finite value), also
  of what comparisons bound to one value (``dsl.value_sets``:
  ``0.9 < rsqrt(0.9 < rsqrt(tanh(e > p)))`` -> ``1``), and of conditionals
  whose condition is known (``a if 1 else b`` -> ``a``, ``a if c else a`` -> ``a``);
* sums collected as linear combinations (``dsl.sums``): ``t - (t - x)`` -> ``x``,
  ``x + x`` -> ``2 * x``, ``eps + (eps + y)`` -> ``2 * eps + y``, ``x - x`` -> ``0``,
  ``x * 1``, ``x + 0``, ``--x``, ``x * -1``;
* ``x / x`` -> ``1``, ``x / 1`` and ``x ** 1`` -> ``x``, a sum divided by a literal folded
  into its coefficients where that is shorter (``(g + g) / 2`` -> ``g``), ``x * (1 / y)`` ->
  ``x / y``; operators the table
  marks idempotent (``sign(sign(x))``, ``abs(abs(x))``, ``max(x, x)``,
  ``min(x, x)`` -> one application or ``x``) or non-negative
  (``abs(square(x))`` -> ``square(x)``); a comparison of an expression with
  itself (``x < x`` -> ``0``, ``x <= x`` -> ``1``);
* a variable holding a literal or a copy of another name (``mhat = m``) is
  replaced by it where it is read;
* canonical order of commutative operands (``+ * max min``);
* removal of statements and state slots that cannot affect the returned value,
  and of hyper-parameters nothing reads.

The identities hold for finite values: ``x / x`` is 1 where the raw rule has
``0 / 0`` (NaN), ``x - x`` is 0 where it has ``inf - inf``. Under a reduction
a leaf-shaped value never becomes a scalar (``norm`` of a constant array is
not ``norm`` of the constant). Complexity (``Rule.size``) never grows.

Example: ``m = b1 * m + g * (1 - b1); return m / (eps + (eps + sqrt(m * m)))``
becomes ``... return m / (2 * eps + sqrt(m * m))``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from .errors import DSLError
from .expr import Assign, Const, Expr, Name, Op, names_read, walk
from .ops import OPS
from .rule import Rule
from .semantics import fold, fold_constants
from .sums import linear_form, operand_order, written_sum
from .value_sets import Values, op_values


@functools.lru_cache(maxsize=1 << 12)
def simplify(rule: Rule) -> Rule:
    """A simpler rule computing the same updates; applied until nothing changes (kept per rule:
    a search simplifies each child it records, copies included)."""
    while True:
        body, result = _simplified_statements(rule)
        body = _live_statements(body, result)
        read = {n for e in (*(a.value for a in body), result) for n in names_read(e)}
        params = tuple((n, v) for n, v in rule.params if n in read)
        if (params, body, result) == (rule.params, rule.body, rule.result):
            return rule
        try:
            rule = Rule(rule.name, params, body, result)
        except DSLError:  # a rewrite (a sum regrouped) nested beyond the language's depth limit
            return rule


def _simplified_statements(rule: Rule) -> tuple[tuple[Assign, ...], Expr]:
    scope = _Scope({}, {"g", "p", *rule.state})
    body = []
    for stmt in rule.body:
        value = scope.simplify_statement(stmt.value)
        scope.assign(stmt.target, value)
        body.append(Assign(stmt.target, value))
    return tuple(body), scope.simplify_statement(rule.result)


@functools.lru_cache(maxsize=1 << 14)
def _simplified(e: Expr, atoms: tuple[tuple[str, Const | Name], ...],
                leaf_shaped: frozenset[str]) -> Expr:
    """``e`` simplified where ``atoms`` and ``leaf_shaped`` (see ``_Scope``) hold; cached, as
    behavioural pruning simplifies many rules that differ in one statement."""
    return _Scope(dict(atoms), set(leaf_shaped)).simplify(e, under_reduction=False)[0]


@dataclass
class _Scope:
    """What is known of the names at one point of the body.

    ``atoms``: variables holding a literal or the value of another name;
    ``leaf_shaped``: names holding a leaf-shaped array (``g``, ``p``, state
    slots, what is computed from them elementwise), as opposed to scalars
    (``t``, hyper-parameters, reductions).
    """

    atoms: dict[str, Const | Name]
    leaf_shaped: set[str]

    def assign(self, target: str, value: Expr) -> None:
        self.atoms = {n: a for n, a in self.atoms.items() if target not in (n, getattr(a, "id", None))}
        self.leaf_shaped.discard(target)
        if isinstance(value, Const | Name) and value != Name(target):
            self.atoms[target] = value
        if self.is_leaf_shaped(value):
            self.leaf_shaped.add(target)

    def simplify_statement(self, e: Expr) -> Expr:
        """``e``, a statement's value or the result, simplified (through the cache)."""
        read = set(names_read(e))
        atoms = tuple(sorted((n, a) for n, a in self.atoms.items() if n in read))
        read |= {a.id for _, a in atoms if isinstance(a, Name)}
        return _simplified(e, atoms, frozenset(self.leaf_shaped & read))

    def is_leaf_shaped(self, e: Expr) -> bool:
        if isinstance(e, Name):
            return e.id in self.leaf_shaped
        return isinstance(e, Op) and not OPS[e.op].reduction and any(
            self.is_leaf_shaped(a) for a in e.args)

    def simplify(self, e: Expr, under_reduction: bool) -> tuple[Expr, Values | None]:
        """``(simpler e, the values it can take or None)``."""
        if isinstance(e, Name) and e.id in self.atoms:
            e = self.atoms[e.id]
        if isinstance(e, Const):
            return e, (e.value,)
        if isinstance(e, Name):
            return e, None
        inner = under_reduction or OPS[e.op].reduction
        parts = [self.simplify(a, inner) for a in e.args]
        plain = Op(e.op, tuple(a for a, _ in parts))
        arg_values = [v for _, v in parts]
        values = op_values(e.op, arg_values)
        simpler = _rewrite(plain, values, arg_values)
        if under_reduction and self.is_leaf_shaped(plain) and not self.is_leaf_shaped(simpler):
            return plain, values
        return simpler, (simpler.value,) if isinstance(simpler, Const) else values


def _rewrite(e: Op, values: Values | None, arg_values: list[Values | None]) -> Expr:
    """``e`` (its arguments simplified, taking ``arg_values``; itself taking ``values``)
    by folding, canonical order and identities."""
    args = e.args
    folded = fold_constants(e.op, [a.value if isinstance(a, Const) else a for a in args])
    if folded is None and values is not None and len(values) == 1:
        folded = values[0]
    if folded is not None:
        return Const(folded) if math.isfinite(folded) else e
    spec = OPS[e.op]
    if spec.commutative:
        args = tuple(sorted(args, key=operand_order))
        e = Op(e.op, args)
    a = args[0]
    if e.op == "mul" and any(_reciprocal(x) for x in args):
        x, y = args if _reciprocal(args[1]) else args[::-1]
        return Op("div", (x, y.args[1]))
    if e.op in ("add", "sub", "neg") or (e.op == "mul" and any(isinstance(x, Const) for x in args)):
        collected = written_sum(*linear_form(e))
        return collected if _size(collected) <= _size(e) else e
    if e.op == "div" and (args[1] == a or args[1] == Const(1.0)):
        return Const(1.0) if args[1] == a else a
    if e.op == "div" and isinstance(args[1], Const) and args[1].value != 0:
        return _divided_sum(e, args[1].value)
    if e.op == "pow" and args[1] == Const(1.0):
        return a
    if spec.idempotent and spec.arity == 1 and isinstance(a, Op) and a.op == e.op:
        return a
    if spec.idempotent and spec.arity == 2 and args[0] == args[1]:
        return a
    if e.op == "abs" and isinstance(a, Op) and (OPS[a.op].nonnegative or OPS[a.op].predicate):
        return a
    if spec.predicate and args[0] == args[1]:
        return Const(fold(e.op, [1.0, 1.0]))  # x op x, for any x but NaN
    if e.op == "where":
        return _conditional(e, arg_values[0])
    return e


def _reciprocal(e: Expr) -> bool:
    return isinstance(e, Op) and e.op == "div" and e.args[0] == Const(1.0)


def _divided_sum(e: Op, divisor: float) -> Expr:
    """``sum / c`` as the sum with its coefficients divided by ``c`` where that is no larger:
    ``(g + g) / 2`` -> ``g``, ``(2 * m) / 4`` -> ``0.5 * m``."""
    constant, coefficients = linear_form(e.args[0])
    scaled = [constant / divisor, *(c / divisor for c in coefficients.values())]
    if not all(math.isfinite(c) for c in scaled):
        return e
    collected = written_sum(scaled[0], dict(zip(coefficients, scaled[1:])))
    return collected if _size(collected) < _size(e) else e


def _conditional(e: Op, condition: Values | None) -> Expr:
    """``a if c else b`` as ``a`` or ``b`` when ``c`` is known to be true or false, or a == b."""
    _, when_true, when_false = e.args
    if when_true == when_false or (condition is not None and all(v != 0 for v in condition)):
        return when_true
    if condition is not None and all(v == 0 for v in condition):
        return when_false
    return e


def _size(e: Expr) -> int:
    return sum(1 for _ in walk(e))


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
