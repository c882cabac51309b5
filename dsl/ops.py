"""The operator table shared by every evaluator of the rule language.

Each operator has an arity and one implementation written against an array
namespace ``xp`` (``numpy`` or ``jax.numpy``), so the native compiler, the
interpreter, the probe evaluator and constant folding all compute the same
function. Reductions (``norm``, ``rms``, ``mean``) act on one parameter leaf
and broadcast back; evaluators that see a flat vector of several leaves supply
the per-leaf sum themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OpSpec:
    name: str
    arity: int
    fn: Callable  # fn(xp, *args) -> array
    commutative: bool = False
    reduction: bool = False


def _rsqrt(xp, x):
    if xp is np:
        return 1.0 / np.sqrt(x)
    import jax

    return jax.lax.rsqrt(xp.asarray(x))


def _bool(xp, c):
    return xp.where(c, 1.0, 0.0)


def _sum_sq(xp, x):
    return xp.sum(xp.square(x))


_SPECS = [
    OpSpec("add", 2, lambda xp, a, b: a + b, commutative=True),
    OpSpec("sub", 2, lambda xp, a, b: a - b),
    OpSpec("mul", 2, lambda xp, a, b: a * b, commutative=True),
    OpSpec("div", 2, lambda xp, a, b: a / b),
    OpSpec("pow", 2, lambda xp, a, b: xp.power(a, b)),
    OpSpec("neg", 1, lambda xp, a: -a),
    OpSpec("lt", 2, lambda xp, a, b: _bool(xp, a < b)),
    OpSpec("le", 2, lambda xp, a, b: _bool(xp, a <= b)),
    OpSpec("gt", 2, lambda xp, a, b: _bool(xp, a > b)),
    OpSpec("ge", 2, lambda xp, a, b: _bool(xp, a >= b)),
    OpSpec("where", 3, lambda xp, c, a, b: xp.where(c != 0, a, b)),
    OpSpec("sqrt", 1, lambda xp, a: xp.sqrt(a)),
    OpSpec("abs", 1, lambda xp, a: xp.abs(a)),
    OpSpec("sign", 1, lambda xp, a: xp.sign(a)),
    OpSpec("exp", 1, lambda xp, a: xp.exp(a)),
    OpSpec("log", 1, lambda xp, a: xp.log(a)),
    OpSpec("tanh", 1, lambda xp, a: xp.tanh(a)),
    OpSpec("square", 1, lambda xp, a: xp.square(a)),
    OpSpec("rsqrt", 1, _rsqrt),
    OpSpec("max", 2, lambda xp, a, b: xp.maximum(a, b), commutative=True),
    OpSpec("min", 2, lambda xp, a, b: xp.minimum(a, b), commutative=True),
    OpSpec("clip", 3, lambda xp, x, lo, hi: xp.minimum(xp.maximum(x, lo), hi)),
    OpSpec("norm", 1, lambda xp, a: xp.sqrt(_sum_sq(xp, a)), reduction=True),
    OpSpec("rms", 1, lambda xp, a: xp.sqrt(_sum_sq(xp, a) / xp.size(a)), reduction=True),
    OpSpec("mean", 1, lambda xp, a: xp.sum(a) / xp.size(a), reduction=True),
]

OPS: dict[str, OpSpec] = {spec.name: spec for spec in _SPECS}
OP_NAMES: tuple[str, ...] = tuple(OPS)

# Operators written with Python syntax, and the functions callable by name.
BINARY_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
COMPARE_SYMBOLS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
FUNCTIONS: tuple[str, ...] = (
    "sqrt", "abs", "sign", "exp", "log", "tanh", "square", "rsqrt",
    "max", "min", "clip", "norm", "rms", "mean",
)

