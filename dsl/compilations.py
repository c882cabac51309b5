"""Counting XLA compilations, the main cost of searching on small problems."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

from jax import monitoring

_EVENT = "/jax/core/compile/backend_compile_duration"  # one per XLA compilation
_PHASES = {  # what a new compilation costs in all: tracing, lowering, XLA
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    _EVENT,
}
_lock = threading.Lock()
_active: list[CompileCount] = []


@dataclass
class CompileCount:
    """Compilations seen inside a ``count_compilations()`` block, and their seconds
    (tracing, lowering and XLA compilation together)."""

    count: int = 0
    seconds: float = 0.0


def _listener(event: str, duration: float, **_) -> None:
    if event in _PHASES:
        with _lock:
            for counter in _active:
                counter.count += event == _EVENT
                counter.seconds += duration


monitoring.register_event_duration_secs_listener(_listener)


@contextlib.contextmanager
def count_compilations():
    """``with count_compilations() as c: ...`` then ``c.count`` XLA compilations happened."""
    counter = CompileCount()
    with _lock:
        _active.append(counter)
    try:
        yield counter
    finally:
        with _lock:
            _active.remove(counter)
