"""Fair tuning: scores that are properties of the optimizer, not of where the lr grid stops."""

import math

import numpy as np
import optax
import pytest

import dsl
from discovery import tasks
from discovery.training import scoring, tuning

PROTOCOL = scoring.Protocol(learning_rates=(1e-3, 3.16e-3, 1e-2, 3.16e-2, 0.1), seeds=(0, 1), steps=40)
EMA = "def ema(b=0.9):\n    m = b * m + (1 - b) * g\n    return {}\n"


@pytest.fixture(scope="module")
def mf():
    return tasks.get("mf_k4", "small")


@pytest.mark.parametrize("factor", [1e3, 1e-3])
def test_a_rescaled_rule_gets_the_same_score_at_a_rescaled_lr(mf, factor):
    base = tuning.tune(dsl.parse(EMA.format("m")), mf, PROTOCOL).score
    scaled = tuning.tune(dsl.parse(EMA.format(f"{factor!r} * m")), mf, PROTOCOL).score
    assert scaled.tuned == pytest.approx(base.tuned, rel=1e-3)
    assert scaled.robust == pytest.approx(base.robust, rel=1e-3)
    assert scaled.tuned_lr * factor == pytest.approx(base.tuned_lr, rel=1e-4)
    assert scaled.scale * factor == pytest.approx(base.scale, rel=1e-4)
    assert not base.at_limit and not scaled.at_limit


def test_the_natural_scale_of_adam_is_one_and_of_a_rescaled_rule_its_inverse(mf):
    assert tuning.natural_scale(dsl.library.get("adam"), mf) == 1.0
    sgd = tuning.natural_scale(dsl.library.get("sgd"), mf)
    double = tuning.natural_scale(dsl.parse("def twice():\n    return 2 * g\n"), mf)
    assert double == pytest.approx(sgd / 2, rel=1e-9)
    assert tuning.natural_scale(dsl.parse("def nan():\n    return log(-abs(g) - 1)\n"), mf) == 1.0


def test_an_optimum_beyond_the_starting_grid_is_found_by_bracketing(mf):
    low = scoring.Protocol(learning_rates=(1e-7, 3.16e-7, 1e-6), seeds=(0,), steps=40)
    tuned = tuning.tune(optax.sgd, mf, low)
    s = tuned.score
    assert s.tuned_lr > 1e-5 and not s.at_limit
    lrs = np.log10(s.learning_rates)
    assert lrs.min() <= math.log10(s.tuned_lr) - 1 + 1e-6 and lrs.max() >= math.log10(s.tuned_lr) + 1 - 1e-6
    unbracketed = tuning.tune(optax.sgd, mf, scoring.Protocol(low.learning_rates, (0,), 40, bracket=False))
    assert unbracketed.score.at_limit and unbracketed.score.tuned > s.tuned  # the grid's edge, flagged


def test_a_rule_that_never_converges_is_flagged_at_the_limit(mf):
    ascent = tuning.tune(dsl.parse("def ascent():\n    return -g\n"), mf, PROTOCOL)
    assert ascent.score.at_limit and ascent.score.tuned_lr == min(ascent.score.learning_rates)
    # no lr made progress: smaller steps cannot help, so bracketing did not go below the grid
    lowest = ascent.result  # sorted by lr: row 0 is the smallest
    assert (lowest.final_loss[0] >= lowest.initial_loss[0]).all() and not lowest.diverged[0].any()
    assert len(ascent.score.learning_rates) == len(PROTOCOL.learning_rates)
    diverging = dsl.parse("def huge():\n    return -1e6 * g * abs(g)\n")  # diverges wherever it is tried
    s = tuning.tune(diverging, mf, scoring.Protocol(PROTOCOL.learning_rates, (0,), 40, scale_free=False)).score
    assert s.at_limit and min(s.learning_rates) == pytest.approx(tuning.LIMITS[0])


def test_bracketing_compiles_nothing_new(mf):
    tuning.tune(optax.sgd, mf, PROTOCOL)
    with dsl.count_compilations() as compiles:
        s = tuning.tune(optax.sgd, mf, scoring.Protocol((1e-7, 3.16e-7, 1e-6, 3.16e-6, 1e-5), (0, 1), 40)).score
    assert compiles.count == 0 and s.tuned_lr > 1e-5


def test_centring_moves_the_grid_by_whole_half_decades():
    grid = (1e-4, 1e-3, 1e-2)
    np.testing.assert_allclose(tuning.centered(grid, 0.3), np.asarray(grid) * 10 ** 2.5)  # middle 1e-3 -> 0.316
    np.testing.assert_allclose(tuning.centered(grid, None), grid)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "lion", "signum"])
def test_no_tuned_lr_sits_at_the_edge_of_what_was_tried_unless_flagged(mf, optimizer):
    s = tuning.tune(dsl.library.get(optimizer), mf, PROTOCOL).score
    inside = min(s.learning_rates) < s.tuned_lr < max(s.learning_rates)
    assert inside or s.at_limit
