"""Stored data written by older code, brought to the current format in one place.

A run folder's data carries the format it was written in: the checkpoint in its header
(``runs.store``), each ``log.jsonl`` line and ``summary.json`` in a ``version`` key (absent:
written before they carried one, format ``UNVERSIONED``). Before a record is read
(``from_dict``, which knows the current format only), ``upgraded`` applies the steps
``UPGRADES[v]`` (format v to v + 1) from its format up to ``FORMAT``; each step takes and gives
plain data of one kind: ``checkpoint``, ``summary`` or a log event's kind (``runs.events``).

Formats: 1, a checkpoint's fields flat; 2, the same checksummed (the header's business); 3, the
search state nested in the checkpoint; 4, every record written with all its fields; 5, a
candidate's ``origin`` beside its ``mutation`` text (the step to 5 reads it from that text). Records
before 4 lack the fields added after they were written: the step to 4 gives each what older code
meant by its absence (False, 0, nothing yet) or, for a count or a time it did not measure, None:
that is why those fields of ``Generation``, ``TaskScore.no_progress``, ``TaskResult.log_ratio``
and ``Summary.niches``/``forms`` allow None.

A step fills tables only: data of another shape is left as it is, for the reader to refuse with
a ``RecordError`` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from discovery.codec import RecordError

FORMAT = 5
UNVERSIONED = 3  # log lines and summaries written before they carried a version

Step = Callable[[Any], Any]


def stamped(data: dict) -> dict:
    """A log line's or summary's plain data as written: with the current format's ``version``."""
    return {"version": FORMAT, **data}


def current(kind: str, data: Any, where: str) -> Any:
    """A log line's or summary's plain data (``stamped``) in the current format, its ``version``
    key removed."""
    if not isinstance(data, dict):
        return data
    rest = {k: v for k, v in data.items() if k != "version"}
    return upgraded(kind, rest, data.get("version", UNVERSIONED), where)


def upgraded(kind: str, data: Any, version: Any, where: str) -> Any:
    """``data`` of ``kind`` written in format ``version``, in format ``FORMAT``."""
    if type(version) is not int or not 1 <= version <= FORMAT:
        raise RecordError(f"{where}: format version {version!r}; this discovery reads 1 to {FORMAT}")
    for v in range(version, FORMAT):
        data = UPGRADES[v](kind, data)
    return data


# ----------------------------------------------------------------------------- shapes


def _filled(defaults: dict, **nested: Step) -> Step:
    """A step on a table: ``defaults`` for the keys it lacks, ``nested`` steps on the keys it has."""
    def step(data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = {**defaults, **data}
        for key, inner in nested.items():
            if key in out:
                out[key] = inner(out[key])
        return out
    return step


def _each(step: Step) -> Step:
    return lambda items: [step(x) for x in items] if isinstance(items, list) else items


def _values(step: Step) -> Step:
    return lambda table: {k: step(v) for k, v in table.items()} if isinstance(table, dict) else table


# ----------------------------------------------------------------------------- format 4 to 5


def _origin(candidate: Any) -> Any:
    """A candidate with the ``origin`` its ``mutation`` text tells (``records.Origin``): the engine
    wrote "warm start", "random", "immigrant: ...", "crossover ..." or "arch crossover: ...", and
    anything else for a mutation (a crossover that changed nothing wrote "no-op", as a mutation did:
    it reads as a mutation)."""
    if not isinstance(candidate, dict) or not isinstance(candidate.get("mutation"), str):
        return candidate
    text = candidate["mutation"]
    origin = (text if text in ("warm start", "random") else "immigrant" if text.startswith("immigrant")
              else "crossover" if text.startswith(("crossover", "arch crossover")) else "mutation")
    return {"origin": origin, **candidate}


_TO_5: dict[str, Step] = {
    "checkpoint": _filled({}, search=_filled({}, population=_each(_origin), hall_of_fame=_each(_origin))),
    "summary": _filled({}, hall_of_fame=_each(_origin), pareto_front=_each(_origin)),
    "candidate": _origin,
}


def _to_5(kind: str, data: Any) -> Any:
    return _TO_5.get(kind, lambda d: d)(data)


# ----------------------------------------------------------------------------- format 3 to 4

_task_result = _filled({"learning_rates": [], "scale": 1.0, "at_limit": False, "spread": 0.0, "per_seed": [],
                        "test_loss": None, "accuracy": None, "log_ratio": None})
_evaluation = _filled({"screened": False}, tasks=_values(_task_result))
_candidate = _filled({"screened": False, "held_out": None, "recommendation": None, "niche": []},
                     tasks=_values(_task_result), held_out=_evaluation)
_generation = _filled(dict.fromkeys(
    ("scale_equivalent", "screened", "fully_evaluated", "screened_per_s", "evaluated_per_s", "retried",
     "immigrants", "distinct_per_1000", "rejected", "training_s", "breeding_s", "niches_s", "bookkeeping_s",
     "complexity", "hall_of_fame_best", "niches", "population_niches", "compiled_shapes")))
_totals = _filled(dict.fromkeys(  # the engine counted from 0 what it had not counted
    ("evaluated", "cache_hits", "scale_equivalent", "screened", "fully_evaluated", "children"), 0))
_task_score = _filled({"learning_rates": [], "scale": 1.0, "at_limit": False, "tuned_per_seed": [],
                       "out_of_box_per_seed": [], "no_progress": None})
_references = _values(_values(_filled({}, adam=_task_score)))
_search = _filled({"shapes": []}, cache=_values(_filled({}, evaluation=_evaluation)),
                  population=_each(_candidate), hall_of_fame=_each(_candidate), logbook=_each(_generation),
                  totals=_totals)

_TO_4: dict[str, Step] = {
    "checkpoint": _filled({"held_out": {}}, search=_search, reference=_references,
                          held_out=_values(_evaluation)),
    "summary": _filled({"log_missing": 0, "niches": None, "forms": None}, totals=_totals,
                       reference=_references, hall_of_fame=_each(_candidate), pareto_front=_each(_candidate)),
    "candidate": _candidate,
    "generation": _generation,
    "calibration": _filled({"time": None}, tasks=_values(_filled({}, adam=_task_score))),
    "start": _filled({"commit": None}),
    "resume": _filled({"commit": None}),
}


def _to_4(kind: str, data: Any) -> Any:
    if kind == "generations" and isinstance(data, dict):  # the run's length: "from" and "to" then
        data = {("previous" if k == "from" else "generations" if k == "to" else k): v for k, v in data.items()}
    return _TO_4.get(kind, lambda d: d)(data)


# ----------------------------------------------------------------------------- formats 1 to 3

_SEARCH = ("rng", "generation", "next_id", "cache", "population", "hall_of_fame", "logbook", "totals", "shapes")


def _to_3(kind: str, data: Any) -> Any:
    """The search state's fields stood beside the checkpoint's."""
    if kind != "checkpoint" or not isinstance(data, dict):
        return data
    return {"search": {k: v for k, v in data.items() if k in _SEARCH},
            **{k: v for k, v in data.items() if k not in _SEARCH and k not in ("format", "version")}}


UPGRADES: dict[int, Callable[[str, Any], Any]] = {
    1: lambda kind, data: data,  # 1 to 2: the checksum, checked with the header
    2: _to_3,
    3: _to_4,
    4: _to_5,
}
