"""Optimizer building blocks, as mutations of a rule (the ``"blocks"`` vocabulary).

Neural Optimizer Search found PowerSign and AddSign because its operands included running
averages; a search from primitive operators alone must assemble an average from ``*``, ``+``
and a state slot by luck. Each block below is one mutation that inserts a generic piece
of what optimizers are made of, with generic decay constants (``DECAYS``); none inserts a
library rule whole:

* ``ema``        a sub-expression ``x`` of the update becomes a new state slot
                 ``s = d * s + (1 - d) * x`` (an exponential moving average of it);
* ``normalize``  the update ``u`` becomes ``u / (sqrt(v) + 1e-8)`` with a new slot
                 ``v = d * v + (1 - d) * square(x)``, ``x`` the gradient or a sub-expression
                 of the update (division by the root of a running second moment);
* ``sign``       a sub-expression ``x`` of the update becomes ``sign(x)``;
* ``clip``       a sub-expression ``x`` becomes ``clip(x, -c, c)``;
* ``correct``    reads of an averaged slot ``s`` (``s = d * s + ...``, ``d`` a literal or a
                 hyper-parameter in (0, 1)) in the update become
                 ``s / (1 - d ** t)`` (the bias correction of a zero-started average).

``random_block_rule`` starts from ``return g`` and applies one to three blocks: the random
initial rules of the vocabulary. Every function takes the rule and a ``random.Random`` and
returns ``(rule, description)``, or None where the block does not apply (or the result
breaks a size limit of the language).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from discovery.config import BLOCK_MUTATIONS
from dsl.errors import DSLError
from dsl.expr import Assign, Const, Expr, Name, Op, names_read, replace_at, substitute, walk
from dsl.printer import expr_text
from dsl.rule import Rule

from .genome import VARIABLE_POOL

DECAYS = (0.9, 0.99, 0.999)
CLIPS = (0.1, 1.0, 10.0)
EPSILON = 1e-8

Block = Callable[[Rule, random.Random], "tuple[Rule, str] | None"]


def _site(rule: Rule, rng: random.Random) -> tuple[int, Expr] | None:
    """A random sub-expression of the update that reads the gradient or a state slot."""
    moving = {"g", *(a.target for a in rule.body)}
    sites = [(j, node) for j, node in enumerate(walk(rule.result)) if set(names_read(node)) & moving]
    return rng.choice(sites) if sites else None


def _fresh(rule: Rule) -> str | None:
    taken = {"g", "p", "t", *rule.hyperparams, *(a.target for a in rule.body)}
    free = [v for v in VARIABLE_POOL if v not in taken]
    return free[0] if free else None


def _average(slot: str, decay: float, x: Expr) -> Assign:
    """``slot = decay * slot + (1 - decay) * x``."""
    return Assign(slot, Op("add", (Op("mul", (Const(decay), Name(slot))),
                                   Op("mul", (Const(round(1.0 - decay, 12)), x)))))


def _rule(rule: Rule, body, result: Expr) -> Rule | None:
    try:
        return Rule(rule.name, rule.params, tuple(body), result)
    except DSLError:
        return None


def ema(rule: Rule, rng: random.Random):
    site, slot = _site(rule, rng), _fresh(rule)
    if site is None or slot is None:
        return None
    j, x = site
    decay = rng.choice(DECAYS)
    child = _rule(rule, [*rule.body, _average(slot, decay, x)], replace_at(rule.result, j, Name(slot)))
    return child and (child, f"block ema: {slot} = average of {expr_text(x)} (decay {decay})")


def normalize(rule: Rule, rng: random.Random):
    slot = _fresh(rule)
    if slot is None:
        return None
    site = _site(rule, rng) if rng.random() < 0.3 else None
    x = Name("g") if site is None else site[1]
    decay = rng.choice(DECAYS)
    body = [*rule.body, _average(slot, decay, Op("square", (x,)))]
    result = Op("div", (rule.result, Op("add", (Op("sqrt", (Name(slot),)), Const(EPSILON)))))
    child = _rule(rule, body, result)
    return child and (child, f"block normalize: by the root of {slot} = average of square({expr_text(x)}) "
                             f"(decay {decay})")


def _wrap(op: str, extra: Callable[[random.Random], tuple[Expr, ...]]) -> Block:
    def block(rule: Rule, rng: random.Random):
        site = _site(rule, rng)
        if site is None or (isinstance(site[1], Op) and site[1].op == op):
            return None
        j, x = site
        new = Op(op, (x, *extra(rng)))
        child = _rule(rule, rule.body, replace_at(rule.result, j, new))
        return child and (child, f"block {op}: {expr_text(x)} -> {expr_text(new)}")
    return block


def _bounds(rng: random.Random) -> tuple[Expr, Expr]:
    c = rng.choice(CLIPS)
    return Const(-c), Const(c)


sign = _wrap("sign", lambda rng: ())
clip = _wrap("clip", _bounds)


def _decay_of(stmt: Assign, hyper: dict[str, float]) -> Expr | None:
    """``d`` of an averaging statement ``s = d * s + ...``: a literal in (0, 1), or a
    hyper-parameter whose default is; else None."""
    for node in walk(stmt.value):
        if isinstance(node, Op) and node.op == "mul" and Name(stmt.target) in node.args:
            other = node.args[1] if node.args[0] == Name(stmt.target) else node.args[0]
            if isinstance(other, Const) and 0.0 < other.value < 1.0:
                return other
            if isinstance(other, Name) and 0.0 < hyper.get(other.id, 0.0) < 1.0:
                return other
    return None


def correct(rule: Rule, rng: random.Random):
    averages = [(a.target, d) for a in rule.body if (d := _decay_of(a, rule.hyperparams)) is not None
                and a.target in rule.state and a.target in names_read(rule.result)]
    if not averages:
        return None
    slot, decay = rng.choice(averages)
    corrected = Op("div", (Name(slot), Op("sub", (Const(1.0), Op("pow", (decay, Name("t")))))))
    result = substitute(rule.result, slot, corrected)
    if result == rule.result:
        return None
    child = _rule(rule, rule.body, result)
    return child and (child, f"block correct: {slot} / (1 - {expr_text(decay)} ** t)")


BLOCKS: dict[str, Block] = {"ema": ema, "normalize": normalize, "sign": sign, "clip": clip, "correct": correct}
KINDS = tuple(BLOCKS)
assert KINDS == BLOCK_MUTATIONS


def random_block_rule(rng: random.Random, name: str = "random", max_blocks: int = 3) -> Rule:
    """``return g`` with one to ``max_blocks`` random blocks applied (some may not apply)."""
    rule = Rule(name, (), (), Name("g"))
    for _ in range(rng.randint(1, max_blocks)):
        out = BLOCKS[rng.choice(KINDS)](rule, rng)
        if out is not None:
            rule = out[0]
    return rule
