"""One optimizer, one written form: scale-canonical rules, rounded constants, descent, niches."""

import collections
import importlib.util
import random

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import dsl
from discovery.evolution import niches, validity
from discovery.evolution.reporting import reported
from discovery.records import Candidate, Evaluation, Recommendation, TaskResult
from dsl.canonical import proportion
from dsl.probe import probe_streams, run_numpy
from tests.rule_strategies import rules


def rule(body: str, params: str = "") -> dsl.Rule:
    lines = "".join(f"    {line.strip()}\n" for line in body.strip().splitlines())
    return dsl.parse(f"def r({params}):\n{lines}")


def updates(r: dsl.Rule, seed: int = 3) -> np.ndarray:
    grads, params = probe_streams(seed=seed, steps=12)
    return np.stack([np.concatenate([np.ravel(u) for u in row]) for row in run_numpy(r, grads, params)])


# Issue 22's hall of fame of `discovery run --preset quick --seed 2`: one optimizer, four scalings.
SEED_2 = [
    ("m = b1 * m + g * (1 - b1)\nreturn m / 5156.774263289282", "b1=0.9", "m = b1 * m + g * (1 - b1)\nreturn m"),
    ("m = g + b1 * m\nreturn m / 6", "b1=0.9", "m = g + b1 * m\nreturn m"),
    ("m = b1 * m + g * 46493506.49350649\nreturn m / 46500325.10821136", "b1=0.9", "m = g + b1 * m\nreturn m"),
]


@pytest.mark.parametrize("raw, params, want", SEED_2)
def test_a_constant_factor_of_the_update_is_removed_and_returned(raw, params, want):
    r = rule(raw, params)
    canonical = dsl.canonical(r)
    assert canonical.rule == dsl.simplify(rule(want, params))
    np.testing.assert_allclose(updates(r), canonical.factor * updates(canonical.rule), rtol=1e-9)
    assert canonical.factor > 0


def test_sums_divided_by_a_literal_fold_and_factors_behind_knobs_stay():
    assert dsl.simplify(rule("return (g + g) / 2")).to_text().endswith("return g\n")
    adam = dsl.library.get("adam")
    assert dsl.canonical(adam) == (dsl.simplify(adam), 1.0)  # (1 - b1) changes with b1: it stays
    assert dsl.canonical(rule("return sign(5 * g)")).rule.result == dsl.Op("sign", (dsl.Name("g"),))
    assert dsl.canonical(rule("return -g")).factor == 1.0  # a negative factor is not a scale


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules(max_statements=3))
def test_canonical_random_rules_keep_their_updates_up_to_the_factor(r):
    canonical = dsl.canonical(r)
    assert canonical.rule.size <= r.size and canonical.factor > 0
    got, want = updates(canonical.rule), updates(r)
    finite = np.isfinite(want) & np.isfinite(got)
    np.testing.assert_allclose(canonical.factor * got[finite], want[finite], rtol=1e-6, atol=1e-300)


def test_proportion_needs_one_positive_factor_everywhere():
    u = [np.array([1.0, -2.0, 0.0, np.nan])]
    assert proportion(u, [np.array([0.5, -1.0, 0.0, np.nan])]) == pytest.approx(2.0)
    assert proportion(u, [np.array([-0.5, 1.0, 0.0, np.nan])]) is None
    assert proportion(u, [np.array([0.5, -1.1, 0.0, np.nan])]) is None
    assert proportion(u, [np.array([0.5, -1.0, 1e-9, np.nan])]) is None


def test_constants_are_shown_with_the_digits_that_matter():
    r = dsl.rounded(rule("m = b1 * m + g\nreturn m / (1.0000001 + abs(m) * 0.5123456789)", "b1=0.86123"))
    text = r.to_text()
    assert "0.5123" not in text and "0.51" in text and "b1=0.86" in text  # 0.86 keeps 1 - b1 = 0.14
    assert "1.0000001" not in text
    kept = dsl.rounded(rule("m = b1 * m + g * (1.0523 - b1)\nreturn m", "b1=0.99"))
    assert "1.052 " in kept.to_text() + " "  # 1.05 - b1 = 0.06 would move the update by 4%: digits stay
    cancelling = rule("m = b1 * m + g * (1 - b1)\nmhat = tanh(m)\nreturn mhat * (0.584 + mhat / 1.6487)", "b1=0.872")
    assert "1.6487" not in dsl.rounded(cancelling).to_text()  # found in a quick run's hall of fame


def exported(r: dsl.Rule, name: str, lr: float, folder):
    """The optimizer factory of ``r``'s exported module (``dsl.python_module``), its default lr ``lr``."""
    path = folder / f"{name}.py"
    path.write_text(dsl.python_module(r, name, recommended_lr=lr))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_reported_rules_carry_the_factor_into_every_learning_rate(tmp_path):
    raw = rule("m = b1 * m + g * (1 - b1)\nreturn m / 5156.774263289282", "b1=0.9")
    result = TaskResult(ratio=-0.1, robust_ratio=0.0, tuned=1e-3, tuned_lr=0.3, diverged=0.0,
                        learning_rates=(0.1, 0.3, 1.0), scale=2.0)
    evaluation = Evaluation(-0.1, {"mf_k4": result}, False, 1.0)
    candidate = Candidate(id=7, generation=1, rule=raw, architecture=None, simplified=dsl.simplify(raw),
                          text="", complexity=dsl.simplify(raw).size, fingerprint=dsl.fingerprint(raw),
                          key=dsl.behaviour(raw).key, parents=(), origin="mutation", mutation="m", cached=False,
                          evaluation=evaluation, held_out=evaluation,
                          recommendation=Recommendation(0.2, "held_out", 0.0, {"mf_k4": 0.0}, True))
    out = reported(candidate)
    c = 1 / 5156.774263289282
    assert out.text.endswith("return m\n") and out.key == candidate.key and out.id == 7
    assert out.tasks["mf_k4"].tuned_lr == pytest.approx(0.3 * c)
    assert out.tasks["mf_k4"].learning_rates == pytest.approx((0.1 * c, 0.3 * c, 1.0 * c))
    assert out.held_out.tasks["mf_k4"].tuned_lr == pytest.approx(0.3 * c)
    assert out.recommended_lr == pytest.approx(0.2 * c, rel=1e-2)
    assert reported(out) == out  # reporting twice changes nothing
    # the export of the raw and of the reported rule move parameters alike at their recommended lrs
    params = {"w": jax.numpy.linspace(-1.0, 1.0, 6)}
    steps = []
    for r, lr in ((dsl.simplify(raw), 0.2), (out.simplified, out.recommendation.lr)):
        opt = exported(r, f"exported_{len(steps)}", lr, tmp_path)()  # at its recommended (default) lr
        state, moves = opt.init(params), []
        for i in range(5):
            g = {"w": jax.numpy.cos(params["w"] * (i + 1))}
            u, state = opt.update(g, state, params)
            moves.append(np.asarray(u["w"]))
        steps.append(np.stack(moves))
    np.testing.assert_allclose(steps[0], steps[1], rtol=1e-5)


# ----------------------------------------------------------------------------- no ascent


def test_ascent_and_rules_that_cannot_descend_never_reach_training():
    assert validity.rejection(rule("return -g")).kind == "ascent"
    assert validity.rejection(rule("return -sign(g)")).kind == "ascent"
    assert validity.rejection(rule("m = 0.9 * m + g\nreturn -m")).kind == "ascent"
    for name in dsl.library.names():
        assert validity.rejection(dsl.library.get(name)) is None, name
    rejected = collections.Counter()
    rng = random.Random(0)
    children = [validity.mutate_valid(dsl.library.get("sgd"), rng, rejected=rejected)[0] for _ in range(40)]
    assert all(validity.rejection(c) is None for c in children)
    assert rejected["ascent"] + rejected["no descent"] > 0 and set(rejected) <= set(validity.KINDS)


# ----------------------------------------------------------------------------- niches


def test_momentum_with_nearby_constants_is_one_niche_and_adam_another():
    momenta = [rule("m = b1 * m + g\nreturn m", f"b1={b}") for b in (0.861, 0.865, 0.87)]
    for a in momenta:
        for b in momenta:
            assert niches.similarity(a, b) >= niches.SAME_OPTIMIZER
    assert niches.similarity(momenta[0], dsl.library.get("adam")) < niches.SAME_OPTIMIZER
    assert niches.similarity(rule("return g"), rule("return 1000 * g")) == pytest.approx(1.0)


def _candidate(i: int, r: dsl.Rule, fitness: float, spread: float = 0.0) -> Candidate:
    result = TaskResult(ratio=fitness, robust_ratio=fitness, tuned=1.0, tuned_lr=1.0, diverged=0.0,
                        spread=spread)
    simple = dsl.simplify(r)
    return Candidate(id=i, generation=0, rule=r, architecture=None, simplified=simple, text=simple.to_text(),
                     complexity=simple.size, fingerprint=dsl.fingerprint(r), key=dsl.behaviour(r).key,
                     parents=(), origin="mutation", mutation="m", cached=False,
                     evaluation=Evaluation(fitness, {"t": result}, False, 0.0))


def test_niches_hold_one_optimizer_each_and_report_the_simplest_within_noise():
    long_momentum = rule("m = b1 * m + g * (1 + 1e-9 * tanh(p))\nreturn m", "b1=0.87")
    pool = [_candidate(0, rule("m = b1 * m + g\nreturn m", "b1=0.861"), -0.30, spread=0.05),
            _candidate(1, long_momentum, -0.31, spread=0.05),
            _candidate(2, dsl.library.get("adam"), -0.20),
            _candidate(3, rule("m = b1 * m + g\nreturn m", "b1=0.865"), -0.29)]
    groups = niches.niches(pool)
    assert [sorted(c.id for c in n.members) for n in groups] == [[0, 1, 3], [2]]
    assert groups[0].best.id == 1 and groups[0].representative.id in (0, 3)  # simpler, within noise
    assert [c.id for c in niches.one_per_niche(pool)] == [groups[0].representative.id, 2]
