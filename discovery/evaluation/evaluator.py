"""Fitness of candidates: rules trained on the run's tasks and scored against Adam, or
(rule, architecture) pairs scored by their held-out loss.

A rule's fitness is ``training.fitness``'s: per search task the log10 ratio of its tuned
score to Adam's, counted in decades within ``[evaluation] ratio_clip`` of Adam and graded
beyond it by the share of Adam's progress it misses (no progress: ``ratio_clip + 1``), then
the mean over tasks (lower is better; 0 is Adam; -1 is ten times lower loss or
suboptimality). Scores are rounded to 1e-4, so the tiny (<1e-5) differences between the
interpreter and native paths cannot reorder candidates.

Hurdle: the first search task is trained first; a candidate whose (unclipped) ratio there
exceeds ``hurdle`` stops, and the tasks it did not train count as no progress.

Screening (``[screening]``, ``screen``): the cheap first stage of a candidate, the hurdle
task alone under the screening protocol (one seed, a few lrs, few steps) against Adam under
the same protocol; its fitness counts the other tasks as no progress, like the hurdle's, and
``Evaluation.screened`` marks it. A pair is screened by its held-out loss under that protocol.

Which path (interpreter or native) trains each task is chosen once by the
cost model (``cost_model``) and recorded with Adam's reference scores.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

import dsl
from discovery import tasks
from discovery.codec import Stored, one_of, record, stored
from discovery.config import Config
from discovery.evaluation.cost_model import EXPECTED_NEW_STRUCTURES, PathCosts, measure
from discovery.records import (
    Evaluation,
    Recommendation,
    Split,
    TaskResult,
    decode_candidate,
    decode_screening,
)
from discovery.training import fitness, scoring, trainer, tuning
from discovery.training.optimizers import OPTIMIZERS

RECOMMEND_STEPS = 3  # candidate lrs per task: its tuned lr and 1, 2 half decades below
ADAM_DEFAULT_LR = OPTIMIZERS["adam"].default_lr
ARCHITECTURE_TASK = "architecture"  # the one task of a pair's Evaluation: the architecture's


@dataclasses.dataclass(frozen=True)
class TaskReference(Stored):
    """What every candidate on a task is compared with: Adam's scores, the path, its costs.

    Candidates start on the protocol's grid centred on Adam's tuned lr (``tuning.centered``).
    """

    adam: scoring.TaskScore = stored(record(scoring.TaskScore))
    path: trainer.TrainingPath = stored(one_of(trainer.PATHS))
    costs: PathCosts = stored(record(PathCosts))


References = dict[Split, dict[str, TaskReference]]  # [split][task]


@dataclasses.dataclass(frozen=True)
class Protocols:
    """The training protocol of each split."""

    search: scoring.Protocol
    held_out: scoring.Protocol
    screen: scoring.Protocol

    def of(self, split: Split) -> scoring.Protocol:
        return getattr(self, split)


def _pair_evaluation(tuned: tuning.Tuned, seconds: float, screened: bool = False) -> Evaluation:
    """A pair's ``Evaluation``: fitness log10 of its tuned held-out loss, with that lr's accuracy
    (None for a family whose task reports none)."""
    s, result = tuned.score, tuned.result
    best = int(np.flatnonzero(result.learning_rates == s.tuned_lr)[0])
    accuracy = float(np.mean(result.metrics["accuracy"][best])) if "accuracy" in result.metrics else None
    fitness = round(scoring.log_ratio(s.tuned, 1.0), 4)
    scores = TaskResult.from_score(s, fitness,  # log10 losses, like the rule runs' ratios
                                   round(scoring.log_ratio(s.robust, 1.0), 4),
                                   round(s.spread(), 4), test_loss=s.tuned, accuracy=accuracy)
    return Evaluation(fitness, {ARCHITECTURE_TASK: scores}, False, round(seconds, 4), screened)


class Evaluator:
    """Holds the tasks, the protocols, Adam's reference scores and the chosen paths."""

    def __init__(self, config: Config, reference: References | None = None):
        self.config = config
        size = config.tasks.size
        self.search_tasks = [tasks.get(n, size) for n in config.tasks.search]
        self.held_out_tasks = [tasks.get(n, config.tasks.held_out_size or size) for n in config.tasks.held_out]
        self.protocols = Protocols(search=config.protocol.training(),
                                   held_out=config.protocol.training(held_out=True),
                                   screen=config.protocol.screening(config.screening))
        self.hurdle = float(config.evaluation.hurdle)
        self.ratio_clip = float(config.evaluation.ratio_clip)
        self.reference: References = reference or {}
        self._architecture_tasks: dict[str, tasks.Task] = {}

    def prepare(self, split: Split = "search",
                new_structure_rate: float = EXPECTED_NEW_STRUCTURES) -> dict[str, TaskReference]:
        """Adam's reference scores and the path per task (measured once; kept on resume)."""
        if split in self.reference:
            return self.reference[split]
        if split == "screen":
            return self._prepare_screening()
        protocol = self.protocols.of(split)
        forced = self.config.evaluation.forced_path
        adam = dsl.library.get("adam")
        default_lr = ADAM_DEFAULT_LR if ADAM_DEFAULT_LR in protocol.learning_rates else None
        out = {}
        for task in self._tasks(split):
            costs = measure(adam, task, protocol, forced)
            path = forced or costs.choose(new_structure_rate)
            tuned = tuning.tune(adam, task, protocol, default_lr=default_lr, path=path)
            out[task.name] = TaskReference(tuned.score, path, costs)
        self.reference[split] = out
        return out

    def _prepare_screening(self) -> dict[str, TaskReference]:
        """Adam under the screening protocol on the hurdle task, on the search path."""
        task, search = self.search_tasks[0], self.prepare("search")[self.search_tasks[0].name]
        adam = tuning.tune(dsl.library.get("adam"), task, self.protocols.screen, path=search.path,
                           center=search.adam.tuned_lr)
        self.reference["screen"] = {task.name: TaskReference(adam.score, search.path, search.costs)}
        return self.reference["screen"]

    def evaluate_encoded(self, raw: bytes) -> Evaluation:
        """Evaluate what a backend received: a rule, or a (rule, architecture) pair, to screen
        (``records.encode_screening``) or in full."""
        inner = decode_screening(raw)
        rule, arch = decode_candidate(raw if inner is None else inner)
        if inner is not None:
            return self.screen(rule) if arch is None else self.evaluate_pair(rule, arch, screen=True)
        return self.evaluate(rule) if arch is None else self.evaluate_pair(rule, arch)

    def screen(self, rule: dsl.Rule) -> Evaluation:
        """The cheap first stage: ``rule`` on the hurdle task under the screening protocol,
        against Adam under the same protocol; the other tasks count as no progress."""
        start = time.perf_counter()
        task = self.search_tasks[0]
        ref = self.prepare("screen")[task.name]
        ours = tuning.tune(rule, task, self.protocols.screen, path=ref.path, center=ref.adam.tuned_lr).score
        result = self.task_result(ours, ref.adam)
        value = fitness.fitness([result.ratio], len(self.search_tasks), self.ratio_clip)
        return Evaluation(round(value, 4), {task.name: result}, False,
                          round(time.perf_counter() - start, 4), screened=True)

    def architecture_task(self, arch: tasks.Genes) -> tasks.Task:
        """The task that trains ``arch`` (its family's ``build`` at the run's size and budget)."""
        k = arch.key()
        if k not in self._architecture_tasks:
            self._architecture_tasks[k] = tasks.family_of(arch).build(
                arch, self.config.tasks.size, budget=self.config.coevolution.param_budget)
        return self._architecture_tasks[k]

    def evaluate_many(self, raws: list[bytes]) -> list[Evaluation]:
        """``[evaluate_encoded(raw) for raw in raws]``; with ``[coevolution] batch_architectures``,
        pairs whose architectures share a shape train together (``tuning.tune_many``)."""
        if not (self.config.evolves_architectures and self.config.coevolution.batch_architectures) or any(
                decode_screening(raw) is not None for raw in raws):
            return [self.evaluate_encoded(raw) for raw in raws]
        pairs = [decode_candidate(raw) for raw in raws]
        by_shape: dict[str, list[int]] = {}
        for i, (_, arch) in enumerate(pairs):
            by_shape.setdefault(self.architecture_task(arch).compile_key, []).append(i)
        out: list[Evaluation | None] = [None] * len(pairs)
        for members in by_shape.values():
            start = time.perf_counter()
            tuned = tuning.tune_many([pairs[i][0] for i in members],
                                     [self.architecture_task(pairs[i][1]) for i in members],
                                     self.protocols.search, metric="test", path=self._pair_path)
            seconds = (time.perf_counter() - start) / len(members)
            for i, t in zip(members, tuned):
                out[i] = _pair_evaluation(t, seconds)
        return out

    @property
    def _pair_path(self) -> trainer.TrainingPath:
        """``[evaluation] path`` if set; under "auto": with the rule held fixed the native path
        compiles faster than the interpreter; when rules vary too, the interpreter compiles
        once per shape for all rules."""
        return self.config.evaluation.forced_path or (trainer.INTERPRETER if self.config.evolves_rules
                                                      else trainer.NATIVE)

    def evaluate_pair(self, rule: dsl.Rule, arch: tasks.Genes, screen: bool = False) -> Evaluation:
        """Co-evolution fitness: log10 of the pair's tuned held-out loss (lr swept; lower is better),
        under the search protocol, or the screening one.

        Only a new shape (``arch.shape(budget)``: for the MLP family one network per width
        within the budget) is a new compilation; the architecture is data.
        """
        start = time.perf_counter()
        protocol = self.protocols.screen if screen else self.protocols.search
        tuned = tuning.tune(rule, self.architecture_task(arch), protocol, metric="test", path=self._pair_path)
        return _pair_evaluation(tuned, time.perf_counter() - start, screened=screen)

    def recommend(self, rule: dsl.Rule, evaluation: Evaluation, split: Split = "held_out") -> Recommendation:
        """The lr that trains every task of ``split`` without divergence with the best worst case.

        Candidates: each task's tuned lr (from ``evaluation``) and one and two half
        decades below it (smaller is safer), ``RECOMMEND_STEPS`` per task; every
        candidate trains on every task (one call per task, the same shape for every
        rule) and is scored as log10(seed-mean score / Adam's tuned score).
        """
        reference, protocol = self.prepare(split), self.protocols.of(split)
        tuned = [t.tuned_lr for t in evaluation.tasks.values()]
        lrs = np.asarray(sorted(lr * tuning.HALF_DECADE ** -k for lr in tuned for k in range(RECOMMEND_STEPS)))
        ratios, bad = {}, np.zeros(len(lrs), int)
        for task in self._tasks(split):
            result = trainer.train(rule, task, list(lrs), protocol.seeds, protocol.steps,
                                   path=reference[task.name].path,
                                   lanes=tuning.block_lanes(protocol))
            means = np.maximum(result.value.mean(axis=1), scoring.FLOOR)
            ratios[task.name] = np.log10(means / max(reference[task.name].adam.tuned, scoring.FLOOR))
            bad += result.diverged.any(axis=1)
        worst = np.max(list(ratios.values()), axis=0)
        best = min(range(len(lrs)), key=lambda i: (bad[i], round(float(worst[i]), 4), -lrs[i]))
        return Recommendation(lr=float(lrs[best]), split=split, worst=round(float(worst[best]), 4),
                              ratios={t: round(float(r[best]), 4) for t, r in ratios.items()},
                              trains_everywhere=bool(bad[best] == 0))

    def task_result(self, ours: scoring.TaskScore, adam: scoring.TaskScore) -> TaskResult:
        """``ours`` against Adam's ``adam`` on one task: graded tuned and robust scores
        (``fitness.task_score``), the unclipped log10 ratio, the combined seed noise."""
        tuned_ratio = scoring.log_ratio(ours.tuned, adam.tuned)
        robust_decades = None if adam.no_progress is None else scoring.log_ratio(adam.no_progress, adam.robust)
        tuned = fitness.task_score(tuned_ratio, scoring.adam_decades(adam), self.ratio_clip)
        robust = fitness.task_score(scoring.log_ratio(ours.robust, adam.robust), robust_decades, self.ratio_clip)
        return TaskResult.from_score(ours, round(tuned, 4), round(robust, 4),
                                     round(math.hypot(ours.spread(), adam.spread()), 4),
                                     log_ratio=round(tuned_ratio, 4))

    def _tasks(self, split: Split) -> list[tasks.Task]:
        return self.search_tasks if split == "search" else self.held_out_tasks

    def evaluate(self, rule: dsl.Rule, split: Split = "search") -> Evaluation:
        """Train ``rule`` on the split's tasks (hurdle first on search) and score it vs Adam."""
        reference = self.prepare(split)
        protocol = self.protocols.of(split)
        start = time.perf_counter()
        per_task: dict[str, TaskResult] = {}
        hurdle_failed = False
        for i, task in enumerate(self._tasks(split)):
            ref = reference[task.name]
            ours = tuning.tune(rule, task, protocol, path=ref.path, center=ref.adam.tuned_lr).score
            per_task[task.name] = self.task_result(ours, ref.adam)
            if split == "search" and i == 0 and per_task[task.name].log_ratio > self.hurdle:
                hurdle_failed = True
                break
        value = fitness.fitness([t.ratio for t in per_task.values()], len(self._tasks(split)), self.ratio_clip)
        return Evaluation(round(value, 4), per_task, hurdle_failed,
                          round(time.perf_counter() - start, 4))
