"""Evolutionary discovery of optimizer update rules: tasks, training, search, runs.

``discovery.run``, ``discovery.load_run`` and ``discovery.Run`` are loaded on
first use, so ``import discovery.tasks`` stays light (no DEAP, no backends).
"""

from __future__ import annotations

import importlib

_LAZY = {"Run": "discovery.runs", "load_run": "discovery.runs", "run": "discovery.runs"}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'discovery' has no attribute {name!r}")
