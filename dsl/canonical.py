"""Scale-canonical rules: an optimizer written without what fair tuning absorbs.

If ``u = c * u'`` with a constant ``c > 0``, the two rules are one optimizer: learning rate
``lr * c`` on ``u'`` takes the steps ``lr`` takes on ``u``. ``canonical(rule)`` returns
``Canonical(rule', factor)`` with ``u(rule) = factor * u(rule')``, where ``rule'`` has no
literal factor left that does not change the direction of its updates:

* a literal multiplying or dividing a sub-expression anywhere (the update, a statement, a
  state slot's recurrence: ``m = b1 * m + 5 * g``) is removed, and ``c / x`` becomes
  ``1 / x``, whenever the updates stay proportional to the rule's: one positive factor, to
  ``EXACT`` relative, over every step, element and row of the stress streams
  (``dsl.stress``), at the default hyper-parameters and with each set to 0 (so a factor
  that only hides behind a hyper-parameter, ``(1 - b1) * g``, stays: it changes with it);
  zeros, infinities and NaNs must stay where they are;
* the result is simplified (``dsl.simplify``); complexity never grows.

``rounded(rule)`` then shows each constant (and hyper-parameter default) with the fewest
significant digits, at least ``MIN_DIGITS``, that keep the updates within
``ROUNDING_TOLERANCE`` (1%) of the rule's, element by element, relative to the element or to
the RMS update of its row (so that a cancellation, ``1.4641e-06 + g`` at a gradient of -1.46e-06, does not pin
digits) (for a value in (0.5, 1), the digits of
``1 - c``: a decay 0.99857 keeps the digits of 0.00143).

Example: ``m = b1 * m + g * 46493506.4; return m / 46500325.1`` is ``m = b1 * m + g;
return m`` with factor 0.99985.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from .errors import DSLError
from .expr import Assign, Const, Expr, Op, replace_at, walk
from .prune import agree
from .rule import Rule
from .semantics import resolve_hyperparams
from .simplify import simplify
from .stress import run_stress

EXACT = 1e-9
MIN_DIGITS = 2
# How far a shown constant may move the updates (relative): far inside seed noise, and loose
# enough that a constant beside a cancellation does not keep five digits.
ROUNDING_TOLERANCE = 1e-2


class Canonical(NamedTuple):
    """``rule`` without its constant factor; ``u(original) = factor * u(rule)``."""

    rule: Rule
    factor: float


def _settings(rule: Rule) -> list[dict[str, float]]:
    return [{}] + [{name: 0.0} for name, _ in rule.params]


def _updates(rule: Rule, settings: list[dict[str, float]]) -> list[np.ndarray]:
    """The rule's updates on the stress streams, one array per setting of the hyper-parameters."""
    out = []
    for setting in settings:
        hyper = resolve_hyperparams(rule, {k: v for k, v in setting.items() if k in rule.hyperparams})
        out.append(np.stack([step.u for step in run_stress(rule, hyper)]))
    return out


def proportion(u: list[np.ndarray], v: list[np.ndarray]) -> float | None:
    """The one positive factor ``c`` with ``u = c * v`` everywhere (to ``EXACT``), or None."""
    ratios = []
    for a, b in zip(u, v):
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        if np.any(nan_a != nan_b) or np.any((a == 0) != (b == 0)):
            return None
        if np.any(np.isinf(a) != np.isinf(b)) or np.any(np.sign(a[np.isinf(a)]) != np.sign(b[np.isinf(b)])):
            return None
        both = np.isfinite(a) & np.isfinite(b) & (a != 0)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ratios.append(a[both] / b[both])
    ratio = np.concatenate([r.ravel() for r in ratios])
    if ratio.size == 0 or not np.all(np.isfinite(ratio)):
        return None
    c = float(np.median(ratio))
    if not c > 0 or np.max(np.abs(ratio / c - 1.0)) > EXACT:
        return None
    return c


def _expressions(rule: Rule) -> list[Expr]:
    return [a.value for a in rule.body] + [rule.result]


def _with(rule: Rule, exprs: list[Expr], params=None) -> Rule:
    body = tuple(Assign(a.target, e) for a, e in zip(rule.body, exprs))
    return Rule(rule.name, rule.params if params is None else params, body, exprs[-1])


def _without_factors(rule: Rule) -> Iterator[Rule]:
    """``rule`` with one literal factor removed: ``c * x`` -> ``x``, ``x / c`` -> ``x``,
    ``c / x`` -> ``1 / x`` (c != 1)."""
    exprs = _expressions(rule)
    for k, e in enumerate(exprs):
        for j, node in enumerate(walk(e)):
            if not isinstance(node, Op):
                continue
            a, *rest = node.args
            if node.op == "mul":
                options = [b for x, b in ((a, rest[0]), (rest[0], a)) if isinstance(x, Const)]
            elif node.op == "div":
                b = rest[0]
                options = [a] if isinstance(b, Const) else []
                if isinstance(a, Const) and a.value != 1.0:
                    options.append(Op("div", (Const(1.0), b)))
            else:
                continue
            for new in options:
                changed = list(exprs)
                changed[k] = replace_at(e, j, new)
                try:
                    yield _with(rule, changed)
                except DSLError:
                    continue


def _weight(rule: Rule) -> tuple[int, int]:
    """What canonicalization lowers: complexity, then literals other than 1."""
    literals = sum(isinstance(n, Const) and n.value != 1.0 for e in _expressions(rule) for n in walk(e))
    return rule.size, literals


@functools.lru_cache(maxsize=1024)
def canonical(rule: Rule) -> Canonical:
    """The rule without constant factors of its update, and the factor removed (see above)."""
    settings = _settings(rule)
    reference = _updates(rule, settings)
    current = simplify(rule)
    factor = proportion(reference, _updates(current, settings))
    if factor is None:  # simplify changed NaNs into numbers (x - x): start from the rule itself
        current, factor = rule, 1.0
    while True:
        for candidate in _without_factors(current):
            candidate = simplify(candidate)
            if _weight(candidate) >= _weight(current):
                continue
            c = proportion(reference, _updates(candidate, settings))
            if c is not None:
                current, factor = candidate, c
                break
        else:
            return Canonical(current, factor)


def _to_digits(value: float, digits: int) -> float:
    """``value`` at ``digits`` significant digits (of ``1 - value`` in (0.5, 1)), as the float
    that prints shortest (``1 - 0.193`` is 0.807, not 0.8069999999999999)."""
    if 0.5 < value < 1.0:
        return float(f"{1.0 - float(f'{1.0 - value:.{digits}g}'):.12g}")
    return float(f"{value:.{digits}g}")


def _close(u: np.ndarray, reference: np.ndarray, tolerance: float) -> bool:
    """``agree`` (``dsl.prune``), except that an element may also move by ``tolerance`` times the
    RMS update of its row at that step: where terms cancel (a constant beside a gradient of its
    size) a relative change of the element says nothing about the optimizer."""
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.where(np.isfinite(reference), reference, 0.0)
        rms = np.sqrt(np.mean(finite ** 2, axis=-1, keepdims=True))
        near = np.isfinite(reference) & (np.abs(u - reference) <= tolerance * (np.abs(reference) + rms))
        return bool(np.all(near | (u == reference) | (np.isnan(u) & np.isnan(reference)))) or agree(
            u, reference, tolerance)


@functools.lru_cache(maxsize=1024)
def rounded(rule: Rule, tolerance: float = ROUNDING_TOLERANCE) -> Rule:
    """``rule`` with each constant and hyper-parameter default at the fewest significant digits
    (at least ``MIN_DIGITS``) that keep its updates within ``tolerance`` of the rule's."""
    settings = _settings(rule)
    reference = _updates(rule, settings)

    def keeps(candidate: Rule) -> bool:
        return all(_close(u, r, tolerance) for u, r in zip(_updates(candidate, settings), reference))

    current = rule
    for i, (name, value) in enumerate(rule.params):
        for digits in range(MIN_DIGITS, 17):
            if _to_digits(value, digits) == value:
                break
            params = list(current.params)
            params[i] = (name, _to_digits(value, digits))
            candidate = _with(current, _expressions(current), tuple(params))
            if keeps(candidate):
                current = candidate
                break
    exprs = _expressions(current)
    for k in range(len(exprs)):
        for j, node in enumerate(walk(exprs[k])):
            if not isinstance(node, Const):
                continue
            for digits in range(MIN_DIGITS, 17):
                if _to_digits(node.value, digits) == node.value:
                    break
                changed = list(exprs)
                changed[k] = replace_at(exprs[k], j, Const(_to_digits(node.value, digits)))
                candidate = _with(current, changed)
                if keeps(candidate):
                    current, exprs = candidate, changed
                    break
    return current
