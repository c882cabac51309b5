"""simplify, fingerprint and msgpack storage of rules."""

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import dsl
from dsl.probe import probe_streams, run_numpy
from tests.rule_strategies import rules


def parse_body(body: str, params: str = "") -> dsl.Rule:
    lines = body.strip().splitlines()
    return dsl.parse(f"def r({params}):\n" + "".join(f"    {line.strip()}\n" for line in lines))


def same_updates(a: dsl.Rule, b: dsl.Rule, seed=3) -> bool:
    grads, params = probe_streams(seed=seed)
    ua, ub = run_numpy(a, grads, params), run_numpy(b, grads, params)
    for row_a, row_b in zip(ua, ub):
        for x, y in zip(row_a, row_b):
            if not np.array_equal(np.isnan(x), np.isnan(y)):
                return False
            if not np.allclose(x, y, rtol=1e-9, atol=0, equal_nan=True):
                return False
    return True


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
    assert [a.target for a in simple.body] == ["q", "m", "w"]
    text = simple.to_text()
    assert "0.5 * q" in text and "--" not in text and "** 1" not in text and "dead" not in text
    assert "return p + w" in text or "return w + p" in text
    assert same_updates(rule, simple)
    assert simple.hyperparams == rule.hyperparams


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
    assert same_updates(rule, simple)


def test_simplify_orders_commutative_operands_canonically():
    a = dsl.simplify(parse_body("return (g * p) + max(t, g)"))
    b = dsl.simplify(parse_body("return max(g, t) + p * g"))
    assert a == b


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules())
def test_simplify_never_changes_what_a_rule_computes(rule):
    simple = dsl.simplify(rule)
    assert same_updates(rule, simple)
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
