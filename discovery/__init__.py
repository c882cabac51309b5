"""Evolutionary discovery of optimizer update rules: tasks, training, evolution, runs.

The notebook API (``discovery.api``): ``discovery.search``, ``discovery.run``,
``discovery.load_run`` and ``discovery.Run``, loaded on first use, so
``import discovery.tasks`` stays light (no DEAP, no backends).
"""

from __future__ import annotations

import importlib

_LAZY = {name: "discovery.api" for name in ("Run", "load_run", "run", "search")}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'discovery' has no attribute {name!r}")
