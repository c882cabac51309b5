"""The records that travel between search, evaluation, runs and analysis, with one shape each.

* ``TaskResult``  one candidate's scores on one task;
* ``Evaluation``  what evaluating a candidate gives: fitness, per-task results, hurdle, seconds;
* ``Candidate``   an evaluated candidate as the run logs it: rule (and architecture, stored with
  the name of its family: ``tasks.architecture_record``; a record without one is the MLP
  family's), identity, lineage and its evaluation (plus its held-out evaluation once re-checked).

Each is a frozen dataclass with ``to_dict``/``from_dict`` for msgpack and
JSON (``log.jsonl``, checkpoints, ``summary.json``); code reads fields by
attribute. JSON holds non-finite floats as the strings NaN, Infinity and
-Infinity (``real`` reads them); ``decode`` turns stored data of the wrong
shape into a ``RecordError`` that names where it was read. ``encode_candidate``/``decode_candidate`` are the bytes a backend
receives: a rule, or a (rule, architecture) pair, as plain msgpack data.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import msgpack

import dsl
from discovery.tasks import Genes, architecture_from_record, architecture_record
from discovery.training import fitness

T = TypeVar("T")
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class RecordError(ValueError):
    """Stored data that does not have a record's shape; the message says where it was read."""


def decode(from_dict: Callable[[Any], T], data: Any, where: str) -> T:
    """``from_dict(data)``, any error of shape or type raised as a ``RecordError`` naming ``where``."""
    try:
        return from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as e:
        raise RecordError(f"{where}: malformed record ({type(e).__name__}: {e})") from None


def real(value: Any) -> float:
    """A stored float: a number, or one of the strings NaN, Infinity, -Infinity (strict JSON)."""
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {str(value)[:40]!r}")


# ----------------------------------------------------------------------------- typed fields
# A stored record's dataclass declares a reader per field (``stored``): the function that
# checks and converts the stored value, so the fields themselves drive validation.

Reader = Callable[[Any], Any]


def whole(low: int = 0) -> Reader:
    """An integer >= ``low`` (not a bool)."""
    def read(value: Any) -> int:
        if type(value) is not int or value < low:
            raise TypeError(f"expected an integer >= {low}, got {str(value)[:40]!r}")
        return value
    return read


def sequence(item: Reader) -> Reader:
    """A list, each item read by ``item``; a tuple."""
    def read(value: Any) -> tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        out = []
        for i, x in enumerate(value):
            try:
                out.append(item(x))
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
                raise TypeError(f"item {i}: {e}") from None
        return tuple(out)
    return read


def mapping(value: Reader) -> Reader:
    """A dict from strings to values read by ``value``."""
    def read(data: Any) -> dict:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected a table, got {type(data).__name__}")
        out = {}
        for k, v in data.items():
            if not isinstance(k, str):
                raise TypeError(f"expected text keys, got {str(k)[:40]!r}")
            try:
                out[k] = value(v)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
                raise TypeError(f"entry {k[:40]!r}: {e}") from None
        return out
    return read


def text(value: Any) -> str:
    """A string."""
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {str(value)[:40]!r}")
    return value


def optional(reader: Reader) -> Reader:
    """None, or a value read by ``reader``."""
    return lambda value: None if value is None else reader(value)


def record(cls: type) -> Reader:
    """A nested record, read by ``cls.from_dict``."""
    return cls.from_dict


def stored(reader: Reader, default: Any = dataclasses.MISSING, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field read from stored data by ``reader`` (``read_fields``); ``default`` (or
    ``default_factory``), if given, stands in for a field that records written before it
    existed lack."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"reader": reader})


def plain(value: Any) -> Any:
    """``value`` as stored: a record by its ``to_dict``, another dataclass field by field, tuples
    as lists, tables and lists item by item."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(x) for x in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class Stored:
    """A dataclass whose every field is declared with ``stored(reader)``: it is stored as the table
    of its fields in order (``plain``) and read back through their readers (``read_fields``)."""

    def to_dict(self) -> dict:
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None):
        return cls(**read_fields(cls, data, where or f"{cls.__name__} record"))


def read_fields(cls: type, data: Any, where: str) -> dict[str, Any]:
    """The values of ``cls``'s fields read from ``data`` by their readers; a missing field
    without a default, an unknown key or a malformed value is a one-line ``RecordError``
    naming ``where`` and the field."""
    if not isinstance(data, Mapping):
        raise RecordError(f"{where}: expected a table of fields, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(str(k) for k in data if k not in fields)
    if unknown:
        raise RecordError(f"{where}: unknown field(s) {unknown[:5]}; fields: {list(fields)}")
    values = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(f"{where}: field {name!r} is missing")
            values[name] = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            continue
        try:
            values[name] = f.metadata["reader"](data[name])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as e:
            raise RecordError(f"{where}: field {name!r} is malformed: {e}") from None
    return values


@dataclasses.dataclass(frozen=True)
class TaskResult:
    """Scores of one candidate on one task.

    ``ratio``/``robust_ratio``: the task's score in the fitness (``training.fitness``: the
    log10 ratio to Adam's tuned score within ``ratio_clip`` decades, graded beyond), and the
    same of the robust scores; ``log_ratio``: log10(tuned / Adam's tuned), unclipped (None in
    records written before it was kept); for (rule, architecture) pairs, ``ratio`` is log10 of
    the held-out loss.
    ``tuned``: the tuned score; ``tuned_lr``: its learning rate; ``diverged``:
    the fraction of (lr, seed) trainings that diverged. The protocol travels
    with the score: ``learning_rates`` tried, the grid's ``scale``, ``at_limit``
    (the optimum sits at the edge of what bracketing may try). Pairs also report
    the tuned held-out ``test_loss`` and its ``accuracy``.
    """

    ratio: float
    robust_ratio: float
    tuned: float
    tuned_lr: float
    diverged: float
    learning_rates: tuple[float, ...] = ()
    scale: float = 1.0
    at_limit: bool = False
    spread: float = 0.0
    per_seed: tuple[float, ...] = ()
    test_loss: float | None = None
    accuracy: float | None = None
    log_ratio: float | None = None

    @classmethod
    def from_score(cls, score, ratio: float, robust_ratio: float, spread: float = 0.0,
                   **extra) -> TaskResult:
        """From a ``scoring.TaskScore`` and its ratios; ``spread``: the standard error of
        ``ratio`` over seeds; ``extra``: test_loss, accuracy, log_ratio."""
        return cls(ratio=ratio, robust_ratio=robust_ratio, tuned=score.tuned, tuned_lr=score.tuned_lr,
                   diverged=score.diverged_fraction, learning_rates=score.learning_rates,
                   scale=score.scale, at_limit=score.at_limit, spread=spread,
                   per_seed=score.tuned_per_seed, **extra)

    def rescaled(self, factor: float) -> TaskResult:
        """The result of the same rule times ``factor`` > 0: fair tuning gives the same scores
        at learning rates ``factor`` times smaller (``tuning``: the grid follows the scale)."""
        return dataclasses.replace(self, tuned_lr=self.tuned_lr / factor, scale=self.scale / factor,
                                   learning_rates=tuple(lr / factor for lr in self.learning_rates))

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "learning_rates": list(self.learning_rates),
                "per_seed": list(self.per_seed)}

    @classmethod
    def from_dict(cls, data: Mapping) -> TaskResult:
        """Fields with defaults are optional in ``data`` (records written before they existed)."""
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        for f in dataclasses.fields(cls):
            if f.name in values and f.type.startswith("float") and values[f.name] is not None:
                values[f.name] = real(values[f.name])
        return cls(**{**values, **{k: tuple(map(real, values.get(k, ())))
                                   for k in ("learning_rates", "per_seed")}})


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """A candidate's fitness (lower is better), its per-task results, and whether it
    stopped at the hurdle; ``seconds`` of evaluation (not part of the outcome); ``screened``:
    only screened (``[screening]``: the hurdle task, cheaply), not promoted to the full evaluation."""

    fitness: float
    tasks: dict[str, TaskResult]
    hurdle_failed: bool
    seconds: float
    screened: bool = False

    def rescaled(self, factor: float) -> Evaluation:
        """This evaluation for the rule times ``factor`` (``TaskResult.rescaled``)."""
        return dataclasses.replace(self, tasks={k: v.rescaled(factor) for k, v in self.tasks.items()})

    @property
    def noise(self) -> float:
        """Two standard errors of ``fitness`` (the mean ratio) over seeds: a difference from
        Adam (0) smaller than this is a tie (``training.fitness.noise``)."""
        return fitness.noise([t.spread for t in self.tasks.values()])

    def to_dict(self) -> dict[str, Any]:
        return dict(self._plain)

    @functools.cached_property
    def _plain(self) -> dict[str, Any]:
        """Computed once: every checkpoint writes every evaluation of the search's cache again."""
        return {"fitness": self.fitness, "tasks": {k: v.to_dict() for k, v in self.tasks.items()},
                "hurdle_failed": self.hurdle_failed, "seconds": self.seconds, "screened": self.screened}

    @classmethod
    def from_dict(cls, data: Mapping) -> Evaluation:
        return cls(fitness=real(data["fitness"]),
                   tasks={k: TaskResult.from_dict(v) for k, v in data["tasks"].items()},
                   hurdle_failed=data["hurdle_failed"], seconds=real(data["seconds"]),
                   screened=bool(data.get("screened", False)))


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """The learning rate recommended for a rule: one that trained every task of ``split``
    without divergence, chosen for the best worst case over those tasks.

    ``ratios[task]``: log10(score at ``lr`` / Adam's tuned score), the rule's
    out-of-the-box score at its recommended lr; ``worst``: their maximum;
    ``trains_everywhere``: no seed diverged on any task at ``lr`` (if no lr
    qualified, the one with the fewest diverging tasks, flagged False).
    """

    lr: float
    split: str
    worst: float
    ratios: dict[str, float]
    trains_everywhere: bool

    def rescaled(self, factor: float) -> Recommendation:
        """The recommendation for the same rule times ``factor`` > 0: an lr ``factor`` times smaller."""
        return dataclasses.replace(self, lr=self.lr / factor)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Recommendation:
        return cls(**{**data, "lr": real(data["lr"]), "worst": real(data["worst"]),
                      "ratios": {k: real(v) for k, v in data["ratios"].items()}})


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One evaluated candidate of a run.

    ``key`` is what deduplication uses: the rule's scale-free behavioural key
    (``dsl.behaviour``: rules that differ by a positive factor share it, being the
    same optimizer once the lr is tuned), plus the architecture's key in
    co-evolution; ``fingerprint`` is the exact functional hash. ``simplified`` is
    the rule as reported (``dsl.simplify``; hall-of-fame entries ``dsl.prune``),
    ``text`` and ``complexity`` are its; ``parents`` are candidate ids;
    ``cached`` says the evaluation was reused from an equivalent candidate. ``niche``: for a
    reported entry (hall of fame), the ids of the other candidates that are the same optimizer
    (``evolution.niches``), best first.
    """

    id: int
    generation: int
    rule: dsl.Rule
    architecture: Genes | None
    simplified: dsl.Rule
    text: str
    complexity: int
    fingerprint: str
    key: str
    parents: tuple[int, ...]
    mutation: str
    cached: bool
    evaluation: Evaluation
    held_out: Evaluation | None = None
    recommendation: Recommendation | None = None
    niche: tuple[int, ...] = ()

    @property
    def fitness(self) -> float:
        return self.evaluation.fitness

    @property
    def tasks(self) -> dict[str, TaskResult]:
        return self.evaluation.tasks

    @property
    def hurdle_failed(self) -> bool:
        return self.evaluation.hurdle_failed

    @property
    def recommended_lr(self) -> float:
        """The run's recommendation (``Evaluator.recommend``: trains every held-out task without
        divergence, best worst case); before the run finishes, the geometric median over the
        search tasks of the tuned learning rate. To 3 significant digits."""
        if self.recommendation is not None:
            return float(f"{self.recommendation.lr:.3g}")
        exponent = statistics.median(math.log10(t.tuned_lr) for t in self.tasks.values())
        return float(f"{10 ** exponent:.3g}")

    def to_dict(self) -> dict[str, Any]:
        """Flat plain data: identity fields, then the evaluation's fields, then ``held_out``."""
        return dict(self._plain)

    @functools.cached_property
    def _plain(self) -> dict[str, Any]:  # once: every checkpoint writes the population again
        return {
            "id": self.id, "generation": self.generation, "rule": dsl.to_dict(self.rule),
            "architecture": None if self.architecture is None else architecture_record(self.architecture),
            "simplified": dsl.to_dict(self.simplified),
            "text": self.text, "complexity": self.complexity, "fingerprint": self.fingerprint,
            "key": self.key, "parents": list(self.parents), "mutation": self.mutation,
            "cached": self.cached, **self.evaluation.to_dict(),
            "held_out": None if self.held_out is None else self.held_out.to_dict(),
            "recommendation": None if self.recommendation is None else self.recommendation.to_dict(),
            "niche": list(self.niche),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Candidate:
        arch, held, recommended = data["architecture"], data.get("held_out"), data.get("recommendation")
        return cls(
            id=data["id"], generation=data["generation"], rule=dsl.from_dict(data["rule"]),
            architecture=None if arch is None else architecture_from_record(arch),
            simplified=dsl.from_dict(data["simplified"]),
            text=data["text"], complexity=data["complexity"], fingerprint=data["fingerprint"],
            key=data["key"], parents=tuple(data["parents"]), mutation=data["mutation"],
            cached=data["cached"], evaluation=Evaluation.from_dict(data),
            held_out=None if held is None else Evaluation.from_dict(held),
            recommendation=None if recommended is None else Recommendation.from_dict(recommended),
            niche=tuple(whole()(i) for i in data.get("niche", ())),
        )


def pareto_front(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Candidates not dominated in (complexity, fitness), simplest first (PySR's table)."""
    front: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: (c.complexity, c.fitness, c.id)):
        if not front or c.fitness < front[-1].fitness:
            front.append(c)
    return front


PAIR_FORMAT = "candidate-pair"


def encode_candidate(rule: dsl.Rule, arch: Genes | None) -> bytes:
    """What a backend receives: the rule's bytes, or a (rule, architecture) pair's (the architecture
    as ``tasks.architecture_record``: its family and genes)."""
    if arch is None:
        return dsl.dumps(rule)
    return msgpack.packb({"format": PAIR_FORMAT, "rule": dsl.to_dict(rule),
                          "architecture": architecture_record(arch)}, use_bin_type=True)


def decode_candidate(raw: bytes) -> tuple[dsl.Rule, Genes | None]:
    """Inverse of ``encode_candidate``; reads data only."""
    data = msgpack.unpackb(raw, raw=False)
    if isinstance(data, dict) and data.get("format") == PAIR_FORMAT:
        return dsl.from_dict(data["rule"]), architecture_from_record(data["architecture"])
    return dsl.from_dict(data), None


SCREEN_FORMAT = "candidate-screen"


def encode_screening(raw: bytes) -> bytes:
    """What a backend receives to screen (not fully evaluate) the candidate ``raw`` encodes."""
    return msgpack.packb({"format": SCREEN_FORMAT, "candidate": raw}, use_bin_type=True)


def decode_screening(raw: bytes) -> bytes | None:
    """The candidate ``raw`` asks to screen, or None if it asks for a full evaluation."""
    data = msgpack.unpackb(raw, raw=False)
    if isinstance(data, dict) and data.get("format") == SCREEN_FORMAT:
        return data["candidate"]
    return None
