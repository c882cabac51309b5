"""simplify, fingerprint and msgpack storage of rules."""

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings

import dsl
from tests.agreement import assert_same_probe_updates
from tests.rule_strategies import rules


def parse_body(body: str, params: str = "") -> dsl.Rule:
    lines = body.strip().splitlines()
    return dsl.parse(f"def r({params}):\n" + "".join(f"    {line.strip()}\n" for line in lines))


def test_simplify_folds_identities_and_removes_dead_code():
    rule = parse_body("""
        dead = g * 100
        z = z + 1
        q = g * 1 + 0
        m = b * m + (1 - 0.5) * q
        w = --m / 1
        return w ** 1 - -p * 1
    """, "b=0.9")
    simple = dsl.simplify(rule)
    assert simple.state == ("m",)
    assert simple.to_text() == "def r(b=0.9):\n    m = 0.5 * g + b * m\n    return m + p\n"
    assert_same_probe_updates(rule, simple)
    assert simple.hyperparams == rule.hyperparams


@pytest.mark.parametrize("before, after", [
    ("t - (t - g)", "g"),
    ("g + g", "2 * g"),
    ("eps + (eps + g)", "2 * eps + g"),
    ("2 * (3 * g) - g + 0 * p", "5 * g"),
    ("sign(sign(g))", "sign(g)"),
    ("abs(abs(g)) + abs(square(p))", "abs(g) + square(p)"),
    ("max(g, g) * min(g * p, p * g)", "g * (g * p)"),
    ("g / g + (g - g)", "1"),
    ("(g < g) + (g >= g)", "1"),
    ("(g if 0.3 < 0.1 else p) + (t if g < 1 else t)", "p + t"),
    ("g * (0.9 < rsqrt(0.9 < rsqrt(tanh(0.047 > p))))", "g"),
    ("g * (1 if (p > 0) + 2 else p)", "g"),
    ("norm(g / g)", "norm(g / g)"),  # a leaf of ones, not the scalar 1, under a reduction
    ("rms(t - (t - g))", "rms(g)"),
])
def test_simplify_applies_exact_identities(before, after):
    rule = parse_body(f"return {before}", "eps=1e-8")
    simple = dsl.simplify(rule)
    assert simple.to_text().splitlines()[-1] == f"    return {after}"
    assert simple.size <= rule.size
    assert_same_probe_updates(rule, simple)


def test_simplify_propagates_literals_and_copies_and_drops_unread_hyperparameters():
    rule = parse_body("""
        e = 0.5
        m = b1 * m + g
        c = m
        return c + e * g
    """, "b1=0.9, b2=0.999")
    simple = dsl.simplify(rule)
    assert simple.to_text() == "def r(b1=0.9):\n    m = g + b1 * m\n    return 0.5 * g + m\n"
    assert_same_probe_updates(rule, simple)


def test_simplify_keeps_slots_that_feed_the_result_through_other_slots():
    rule = parse_body("""
        u = sign(a)
        a = b
        b = g
        c = c + 1
        return u
    """)
    simple = dsl.simplify(rule)
    assert set(simple.state) == {"a", "b"}
    assert_same_probe_updates(rule, simple)


def test_simplify_orders_commutative_operands_canonically():
    a = dsl.simplify(parse_body("return (g * p) + max(t, g)"))
    b = dsl.simplify(parse_body("return max(g, t) + p * g"))
    assert a == b


def test_simplify_stops_before_a_rewrite_nests_beyond_the_depth_limit():
    """Found by a search from random block rules: regrouping a sum nested the result 13 deep."""
    deep = parse_body("""
        m = 0.9 * m + 0.0454 * g
        v = 0.9 * v + square(g)
        w = 0.99581 * w + 0.01 * square(clip(sqrt(sign(clip(v, -0.1, 0.0719))) + w, -10, 10))
        return clip(m / clip(sqrt(sign(clip(v / (1 - 0.876 ** t), -0.1, 0.1))) + (sqrt(v) + 1.82e-08), -10, 10) / clip(clip(sqrt(w) + 1e-08, -10, 10), -0.1, 0.1), -10, 10)
    """)
    simple = dsl.simplify(deep)  # a valid rule (Rule validates on construction)
    assert simple.size <= deep.size
    assert_same_probe_updates(deep, simple)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules())
def test_simplify_never_changes_what_a_rule_computes(rule):
    simple = dsl.simplify(rule)
    assert_same_probe_updates(rule, simple)
    assert dsl.simplify(simple) == simple
    assert simple.size <= rule.size


def test_fingerprint_equal_for_equivalent_rules():
    assert dsl.fingerprint(parse_body("return g + g")) == dsl.fingerprint(parse_body("return 2 * g"))
    reordered_a = parse_body("""
        m = 0.9 * m + g
        v = 0.99 * v + g * g
        return m / (sqrt(v) + 1e-8)
    """)
    reordered_b = parse_body("""
        v = 0.99 * v + square(g)
        m = g + 0.9 * m
        return m / (1e-8 + sqrt(v))
    """)
    assert dsl.fingerprint(reordered_a) == dsl.fingerprint(reordered_b)
    renamed = dsl.parse(dsl.library.get("adam").to_text().replace("def adam", "def other"))
    assert dsl.fingerprint(renamed) == dsl.fingerprint(dsl.library.get("adam"))


def test_fingerprint_differs_for_different_rules():
    prints = {dsl.fingerprint(dsl.library.get(n)) for n in dsl.library.names()}
    assert len(prints) == len(dsl.library.names())
    assert dsl.fingerprint(parse_body("return g")) != dsl.fingerprint(parse_body("return 1.001 * g"))
    assert dsl.fingerprint(parse_body("return g", "k=0.9")) == dsl.fingerprint(parse_body("return g"))
    near = [dsl.parse(dsl.library.get("adam").to_text().replace("0.999", b2)) for b2 in ("0.99", "0.9")]
    assert dsl.fingerprint(near[0]) != dsl.fingerprint(near[1])


def test_fingerprint_of_nan_rules_is_stable():
    bad = parse_body("return log(g) * 0 + sqrt(g)")
    assert dsl.fingerprint(bad) == dsl.fingerprint(bad)
    all_nan = parse_body("return log(-1 - abs(g))")
    assert dsl.fingerprint(all_nan) == dsl.fingerprint(parse_body("return sqrt(-1 - abs(g) - p * p)"))
    assert dsl.fingerprint(parse_body("return exp(1000 + g * g)")) != dsl.fingerprint(all_nan)


def scaled(rule: dsl.Rule, factor: str) -> dsl.Rule:
    """``factor * (what rule returns)``."""
    head, _, result = rule.to_text().rstrip().rpartition("return ")
    return dsl.parse(f"{head}return {factor} * ({result})\n")


@pytest.mark.parametrize("name", ["adam", "lion", "momentum", "adabelief"])
def test_behaviour_key_is_the_same_up_to_a_positive_factor(name):
    rule = dsl.library.get(name)
    key, magnitude = dsl.behaviour(rule)
    assert magnitude > 0
    for factor in (1000.0, 1e-3):
        other = dsl.behaviour(scaled(rule, repr(factor)))
        assert other.key == key
        assert other.magnitude == pytest.approx(factor * magnitude, rel=1e-6)
    assert dsl.behaviour(scaled(rule, "-1")).key != key
    assert dsl.behaviour(scaled(rule, "(1 + 0.01 * sign(g))")).key != key  # another direction


def test_behaviour_key_of_degenerate_updates_is_well_defined():
    zero, nan, inf = ("return 0 * g", "return log(-1 - abs(g))", "return 1 / (g - g)")
    keys = [dsl.behaviour(parse_body(r)) for r in (zero, nan, inf)]
    assert [k.magnitude for k in keys] == [0.0, 0.0, 0.0]
    assert len({k.key for k in keys}) == 3
    assert dsl.behaviour(parse_body("return 2 / (g - g)")) == keys[2]
    partly = parse_body("return g / (g - g + (g > 0))")  # -inf where g < 0, NaN at 0, finite elsewhere
    assert dsl.behaviour(scaled(partly, "5")).key == dsl.behaviour(partly).key
    assert dsl.behaviour(partly).key != dsl.behaviour(parse_body("return g")).key


@settings(max_examples=100, deadline=None)
@given(rules())
def test_msgpack_round_trip(rule):
    raw = dsl.dumps(rule)
    assert dsl.loads(raw) == rule
    assert dsl.from_dict(dsl.to_dict(rule)) == rule


def test_msgpack_has_a_format_version():
    data = msgpack.unpackb(dsl.dumps(dsl.library.get("lion")))
    assert data["format"] == "optimizer-rule" and data["version"] == 1


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"", "cannot decode"),
        (b"\xc1", "cannot decode"),
        (b"\x92\x01", "cannot decode"),
        (msgpack.packb([1, 2]), "must be a map"),
        (msgpack.packb({"format": "pickle"}), "not an optimizer rule"),
        (msgpack.packb({"format": "optimizer-rule", "version": 99}), "unsupported rule format version"),
        (msgpack.packb({"format": "optimizer-rule", "version": 1, "name": "r"}), "missing field"),
        (msgpack.packb({"format": "optimizer-rule", "version": 1, "name": "r", "params": [],
                        "body": [], "result": ["__import__", "os"]}), "malformed expression"),
        (msgpack.packb({"format": "optimizer-rule", "version": 1, "name": "r", "params": [],
                        "body": [], "result": "os"}), "unknown name"),
        (msgpack.packb({"format": "optimizer-rule", "version": 1, "name": "r", "params": [["g", 1]],
                        "body": [], "result": "g"}), "hyper-parameter name"),
        (msgpack.packb({"format": "optimizer-rule", "version": 1, "name": "r", "params": [],
                        "body": [["x", ["sqrt"]]], "result": "x"}), "takes 1"),
        (msgpack.packb({"format": "optimizer-rule", "version": 1, "name": "r", "params": [],
                        "body": [], "result": msgpack.ExtType(1, b"x")}), "malformed expression"),
        (msgpack.packb({"format": "optimizer-rule", "version": 1, "name": "r", "params": [],
                        "body": [], "result": "g", "code": "import os"}), "unknown fields"),
    ],
)
def test_hostile_or_malformed_bytes_raise_dsl_error(payload, message):
    with pytest.raises(dsl.DSLError, match=message):
        dsl.loads(payload)


def test_deeply_nested_bytes_are_rejected_without_recursion_error():
    expr = "g"
    for _ in range(400):
        expr = ["neg", expr]
    raw = msgpack.packb({"format": "optimizer-rule", "version": 1, "name": "r", "params": [],
                         "body": [], "result": expr})
    with pytest.raises(dsl.DSLError):
        dsl.loads(raw)


def test_library_has_references_and_clear_errors():
    for name in ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "lion",
                 "signsgd", "signum", "adabelief", "powersign", "addsign"):
        assert name in dsl.library.names()
        assert dsl.library.reference(name)
    with pytest.raises(dsl.DSLError, match="available"):
        dsl.library.get("nadam")
