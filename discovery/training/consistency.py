"""Two compilations of the same training must give the same numbers.

A miscompiled executable need not return NaN: it could return finite, wrong losses. The
check that would catch that trains the same optimizer on the same task twice, once on
``learning_rates`` and once on those plus one more: two shapes, two independent XLA
compilations. Lanes the two share (each lr x seed) compute the same thing, so they must
agree: the initial loss to ``INITIAL_RTOL``, every step of the loss curve and the final
loss to ``CURVE_RTOL`` relative. On XLA:CPU they are bitwise equal (45 of 45 pairs: every
task of the suite at its small size, Optax Adam, SGD and DSL Adam, 100 steps); the
tolerance leaves room for a backend whose two programs vectorize differently, and a
corrupted buffer is orders of magnitude beyond it.

Example::

    agreement = compare_compilations(optax.adam, tasks.get("mf_k4"), [1e-3, 1e-2], [0, 1], 50)
    agreement.agree, agreement.worst_curve
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from discovery.tasks import Task
from discovery.training import trainer

INITIAL_RTOL = 1e-6
CURVE_RTOL = 1e-4
EXTRA_LR_FACTOR = 1.7  # the extra learning rate: the largest times this (a lane not shared)


@dataclasses.dataclass(frozen=True)
class Agreement:
    """Two compilations of one training compared on their shared lanes.

    ``worst_initial`` / ``worst_curve``: the largest relative difference of the initial loss,
    and of the loss curve and final loss, over those lanes (0 is bitwise equal); ``agree``:
    both within tolerance and both compilations finite where the other is.
    """

    task: str
    optimizer: str
    lanes: int
    compilations: int
    worst_initial: float
    worst_curve: float
    agree: bool


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    """The largest ``|a - b| / max(|a|, |b|)`` where both are finite; inf where only one is."""
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    if np.any(finite_a != finite_b) or np.any(np.isnan(a) != np.isnan(b)):
        return float("inf")
    both = finite_a & finite_b
    if not both.any():
        return 0.0
    x, y = a[both], b[both]
    scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), np.finfo(np.float32).tiny)
    return float(np.max(np.abs(x - y) / scale))


def compare_compilations(optimizer: trainer.OptimizerSpec, task: Task, learning_rates: Sequence[float],
                         seeds: Sequence[int], steps: int, path: trainer.TrainingPath = "interpreter",
                         name: str | None = None) -> Agreement:
    """Train on ``learning_rates`` and on them plus one more (two compilations) and compare the
    shared lanes (``Agreement``)."""
    lrs = [float(x) for x in learning_rates]
    first = trainer.train(optimizer, task, lrs, seeds, steps, path=path)
    second = trainer.train(optimizer, task, [*lrs, max(lrs) * EXTRA_LR_FACTOR], seeds, steps, path=path)
    n = len(lrs)
    worst_initial = _relative(first.initial_loss, second.initial_loss[:n])
    worst_curve = max(_relative(first.curves, second.curves[:n]),
                      _relative(first.final_loss, second.final_loss[:n]))
    return Agreement(task=task.name, optimizer=name or getattr(optimizer, "name", None) or repr(optimizer),
                     lanes=first.initial_loss.size, compilations=2, worst_initial=worst_initial,
                     worst_curve=worst_curve,
                     agree=worst_initial <= INITIAL_RTOL and worst_curve <= CURVE_RTOL)
