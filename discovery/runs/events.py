"""The run log's events: one typed record per kind, written and read through one pair.

``log.jsonl`` holds one event a line, ``{"kind": <kind>, "version": <format>, **fields}``.
``KINDS`` is the one table from a kind to its record; ``line(event)`` is the plain data a line
holds, ``read(data, where)`` the event a line's data holds (upgraded first if older code wrote
it: ``runs.upgrade``).

* ``start``        a run began: its config (as its TOML tables), the code's commit, the time
* ``resume``       a process continued the run from generation ``generation``
* ``calibration``  Adam's reference scores on the tasks of a split
* ``candidate``    an evaluated candidate (``records.Candidate``)
* ``generation``   a generation's record (``generation.Generation``)
* ``interrupted``  the process stopped after generation ``generation``
* ``log_damaged``  the log did not end where the checkpoint said: what was wrong
* ``generations``  the run's length changed, its finished summary kept in ``summary`` (or None)

Example::

    store.log([events.Interrupted(generation=3)])
    [e for e in store.read_log("start", "resume")]
"""

from __future__ import annotations

import dataclasses
from typing import Any

from discovery.codec import (
    RecordError,
    Stored,
    given,
    mapping,
    one_of,
    optional,
    real,
    record,
    stored,
    text,
    whole,
)
from discovery.evaluation.evaluator import TaskReference
from discovery.evolution.generation import Generation
from discovery.records import SPLITS, Candidate, Split
from discovery.runs import upgrade


@dataclasses.dataclass(frozen=True)
class Start(Stored):
    config: dict[str, dict[str, Any]] = stored(mapping(mapping(given)))  # as logged, never re-validated
    commit: str | None = stored(optional(text))
    time: float = stored(real)


@dataclasses.dataclass(frozen=True)
class Resume(Stored):
    generation: int = stored(whole())
    commit: str | None = stored(optional(text))
    time: float = stored(real)


@dataclasses.dataclass(frozen=True)
class Calibration(Stored):
    split: Split = stored(one_of(SPLITS))
    tasks: dict[str, TaskReference] = stored(mapping(record(TaskReference)))
    time: float | None = stored(optional(real))


@dataclasses.dataclass(frozen=True)
class Interrupted(Stored):
    generation: int = stored(whole())


@dataclasses.dataclass(frozen=True)
class LogDamaged(Stored):
    problem: str = stored(text)


@dataclasses.dataclass(frozen=True)
class Lengthened(Stored):
    previous: int = stored(whole())
    generations: int = stored(whole())
    summary: str | None = stored(optional(text))
    time: float = stored(real)


Event = Start | Resume | Calibration | Candidate | Generation | Interrupted | LogDamaged | Lengthened
KINDS: dict[str, type] = {"start": Start, "resume": Resume, "calibration": Calibration, "candidate": Candidate,
                          "generation": Generation, "interrupted": Interrupted, "log_damaged": LogDamaged,
                          "generations": Lengthened}
_KIND = {cls: kind for kind, cls in KINDS.items()}


def kind(event: Event) -> str:
    """The kind of ``event``, as its log line names it."""
    return _KIND[type(event)]


def line(event: Event) -> dict[str, Any]:
    """The plain data of ``event``'s log line."""
    return {"kind": kind(event), **upgrade.stamped(event.to_dict())}


def read(data: Any, where: str) -> Event:
    """The event a log line's data holds; a line of no known kind, or a malformed one, is a
    ``RecordError`` naming ``where``."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(kind, str) or kind not in KINDS:
        raise RecordError(f"{where}: not an event of a known kind ({', '.join(KINDS)})")
    fields = upgrade.current(kind, {k: v for k, v in data.items() if k != "kind"}, where)
    return KINDS[kind].from_dict(fields, where)
