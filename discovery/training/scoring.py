"""Scores from training results, and comparison against Adam.

For a task, with ``value[lr, seed]`` the clipped final training loss (minus
``f*`` where known, see ``TrainResult.value``) and ``mean`` over seeds:

* tuned       = min over the learning-rate grid of ``mean``  (and the lr that won)
* out of box  = ``mean`` at the optimizer's default learning rate
* robust      = median over the grid of ``mean``  (sensitivity to the lr)

Against Adam on the same task, grid and seeds: ``log10(score / adam_score)``;
negative means better than Adam (-1: ten times lower loss or suboptimality).
The protocol (grid, seeds, steps) travels with every score, AlgoPerf-style.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from discovery.training.trainer import TrainResult

DEFAULT_LEARNING_RATES = tuple(float(f"{x:.3g}") for x in 10.0 ** np.arange(-5, 0.01, 0.5))
DEFAULT_SEEDS = (0, 1)
FLOOR = 1e-12  # suboptimality below this counts as solved


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How every optimizer is trained: the same grid, seeds and steps for all."""

    learning_rates: tuple[float, ...] = DEFAULT_LEARNING_RATES
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    steps: int = 200

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
                "steps": self.steps}


@dataclasses.dataclass(frozen=True)
class TaskScore:
    task: str
    tuned: float
    tuned_lr: float
    robust: float
    out_of_box: float | None
    default_lr: float | None
    diverged_fraction: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _index(grid, lr) -> int | None:
    for i, x in enumerate(grid):
        if math.isclose(x, lr, rel_tol=1e-4):
            return i
    return None


def score(result: TrainResult, default_lr: float | None = None, metric: str = "train") -> TaskScore:
    """Tuned, robust and out-of-the-box scores of one training result (lower is better).

    ``metric="train"`` scores the final training loss (minus f*); ``"test"``
    the held-out loss (used to compare architectures).
    """
    if metric not in ("train", "test"):
        raise ValueError(f"unknown metric {metric!r}; use 'train' or 'test'")
    mean = (result.value if metric == "train" else result.test_value).mean(axis=1)
    best = int(np.argmin(mean))
    out_of_box = None
    if default_lr is not None:
        i = _index(result.learning_rates, default_lr)
        if i is None:
            raise ValueError(f"default learning rate {default_lr} was not trained; use Protocol.grid_with")
        out_of_box = float(mean[i])
    return TaskScore(
        task=result.task,
        tuned=float(mean[best]),
        tuned_lr=float(result.learning_rates[best]),
        robust=float(np.median(mean)),
        out_of_box=out_of_box,
        default_lr=default_lr,
        diverged_fraction=float(result.diverged.mean()),
    )


def log_ratio(value: float | None, reference: float | None) -> float | None:
    """``log10(value / reference)`` with both floored at ``FLOOR``; None if either is missing."""
    if value is None or reference is None:
        return None
    return math.log10(max(value, FLOOR) / max(reference, FLOOR))


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
