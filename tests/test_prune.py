"""Behavioural simplification (dsl.prune)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import dsl
from dsl.probe import probe_streams, run_numpy
from dsl.prune import TOLERANCE, agree
from dsl.stress import run_stress
from tests.rule_strategies import rules

# Issue 12: the rank-1 rule of `make run`, seed 0, before the issue (EMA momentum times ~7,200).
RANK_1 = dsl.parse("""
def adam(b1=0.851, b2=0.999336, eps=1.92e-08):
    e = 0.047
    m = b1 * m + g * (1 - b1)
    mhat = m / (0.9 < rsqrt(0.9 < rsqrt(tanh(e > p))))
    vhat = eps / (t - (t - q ** 0.001)) / (t - (t - q ** rms(mhat)))
    q = 0.9847
    return mhat / (eps + (eps + (eps + (eps + sqrt(vhat)))))
""")

# Only sign(m) is read: the EMA's (1 - beta) scales m and nothing else, for every beta.
SIGN_OF_EMA = {"signum", "powersign", "addsign"}


def body(text: str, params: str = "") -> dsl.Rule:
    lines = "".join(f"    {line.strip()}\n" for line in text.strip().splitlines())
    return dsl.parse(f"def r({params}):\n{lines}")


def simple(text: str, params: str = "") -> dsl.Rule:
    return dsl.simplify(body(text, params))


def probe_updates(rule: dsl.Rule, seed: int) -> list[np.ndarray]:
    """Updates on the fingerprint-style probe streams (not the streams prune checks on)."""
    grads, params = probe_streams(seed=seed, steps=12)
    return [np.concatenate([np.ravel(u) for u in row]) for row in run_numpy(rule, grads, params)]


def assert_same_from_step(rule: dsl.Rule, pruned: dsl.Rule, first_step: int, rtol: float) -> None:
    for seed in range(3):
        want, got = probe_updates(rule, seed), probe_updates(pruned, seed)
        for step in range(first_step - 1, len(want)):
            np.testing.assert_allclose(got[step], want[step], rtol=rtol, atol=0,
                                       err_msg=f"seed {seed}, step {step + 1}")


def test_the_rank_1_rule_of_issue_12_prunes_to_less_than_half():
    assert RANK_1.size == 58
    pruned = dsl.prune(RANK_1)
    assert pruned.size < 29
    assert list(pruned.hyperparams) == ["b1", "eps"]  # b2 gone
    assert pruned.names_read.isdisjoint({"p", "t"})  # the constant denominator, t - (t - x)
    assert pruned.state == ("m",)  # q held a constant
    assert pruned.to_text().count("eps") == 2  # the signature and one read
    assert_same_from_step(RANK_1, pruned, first_step=2, rtol=TOLERANCE)


def test_the_first_step_differs_only_as_the_docstring_says():
    """The raw first update divides by q = 0 and is 0; the pruned one is the raw rule's with q
    starting at the constant it holds."""
    pruned = dsl.prune(RANK_1)
    raw_first = next(run_stress(RANK_1, RANK_1.hyperparams)).u
    started_first = next(run_stress(RANK_1, RANK_1.hyperparams, {"q": 0.9847})).u
    pruned_first = next(run_stress(pruned, pruned.hyperparams)).u
    assert np.all(raw_first == 0) and np.any(pruned_first != 0)
    assert agree(pruned_first, started_first, TOLERANCE)


@pytest.mark.parametrize("name", dsl.library.names())
def test_library_rules_come_back_with_the_same_updates(name):
    rule = dsl.library.get(name)
    pruned = dsl.prune(rule)
    if name in SIGN_OF_EMA:
        assert pruned.size == rule.size - 4 and "(1 - beta)" not in pruned.to_text()
    else:
        assert pruned == rule
    assert_same_from_step(rule, pruned, first_step=1, rtol=1e-12)


def test_a_subexpression_constant_in_practice_becomes_that_constant():
    rule = body("m = 0.9 * m + g\nreturn m * exp(sign(square(m) + 1))")
    assert dsl.prune(rule) == simple("m = 0.9 * m + g\nreturn 2.718281828459045 * m")


def test_a_slot_holding_a_constant_becomes_it_unless_its_start_matters():
    held = body("u = q * g\nq = 0.5\nreturn u")
    assert dsl.simplify(held).state == ("q",)
    assert dsl.prune(held) == simple("u = 0.5 * g\nreturn u")
    feeds_state = body("m = m + q * g\nq = 1\nreturn m")  # q = 0 at step 1 shifts every m
    assert "q" in dsl.prune(feeds_state).state


def test_tolerance_decides_what_is_negligible_and_guards_are_never_negligible():
    nearly = body("return g * (1 + 1e-5 * tanh(p))")
    assert dsl.prune(nearly) == simple("return g")
    assert dsl.prune(nearly, tolerance=1e-7) == nearly
    guarded = body("v = 0.9 * v + g * g\nreturn g / (sqrt(v) + eps)", "eps=1e-8")
    assert dsl.prune(guarded) == guarded  # 0 / 0 where the gradient is always 0
    swamped = body("return g / (0.1 + eps)", "eps=1e-8")
    assert dsl.prune(swamped) == simple("return g / 0.1")  # and eps leaves the signature


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules(max_statements=3))
def test_pruned_random_rules_keep_the_claim_and_never_grow(rule):
    pruned = dsl.prune(rule)
    assert pruned.size <= rule.size
    if pruned == rule:
        return
    want = run_stress(rule, rule.hyperparams)
    got = run_stress(pruned, pruned.hyperparams)
    next(want), next(got)  # the claim for step 1 depends on the slots replaced
    assert all(agree(a.u, b.u, TOLERANCE) for a, b in zip(got, want))
