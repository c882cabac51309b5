"""Counting XLA compilations, the main cost of searching on small problems.

An executable loaded from JAX's persistent compilation cache counts too (``loaded``): it is a
new executable all the same, so "a new rule compiles nothing" means no new executable at all,
whether or not a cache is on.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

from jax import monitoring

_EVENT = "/jax/core/compile/backend_compile_duration"  # one per XLA compilation
_LOADED = "/jax/compilation_cache/cache_retrieval_time_sec"  # one per persistent-cache hit
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
    (tracing, lowering and XLA compilation together); ``count`` includes the ``loaded``
    executables (persistent-cache hits)."""

    count: int = 0
    seconds: float = 0.0
    loaded: int = 0


def _listener(event: str, duration: float, **_) -> None:
    if event in _PHASES or event == _LOADED:
        with _lock:
            for counter in _active:
                counter.count += event == _EVENT  # emitted for a cache hit too
                counter.loaded += event == _LOADED
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
