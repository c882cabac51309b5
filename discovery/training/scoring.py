"""Scores from training results, and comparison against Adam.

For a task, with ``value[lr, seed]`` the clipped final training loss (minus
``f*`` where known, see ``TrainResult.value``) and ``mean`` over seeds, both
floored at ``FLOOR`` (below it a problem counts as solved):

* tuned       = min over the learning rates tried of ``mean`` (and the lr that won;
  the smallest such lr on ties)
* out of box  = ``mean`` at the optimizer's default learning rate
* robust      = geometric mean of ``mean`` over the lrs tried within ``ROBUST_DECADES``
  of the tuned lr: the loss paid for an lr off by up to 10x, around the
  optimizer's own optimum (``tuning.tune`` brackets so that this window is tried)

Against Adam on the same task, grid and seeds: ``log10(score / adam_score)``;
negative means better than Adam (-1: ten times lower loss or suboptimality).
The protocol (lrs tried, seeds, steps, scale) travels with every score, AlgoPerf-style.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Literal, get_args

import numpy as np

from discovery.codec import Stored, flag, optional, real, sequence, stored, text
from discovery.training.trainer import TrainResult

DEFAULT_LEARNING_RATES = tuple(float(f"{x:.3g}") for x in 10.0 ** np.arange(-5, 0.01, 0.5))
DEFAULT_SEEDS = (0, 1)
FLOOR = 1e-12  # suboptimality below this counts as solved
ROBUST_DECADES = 1.0
Metric = Literal["train", "test"]  # the loss a score is of: training, or held-out (``losses``)
METRICS: tuple[Metric, ...] = get_args(Metric)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How every optimizer is trained: the same grid, seeds and steps for all.

    ``learning_rates`` is the starting grid in Adam-equivalent units; with
    ``scale_free`` a rule starts on it times its natural scale, with ``bracket`` the
    grid grows until the optimum is inside, and with ``refine`` a sharp optimum is
    tried again on a finer grid within half a decade of it (``tuning.tune``).
    """

    learning_rates: tuple[float, ...] = DEFAULT_LEARNING_RATES
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    steps: int = 200
    bracket: bool = True
    scale_free: bool = True
    refine: bool = True

    def __post_init__(self):
        if not self.learning_rates or any(not lr > 0 for lr in self.learning_rates):
            raise ValueError(f"learning rates must be positive, got {self.learning_rates}")
        if not self.seeds:
            raise ValueError("need at least one seed")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")

    def grid_with(self, default_lr: float | None) -> tuple[float, ...]:
        """The grid plus ``default_lr`` if it is not already on it (sorted)."""
        if default_lr is None or _index(self.learning_rates, default_lr) is not None:
            return self.learning_rates
        return tuple(sorted((*self.learning_rates, float(default_lr))))

    def to_dict(self) -> dict:
        return {"learning_rates": list(self.learning_rates), "seeds": list(self.seeds),
                "steps": self.steps, "bracket": self.bracket, "scale_free": self.scale_free,
                "refine": self.refine}


@dataclasses.dataclass(frozen=True)
class TaskScore(Stored):
    """Scores of one optimizer on one task (lower is better), with the lrs that produced them.

    ``learning_rates``: every lr tried (sorted); ``scale``: the factor the grid
    was multiplied by (``tuning.natural_scale``); ``at_limit``: the tuned lr is
    at the edge of what was tried, so the optimum may lie beyond it; ``no_progress``: what
    making no progress scores (the seed-mean initial loss, minus f*; None where unknown:
    ``runs.upgrade``).
    """

    task: str = stored(text)
    tuned: float = stored(real)
    tuned_lr: float = stored(real)
    robust: float = stored(real)
    out_of_box: float | None = stored(optional(real))
    default_lr: float | None = stored(optional(real))
    diverged_fraction: float = stored(real)
    learning_rates: tuple[float, ...] = stored(sequence(real), default=())
    scale: float = stored(real, default=1.0)
    at_limit: bool = stored(flag, default=False)
    tuned_per_seed: tuple[float, ...] = stored(sequence(real), default=())
    out_of_box_per_seed: tuple[float, ...] = stored(sequence(real), default=())
    no_progress: float | None = stored(optional(real), default=None)

    def spread(self, metric: str = "tuned") -> float:
        """Standard error over seeds of log10 of the ``metric`` score (0 with one seed)."""
        values = np.log10(np.maximum(getattr(self, f"{metric}_per_seed"), FLOOR))
        return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def _index(grid, lr) -> int | None:
    for i, x in enumerate(grid):
        if math.isclose(x, lr, rel_tol=1e-4):
            return i
    return None


def losses(result: TrainResult, metric: Metric) -> np.ndarray:
    """``[lr, seed]``: the final losses ``metric`` scores: ``"train"``, the training loss (minus
    f*); ``"test"``, the held-out loss (used to compare architectures)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")
    return result.value if metric == "train" else result.test_value


def score(result: TrainResult, default_lr: float | None = None, metric: Metric = "train") -> TaskScore:
    """Tuned, robust and out-of-the-box scores of one training result (lower is better), of the
    losses ``metric`` names (``losses``)."""
    per_seed = np.maximum(losses(result, metric), FLOOR)
    mean = per_seed.mean(axis=1)
    lrs = result.learning_rates
    best = int(np.argmin(mean))
    out_of_box, default_seeds = None, ()
    if default_lr is not None:
        i = _index(lrs, default_lr)
        if i is None:
            raise ValueError(f"default learning rate {default_lr} was not trained; use Protocol.grid_with")
        out_of_box, default_seeds = float(mean[i]), tuple(float(x) for x in per_seed[i])
    window = np.abs(np.log10(lrs) - math.log10(lrs[best])) <= ROBUST_DECADES + 1e-6
    edge = len(lrs) > 1 and lrs[best] in (lrs.min(), lrs.max())
    return TaskScore(
        task=result.task,
        tuned=float(mean[best]),
        tuned_lr=float(lrs[best]),
        robust=float(10 ** np.mean(np.log10(mean[window]))),
        out_of_box=out_of_box,
        default_lr=default_lr,
        diverged_fraction=float(result.diverged.mean()),
        learning_rates=tuple(float(x) for x in lrs),
        at_limit=bool(edge),
        tuned_per_seed=tuple(float(x) for x in per_seed[best]),
        out_of_box_per_seed=default_seeds,
        no_progress=float(np.mean(np.maximum(result.start[0] - (result.f_star or 0.0), FLOOR))),
    )


def log_ratio(value: float | None, reference: float | None) -> float | None:
    """``log10(value / reference)`` with both floored at ``FLOOR``; None if either is missing."""
    if value is None or reference is None:
        return None
    return math.log10(max(value, FLOOR) / max(reference, FLOOR))


def adam_decades(adam: TaskScore) -> float | None:
    """How many decades of progress Adam's tuned score is from no progress (None if unknown)."""
    return None if adam.no_progress is None else log_ratio(adam.no_progress, adam.tuned)


def versus(ours: TaskScore, adam: TaskScore) -> dict[str, float | None]:
    """Log10 ratios of our scores to Adam's on the same task (negative: we are better)."""
    return {
        "tuned": log_ratio(ours.tuned, adam.tuned),
        "robust": log_ratio(ours.robust, adam.robust),
        "out_of_box": log_ratio(ours.out_of_box, adam.out_of_box),
    }


def rank(scores: Mapping[str, float], name: str) -> int:
    """1-based rank of ``name`` among ``scores`` (lower score ranks first; ties share a rank)."""
    return 1 + sum(1 for v in scores.values() if v < scores[name])

NOISE_Z = 2.0  # differences within this many combined standard errors are ties


def beats(a: TaskScore, b: TaskScore, metric: str = "tuned") -> bool:
    """True if ``a`` scores lower than ``b`` by more than the seed noise: by more than
    ``NOISE_Z`` combined standard errors of their log10 per-seed scores. A finite score
    beats an infinite one (a training that produced no usable loss)."""
    ours, theirs = getattr(a, metric), getattr(b, metric)
    if not (math.isfinite(ours) and math.isfinite(theirs)):
        return math.isfinite(ours) and not math.isfinite(theirs)
    gap = math.log10(max(theirs, FLOOR)) - math.log10(max(ours, FLOOR))
    return gap > NOISE_Z * math.hypot(a.spread(metric), b.spread(metric))


def noisy_rank(scores: Mapping[str, TaskScore], name: str, metric: str = "tuned") -> int:
    """1-based rank of ``name``: one plus the number of others that beat it beyond the seed
    noise (``beats``); scores within noise share a rank."""
    return 1 + sum(beats(s, scores[name], metric) for other, s in scores.items() if other != name)
