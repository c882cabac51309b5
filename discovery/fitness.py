"""Fitness of candidate rules: trained on the run's tasks, scored against Adam.

``fitness = mean over search tasks of log10(tuned score / Adam's tuned score)``
(lower is better; 0 is Adam; -1 is ten times lower loss or suboptimality).
Each task's ratio is clipped to +-RATIO_CLIP (a task solved to the float floor
must not outweigh all others) and rounded to 1e-4, so the tiny (<1e-5)
differences between the interpreter and native paths cannot reorder candidates.

Hurdle: the first search task is trained first; a candidate whose ratio there
exceeds ``hurdle`` stops, and its fitness is that ratio plus ``HURDLE_PENALTY``.

Cost model: per task, ``prepare`` trains Adam through the interpreter and
natively, measuring compile and run seconds. A candidate costs
``interp_run`` on the interpreter and ``native_run + p_new * native_compile``
natively (compile seconds from XLA's compilation events, run seconds the rest), where ``p_new`` is the share of candidates with a structure not yet
compiled; the cheaper path is chosen once per task and recorded.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

import dsl
from discovery import config as config_lib
from discovery import evaluate, scoring, tasks
from discovery.search.architectures import key as architecture_key
from discovery.search.engine import decode_candidate

HURDLE_PENALTY = 1.0
RATIO_CLIP = 3.0
EXPECTED_NEW_STRUCTURES = 0.5  # mutations that only perturb constants reuse a native compile
ADAM_DEFAULT_LR = 1e-3


@dataclasses.dataclass(frozen=True)
class PathCosts:
    """Seconds measured for one task: compile and run, interpreter and native."""

    interp_compile: float
    interp_run: float
    native_compile: float
    native_run: float

    def choose(self, new_structure_rate: float) -> str:
        native = self.native_run + new_structure_rate * self.native_compile
        return "native" if native < self.interp_run else "interpreter"


_COMPILE_SECONDS: dict[tuple, float] = {}  # first measurement per trainer: later ones hit the cache


def _timed_train(rule, task, protocol, path):
    """(result, compile seconds, run seconds) of one training of ``rule``.

    XLA's own compile time comes from its compilation events, so one training
    gives both numbers; a trainer compiled earlier in this process reuses the
    compile time measured then.
    """
    key = (task.name, repr(sorted(task.sizes.items())), path, protocol.steps,
           len(protocol.learning_rates), len(protocol.seeds))
    start = time.perf_counter()
    with dsl.count_compilations() as compiles:
        result = evaluate.train(rule, task, protocol.learning_rates, protocol.seeds, protocol.steps,
                                path=path)
    total = time.perf_counter() - start
    if compiles.count:
        _COMPILE_SECONDS[key] = compiles.seconds
    compile_seconds = _COMPILE_SECONDS.get(key, 0.0)
    return result, compile_seconds, max(total - (compiles.seconds if compiles.count else 0.0), 0.0)


def _clip(ratio: float) -> float:
    return round(float(np.clip(ratio, -RATIO_CLIP, RATIO_CLIP)), 4)


class Evaluator:
    """Holds the tasks, the protocol, Adam's reference scores and the chosen paths."""

    def __init__(self, config: dict, reference: dict | None = None):
        self.config = config
        size = config["tasks"]["size"]
        self.search_tasks = [tasks.get(n, size) for n in config["tasks"]["search"]]
        self.held_out_tasks = [tasks.get(n, size) for n in config["tasks"]["held_out"]]
        self.protocols = {"search": config_lib.protocol(config),
                          "held_out": config_lib.protocol(config, held_out=True)}
        self.hurdle = float(config["evaluation"]["hurdle"])
        # reference[split][task] = {"adam": TaskScore dict, "path": str, "costs": PathCosts dict}
        self.reference: dict[str, dict] = reference or {}
        self._architecture_tasks: dict[str, tasks.Task] = {}

    def prepare(self, split: str = "search", new_structure_rate: float = EXPECTED_NEW_STRUCTURES) -> dict:
        """Adam's reference scores and the path per task (measured once; kept on resume)."""
        if split in self.reference:
            return self.reference[split]
        protocol = self.protocols[split]
        forced = self.config["evaluation"]["path"]
        adam = dsl.library.get("adam")
        default_lr = ADAM_DEFAULT_LR if ADAM_DEFAULT_LR in protocol.learning_rates else None
        out = {}
        for task in self._tasks(split):
            result, ic, ir = _timed_train(adam, task, protocol, "interpreter")
            if forced == "interpreter":
                costs = PathCosts(ic, ir, float("nan"), float("nan"))
                path = "interpreter"
            else:
                native, nc, nr = _timed_train(adam, task, protocol, "native")
                costs = PathCosts(ic, ir, nc, nr)
                path = forced if forced == "native" else costs.choose(new_structure_rate)
            out[task.name] = {
                "adam": scoring.score(result, default_lr).to_dict(),
                "path": path,
                "costs": dataclasses.asdict(costs),
            }
        self.reference[split] = out
        return out

    def evaluate_encoded(self, raw: bytes) -> dict:
        """Evaluate what a backend received: a rule, or a (rule, architecture) pair."""
        rule, arch = decode_candidate(raw)
        return self.evaluate(rule) if arch is None else self.evaluate_pair(rule, arch)

    def architecture_task(self, arch: tasks.Architecture) -> tasks.Task:
        k = architecture_key(arch)
        if k not in self._architecture_tasks:
            self._architecture_tasks[k] = tasks.from_architecture(arch, self.config["tasks"]["size"])
        return self._architecture_tasks[k]

    def evaluate_pair(self, rule: dsl.Rule, arch: tasks.Architecture) -> dict:
        """Co-evolution fitness: log10 of the pair's tuned held-out loss (lr swept; lower is better).

        Every new architecture is a new compilation. With the rule held fixed
        the native path compiles about twice as fast as the interpreter; when
        rules vary too, the interpreter compiles once per architecture for all.
        """
        protocol = self.protocols["search"]
        start = time.perf_counter()
        task = self.architecture_task(arch)
        path = "native" if self.config["coevolution"]["mode"] == "architectures" else "interpreter"
        result = evaluate.train(rule, task, protocol.learning_rates, protocol.seeds, protocol.steps,
                                path=path)
        s = scoring.score(result, metric="test")
        best = int(np.argmin(result.test_value.mean(axis=1)))
        accuracy = float(np.mean(result.metrics["accuracy"][best]))
        fitness = round(scoring.log_ratio(s.tuned, 1.0), 4)
        return {
            "fitness": fitness,
            "tasks": {"architecture": {"ratio": fitness,  # log10 losses, like the rule runs' ratios
                                       "robust_ratio": round(scoring.log_ratio(s.robust, 1.0), 4),
                                       "tuned": s.tuned, "test_loss": s.tuned, "tuned_lr": s.tuned_lr,
                                       "accuracy": accuracy, "diverged": s.diverged_fraction}},
            "hurdle_failed": False,
            "seconds": round(time.perf_counter() - start, 4),
        }

    def _tasks(self, split: str):
        return self.search_tasks if split == "search" else self.held_out_tasks

    def evaluate(self, rule: dsl.Rule, split: str = "search") -> dict:
        """Train ``rule`` on the split's tasks (hurdle first on search) and score it vs Adam."""
        reference = self.prepare(split)
        protocol = self.protocols[split]
        start = time.perf_counter()
        per_task: dict[str, dict] = {}
        hurdle_failed = False
        for i, task in enumerate(self._tasks(split)):
            ref = reference[task.name]
            result = evaluate.train(rule, task, protocol.learning_rates, protocol.seeds,
                                    protocol.steps, path=ref["path"])
            ours = scoring.score(result)
            adam = scoring.TaskScore(**ref["adam"])
            ratios = scoring.versus(ours, adam)
            per_task[task.name] = {
                "ratio": _clip(ratios["tuned"]),
                "robust_ratio": _clip(ratios["robust"]),
                "tuned": ours.tuned,
                "tuned_lr": ours.tuned_lr,
                "diverged": ours.diverged_fraction,
            }
            if split == "search" and i == 0 and per_task[task.name]["ratio"] > self.hurdle:
                hurdle_failed = True
                break
        ratios = [t["ratio"] for t in per_task.values()]
        fitness = ratios[0] + HURDLE_PENALTY if hurdle_failed else float(np.mean(ratios))
        return {
            "fitness": round(fitness, 4),
            "tasks": per_task,
            "hurdle_failed": hurdle_failed,
            "seconds": round(time.perf_counter() - start, 4),
        }
