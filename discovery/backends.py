"""Where candidate evaluations run. One interface: ``map`` over encoded rules, results in order.

Rules travel as ``dsl.dumps`` bytes (plain data), never as DEAP objects, so
a backend can move them across processes or machines.
"""

from __future__ import annotations

from typing import Protocol

import dsl
from discovery.fitness import Evaluator


class Backend(Protocol):
    def map(self, encoded_rules: list[bytes]) -> list[dict]: ...

    def close(self) -> None: ...


class InProcessBackend:
    """Evaluates candidates one after another in this process (each one vmapped over lr x seed)."""

    def __init__(self, evaluator: Evaluator):
        self.evaluator = evaluator

    def map(self, encoded_rules: list[bytes]) -> list[dict]:
        return [self.evaluator.evaluate(dsl.loads(raw)) for raw in encoded_rules]

    def close(self) -> None:
        pass


def make_backend(name: str, evaluator: Evaluator) -> Backend:
    if name == "inprocess":
        return InProcessBackend(evaluator)
    raise ValueError(f"unknown backend {name!r}; available: 'inprocess'")
