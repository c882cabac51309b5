"""Figures of a run, one idea each (matplotlib ``Figure`` objects, no pyplot state):

* ``fitness``: best and median fitness of the population per generation (the logbook);
* ``curves``: minibatch training loss of the top rules and of Optax's Adam, SGD with
  momentum and Lion on each search task, each at its tuned learning rate;
* ``lr``: score vs learning rate of the top rules and Adam (robustness to the lr).

The last two train again, with the run's protocol (its lr grid, seeds and steps, tuned fairly)
on its search tasks: rules through the interpreter, baselines natively.

Example::

    fig = plots.figure(run, "curves", top=2)   # in a notebook
    plots.write(run)                         # fitness.png, loss_curves.png, lr_sensitivity.png
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from discovery import runs, tasks
from discovery.analysis import baselines, outputs
from discovery.training import scoring, trainer, tuning

TOP = 3
BASELINES = ("adam", "momentum", "lion")  # keys of baselines.OPTIMIZERS
FILES = {"fitness": "fitness.png", "curves": "loss_curves.png", "lr": "lr_sensitivity.png"}
Results = dict[str, dict[str, trainer.TrainResult]]  # [task][label], over the run's lr grid


def train_top(run: runs.Run, top: int = TOP, optimizers: Sequence[str] = BASELINES,
              ranks: Sequence[int] | None = None) -> Results:
    """Tune the ``top`` hall-of-fame rules ("rank 1", ...), or those at ``ranks`` if given, and
    the Optax ``optimizers`` on each search task with the run's protocol (``tuning.tune``:
    natural scale, bracketing). As in the search, a rule's grid starts centred on Adam's tuned
    lr (when Adam is among ``optimizers``), so it tunes to the lr the search found."""
    protocol = run.config.protocol.training()
    size = run.config.tasks.size
    ranks = range(1, min(top, len(run.hall_of_fame)) + 1) if ranks is None else ranks
    out: Results = {}
    for name in run.config.tasks.search:
        task = tasks.get(name, size)
        tuned = {o: tuning.tune(baselines.OPTIMIZERS[o].optimizer, task, protocol) for o in optimizers}
        center = tuned[baselines.REFERENCE].score.tuned_lr if baselines.REFERENCE in tuned else None
        rules = {f"rank {k}": tuning.tune(run.rule(k), task, protocol, center=center) for k in ranks}
        out[name] = {label: t.result for label, t in (rules | tuned).items()}
    return out


def tuned_index(result: trainer.TrainResult) -> int:
    """Index of the tuned (best) learning rate, as ``scoring.score`` picks it."""
    lr = scoring.score(result).tuned_lr
    return int(np.flatnonzero(np.isclose(result.learning_rates, lr))[0])


def _style(label: str) -> dict:
    return {"linestyle": "-" if label.startswith("rank") else "--", "linewidth": 1.6}


def _panels(n: int, title: str) -> tuple[Figure, list]:
    fig = Figure(figsize=(4.6 * n, 4.0), layout="constrained")
    fig.suptitle(title)
    return fig, list(fig.subplots(1, n, squeeze=False)[0])


def fitness_history(run: runs.Run) -> Figure:
    """Best and median population fitness per generation (0 is Adam, lower is better)."""
    gens = [r.gen for r in run.logbook]
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(gens, [r.best for r in run.logbook], marker="o", label="best")
    ax.plot(gens, [r.median for r in run.logbook], marker="s", label="median")
    ax.axhline(0.0, color="grey", linestyle=":", label="Adam")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness: mean log10(score / Adam's)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{run.path.name}\npopulation fitness per generation (lower is better)")
    ax.legend()
    return fig


def loss_curves(run: runs.Run, results: Results | None = None, top: int = TOP) -> Figure:
    """Minibatch training loss per step (seed mean), each optimizer at its tuned lr."""
    results = results if results is not None else train_top(run, top)
    fig, axes = _panels(len(results), f"{run.path.name}: training loss of the top rules vs Optax "
                                      "baselines, each at its tuned learning rate")
    for ax, (task, by_label) in zip(axes, results.items()):
        for label, result in by_label.items():
            i = tuned_index(result)
            ax.plot(np.arange(1, result.steps + 1), result.curves[i].mean(axis=0),
                    label=f"{label} (lr {result.learning_rates[i]:.3g})", **_style(label))
        f_star = next(iter(by_label.values())).f_star
        if f_star:  # f* = 0 has no place on a log axis
            ax.axhline(f_star, color="grey", linestyle=":", label=f"f* = {f_star:.3g}")
        ax.set(title=task, xlabel="step", ylabel="minibatch training loss", yscale="log")
        ax.legend(fontsize=7)
    return fig


def lr_sensitivity(run: runs.Run, results: Results | None = None, top: int = TOP) -> Figure:
    """Score (seed-mean final f - f*, or loss) vs learning rate: flat and low is robust."""
    results = results if results is not None else train_top(run, top, optimizers=[baselines.REFERENCE])
    fig, axes = _panels(len(results), f"{run.path.name}: score vs learning rate (lower is better; "
                                      "a diverged run scores its initial loss)")
    for ax, (task, by_label) in zip(axes, results.items()):
        for label, result in by_label.items():
            if label.startswith("rank") or label == baselines.REFERENCE:
                ax.plot(result.learning_rates, np.maximum(result.value.mean(axis=1), scoring.FLOOR),
                        marker="o", label=label, **_style(label))
        ax.set(title=task, xlabel="learning rate", ylabel="score", xscale="log", yscale="log")
        ax.legend(fontsize=7)
    return fig


def figure(run: runs.Run, kind: str, **kwargs) -> Figure:
    """The figure ``kind`` (one of ``FILES``: fitness, curves, lr) of ``run``."""
    makers = {"fitness": fitness_history, "curves": loss_curves, "lr": lr_sensitivity}
    if kind not in makers:
        raise ValueError(f"unknown plot kind {kind!r}; kinds: {list(makers)}")
    return makers[kind](run, **kwargs)


def write(run: runs.Run, out_dir: str | Path | None = None, top: int = TOP) -> list[Path]:
    """Save every figure as PNG into ``out_dir`` (default: the run folder), training once.

    An ``out_dir`` that cannot be written is an error before any training."""
    out = Path(out_dir) if out_dir is not None else run.path
    if not os.access(out, os.W_OK):
        raise PermissionError(errno.EACCES, "cannot write figures into this folder", str(out))
    results = train_top(run, top)
    figures = {"fitness": fitness_history(run), "curves": loss_curves(run, results),
               "lr": lr_sensitivity(run, results)}
    paths = []
    for kind, fig in figures.items():
        paths.append(out / FILES[kind])
        outputs.write_png(fig, paths[-1])
    return paths
