"""The hypothesis experiment's statistics on synthetic numbers whose answer is known."""

import math

import numpy as np
import pytest

from discovery.experiments import statistics as st


def test_t_interval_matches_the_textbook_formula():
    values = [0.2, 0.3, 0.4]
    e = st.interval(values)
    half = 4.303 * np.std(values, ddof=1) / math.sqrt(3)
    assert e.mean == pytest.approx(0.3) and (e.low, e.high) == pytest.approx((0.3 - half, 0.3 + half))
    assert e.method.startswith("t interval")


def test_bootstrap_for_many_seeds_is_deterministic_and_covers_the_mean():
    values = np.random.default_rng(1).normal(0.5, 0.1, size=12)
    a, b = st.interval(values), st.interval(values)
    assert a == b and a.low < values.mean() < a.high and a.method.startswith("percentile bootstrap")
    assert a.high - a.low == pytest.approx(2 * 1.96 * values.std(ddof=1) / math.sqrt(12), rel=0.25)


def test_one_seed_has_no_interval_and_no_values_is_an_error():
    assert st.interval([0.3]).low == -math.inf
    with pytest.raises(ValueError, match="no finite values"):
        st.interval([math.nan])


def test_margin_is_the_pooled_seed_spread_of_identical_runs():
    assert st.margin([[1.0, 1.2], [5.0, 5.2], [9.0]]) == pytest.approx(math.sqrt(0.02))
    with pytest.raises(ValueError, match="two or more"):
        st.margin([[1.0], [2.0]])


@pytest.mark.parametrize("values, predicted, expected", [
    ([0.50, 0.55, 0.60], +1, "supported"),      # a clear positive effect
    ([-0.50, -0.55, -0.60], -1, "supported"),   # a clear negative effect, predicted negative
    ([-0.50, -0.55, -0.60], +1, "contradicted"),  # clearly the other way
    ([0.01, -0.01, 0.0], +1, "contradicted"),   # a tie: inside the margin
    ([0.30, -0.20, 0.05], +1, "inconclusive"),  # straddles the margin
])
def test_verdicts_follow_the_stated_rule(values, predicted, expected):
    assert st.verdict(st.interval(values), 0.05, predicted) == expected


def test_effects_round_trip_through_plain_data():
    e = st.interval([0.1, 0.2])
    assert st.Effect.from_dict(e.to_dict()) == e and e.text() == f"{e.mean:+.2f} [{e.low:+.2f}, {e.high:+.2f}]"
