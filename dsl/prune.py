"""Behavioural simplification: a shorter rule that moves parameters the same way.

As the Lion search pruned its programs (Chen et al. 2023) and AutoML-Zero
checked function on fixed inputs, ``prune(rule)`` keeps a change of the rule
whenever its updates on the stress streams (``dsl.stress``: ordinary, tiny,
large and exactly zero gradients, 10 steps) stay within ``tolerance`` of the
rule's, element by element: ``|u' - u| <= tolerance * |u|``, NaN exactly where
``u`` is NaN, the same infinities. They are compared at the default
hyper-parameters and with each hyper-parameter set to 0 (a knob turned off:
AdaGrad's ``eps`` guards ``0 / 0`` only once ``initial_accumulator_value`` is
0), so each hyper-parameter left stays a working knob. The changes, each kept
only if complexity strictly drops, repeated with ``simplify`` in between until
none is kept:

(a) a sub-expression whose value never varies (elements, steps, streams)
    becomes that constant;
(b) a state slot holding one constant ``c`` after every step becomes ``c``
    (no memory);
(c) a statement is removed (a variable nothing else assigns then reads 0), or
    a sub-expression is replaced by one of its operands, by 0, by 1 or by its
    median value (for (a), that constant). A value the hyper-parameters alone
    decide (``1 - b1``) never becomes a constant: it changes with them.

The first step. A slot replaced by (b) held 0, not ``c``, when the first
update read it, so (b) may change the first update, and only it: the first
update is checked against the rule's with each replaced slot starting at its
constant, the others against the rule's own. Claim, as checked: on the stress
streams the pruned rule's updates agree with the rule's within ``tolerance``
at every step ``t >= 2``; at ``t = 1``, with those of the rule started with
each replaced slot at its constant instead of 0 (the rule's own if none was).

Example: issue 12's rank-1 rule (complexity 58; ``tests/test_prune.py``)
divides ``m`` by a comparison that is always 1, reads a slot ``q`` that always
holds 0.9847 (its first update divides by ``q = 0`` and is 0), and adds
``4 * eps``, which moves the update by 5e-4. It prunes to (complexity 21)::

    def adam(b1=0.851, eps=1.92e-08):
        m = b1 * m + g * (1 - b1)
        vhat = eps / 0.9847 ** rms(m)
        return m / sqrt(vhat)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping

import numpy as np

from .errors import DSLError
from .expr import Assign, Const, Expr, Op, names_read, replace_at, substitute, walk
from .rule import Rule
from .semantics import resolve_hyperparams
from .simplify import simplify
from .stress import run_stress

TOLERANCE = 1e-3

Slot = tuple[str, float]  # a state slot and the constant it holds


@functools.lru_cache(maxsize=256)
def prune(rule: Rule, tolerance: float = TOLERANCE) -> Rule:
    """The smallest rule found that behaves like ``rule`` within ``tolerance`` (see the module
    docstring for the claim); ``rule`` itself if nothing smaller does. Cached: a hall of fame
    is pruned for the run, then again for inspect and export."""
    reference = _Reference(rule, tolerance)
    current = simplify(rule)
    while True:
        for candidate, slot in _candidates(current):
            if reference.accepts(candidate, slot):
                current = candidate
                break
        else:
            return current if current.size < rule.size else rule


def agree(u: np.ndarray, reference: np.ndarray, tolerance: float) -> bool:
    """``|u - reference| <= tolerance * |reference|`` everywhere, NaN where it is NaN, equal infinities."""
    with np.errstate(invalid="ignore"):
        close = np.isfinite(reference) & (np.abs(u - reference) <= tolerance * np.abs(reference))
        return bool(np.all(close | (u == reference) | (np.isnan(u) & np.isnan(reference))))


class _Reference:
    """The updates a candidate must reproduce at each setting of the hyper-parameters (defaults,
    then each set to 0): ``rule``'s from step 2 on; at step 1, ``rule``'s with each replaced state
    slot starting at its constant."""

    def __init__(self, rule: Rule, tolerance: float):
        self.rule, self.tolerance = rule, tolerance
        self.settings = [{}] + [{name: 0.0} for name, _ in rule.params]
        self.initial: dict[str, float] = {}
        self.updates = [[step.u for step in run_stress(rule, _hyper(rule, s))] for s in self.settings]
        self.first = [steps[0] for steps in self.updates]

    def accepts(self, candidate: Rule, slot: Slot | None) -> bool:
        """Whether ``candidate`` behaves like the reference, once ``slot = (name, c)`` (if given)
        starts at ``c``; if so, the reference keeps that start."""
        initial, first = self.initial, self.first
        if slot is not None:
            initial = {**initial, slot[0]: slot[1]}
            first = [next(run_stress(self.rule, _hyper(self.rule, s), initial)).u
                     for s in self.settings]
        for setting, u1, expected in zip(self.settings, first, self.updates):
            steps = run_stress(candidate, _hyper(candidate, setting))
            if not all(agree(step.u, u, self.tolerance)
                       for step, u in zip(steps, [u1, *expected[1:]])):
                return False
        self.initial, self.first = initial, first
        return True


def _hyper(rule: Rule, setting: Mapping[str, float]) -> dict[str, float]:
    """``rule``'s hyper-parameters with those of ``setting`` it has overridden."""
    return resolve_hyperparams(rule, {k: v for k, v in setting.items() if k in rule.hyperparams})


Site = tuple[int, int]  # (statement index, len(body) for the result; node index in walk order)


def _expressions(rule: Rule) -> list[Expr]:
    return [a.value for a in rule.body] + [rule.result]


def _with_expressions(rule: Rule, exprs: list[Expr]) -> Rule:
    body = tuple(Assign(a.target, e) for a, e in zip(rule.body, exprs))
    return Rule(rule.name, rule.params, body, exprs[-1])


def _candidates(rule: Rule) -> list[tuple[Rule, Slot | None]]:
    """Smaller rules to try, simplified, smallest first, each with the slot it starts at a
    constant (or None)."""
    found: dict[tuple[Rule, Slot | None], None] = {}
    for candidate, slot in _changes(rule):
        simpler = simplify(candidate)
        if simpler.size < rule.size:
            found.setdefault((simpler, slot))
    return sorted(found, key=lambda pair: pair[0].size)


def _changes(rule: Rule) -> Iterator[tuple[Rule, Slot | None]]:
    """(b), then statements removed, then (a) and (c) at every operator node."""
    for slot in _constant_slots(rule):
        yield _slot_as_constant(rule, *slot), slot
    for smaller in _without_statements(rule):
        yield smaller, None
    values = _site_values(rule)
    exprs = _expressions(rule)
    knobs = set(rule.hyperparams)
    for (k, j), node in _sites(rule):
        if not isinstance(node, Op):
            continue  # a leaf goes with its parent, or with its statement if a variable
        # A value the hyper-parameters alone decide (1 - b1) changes with them: no constant.
        varies = not set(names_read(node)) <= knobs
        constants = [Const(c) for c in _constants_for(values[(k, j)])] if varies else []
        for new in constants + list(dict.fromkeys(node.args)):
            changed = list(exprs)
            changed[k] = replace_at(exprs[k], j, new)
            yield _with_expressions(rule, changed), None


def _sites(rule: Rule) -> Iterator[tuple[Site, Expr]]:
    for k, e in enumerate(_expressions(rule)):
        for j, node in enumerate(walk(e)):
            yield (k, j), node


def _site_values(rule: Rule) -> dict[Site, np.ndarray]:
    """Every node's values over all steps, elements and streams, at the default hyper-parameters."""
    sites = [site for site, _ in _sites(rule)]
    per_step = [step.values for step in run_stress(rule, rule.hyperparams, record=True)]
    return {site: np.concatenate([np.ravel(v[i]) for v in per_step]) for i, site in enumerate(sites)}


def _constants_for(values: np.ndarray) -> list[float]:
    """Constants to try in place of a node taking ``values``: 0, 1 and its median value (the
    value itself, for a node whose value never varies)."""
    finite = values[np.isfinite(values)]
    median = [float(np.median(finite))] if finite.size else []
    return list(dict.fromkeys([0.0, 1.0, *median]))


def _constant_slots(rule: Rule) -> Iterator[Slot]:
    """State slots that hold one finite constant after every step (at the defaults)."""
    after = [step.slots for step in run_stress(rule, rule.hyperparams)]
    for slot in rule.state:
        values = np.concatenate([np.ravel(s[slot]) for s in after])
        if np.isfinite(values[0]) and np.all(values == values[0]):
            yield slot, float(values[0])


def _slot_as_constant(rule: Rule, slot: str, value: float) -> Rule:
    """``rule`` with the slot's value read before its first assignment replaced by ``value``."""
    body, assigned = [], False
    for stmt in rule.body:
        expr = stmt.value if assigned else substitute(stmt.value, slot, Const(value))
        assigned = assigned or stmt.target == slot
        body.append(Assign(stmt.target, expr))
    return Rule(rule.name, rule.params, tuple(body), rule.result)


def _without_statements(rule: Rule) -> Iterator[Rule]:
    """``rule`` without one of its statements; a variable no statement assigns any more reads 0."""
    for k, stmt in enumerate(rule.body):
        rest = rule.body[:k] + rule.body[k + 1:]
        if any(a.target == stmt.target for a in rest):
            body, result = rest, rule.result
        else:
            zero = Const(0.0)
            body = tuple(Assign(a.target, substitute(a.value, stmt.target, zero)) for a in rest)
            result = substitute(rule.result, stmt.target, zero)
        try:
            smaller = Rule(rule.name, rule.params, body, result)
        except DSLError:  # e.g. one state slot too many
            continue
        yield smaller
