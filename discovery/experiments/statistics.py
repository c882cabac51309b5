"""Effect sizes with confidence intervals, a practical-equivalence margin, and verdicts.

Every headline number of the hypothesis experiment is an effect measured once
per seed. ``interval(values)`` gives its mean and a 95% confidence interval
over seeds: Student's t interval for fewer than ``BOOTSTRAP_FROM`` seeds
(exact under normality; a bootstrap of 3 values has only 10 distinct means),
a percentile bootstrap (``BOOTSTRAP_RESAMPLES`` resamples, fixed seed) from
there on.

A difference smaller than the seed-to-seed spread of identical runs is a tie:
``margin(repeats)`` is the pooled standard deviation of groups of identical
measurements that differ only in their seed (``sqrt(mean of the per-group
variances)``), a property of the protocol measured in the experiment itself,
never a constant picked by hand.

``verdict(effect, margin, predicted)``, with ``predicted`` = +1 when the
prediction says the effect is positive (-1: negative):

* supported     the whole interval lies beyond the margin on the predicted side;
* contradicted  the whole interval lies beyond the margin on the other side, or
                inside the margin (a tie where the prediction wants an effect);
* inconclusive  otherwise (the interval straddles the margin).

Example::

    e = interval([0.21, 0.35, 0.18])
    verdict(e, margin([[1.02, 0.98], [2.1, 2.0]]), predicted=+1)   # "supported"
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from discovery.codec import Stored, real, sequence, stored, text

BOOTSTRAP_FROM = 8
BOOTSTRAP_RESAMPLES = 10_000
CONFIDENCE = 0.95
# Two-sided 95% quantiles of Student's t, by degrees of freedom 1..29 (then the normal's 1.96).
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045)
VERDICTS = ("supported", "contradicted", "inconclusive")
SUPPORTED, CONTRADICTED, INCONCLUSIVE = VERDICTS


@dataclasses.dataclass(frozen=True)
class Effect(Stored):
    """An effect over seeds: its mean, a 95% interval, the per-seed values and the method."""

    mean: float = stored(real)
    low: float = stored(real)
    high: float = stored(real)
    values: tuple[float, ...] = stored(sequence(real))
    method: str = stored(text)

    def text(self, digits: int = 2) -> str:
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"

    def whiskers(self, clip: bool = False) -> tuple[float, float]:
        """Error bars: the distances from the mean down to ``low`` and up to ``high``; ``clip``:
        none below 0 (a bootstrap interval of a range need not hold its point estimate)."""
        down, up = self.mean - self.low, self.high - self.mean
        return (max(0.0, down), max(0.0, up)) if clip else (down, up)


def error_bars(effects: Sequence[Effect], clip: bool = False) -> np.ndarray:
    """The asymmetric error bars of ``effects`` as plotting libraries take them: a 2 x n array,
    the distances down to each ``low`` and up to each ``high`` (``Effect.whiskers``)."""
    return np.reshape([e.whiskers(clip) for e in effects], (-1, 2)).T


def interval(values: Sequence[float], seed: int = 0) -> Effect:
    """Mean of ``values`` (one per seed) and its 95% confidence interval (see module doc).

    With one value the interval is unbounded: one seed cannot say how much seeds vary.
    """
    x = np.asarray([v for v in values if math.isfinite(v)], np.float64)
    if len(x) == 0:
        raise ValueError(f"no finite values to estimate an effect from: {list(values)}")
    mean = float(x.mean())
    if len(x) == 1:
        return Effect(mean, -math.inf, math.inf, tuple(x.tolist()), "one seed: no interval")
    if len(x) < BOOTSTRAP_FROM:
        t = _T95[len(x) - 2] if len(x) - 1 <= len(_T95) else 1.96
        half = t * float(x.std(ddof=1)) / math.sqrt(len(x))
        return Effect(mean, mean - half, mean + half, tuple(x.tolist()), f"t interval, {len(x)} seeds")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(BOOTSTRAP_RESAMPLES, len(x)))].mean(axis=1)
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Effect(mean, float(low), float(high), tuple(x.tolist()),
                  f"percentile bootstrap, {len(x)} seeds")


def margin(repeats: Sequence[Sequence[float]]) -> float:
    """Pooled seed-to-seed standard deviation of groups of identical measurements.

    Each group holds the same measurement repeated with different seeds (e.g. one
    optimizer on one architecture, trained from several seeds); groups of one are
    ignored. Raises ValueError if no group has two values.
    """
    variances = [np.var(np.asarray(g, np.float64), ddof=1) for g in repeats if len(g) >= 2]
    if not variances:
        raise ValueError("the margin needs at least one group of two or more repeated measurements")
    return float(math.sqrt(np.mean(variances)))


def verdict(effect: Effect, tie_margin: float, predicted: int) -> str:
    """One of ``VERDICTS`` (supported, contradicted, inconclusive: ``RULE``) for a prediction of
    sign ``predicted``."""
    if predicted not in (1, -1):
        raise ValueError(f"predicted must be +1 or -1, got {predicted}")
    low, high = sorted((predicted * effect.low, predicted * effect.high))
    if low > tie_margin:
        return SUPPORTED
    if high < -tie_margin or (low >= -tie_margin and high <= tie_margin):
        return CONTRADICTED
    return INCONCLUSIVE


RULE = ("supported when the 95% interval lies beyond the margin on the predicted side; "
        "contradicted when it lies beyond the margin on the other side or entirely inside the "
        "margin (a tie); inconclusive otherwise. The margin is the pooled seed-to-seed standard "
        "deviation of identical trainings.")
