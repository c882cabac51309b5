"""Adam versus the rest: the Optax baselines on the task suites under one protocol.

Every optimizer trains on every task under the same protocol (seeds, steps,
starting grid) with fair tuning (``tuning.tune``): Adam first, on the grid,
bracketed until its optimum is inside; every other optimizer starts on the
grid centred on Adam's optimum (a rule: times its natural scale), is bracketed
the same way, and also trains at its own default lr. ``scoring.score`` then
gives, per task, the mean over seeds of f - f* (the final training loss where
f* is unknown), lower is better:

* tuned       = best learning rate tried (flagged ``at_limit`` if at a hard limit)
* out of box  = the optimizer's default learning rate (``OPTIMIZERS``)

The panel spread of a task (``BaselineTable.panel_spread``: worst minus best tuned score,
in decades, with its noise) says whether the optimizer matters there at all.

Each optimizer is ranked against the others on each task (scores below
``scoring.FLOOR`` tie as solved) and compared to Adam as log10(score / Adam's).
The observation to test (Vaswani et al. 2019): default Adam does well on deep
nets and poorly on simple non-deep problems.

Example::

    from discovery.analysis import baselines
    from discovery.training import scoring
    table = baselines.run_baselines(["mf_k4", "mnist1d_mlp"], "small", scoring.Protocol(steps=100))
    print(baselines.format_table(table))
    baselines.write_outputs(table, "runs/baselines-demo")
"""

from __future__ import annotations

import dataclasses
import io
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from discovery import tasks
from discovery.analysis import outputs
from discovery.runs.progress import Progress
from discovery.training import scoring, tuning
from discovery.training.optimizers import OPTIMIZERS, Baseline  # noqa: F401 (re-exported)
from discovery.training.scoring import Protocol, TaskScore

REFERENCE = "adam"
Suite = Literal["nondeep", "deep", "all"]  # a kind of task, or every task
SUITES: tuple[Suite, ...] = get_args(Suite)
# "default": the 16-task x 9-optimizer table took 28 min on 2 shared CPUs (load ~6; 500 would not fit)
DEFAULT_STEPS = {"small": 100, "default": 300}
Metric = Literal["tuned", "out_of_box"]
METRICS: tuple[Metric, ...] = get_args(Metric)
OUTPUT_FILES = ("baselines.csv", "baselines.json", "baselines.png")


@dataclasses.dataclass(frozen=True)
class PanelSpread:
    """How much the optimizer matters on a task: the worst minus the best finite score of the panel
    (``spread``, decades), its noise (the combined standard error over seeds of the two) and which
    optimizers they are. A spread within a few ``noise`` is a tie."""

    spread: float
    best: str
    worst: str
    noise: float


@dataclasses.dataclass(frozen=True)
class KindSummary:
    """Adam on the tasks of one kind: its mean rank and the tasks it is best on, per metric, and
    the median over tasks of its excess over the best optimizer, log10(Adam's score / best) >= 0."""

    tasks: int
    optimizers: int
    adam_mean_rank: dict[str, float]
    adam_best_on: dict[str, int]
    adam_median_excess: dict[str, float]


@dataclasses.dataclass(frozen=True)
class BaselineTable:
    """``scores[task][optimizer]`` for every task x optimizer under one protocol.

    ``kinds[task]`` is "deep" | "nondeep"; ``measures[task]`` says what the
    score is: "f-f*" (suboptimality) or "loss" (final training loss).
    """

    size: str
    protocol: Protocol
    optimizers: tuple[str, ...]
    kinds: dict[str, str]
    measures: dict[str, str]
    scores: dict[str, dict[str, TaskScore]]
    seconds: float
    extra: Mapping[str, Baseline] = dataclasses.field(default_factory=dict)

    def baseline(self, name: str) -> Baseline:
        """``OPTIMIZERS[name]``, or the extra optimizer of that name (e.g. a discovered rule)."""
        return self.extra[name] if name in self.extra else OPTIMIZERS[name]

    @property
    def tasks(self) -> list[str]:
        return list(self.scores)

    def rank(self, task: str, optimizer: str, metric: Metric) -> int:
        """1-based rank of ``optimizer`` on ``task`` by ``metric`` ("tuned" | "out_of_box");
        scores within the seed noise of each other share a rank (``scoring.noisy_rank``)."""
        return scoring.noisy_rank(self.scores[task], optimizer, metric)

    def bracketed(self) -> list[tuple[str, str]]:
        """(task, optimizer) pairs whose tuning needed lrs beyond the starting grid."""
        start = len(self.protocol.learning_rates) + 1  # the grid and the default lr
        return [(t, o) for t in self.tasks for o in self.optimizers
                if len(self.scores[t][o].learning_rates) > start]

    def at_limit(self) -> list[tuple[str, str]]:
        """(task, optimizer) pairs whose tuned lr sits at a hard limit of bracketing."""
        return [(t, o) for t in self.tasks for o in self.optimizers if self.scores[t][o].at_limit]

    def versus_adam(self, task: str, optimizer: str) -> dict[str, float | None]:
        """log10(score / Adam's score) per metric on ``task`` (negative: better than Adam)."""
        return scoring.versus(self.scores[task][optimizer], self.scores[task][REFERENCE])

    def panel_spread(self, task: str, metric: Metric = "tuned") -> PanelSpread:
        """How much the optimizer matters on ``task`` (``PanelSpread``)."""
        scores = {o: s for o, s in self.scores[task].items() if np.isfinite(getattr(s, metric))}
        logs = {o: np.log10(max(getattr(s, metric), scoring.FLOOR)) for o, s in scores.items()}
        best, worst = min(logs, key=logs.get), max(logs, key=logs.get)
        return PanelSpread(float(logs[worst] - logs[best]), best, worst,
                           float(np.hypot(scores[best].spread(metric), scores[worst].spread(metric))))

    def summary(self) -> dict[str, KindSummary]:
        """Per kind of task, Adam's ``KindSummary`` (a median excess: one task solved to
        ``scoring.FLOOR`` would swamp a mean)."""
        out = {}
        for kind in sorted(set(self.kinds.values())):
            names = [t for t in self.tasks if self.kinds[t] == kind]
            ranks = {m: [self.rank(t, REFERENCE, m) for t in names] for m in METRICS}
            excess = {
                m: [scoring.log_ratio(getattr(self.scores[t][REFERENCE], m),
                                      min(getattr(s, m) for s in self.scores[t].values()))
                    for t in names]
                for m in METRICS
            }
            out[kind] = KindSummary(
                tasks=len(names), optimizers=len(self.optimizers),
                adam_mean_rank={m: float(np.mean(r)) for m, r in ranks.items()},
                adam_best_on={m: sum(x == 1 for x in r) for m, r in ranks.items()},
                adam_median_excess={m: float(np.median(e)) for m, e in excess.items()})
        return out

    def to_rows(self) -> list[dict]:
        """One flat row per task x optimizer: scores, lrs, diverged fraction, ratios, ranks."""
        rows = []
        for task in self.tasks:
            for opt in self.optimizers:
                s = self.scores[task][opt]
                ratios = self.versus_adam(task, opt)
                rows.append({
                    "task": task, "kind": self.kinds[task], "measure": self.measures[task],
                    "optimizer": opt, "tuned": s.tuned, "tuned_lr": s.tuned_lr,
                    "tuned_spread": s.spread("tuned"), "lrs_tried": len(s.learning_rates),
                    "at_limit": s.at_limit,
                    "out_of_box": s.out_of_box, "default_lr": s.default_lr, "robust": s.robust,
                    "diverged_fraction": s.diverged_fraction,
                    **{f"{m}_vs_adam": r for m, r in ratios.items()},
                    **{f"rank_{m}": self.rank(task, opt, m) for m in METRICS},
                })
        return rows

    def to_dict(self) -> dict:
        """Protocol, optimizers (default lr and its source), per-task scores and ranks, summary."""
        return {
            "size": self.size,
            "protocol": self.protocol.to_dict(),
            "seconds": self.seconds,
            "optimizers": {
                o: {"default_lr": self.baseline(o).default_lr, "source": self.baseline(o).source}
                for o in self.optimizers
            },
            "tasks": {
                t: {
                    "kind": self.kinds[t],
                    "measure": self.measures[t],
                    "adam_rank": {m: self.rank(t, REFERENCE, m) for m in METRICS},
                    "panel_spread": dataclasses.asdict(self.panel_spread(t)),
                    "scores": {
                        o: {**s.to_dict(), "vs_adam": self.versus_adam(t, o),
                            "rank": {m: self.rank(t, o, m) for m in METRICS}}
                        for o, s in self.scores[t].items()
                    },
                }
                for t in self.tasks
            },
            "summary": {kind: dataclasses.asdict(k) for kind, k in self.summary().items()},
        }


def suite_tasks(suite: Suite) -> list[str]:
    """The task names of ``suite`` (``SUITES``: the tasks of a kind, or every task)."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; valid suites: {list(SUITES)}")
    return tasks.names(None if suite == "all" else suite)


def checked(names: Sequence[str], valid: Sequence[str], what: str) -> list[str]:
    """``names`` without duplicates (order kept); ValueError if empty or any is unknown."""
    unique = list(dict.fromkeys(names))
    if not unique:
        raise ValueError(f"no {what}s given; valid {what}s: {list(valid)}")
    unknown = [n for n in unique if n not in valid]
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; valid {what}s: {list(valid)}")
    return unique


def score_baseline(baseline: str | Baseline, task: tasks.Task, protocol: Protocol,
                   center: float | None = None) -> TaskScore:
    """Tune ``baseline`` (a name in ``OPTIMIZERS`` or a ``Baseline``) on ``task``: the
    protocol's grid (centred on ``center``, e.g. Adam's tuned lr), bracketed, plus its
    default lr (``tuning.tune``); score it."""
    if isinstance(baseline, str):
        baseline = OPTIMIZERS[baseline]
    return tuning.tune(baseline.optimizer, task, protocol, default_lr=baseline.default_lr,
                       center=center).score


def run_baselines(
    task_names: Sequence[str],
    size: str,
    protocol: Protocol,
    optimizers: Sequence[str] | None = None,
    progress: bool = True,
    extra: Mapping[str, Baseline] | None = None,
    data_file: str | None = None,
) -> BaselineTable:
    """Score every optimizer (all of ``OPTIMIZERS`` by default; Adam is always
    included, as the reference) on every task at ``size``; ``extra`` optimizers
    (e.g. a discovered rule, ``discovery compare``) are scored too, as the last columns.
    ``data_file`` (a LIBSVM file) replaces the synthetic data of the ``klr_*`` tasks.

    Raises ValueError for an unknown task, optimizer or size before training anything.
    """
    names = checked(task_names, tasks.names(), "task")
    opts = checked([REFERENCE, *(OPTIMIZERS if optimizers is None else optimizers)],
                    list(OPTIMIZERS), "optimizer")
    extra = dict(extra or {})
    if set(extra) & set(OPTIMIZERS):
        raise ValueError(f"extra optimizer names {sorted(set(extra) & set(OPTIMIZERS))} are taken")
    opts += list(extra)
    if size not in tasks.SIZES:
        raise ValueError(f"unknown size {size!r}; valid sizes: {list(tasks.SIZES)}")
    kinds, measures, scores = {}, {}, {}
    start = time.perf_counter()
    stream = sys.stderr if progress else io.StringIO()
    with Progress(len(names) * len(opts), "baselines", stream=stream) as bar:
        for name in names:
            task = tasks.get(name, size, **_data_override(name, data_file))
            kinds[name] = task.kind
            measures[name] = "loss" if task.f_star is None else "f-f*"
            scores[name] = {}
            for opt in opts:  # Adam first: the others start on a grid centred on its optimum
                bar.advance(0, status=f"{name} / {opt}")
                center = scores[name][REFERENCE].tuned_lr if scores[name] and protocol.bracket else None
                scores[name][opt] = score_baseline(extra.get(opt, opt), task, protocol, center)
                bar.advance(1, status=f"{name} / {opt}")
    return BaselineTable(size, protocol, tuple(opts), kinds, measures, scores,
                         time.perf_counter() - start, extra)


def _block(table: BaselineTable, metric: Metric, heading: str) -> list[str]:
    others = [o for o in table.optimizers if o != REFERENCE]
    width = max(9, *(len(o) for o in others))
    head = f"{'task':22} {'kind':8} {'score':5} {REFERENCE:>9}  {'at lr':>7} {'+-se':>5}  "
    lines = [heading, head + " ".join(f"{o:>{width}}" for o in others) + "  adam rank"]
    if metric == "out_of_box":
        lrs = " ".join(f"{table.baseline(o).default_lr:>{width}.0e}" for o in others)
        lines.append(f"{'  (default lr)':37} {table.baseline(REFERENCE).default_lr:>9.0e}  {'':13}  {lrs}")
    n = len(table.optimizers)
    for task in table.tasks:
        mark = {o: "!" if metric == "tuned" and table.scores[task][o].at_limit
                else "*" if table.rank(task, o, metric) == 1 else " " for o in table.optimizers}
        adam = table.scores[task][REFERENCE]
        lr = adam.tuned_lr if metric == "tuned" else adam.default_lr
        cells = [f"{table.versus_adam(task, o)[metric]:+{width - 1}.2f}{mark[o]}" for o in others]
        lines.append(
            f"{task:22} {table.kinds[task]:8} {table.measures[task]:5} {getattr(adam, metric):9.2e}"
            f"{mark[REFERENCE]} {lr:7.1e} {adam.spread(metric):5.2f}  "
            + " ".join(cells) + f"  {table.rank(task, REFERENCE, metric):>4}/{n}"
        )
    return lines


def format_table(table: BaselineTable) -> str:
    """The table as text: tuned and out-of-the-box blocks, then one summary line per kind."""
    p = table.protocol
    lines = [
        f"Baselines: {len(table.tasks)} tasks x {len(table.optimizers)} optimizers, size "
        f"{table.size}, {p.steps} steps, seeds {list(p.seeds)}, lr grid {p.learning_rates[0]:g}.."
        f"{p.learning_rates[-1]:g} ({len(p.learning_rates)} values) + each default lr; "
        f"{table.seconds:.0f} s",
        "adam: its score, the mean over seeds of f - f* (score f-f*) or of the final training "
        "loss (score loss);",
        "others: log10(score / adam's score), negative = better than adam; * = best on the task "
        "(within seed noise)",
        "",
        *_block(table, "tuned", "TUNED (best lr, bracketed; ! = at a hard limit)"),
        "",
        *_block(table, "out_of_box", "OUT OF THE BOX (each optimizer's default lr)"),
        "",
        "PANEL SPREAD (tuned: worst minus best optimizer, decades, +- the combined standard error "
        "of the two over seeds)",
        *(f"{t:22} {p.spread:5.2f} +- {p.noise:.2f}  best {p.best}, worst {p.worst}"
          for t in table.tasks for p in [table.panel_spread(t)]),
        "",
        "SUMMARY (adam's rank among the optimizers, scores within 2 standard errors of the seed "
        "spread sharing a rank; excess = median over tasks of log10(adam / best))",
    ]
    for kind, s in table.summary().items():
        rank, best, excess = s.adam_mean_rank, s.adam_best_on, s.adam_median_excess
        lines.append(
            f"{kind:8} {s.tasks:2} tasks: adam mean rank {rank['tuned']:.1f} tuned, "
            f"{rank['out_of_box']:.1f} out of the box (of {s.optimizers}); best on "
            f"{best['tuned']}/{s.tasks} tuned, {best['out_of_box']}/{s.tasks} out of the box; "
            f"excess {excess['tuned']:.2f} / {excess['out_of_box']:.2f} decades"
        )
    limited = table.at_limit()
    lines.append(f"tuning: {len(table.bracketed())} of {len(table.tasks) * len(table.optimizers)} "
                 "scores needed lrs beyond the starting grid (bracketing); "
                 + (f"at a hard limit: {', '.join(f'{t}/{o}' for t, o in limited)}" if limited
                    else "none is at a hard limit"))
    return "\n".join(lines)


def claim_outputs(out_dir: str | Path, force: bool = False) -> Path:
    """The output folder, created if missing; ValueError if it holds results and not ``force``."""
    return outputs.claim_dir(out_dir, OUTPUT_FILES, force)


def write_outputs(table: BaselineTable, out_dir: str | Path, force: bool = False) -> list[Path]:
    """Write ``OUTPUT_FILES`` (CSV rows, JSON document, heatmap PNG) into ``out_dir``.

    Creates the folder if missing; ValueError if it already holds results and not ``force``.
    """
    out = claim_outputs(out_dir, force)
    paths = [out / name for name in OUTPUT_FILES]
    outputs.write_csv(paths[0], table.to_rows())
    outputs.write_json(paths[1], table.to_dict())
    panels = {
        title: np.array([[table.versus_adam(t, o)[m] for o in table.optimizers] for t in table.tasks],
                        dtype=float)
        for m, title in (("tuned", "tuned (best lr)"), ("out_of_box", "out of the box (default lr)"))
    }
    outputs.heatmap_png(
        paths[2], panels, [f"{t} ({table.kinds[t]})" for t in table.tasks], list(table.optimizers),
        title=f"Optax baselines vs Adam: size {table.size}, {table.protocol.steps} steps, "
        f"{len(table.protocol.seeds)} seed(s)\nlog10(score / Adam's score): lower (blue) is better",
        colorbar_label="log10(score / Adam's score)",
    )
    return paths


def _data_override(task: str, data_file: str | None) -> dict:
    return {"data_file": data_file} if data_file and task.startswith("klr_") else {}
