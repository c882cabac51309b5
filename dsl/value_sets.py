"""The finite set of values an expression can take, where comparisons bound it.

A comparison is 0.0 or 1.0 whatever its operands, and an operator applied to
operands that each take finitely many values takes finitely many values too,
computed by folding it over every combination (``dsl.semantics.fold``). So
``tanh(e > p)`` is one of ``(0, tanh(1))`` and ``0.9 < rsqrt(tanh(e > p))``
is always 1.0 (``rsqrt`` gives inf or 1.146): a rule may read it as the
constant 1. ``None`` stands for a value not known to lie in a small set.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

from .ops import OPS
from .semantics import fold

Values = tuple[float, ...]
MAX_VALUES = 8


def distinct(values: Iterable[float]) -> Values:
    """The values without repeats; 0.0 and -0.0 are told apart, NaNs are one value."""
    seen: dict[tuple, float] = {}
    for v in values:
        seen.setdefault(("nan",) if v != v else (v, math.copysign(1.0, v)), v)
    return tuple(seen.values())


def op_values(op: str, args: Sequence[Values | None]) -> Values | None:
    """The values ``op`` takes on arguments taking ``args``; None if not a small known set.

    A reduction mixes the values of a whole leaf, so its result is not known here.
    """
    spec = OPS[op]
    if spec.reduction:
        return None
    if any(a is None for a in args) or math.prod(len(a) for a in args) > MAX_VALUES**2:
        return (0.0, 1.0) if spec.predicate else None
    values = distinct(fold(op, combination) for combination in itertools.product(*args))
    return values if len(values) <= MAX_VALUES else None
