"""Hypothesis strategies for random valid rules."""

from __future__ import annotations

from hypothesis import strategies as st

from dsl import Assign, Const, Name, Op, Rule
from dsl.ops import OPS

TARGETS = ("a", "m", "v", "w")
HYPER = (("h", 0.9),)
_NO_REDUCE = [n for n, s in OPS.items() if not s.reduction]


def expressions(names, reductions=True, max_leaves=8):
    ops = list(OPS) if reductions else _NO_REDUCE
    leaves = st.one_of(
        st.sampled_from([Name(n) for n in names]),
        st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=32).map(lambda v: Const(float(v))),
        st.sampled_from([Const(0.0), Const(1.0), Const(2.0), Const(0.5)]),
    )

    def extend(children):
        return st.sampled_from(ops).flatmap(
            lambda op: st.tuples(*[children] * OPS[op].arity).map(lambda args, op=op: Op(op, args))
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


@st.composite
def rules(draw, reductions=True, max_statements=4):
    n = draw(st.integers(0, max_statements))
    targets = [draw(st.sampled_from(TARGETS)) for _ in range(n)]
    names = ["g", "p", "t", *(h for h, _ in HYPER), *set(targets)]
    exprs = expressions(names, reductions)
    body = tuple(Assign(tgt, draw(exprs)) for tgt in targets)
    return Rule("random_rule", HYPER, body, draw(exprs))
