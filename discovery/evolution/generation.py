"""A generation's record: what one generation of a search did, found and cost.

``Evolution.step`` makes one ``Generation`` per generation; the launcher logs it as a
``log.jsonl`` line (``{"kind": "generation", **record.to_dict()}``), the checkpoint keeps
them all (the logbook), and ``metrics.csv`` holds the ``METRICS`` columns of each. Fields a
record written before they existed lacks are None, and left out of its stored form again, so
an old run reads and re-writes byte for byte. A record also reads as its stored dict
(``record["best"]``), as ``Run.logbook`` entries did when they were dicts.

Example::

    last = run.logbook[-1]
    last.best, last.cache_hits, {k: getattr(last, k) for k in TIME_SPLIT}
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from typing import Any

from discovery.records import mapping, read_fields, real, stored, whole

TIME_SPLIT = ("training_s", "breeding_s", "niches_s", "bookkeeping_s")  # a generation's seconds, by what they bought
TIMINGS = ("seconds", "candidates_per_s", "screened_per_s", "evaluated_per_s", *TIME_SPLIT)  # not outcomes
METRICS = ("gen", "best", "median", "hall_of_fame_best", "complexity", "trained", "cache_hits",
           "screened", "fully_evaluated", "screened_per_s", "evaluated_per_s", "distinct_per_1000",
           "niches", "population_niches", "candidates_per_s", "seconds", *TIME_SPLIT)  # metrics.csv


def _since(reader):
    """A field that records written before it existed lack (None there)."""
    return stored(reader, default=None)


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Generation(Mapping):
    """One generation, in the order its stored form lists the fields.

    Work: ``trained`` new behaviours, ``cache_hits`` children whose behaviour was known,
    ``scale_equivalent`` of them a different rule up to a factor, ``screened`` and
    ``fully_evaluated`` (``[screening]``), ``retried`` children mutated again and ``immigrants``
    (a collapsing generation), ``distinct_per_1000`` behaviours per 1000 children so far,
    ``rejected`` invalid children by kind. Time: ``seconds`` (with the launcher's log and
    checkpoint of the generation before), split as ``TIME_SPLIT``; throughput per second.
    Outcome: the population's median ``complexity``, ``best`` and ``median`` fitness, the
    hall of fame's best, the niches of the hall-of-fame pool and of the population, and in
    co-evolution the distinct architecture shapes seen so far (``compiled_shapes``).
    """

    gen: int = stored(whole())
    trained: int = stored(whole())
    cache_hits: int = stored(whole())
    scale_equivalent: int | None = _since(whole())
    screened: int | None = _since(whole())
    fully_evaluated: int | None = _since(whole())
    screened_per_s: float | None = _since(real)
    evaluated_per_s: float | None = _since(real)
    retried: int | None = _since(whole())
    immigrants: int | None = _since(whole())
    distinct_per_1000: float | None = _since(real)
    rejected: dict[str, int] | None = _since(mapping(whole()))
    seconds: float = stored(real)
    training_s: float | None = _since(real)
    breeding_s: float | None = _since(real)
    niches_s: float | None = _since(real)
    bookkeeping_s: float | None = _since(real)
    candidates_per_s: float = stored(real)
    complexity: float | None = _since(real)
    hall_of_fame_best: float | None = _since(real)
    niches: int | None = _since(whole())
    population_niches: int | None = _since(whole())
    compiled_shapes: int | None = _since(whole())
    best: float = stored(real)
    median: float = stored(real)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: every field that is not None, in field order."""
        return dict(self._stored)

    @classmethod
    def from_dict(cls, data: Any, where: str = "generation record") -> Generation:
        return cls(**read_fields(cls, data, where))

    @functools.cached_property
    def _stored(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    def __getitem__(self, key: str) -> Any:
        return self._stored[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stored)

    def __len__(self) -> int:
        return len(self._stored)
