"""A generation's record, and a search's totals: what a search did, found and cost.

``Evolution.step`` makes one ``Generation`` per generation; the launcher logs it as a
``log.jsonl`` event (``runs.events``), the checkpoint keeps them all (the logbook), and
``metrics.csv`` holds the ``METRICS`` columns of each. ``Totals`` counts the search's work
since it began. Both are stored through the codec (``discovery.codec``); records written by older
code are upgraded before they are read (``discovery.runs.upgrade``).

Example::

    last = run.logbook[-1]
    last.best, last.cache_hits, {k: getattr(last, k) for k in TIME_SPLIT}
"""

from __future__ import annotations

import dataclasses

from discovery.codec import Frozen, Stored, mapping, optional, real, stored, whole

TIME_SPLIT = ("training_s", "breeding_s", "niches_s", "bookkeeping_s")  # a generation's seconds, by what they bought
TIMINGS = ("seconds", "candidates_per_s", "screened_per_s", "evaluated_per_s", *TIME_SPLIT)  # not outcomes
METRICS = ("gen", "best", "median", "hall_of_fame_best", "complexity", "trained", "cache_hits",
           "screened", "fully_evaluated", "screened_per_s", "evaluated_per_s", "distinct_per_1000",
           "niches", "population_niches", "candidates_per_s", "seconds", *TIME_SPLIT)  # metrics.csv


def _unknown_before(reader):
    """A count or time older code did not record: None in its records (``runs.upgrade``)."""
    return stored(optional(reader))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Generation(Frozen):
    """One generation, in the order its stored form lists the fields.

    Work: ``trained`` new behaviours, ``cache_hits`` children whose behaviour was known,
    ``scale_equivalent`` of them a different rule up to a factor, ``screened`` and
    ``fully_evaluated`` (``[screening]``), ``retried`` children mutated again and ``immigrants``
    (a collapsing generation), ``distinct_per_1000`` behaviours per 1000 children so far,
    ``rejected`` invalid children by kind. Time: ``seconds`` (with the launcher's log and
    checkpoint of the generation before), split as ``TIME_SPLIT``; throughput per second.
    Outcome: the population's median ``complexity``, ``best`` and ``median`` fitness, the
    hall of fame's best, the niches of the hall-of-fame pool and of the population, and in
    co-evolution the distinct architecture shapes seen so far (``compiled_shapes``; None
    otherwise). A field of type ``X | None`` is None in a record whose writer did not record it.
    """

    gen: int = stored(whole())
    trained: int = stored(whole())
    cache_hits: int = stored(whole())
    scale_equivalent: int | None = _unknown_before(whole())
    screened: int | None = _unknown_before(whole())
    fully_evaluated: int | None = _unknown_before(whole())
    screened_per_s: float | None = _unknown_before(real)
    evaluated_per_s: float | None = _unknown_before(real)
    retried: int | None = _unknown_before(whole())
    immigrants: int | None = _unknown_before(whole())
    distinct_per_1000: float | None = _unknown_before(real)
    rejected: dict[str, int] | None = _unknown_before(mapping(whole()))
    seconds: float = stored(real)
    training_s: float | None = _unknown_before(real)
    breeding_s: float | None = _unknown_before(real)
    niches_s: float | None = _unknown_before(real)
    bookkeeping_s: float | None = _unknown_before(real)
    candidates_per_s: float = stored(real)
    complexity: float | None = _unknown_before(real)
    hall_of_fame_best: float | None = _unknown_before(real)
    niches: int | None = _unknown_before(whole())
    population_niches: int | None = _unknown_before(whole())
    compiled_shapes: int | None = stored(optional(whole()))
    best: float = stored(real)
    median: float = stored(real)


@dataclasses.dataclass(frozen=True)
class Totals(Stored):
    """A search's work since it began: ``evaluated`` behaviours trained, ``cache_hits`` children
    whose behaviour was known (``scale_equivalent`` of them a different rule up to a factor),
    ``screened`` and ``fully_evaluated`` candidates (``[screening]``), ``children`` bred."""

    evaluated: int = stored(whole(), default=0)
    cache_hits: int = stored(whole(), default=0)
    scale_equivalent: int = stored(whole(), default=0)
    screened: int = stored(whole(), default=0)
    fully_evaluated: int = stored(whole(), default=0)
    children: int = stored(whole(), default=0)

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)))
