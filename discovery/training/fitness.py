"""A rule's fitness: how its scores against Adam become one number (lower is better, 0 is Adam).

Per search task, with ``T`` the rule's tuned score, ``A`` Adam's and ``L0`` the score of no
progress (the initial loss, minus f* where known), each floored at ``scoring.FLOOR``:

    r = log10(T / A)        decades behind Adam (negative: ahead of it)
    D = log10(L0 / A)       decades of progress Adam makes
    s = max(r, -c)                      if r <= c        (c: [evaluation] ratio_clip, 1)
      = c + (r - c) / (D - c)           if r > c         (in (c, c + 1])

Within ``c`` decades of Adam a task counts its decades; beyond, it counts ``c`` plus the share
of Adam's remaining progress it misses, so no progress scores exactly ``c + 1`` and a rule
that makes some progress always scores better than one that makes none (the flat clip at
``c`` scored every rule more than ``c`` decades behind alike: plain SGD and garbage tied on
an ill-conditioned quadratic). No task can give more than ``c + 1`` or less than ``-c``, so
no single task owns the fitness.

    fitness = mean over the search tasks of s

A candidate stopped at the hurdle (``r > hurdle`` on the first task) has trained only that
task; every task it did not train counts as no progress (``c + 1``): the hurdle saves the
work without flattening the score, and a candidate that failed it ranks below every one
that passed it whenever ``hurdle >= c`` (the default). ``noise`` is two standard errors of
the fitness over training seeds.

Example::

    s = task_score(r=1.4, adam_decades=5.0, clip=1.0)      # 1.1: 10% of the way to no progress
    fitness([s, -0.2], n_tasks=3, clip=1.0)               # the third task untrained: (1.1 - 0.2 + 2) / 3
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def task_score(r: float, adam_decades: float | None, clip: float) -> float:
    """The graded score ``s`` of one task (above); without ``adam_decades`` (references stored
    before it was measured) the ratio clipped to ``[-clip, clip]``."""
    if r <= clip:
        return max(r, -clip)
    if adam_decades is None or not adam_decades > clip:
        return clip if adam_decades is None else clip + 1.0
    return clip + min((r - clip) / (adam_decades - clip), 1.0)


def no_progress(clip: float) -> float:
    """What a task the rule did not train, or made no progress on, scores."""
    return clip + 1.0


def fitness(scores: Sequence[float], n_tasks: int, clip: float) -> float:
    """The mean of the tasks' scores, the ``n_tasks - len(scores)`` untrained ones at ``no_progress``."""
    missing = n_tasks - len(scores)
    return (sum(scores) + missing * no_progress(clip)) / n_tasks


def noise(spreads: Sequence[float]) -> float:
    """Two standard errors of a mean of per-task ratios whose standard errors are ``spreads``."""
    return 2.0 * math.sqrt(sum(s ** 2 for s in spreads)) / max(len(spreads), 1)


def contribution(score: float, n_tasks: int) -> float:
    """A task's share of the fitness."""
    return score / n_tasks
