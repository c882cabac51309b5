"""Evolutionary discovery of optimizer update rules: tasks, training, search, runs."""

from discovery.runs import Run, load_run, run

__all__ = ["Run", "load_run", "run"]
