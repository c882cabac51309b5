"""The cost model: which path, interpreter or native, trains a task's candidates faster.

Per task, Adam is trained once through the interpreter and once natively,
measuring compile seconds (tracing, lowering and XLA, from JAX's compilation
events) and run seconds (the rest). A candidate then costs ``interp_run`` on
the interpreter and ``native_run + p_new * native_compile`` natively, where
``p_new`` is the expected share of candidates whose rule structure is not yet
compiled (mutations that only perturb constants reuse a native compile).

Example::

    costs = measure(dsl.library.get("adam"), task, protocol)
    costs.choose(new_structure_rate=0.5)      # "native" or "interpreter"
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time

import dsl
from discovery.codec import Stored, real, stored
from discovery.tasks import Task
from discovery.training import compiler, scoring, trainer

EXPECTED_NEW_STRUCTURES = 0.5


@dataclasses.dataclass(frozen=True)
class PathCosts(Stored):
    """Seconds measured for one task: compile and run, interpreter and native (NaN: not measured)."""

    interp_compile: float = stored(real)
    interp_run: float = stored(real)
    native_compile: float = stored(real)
    native_run: float = stored(real)

    def choose(self, new_structure_rate: float = EXPECTED_NEW_STRUCTURES) -> trainer.TrainingPath:
        native = self.native_run + new_structure_rate * self.native_compile
        return trainer.NATIVE if native < self.interp_run else trainer.INTERPRETER


_COMPILE_SECONDS: dict[tuple, float] = {}  # first measurement per trainer: later ones hit the cache


def measure(rule: dsl.Rule, task: Task, protocol: scoring.Protocol,
            forced: trainer.TrainingPath | None = None) -> PathCosts:
    """The seconds of one training of ``rule`` on each path (``timed_train``); with the interpreter
    ``forced``, the native path is not measured (NaN): no training will take it."""
    _, interp_compile, interp_run = timed_train(rule, task, protocol, trainer.INTERPRETER)
    if forced == trainer.INTERPRETER:
        return PathCosts(interp_compile, interp_run, math.nan, math.nan)
    _, native_compile, native_run = timed_train(rule, task, protocol, trainer.NATIVE)
    return PathCosts(interp_compile, interp_run, native_compile, native_run)


def timed_train(rule: dsl.Rule, task: Task, protocol: scoring.Protocol,
                path: trainer.TrainingPath) -> tuple[trainer.TrainResult, float, float]:
    """(result, compile seconds, run seconds) of one training of ``rule``.

    XLA's own compile time comes from its compilation events, so one training
    gives both numbers; a trainer compiled earlier in this process reuses the
    compile time measured then. The native path compiles for real, never loading from the
    persistent cache: its compile cost stands for a new rule structure's, which no cache holds
    (a load measured instead made a search from random rules choose native and pay a full
    compilation for each of its new structures, 30x slower per behaviour).
    """
    key = (task.compile_key, path, protocol.steps,
           len(protocol.learning_rates), len(protocol.seeds))
    fresh = compiler.without_persistent_cache() if path == trainer.NATIVE else contextlib.nullcontext()
    start = time.perf_counter()
    with dsl.count_compilations() as compiles, fresh:
        result = trainer.train(rule, task, protocol.learning_rates, protocol.seeds, protocol.steps,
                               path=path)
    total = time.perf_counter() - start
    if compiles.count:
        _COMPILE_SECONDS[key] = compiles.seconds
    compile_seconds = _COMPILE_SECONDS.get(key, 0.0)
    return result, compile_seconds, max(total - (compiles.seconds if compiles.count else 0.0), 0.0)
