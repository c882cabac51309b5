"""The rule language: parsing, printing, validation errors and fuzzing."""

import ast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsl
from dsl import DSLError
from tests.rule_strategies import rules

ADAM = """
def adam(b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    mhat = m / (1 - b1**t)
    vhat = v / (1 - b2**t)
    return mhat / (sqrt(vhat) + eps)
"""


def test_issue_example_parses_as_written():
    rule = dsl.parse(ADAM)
    assert rule.name == "adam"
    assert rule.hyperparams == {"b1": 0.9, "b2": 0.999, "eps": 1e-8}
    assert rule.state == ("m", "v")
    assert [a.target for a in rule.body] == ["m", "v", "mhat", "vhat"]
    assert hash(rule) == hash(dsl.parse(ADAM)) and rule == dsl.parse(ADAM)


def test_state_is_names_read_before_assignment():
    rule = dsl.parse("def r():\n    u = sign(m)\n    m = 0.5 * m + g\n    x = m\n    return u + x\n")
    assert rule.state == ("m",)
    assert dsl.parse("def r():\n    x = g\n    return x\n").state == ()


def test_canonical_text_round_trips_library_and_sugar():
    for name in dsl.library.names():
        rule = dsl.library.get(name)
        assert dsl.parse(rule.to_text()) == rule
    sugar = dsl.parse("def r(k=-2):\n    m += +g\n    return -(-m) ** -2 - (1 if m < 0 else -3.5e-9)\n")
    assert dsl.parse(sugar.to_text()) == sugar
    assert "m = m + g" in sugar.to_text()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules())
def test_random_rules_round_trip_through_text(rule):
    assert dsl.parse(rule.to_text()) == rule


def test_precedence_is_printed_with_needed_parentheses_only():
    cases = {
        "(g - p) - t": "g - p - t",
        "g - (p - t)": "g - (p - t)",
        "(g ** p) ** t": "(g ** p) ** t",
        "g ** (p ** t)": "g ** p ** t",
        "(-g) ** 2": "(-g) ** 2",
        "-(g ** 2)": "-g ** 2",
        "(g if p else t) + 1": "(g if p else t) + 1",
        "g / (p * t)": "g / (p * t)",
        "(g < p) < t": "(g < p) < t",
    }
    for src, expected in cases.items():
        rule = dsl.parse(f"def r():\n    return {src}\n")
        assert rule.to_text().splitlines()[1].strip() == f"return {expected}"


def test_latex_of_adam():
    tex = dsl.parse(ADAM).to_latex()
    assert r"\beta_{1}" in tex and r"\hat{m}" in tex and r"\sqrt{\hat{v}}" in tex
    assert tex.startswith(r"\begin{aligned}") and tex.endswith(r"\end{aligned}")


@pytest.mark.parametrize(
    "text, message, line, col",
    [
        ("def r(:\n    return g\n", "syntax error", 1, 7),
        ("def r():\n    return q\n", "unknown name 'q'", 2, 12),
        ("def r():\n    return foo(g)\n", "unknown function 'foo'", 2, 12),
        ("def r():\n    return sqrt(g, p)\n", "sqrt() takes 1 argument", 2, 12),
        ("def r():\n    return clip(g, 1)\n", "clip() takes 3 argument", 2, 12),
        ("def r():\n    m = g\n", "missing 'return", 2, 5),
        ("def r():\n    g = 2 * g\n    return g\n", "cannot assign to input 'g'", 2, 5),
        ("def r():\n    t += 1\n    return g\n", "cannot assign to input 't'", 2, 5),
        ("def r():\n    for i in g:\n        pass\n    return g\n", "For statements are not allowed", 2, 5),
        ("def r():\n    import os\n    return g\n", "Import statements are not allowed", 2, 5),
        ("def r():\n    return g.real\n", "Attribute is not allowed", 2, 12),
        ("def r():\n    return g[0]\n", "Subscript is not allowed", 2, 12),
        ("def r():\n    return (lambda: g)()\n", "only calls of the functions", 2, 12),
        ("def r():\n    return lambda: g\n", "Lambda is not allowed", 2, 12),
        ("def r():\n    return g.__class__(1)\n", "only calls of the functions", 2, 12),
        ("def r():\n    return exec('1')\n", "unknown function 'exec'", 2, 12),
        ("def r(b='x'):\n    return g\n", "must be a number", 1, 9),
        ("def r(b):\n    return g\n", "needs a numeric default", 1, 7),
        ("def r(b=0.9, b2=True):\n    return g\n", "must be a number", 1, 17),
        ("def r(g=1.0):\n    return g\n", "cannot be a hyper-parameter name", 1, 7),
        ("def r(b=0.9):\n    b = 1\n    return g\n", "cannot assign to hyper-parameter 'b'", 2, 5),
        ("def r():\n    return g\n    x = 1\n", "statements after 'return'", 3, 5),
        ("def r():\n    return\n", "'return' needs an expression", 2, 5),
        ("def r():\n    return g == p\n", "only single comparisons", 2, 12),
        ("def r():\n    return g < p < t\n", "only single comparisons", 2, 12),
        ("def r():\n    return g // p\n", "BinOp is not allowed", 2, 12),
        ("def r():\n    return 'g'\n", "only finite int/float literals", 2, 12),
        ("def r():\n    return 1e999 * g\n", "only finite int/float literals", 2, 12),
        ("def r():\n    return sqrt\n", "'sqrt' is a function", 2, 12),
        ("def r():\n    \"doc\"\n    return g\n", "docstrings", 2, 5),
        ("x = 1\n", "exactly one 'def", 1, 1),
        ("def r():\n    return g\ndef s():\n    return g\n", "exactly one 'def", 3, 1),
        ("@dec\ndef r():\n    return g\n", "decorators are not allowed", 1, 2),
        ("def r(*a):\n    return g\n", "plain 'name=number'", 1, 1),
        ("def r():\n    a, b = g, p\n    return a\n", "exactly one plain name", 2, 5),
        ("def r():\n    return " + "(" * 13 + "g" + ")" * 13 + " + 1\n", None, 0, 0),
        ("def r():\n    return " + "sqrt(" * 14 + "g" + ")" * 14 + "\n", "nested too deeply", 2, 0),
        ("def r():\n" + "    x = g\n" * 16 + "    return x\n", "too many statements", 18, 5),
        ("def r():\n    return " + " + ".join(["g"] * 200) + "\n", "nested too deeply", 2, 0),
    ],
)
def test_errors_say_what_and_where(text, message, line, col):
    if message is None:  # redundant parentheses are fine
        dsl.parse(text)
        return
    with pytest.raises(DSLError) as info:
        dsl.parse(text)
    err = info.value
    assert message in err.message, err.message
    assert err.line == line
    if col:
        assert err.col == col


def test_too_many_nodes_is_an_error():
    big = " + ".join(f"sqrt(g * {i}) * (p + {i})" for i in range(4))
    text = "def r():\n" + "".join(f"    x{i} = {big}\n" for i in range(6)) + "    return x0\n"
    with pytest.raises(DSLError, match="rule too large"):
        dsl.parse(text)


def test_rule_constructor_validates():
    with pytest.raises(DSLError, match="unknown name"):
        dsl.Rule("r", (), (), dsl.Name("zz"))
    with pytest.raises(DSLError, match="takes 2"):
        dsl.Rule("r", (), (), dsl.Op("add", (dsl.Name("g"),)))
    with pytest.raises(DSLError, match="finite"):
        dsl.Rule("r", (), (), dsl.Const(float("nan")))


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_random_text_raises_only_dsl_error(text):
    try:
        dsl.parse(text)
    except DSLError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="def r():\n    return g+*/-()<=.,:0123456789 ifelsepmtsqrtab=\"'[]{}@", max_size=120))
def test_rule_like_text_raises_only_dsl_error(text):
    try:
        dsl.parse(text)
    except DSLError:
        pass


_EXPRS = [
    "g", "p", "t", "1", "-2.5", "1e-8", "a.b", "a[0]", "f(g)", "sqrt(g)", "sqrt(g, p)", "max(g)",
    "lambda x: x", "[1, 2]", "{1: 2}", "'s'", "b'x'", "True", "None", "1j", "1e999", "not g",
    "~g", "g @ p", "g % p", "g // p", "g == p", "g is p", "g in p", "g and p", "(yield)",
    "sqrt(*g)", "sqrt(x=g)", "(g, p)", "{g}", "[x for x in g]", "f'{g}'", "g if p else t",
    "g < p < t", "...", "__import__('os')", "(x := g)", "await g", "clip(g, -1, 1)",
]
_STMTS = [
    "x = {e}", "m = {e}", "m += {e}", "x //= {e}", "return {e}", "return", "pass", "import os",
    "for i in {e}: pass", "while {e}: pass", "if {e}: pass", "x.y = {e}", "x[0] = {e}",
    "x: float = {e}", "del x", "global x", "assert {e}", "with {e}: pass", "g = {e}", "{e}",
    "a = b = {e}", "raise {e}", "try:\n        pass\n    except: pass",
]


@st.composite
def python_sources(draw):
    expr = st.recursive(
        st.sampled_from(_EXPRS),
        lambda inner: st.tuples(inner, st.sampled_from(["+", "*", "-", "**", "/"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        max_leaves=6,
    )
    lines = [draw(st.sampled_from(_STMTS)).format(e=draw(expr)) for _ in range(draw(st.integers(0, 5)))]
    args = draw(st.sampled_from(["", "b=0.9", "b", "b='x'", "*a", "b=0.9, c=-1", "g=1", "b=[1]"]))
    header = draw(st.sampled_from(["def r({a}):", "async def r({a}):", "class R({a}):", "def r({a}) -> int:"]))
    return header.format(a=args) + "\n" + "\n".join("    " + line for line in lines or ["pass"]) + "\n"


@settings(max_examples=500, deadline=None)
@given(python_sources())
def test_random_python_asts_raise_only_dsl_error(source):
    try:
        ast.parse(source)
    except SyntaxError:
        pass
    try:
        dsl.parse(source)
    except DSLError:
        pass
