"""The notebook API: search your own problem, then read, use and export what was found.

Example::

    import discovery
    from discovery import tasks

    task = tasks.make_task("my_logreg", loss, init, {"x": x, "y": y}, batch_size=64)
    run = discovery.search([task], held_out=["mf_k1"], generations=5, population=8)
    print(run.table())                      # the hall of fame, with the recommended pick
    opt = run.to_optax()                    # the pick, an optax.GradientTransformation at its recommended lr
    run.export(path="my_opt.py")            # the pick as a standalone module (jax + optax only)

``search`` returns the same ``Run`` as ``load_run(run.path)`` in any later process:
``inspect`` and ``export`` there need nothing registered, ``--resume`` needs the
task registered again or named by import path (``"package.module:factory"``).

The ask/tell loop underneath (``discovery.evolution.engine.Evolution``: ``step()`` breeds,
evaluates through a ``map`` function and selects one generation) is internal: its
checkpoint format and arguments may change; ``search`` and ``run`` are the supported entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from discovery import config as config_lib
from discovery import runs, tasks
from discovery.analysis import export as export_lib
from discovery.analysis import inspection

_SUFFIX_FORMATS = {".py": "py", ".msgpack": "msgpack"}


class Run(runs.Run):
    """A run folder as Python data (``runs.Run``), plus the analysis a notebook wants."""

    def table(self, fmt: str = "table", top: int | None = None) -> str:
        """The hall of fame and the Pareto front: ``table`` (text), ``csv`` or ``json``."""
        return inspection.render(self, fmt, top)

    def pick(self) -> int:
        """Rank of the recommended rule (``inspect`` marks it ``>``): the default of ``export``
        and ``to_optax``. Rank 1 is the best search fitness, often not the best held out."""
        return inspection.pick(self)

    def to_optax(self, rank: int | None = None, learning_rate: float | None = None):
        """Hall-of-fame rule ``rank`` (default: ``pick()``), as reported, as an
        ``optax.GradientTransformation`` at ``learning_rate`` or the run's recommended one."""
        return super().to_optax(export_lib.chosen_rank(self, rank), learning_rate)

    def export(self, rank: int | None = None, path: str | Path | None = None, fmt: str | None = None,
               name: str | None = None, force: bool = False) -> bytes | Path:
        """Hall-of-fame rule ``rank`` (default: ``pick()``) as a module (``py``), ``msgpack`` or
        DSL ``text``; its docstring or comments name the rank.

        With ``path``, written there (format from the suffix: .py, .msgpack, else text;
        nothing overwritten unless ``force``) and the path returned; else the bytes.
        """
        fmt = fmt or (_SUFFIX_FORMATS.get(Path(path).suffix, "text") if path is not None else "py")
        data = export_lib.from_run(self, rank, fmt, name)
        return data if path is None else export_lib.write(data, path, force)


def load_run(path: str | Path) -> Run:
    """Read a run folder (finished, interrupted or running); nothing in it is executed."""
    return _analysable(runs.load_run(path))


def run(config: config_lib.Config | None = None, out: str | Path = "runs", resume: str | Path | None = None,
        progress: bool = True, generations: int | None = None) -> Run:
    """``runs.run``: launch an evolution from ``config``, or resume (and with ``generations``
    extend) the run folder ``resume``; ``report.html`` in the run folder shows it, live
    (``analysis.report_html``)."""
    from discovery.analysis import report_html  # plotly: loaded by the processes that run a search

    return _analysable(report_html.run_with_report(config, out, resume, progress, generations))


def search(
    search_tasks: Sequence[tasks.Task | str],
    *,
    held_out: Sequence[tasks.Task | str] = (),
    generations: int = 10,
    population: int = 16,
    seed: int = 0,
    steps: int | None = None,
    size: str = "small",
    name: str = "search",
    out: str | Path = "runs",
    settings: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> Run:
    """Evolve update rules on ``search_tasks`` (``Task`` objects or names), re-checked on
    ``held_out`` ones; return the finished run.

    A ``Task`` object is registered (``tasks.register``) under its name. ``settings``
    holds any other config key, ``{"protocol.learning_rates": [...], "run.parsimony": 0}``
    (see docs/evolution.md, Configuration); the run folder is ``out/<name>-s<seed>-<time>``.
    """
    def named(items, what: str) -> list[str]:
        if isinstance(items, (str, tasks.Task)):
            raise ValueError(f"{what} must be a list of tasks or names, got one {type(items).__name__}: "
                             f"wrap it in a list")
        return [tasks.register(t).name if isinstance(t, tasks.Task) else t for t in items]

    overrides = {"run.name": name, "run.seed": seed, "run.generations": generations,
                 "run.population": population, "run.tournament": min(4, population),
                 "tasks.search": named(search_tasks, "search_tasks"), "tasks.held_out": named(held_out, "held_out"),
                 "tasks.size": size, **({"protocol.steps": steps} if steps is not None else {}),
                 **dict(settings or {})}
    return run(config_lib.load(**overrides), out=out, progress=progress)


def _analysable(result: runs.Run) -> Run:
    return Run(**{f.name: getattr(result, f.name) for f in dataclasses.fields(runs.Run)})
