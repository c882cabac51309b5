"""What a rule computes, written once over an array namespace ``xp`` (NumPy or jax.numpy).

For one parameter leaf, with inputs ``g``, ``p``, ``t``, hyper-parameters ``h``
and state slots ``s``, the body runs statement by statement::

    env = {g, p, t, h..., s...};  env[target] = value(expr, env) for each statement
    u = value(result, env);  s' = env[slot] for each state slot

An operator whose arguments are all Python floats (literals, hyper-parameters
and what is computed from them alone) is *folded*: applied in float64 on the
host, as Python itself would, so ``1 - b2`` is exact to float64 before it meets
float32 arrays (the way Optax's own ``(1 - b2) * g`` is). Every evaluator folds
through ``fold_constants``. No JAX here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .errors import DSLError
from .expr import Const, Expr, Name
from .ops import OPS
from .rule import Rule


def fold(op: str, args: Sequence[float]) -> float:
    """``op`` applied to Python floats in float64; inf and NaN come out as IEEE says, no warning."""
    with np.errstate(all="ignore"):
        return _fold_quietly(op, args)


def _fold_quietly(op: str, args: Sequence[float]) -> float:
    """``fold`` for callers that already silence NumPy's warnings."""
    return float(OPS[op].fn(np, *[np.float64(a) for a in args]))


def fold_constants(op: str, args: Sequence[object]) -> float | None:
    """``fold(op, args)`` if every argument is a Python float (a constant), else None."""
    if all(isinstance(a, float) for a in args):
        return fold(op, args)
    return None


def evaluate(expr: Expr, env: Mapping[str, Any], xp, record: list | None = None) -> Any:
    """Value of ``expr`` with names bound in ``env``, computed with array namespace ``xp``.

    ``record``, if given, gets the value of every node appended in the order of
    ``dsl.expr.walk(expr)`` (parents before children).
    """
    if record is not None:
        index = len(record)
        record.append(None)
    if isinstance(expr, Const):
        value = expr.value
    elif isinstance(expr, Name):
        value = env[expr.id]
    else:
        args = [evaluate(a, env, xp, record) for a in expr.args]
        value = fold_constants(expr.op, args)
        value = OPS[expr.op].fn(xp, *args) if value is None else value
    if record is not None:
        record[index] = value
    return value


def run_body(rule: Rule, g, p, t, hyper: Mapping[str, Any], slots: Mapping[str, Any], xp,
             record: list | None = None):
    """One application of the rule to one leaf: returns ``(u, new_slots)``.

    ``record`` gets the value of every node of every statement, then of the
    result (see ``evaluate``).
    """
    env = {"g": g, "p": p, "t": t, **hyper, **slots}
    for stmt in rule.body:
        env[stmt.target] = evaluate(stmt.value, env, xp, record)
    return evaluate(rule.result, env, xp, record), {name: env[name] for name in rule.state}


_STATIC, _SCALAR, _ARRAY = range(3)  # known when built; a Python float at run time; an array


def compile_body(rule: Rule, hyper: Mapping[str, float], xp) -> Callable:
    """``run_body`` built once into Python closures: ``body(g, p, t, slots) -> (u, new_slots)``.

    For evaluators whose ``g``, ``p`` and slots are arrays and ``t`` a Python float (the probes,
    which call it under ``np.errstate(all="ignore")``):
    what reads only constants and hyper-parameters is folded once here, what reads ``t`` but no
    array is folded at each call (``fold``, as ``evaluate`` would), the rest is computed with
    ``xp``. The numbers are ``run_body``'s; the per-node dispatch and fold checks are gone.
    """
    kinds = {"g": (_ARRAY, None), "p": (_ARRAY, None), "t": (_SCALAR, None),
             **{n: (_STATIC, float(v)) for n, v in hyper.items()},
             **{n: (_ARRAY, None) for n in rule.state}}
    statements = []
    with np.errstate(all="ignore"):
        for stmt in rule.body:
            kind, value = _compiled(stmt.value, kinds, xp)
            kinds[stmt.target] = (kind, value if kind == _STATIC else None)
            statements.append((stmt.target, _getter(kind, value)))
        result = _getter(*_compiled(rule.result, kinds, xp))
    state = rule.state

    def body(g, p, t, slots):
        env = {"g": g, "p": p, "t": t, **slots}
        for target, get in statements:
            env[target] = get(env)
        return result(env), {name: env[name] for name in state}

    return body


def _getter(kind: int, value) -> Callable:
    return (lambda env: value) if kind == _STATIC else value


def _compiled(expr: Expr, kinds: Mapping[str, tuple[int, Any]], xp) -> tuple[int, Any]:
    """``(kind, value)``: the folded value of a static node, else a function of the environment."""
    if isinstance(expr, Const):
        return _STATIC, expr.value
    if isinstance(expr, Name):
        kind, value = kinds[expr.id]
        return (kind, value) if kind == _STATIC else (kind, lambda env, name=expr.id: env[name])
    parts = [_compiled(a, kinds, xp) for a in expr.args]
    kind = max(k for k, _ in parts)
    if kind == _STATIC:
        return _STATIC, _fold_quietly(expr.op, [v for _, v in parts])
    getters = [_getter(k, v) for k, v in parts]
    op, fn = expr.op, OPS[expr.op].fn
    if kind == _SCALAR:
        return _SCALAR, lambda env: _fold_quietly(op, [get(env) for get in getters])
    if len(getters) == 1:
        (a,) = getters
        return _ARRAY, lambda env: fn(xp, a(env))
    if len(getters) == 2:
        (kind_a, value_a), (kind_b, value_b) = parts
        a, b = getters
        if kind_a == _STATIC:
            return _ARRAY, lambda env: fn(xp, value_a, b(env))
        if kind_b == _STATIC:
            return _ARRAY, lambda env: fn(xp, a(env), value_b)
        return _ARRAY, lambda env: fn(xp, a(env), b(env))
    a, b, c = getters  # the table's largest arity
    return _ARRAY, lambda env: fn(xp, a(env), b(env), c(env))


def resolve_hyperparams(rule: Rule, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's defaults updated with ``overrides``; unknown names are an error."""
    unknown = set(overrides) - set(rule.hyperparams)
    if unknown:
        raise DSLError(
            f"rule {rule.name!r} has no hyper-parameter(s) {sorted(unknown)}; "
            f"it has {list(rule.hyperparams) or 'none'}"
        )
    return {**rule.hyperparams, **overrides}
