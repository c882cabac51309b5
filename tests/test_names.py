"""Names in rules: accepted only where text, msgpack, native, interpreter and export agree.

Python reads identifiers in NFKC form and never as keywords; the exporter renames
names that clash with its own. A name the language accepts must therefore mean
the same variable in all five forms of a rule; every other name is a ``DSLError``.
"""

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import dsl
from dsl import Assign, DSLError, Name, Op, Rule
from dsl.parser import MAX_TEXT
from dsl.rule import MAX_HYPERPARAMS, MAX_NAME, MAX_NODES, MAX_STATEMENTS
from tests.agreement import assert_evaluators_agree
from tests.rule_strategies import expressions

# Names Python, the exporter or the compilers could read differently from the rule language.
ACCEPTED = (
    "m", "v2", "match", "case", "type", "_", "print", "id", "count", "state", "updates", "jnp",
    "optax", "math", "i", "init_fn", "_x", "__class__", "c0", "c1", "rule", "β1", "μ", "é",
    "x" * MAX_NAME,
)
NOT_NAMES = {  # refused everywhere, with the reason the message gives
    "None": "keyword", "def": "keyword", "class": "keyword", "lambda": "keyword",
    "\uff4d": "NFKC", "\u00b5": "NFKC", "\ufb01": "NFKC", "e\u0301": "NFKC", "\u210c": "NFKC",
    "x" * (MAX_NAME + 1): "characters long", "1x": "not an identifier", "a-b": "not an identifier",
}
RESERVED = ("g", "learning_rate", "sqrt")  # refused as hyper-parameters and variables


def roles(name: str) -> dict:
    """Rules using ``name`` as the rule's name, a hyper-parameter, a variable (built lazily)."""
    return {
        "rule name": lambda: Rule(name, (), (), Name("g")),
        "hyper-parameter": lambda: Rule("r", ((name, 0.5),), (), Op("mul", (Name(name), Name("g")))),
        "variable": lambda: Rule("r", (), (Assign(name, Name("g")),), Name(name)),
    }


@pytest.mark.parametrize("name", sorted(NOT_NAMES) + list(RESERVED))
def test_a_refused_name_is_refused_in_every_role(name):
    for role, build in roles(name).items():
        if name in RESERVED and role == "rule name":
            assert build().name == name
            continue
        with pytest.raises(DSLError, match=NOT_NAMES.get(name, "reserved|cannot assign")):
            build()


def test_fullwidth_slot_and_ascii_local_is_refused_from_msgpack():
    """The issue's example: Python would read both as ``m``, the native compiler as two."""
    data = {"format": "optimizer-rule", "version": 1, "name": "r", "params": [],
            "body": [["m", ["add", "\uff4d", "g"]], ["\uff4d", "m"]], "result": "m"}
    with pytest.raises(DSLError, match="NFKC"):
        dsl.from_dict(data)
    data["params"], data["body"], data["result"] = [["\uff42", 0.5], ["b", 0.5]], [], "b"
    with pytest.raises(DSLError, match="NFKC"):
        dsl.from_dict(data)


def test_the_largest_rule_round_trips_through_text():
    """Every limit at once, every name MAX_NAME long: its text still parses."""
    long = lambda stem, i: f"{stem}{i:03d}".rjust(MAX_NAME, "x")
    params = tuple((long("h", i), -2.2250738585072014e-308) for i in range(MAX_HYPERPARAMS))
    targets = [long("v", i) for i in range(MAX_STATEMENTS - 1)]
    per_expr = MAX_NODES // MAX_STATEMENTS

    def expr(reads: list[str]) -> Op | Name:
        e = Name(reads[0])
        for k in range(1, (per_expr + 1) // 2):
            e = Op("add", (e, Name(reads[k % len(reads)])))
        return e

    body = tuple(Assign(t, expr([targets[i - 1] if i else "g", params[i][0]]))
                 for i, t in enumerate(targets))
    rule = Rule(long("r", 0), params, body, expr(targets))
    assert len(rule.to_text()) <= MAX_TEXT
    assert dsl.parse(rule.to_text()) == rule


def test_hyperparameters_named_like_compiler_arguments_can_be_overridden():
    rule = dsl.parse("def r(rule=0.5, c0=2.0):\n    c0_ = rule * g\n    return c0_ + c0 + 0.25\n")
    assert dsl.to_optax(rule, 0.1, rule=0.25, c0=1.0) is not None
    assert dsl.encode(rule, rule=0.25).consts is not None
    stateful = dsl.parse("def r():\n    c0 = 0.5 * c0 + g\n    return c0\n")
    structure, values = dsl.template(stateful)
    assert "c0" in structure.state and values == (0.5,)


@st.composite
def named_rules(draw):
    """Rules named from ACCEPTED only (half of them), or from every list."""
    every = ACCEPTED + tuple(NOT_NAMES) + RESERVED
    pool = st.sampled_from(ACCEPTED if draw(st.booleans()) else every)
    names = draw(st.lists(pool, min_size=1, max_size=4, unique=True))
    split = draw(st.integers(0, min(2, len(names) - 1)))
    hyper, targets = names[:split], names[split:]
    exprs = expressions(["g", "p", "t", *hyper, *targets], reductions=False, max_leaves=4)
    body = tuple(Assign(t, draw(exprs)) for t in targets)
    rule_name = draw(pool)
    return rule_name, tuple((h, 0.5) for h in hyper), body, draw(exprs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(named_rules())
def test_every_accepted_rule_means_the_same_in_all_five_forms(parts):
    name, params, body, result = parts
    variables = {*(n for n, _ in params), *(a.target for a in body)}
    refused = {name} & set(NOT_NAMES) | variables & {*NOT_NAMES, *RESERVED}
    try:
        rule = Rule(name, params, body, result)
    except DSLError:
        assert refused, f"refused a rule named only with {sorted(variables | {name})}"
        event("refused")
        return
    assert not refused
    assert dsl.parse(rule.to_text()) == rule
    assert dsl.loads(dsl.dumps(rule)) == rule
    dsl.to_optax(rule, 1e-3, **rule.hyperparams)
    dsl.encode(rule, **rule.hyperparams)
    assert_evaluators_agree(rule)  # the module exported as "exported"; under its own name:
    try:
        dsl.check_export_name(rule.name)
    except ValueError as e:
        assert "shadow" in str(e), e  # a builtin or a private name: the user gives --name
    else:
        compile(dsl.python_module(rule), "exported.py", "exec")
