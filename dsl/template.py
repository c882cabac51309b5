"""Rule structure with its constants lifted out as data.

``template(rule)`` folds every constant sub-expression (literals and
hyper-parameters, e.g. ``1 - b1``) on the host in float64, exactly as the
compilers do, and replaces each folded value by a hyper-parameter ``c0, c1,
...`` (suffixed with ``_`` where the rule has a variable of that name). Two rules that differ only in constants share a template, so a
natively compiled trainer keyed by the template and fed the values as data is
reused by every child that only perturbs constants.
"""

from __future__ import annotations

from .expr import Assign, Const, Expr, Name, Op
from .rule import Rule
from .semantics import fold_constants, resolve_hyperparams


def template(rule: Rule, /, **hyperparams) -> tuple[Rule, tuple[float, ...]]:
    """``(structure, values)`` with ``to_optax(structure, lr, c0=values[0], ...)`` equal to ``to_optax(rule, lr)``."""
    hyper = {k: float(v) for k, v in resolve_hyperparams(rule, hyperparams).items()}
    variables = {a.target for a in rule.body}
    values: list[float] = []
    names: list[str] = []

    def lift(value: float) -> Name:
        values.append(value)
        name = f"c{len(values) - 1}"
        while name in variables:
            name += "_"
        names.append(name)
        return Name(name)

    def visit(e: Expr) -> Expr | float:
        if isinstance(e, Const):
            return e.value
        if isinstance(e, Name):
            return hyper[e.id] if e.id in hyper else e
        args = [visit(a) for a in e.args]
        value = fold_constants(e.op, args)
        if value is not None:
            return value
        if e.op == "pow" and isinstance(args[1], float) and args[1].is_integer():
            args[1] = Const(args[1])  # x ** 2 stays x * x for XLA: integer powers are structure
        return Op(e.op, tuple(lift(a) if isinstance(a, float) else a for a in args))

    def visit_top(e: Expr) -> Expr:
        out = visit(e)
        return lift(out) if isinstance(out, float) else out

    body = tuple(Assign(a.target, visit_top(a.value)) for a in rule.body)
    result = visit_top(rule.result)
    params = tuple((name, 0.0) for name in names)
    return Rule("template", params, body, result), tuple(values)
