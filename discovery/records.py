"""The records that travel between search, evaluation, runs and analysis, with one shape each.

* ``TaskResult``  one candidate's scores on one task;
* ``Evaluation``  what evaluating a candidate gives: fitness, per-task results, hurdle, seconds;
* ``Candidate``   an evaluated candidate as the run logs it: rule (and architecture, stored with
  the name of its family: ``tasks.architecture_record``; a record without one is the MLP
  family's), identity, lineage and its evaluation (plus its held-out evaluation once re-checked).

Each is a frozen dataclass stored through the codec (``discovery.codec``: a reader per field)
in msgpack and JSON (``log.jsonl``, checkpoints, ``summary.json``); code reads fields by
attribute. A candidate is stored flat: its evaluation's fields beside its own. Records written
by older code are upgraded before they are read (``discovery.runs.upgrade``).
``encode_candidate``/``decode_candidate`` are the bytes a backend receives: a rule, or a (rule,
architecture) pair, as plain msgpack data.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable
from typing import Literal, get_args

import msgpack

import dsl
from discovery import codec
from discovery.codec import (
    Frozen,
    Stored,
    flag,
    mapping,
    one_of,
    optional,
    real,
    record,
    sequence,
    stored,
    whole,
)
from discovery.tasks import Genes, architecture_from_record, architecture_record
from discovery.training import fitness

Origin = Literal["warm start", "random", "immigrant", "mutation", "crossover"]  # how a candidate was made
ORIGINS: tuple[Origin, ...] = get_args(Origin)
Split = Literal["search", "held_out", "screen"]  # the tasks a rule is scored on: the search's, the
SPLITS: tuple[Split, ...] = get_args(Split)  # held-out ones, or the hurdle task cheaply (screening)

@dataclasses.dataclass(frozen=True)
class TaskResult(Stored):
    """Scores of one candidate on one task.

    ``ratio``/``robust_ratio``: the task's score in the fitness (``training.fitness``: the
    log10 ratio to Adam's tuned score within ``ratio_clip`` decades, graded beyond), and the
    same of the robust scores; ``log_ratio``: log10(tuned / Adam's tuned), unclipped (None
    for a pair, or unknown: ``runs.upgrade``); for (rule, architecture) pairs, ``ratio`` is log10
    of the held-out loss.
    ``tuned``: the tuned score; ``tuned_lr``: its learning rate; ``diverged``:
    the fraction of (lr, seed) trainings that diverged. The protocol travels
    with the score: ``learning_rates`` tried, the grid's ``scale``, ``at_limit``
    (the optimum sits at the edge of what bracketing may try). Pairs also report
    the tuned held-out ``test_loss`` and its ``accuracy``.
    """

    ratio: float = stored(real)
    robust_ratio: float = stored(real)
    tuned: float = stored(real)
    tuned_lr: float = stored(real)
    diverged: float = stored(real)
    learning_rates: tuple[float, ...] = stored(sequence(real), default=())
    scale: float = stored(real, default=1.0)
    at_limit: bool = stored(flag, default=False)
    spread: float = stored(real, default=0.0)
    per_seed: tuple[float, ...] = stored(sequence(real), default=())
    test_loss: float | None = stored(optional(real), default=None)
    accuracy: float | None = stored(optional(real), default=None)
    log_ratio: float | None = stored(optional(real), default=None)

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


@dataclasses.dataclass(frozen=True)
class Evaluation(Frozen):
    """A candidate's fitness (lower is better), its per-task results, and whether it
    stopped at the hurdle; ``seconds`` of evaluation (not part of the outcome); ``screened``:
    only screened (``[screening]``: the hurdle task, cheaply), not promoted to the full evaluation."""

    fitness: float = stored(real)
    tasks: dict[str, TaskResult] = stored(mapping(record(TaskResult)))
    hurdle_failed: bool = stored(flag)
    seconds: float = stored(real)
    screened: bool = stored(flag, default=False)

    def rescaled(self, factor: float) -> Evaluation:
        """This evaluation for the rule times ``factor`` (``TaskResult.rescaled``)."""
        return dataclasses.replace(self, tasks={k: v.rescaled(factor) for k, v in self.tasks.items()})

    @property
    def noise(self) -> float:
        """Two standard errors of ``fitness`` (the mean ratio) over seeds: a difference from
        Adam (0) smaller than this is a tie (``training.fitness.noise``)."""
        return fitness.noise([t.spread for t in self.tasks.values()])


@dataclasses.dataclass(frozen=True)
class Recommendation(Stored):
    """The learning rate recommended for a rule: one that trained every task of ``split``
    without divergence, chosen for the best worst case over those tasks.

    ``ratios[task]``: log10(score at ``lr`` / Adam's tuned score), the rule's
    out-of-the-box score at its recommended lr; ``worst``: their maximum;
    ``trains_everywhere``: no seed diverged on any task at ``lr`` (if no lr
    qualified, the one with the fewest diverging tasks, flagged False).
    """

    lr: float = stored(real)
    split: Split = stored(one_of(SPLITS))
    worst: float = stored(real)
    ratios: dict[str, float] = stored(mapping(real))
    trains_everywhere: bool = stored(flag)

    def rescaled(self, factor: float) -> Recommendation:
        """The recommendation for the same rule times ``factor`` > 0: an lr ``factor`` times smaller."""
        return dataclasses.replace(self, lr=self.lr / factor)


def _architecture(genes: Genes | None) -> dict | None:
    """An architecture as stored: its family's name and genes (``tasks.architecture_record``)."""
    return None if genes is None else architecture_record(genes)


@dataclasses.dataclass(frozen=True)
class Candidate(Frozen):
    """One evaluated candidate of a run.

    ``key`` is what deduplication uses: the rule's scale-free behavioural key
    (``dsl.behaviour``: rules that differ by a positive factor share it, being the
    same optimizer once the lr is tuned), plus the architecture's key in
    co-evolution; ``fingerprint`` is the exact functional hash. ``simplified`` is
    the rule as reported (``dsl.simplify``; hall-of-fame entries ``dsl.prune``),
    ``text`` and ``complexity`` are its; ``parents`` are candidate ids; ``origin`` is how it was
    made (``Origin``: a warm start, a random rule of the first generation or of random search,
    an immigrant, a mutation or a crossover of its parents), ``mutation`` what was done, for
    people (``"insert m = ..."``); ``cached`` says the evaluation was reused from an equivalent candidate. ``niche``: for a
    reported entry (hall of fame), the ids of the other candidates that are the same optimizer
    (``evolution.niches``), best first.
    """

    id: int = stored(whole())
    generation: int = stored(whole())
    rule: dsl.Rule = stored(dsl.from_dict, writer=dsl.to_dict)
    architecture: Genes | None = stored(optional(architecture_from_record), writer=_architecture)
    simplified: dsl.Rule = stored(dsl.from_dict, writer=dsl.to_dict)
    text: str = stored(codec.text)
    complexity: int = stored(whole())
    fingerprint: str = stored(codec.text)
    key: str = stored(codec.text)
    parents: tuple[int, ...] = stored(sequence(whole()))
    origin: Origin = stored(one_of(ORIGINS))
    mutation: str = stored(codec.text)
    cached: bool = stored(flag)
    evaluation: Evaluation = stored(record(Evaluation), inline=Evaluation)
    held_out: Evaluation | None = stored(optional(record(Evaluation)), default=None)
    recommendation: Recommendation | None = stored(optional(record(Recommendation)), default=None)
    niche: tuple[int, ...] = stored(sequence(whole()), default=())

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
    def evolved(self) -> bool:
        """Made by the search, not a warm start (a library rule as given)."""
        return self.origin != "warm start"

    @property
    def recommended_lr(self) -> float:
        """The run's recommendation (``Evaluator.recommend``: trains every held-out task without
        divergence, best worst case); before the run finishes, the geometric median over the
        search tasks of the tuned learning rate. To 3 significant digits."""
        if self.recommendation is not None:
            return float(f"{self.recommendation.lr:.3g}")
        exponent = statistics.median(math.log10(t.tuned_lr) for t in self.tasks.values())
        return float(f"{10 ** exponent:.3g}")


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
