"""Reading a run's results: the hall of fame as a table, and one rule in full.

The table is PySR's equations table for optimizers: per hall-of-fame rule,
its scores against Adam (mean over tasks of log10(score / Adam's score),
negative beats Adam; *tuned* at the best learning rate, bracketed, *robust*
the geometric mean within a decade of it), on the search tasks and on the held-out tasks
(scored when the run finished), its complexity, fingerprint and simplified
text. Rules on the Pareto front of complexity vs search fitness are marked,
and one is recommended: the best held-out score among rules no more complex
than ``PICK_BUDGET`` times the simplest Pareto rule (the search score where
there are no held-out scores). Held-out tasks are the guard against
overfitting the search tasks (Lion's funnel selection); the budget keeps
evolution's bloat out of the pick, and 1.5x still admits a rule one or two
statements longer than the simplest competitive one.

Example::

    run = discovery.load_run("runs/quick-s0-...")
    rows = inspection.table(run)              # list of Row, best first
    print(inspection.format_table(run))
    print(inspection.format_rule(run, rank=1))   # text, LaTeX, scores, lineage, behaviour
"""

from __future__ import annotations

import csv
import dataclasses
import io
import statistics
from typing import Literal, get_args

import dsl
from discovery import runs
from discovery.evolution import niches
from discovery.evolution.engine import POOL_PER_ENTRY
from discovery.evolution.reporting import report_pareto_front
from discovery.records import Candidate, Evaluation, Recommendation, TaskResult, pareto_front
from discovery.runs.files import json_text
from discovery.runs.store import RunStore
from discovery.training import fitness
from dsl.probe import similarity

_SCORES = (
    "scores: mean over tasks of log10(score / Adam's score) within a decade of Adam, graded beyond "
    "it up to +2 per task for no progress (training.fitness); negative beats Adam; tuned = best lr "
    "(bracketed, refined), robust = geometric mean within a decade of it",
    "scores (co-evolution): log10 of the (architecture, rule) pair's held-out loss, lower is better; "
    "tuned = best lr (bracketed), robust = geometric mean within a decade of it",
)
PICK_BUDGET = 1.5
LINEAGE_DEPTH = 4
NICHE_SHOWN = 10
REFERENCES = ("adam", "momentum", "lion")  # library rules: Adam, SGD with (heavy-ball) momentum, Lion


@dataclasses.dataclass(frozen=True)
class Row:
    """One hall-of-fame rule as the table shows it.

    ``fitness``/``robust``: search scores; ``held_out``/``held_out_robust``: the
    held-out ones (None before the run finishes); ``text``: the simplified rule
    on one line, hyper-parameters first; ``pareto``/``pick``: marks.
    """

    rank: int
    id: int
    generation: int
    name: str
    evolved: bool
    fitness: float
    robust: float | None
    held_out: float | None
    held_out_robust: float | None
    held_out_noise: float | None
    recommended_lr: float | None
    trains_everywhere: bool | None
    out_of_box: float | None
    complexity: int
    fingerprint: str
    text: str
    hurdle_failed: bool
    pareto: bool
    pick: bool
    architecture: str | None

    def beats_adam(self) -> bool:
        """Held-out score below Adam's (0) by more than two standard errors of the seed noise."""
        return self.held_out is not None and self.held_out < -(self.held_out_noise or 0.0)


def _robust(evaluation: Evaluation | None, n_tasks: int, clip: float) -> float | None:
    """The fitness of the robust scores (``training.fitness``)."""
    if evaluation is None or not evaluation.tasks:
        return None
    return fitness.fitness([t.robust_ratio for t in evaluation.tasks.values()], n_tasks, clip)


def _one_line(text: str) -> str:
    """``def r(b1=0.9):`` + body -> ``(b1=0.9) m = ...; return ...``."""
    head, *body = text.splitlines()
    return f"({head[head.index('(') + 1:head.rindex(')')]}) " + "; ".join(s.strip() for s in body)


def table(run: runs.Run, top: int | None = None) -> list[Row]:
    """The hall of fame as rows (best search fitness first), the first ``top`` of them."""
    front = {c.id for c in pareto_front(run.hall_of_fame)}
    rows = [_row(rank, c, c.id in front, run.config) for rank, c in enumerate(run.hall_of_fame, start=1)]
    pick = recommended(rows)
    if pick is not None:
        rows[pick - 1] = dataclasses.replace(rows[pick - 1], pick=True)
    return rows[:top]


def _row(rank: int, c: Candidate, pareto: bool, config) -> Row:
    held, rec = c.held_out, c.recommendation
    clip = config.evaluation.ratio_clip
    return Row(rank=rank, id=c.id, generation=c.generation, name=c.rule.name,
               evolved=c.evolved, fitness=c.fitness,
               robust=_robust(c.evaluation, len(config.tasks.search), clip),
               held_out=held.fitness if held else None,
               held_out_robust=_robust(held, len(config.tasks.held_out), clip),
               held_out_noise=held.noise if held else None,
               recommended_lr=rec.lr if rec else None, trains_everywhere=rec.trains_everywhere if rec else None,
               out_of_box=statistics.fmean(rec.ratios.values()) if rec and rec.ratios else None,
               complexity=c.complexity, fingerprint=c.fingerprint, text=_one_line(c.text),
               hurdle_failed=c.hurdle_failed, pareto=pareto, pick=False,
               architecture=c.architecture.summary() if c.architecture else None)


def recommended(rows: list[Row]) -> int | None:
    """Rank of the recommended rule: the best held-out score (search score while any is
    missing) among rows with complexity <= ``PICK_BUDGET`` x the simplest Pareto row's;
    but a rule that beats Adam on the held-out tasks beyond noise is preferred to one
    that does not, whatever its complexity."""
    front = [r for r in rows if r.pareto]
    if not front:
        return None
    budget = PICK_BUDGET * min(r.complexity for r in front)
    small = [r for r in rows if r.complexity <= budget]
    by_held_out = all(r.held_out is not None for r in rows)
    winners = [r for r in rows if r.beats_adam()] if by_held_out else []
    pool = [r for r in winners if r in small] or winners or small
    return min(pool, key=lambda r: (r.held_out if by_held_out else r.fitness, r.fitness,
                                    r.complexity, r.rank)).rank


def pick(run: runs.Run) -> int:
    """Rank of the rule ``inspect`` recommends (marked ``>``): what ``export`` and ``to_optax``
    give when no rank is named. ValueError if the hall of fame is still empty."""
    rank = recommended(table(run))
    if rank is None:
        raise ValueError(f"run {run.path}: the hall of fame is empty (no generation finished yet)")
    return rank


def verdict(rows: list[Row]) -> str:
    """One honest sentence on the pick: whether it beats Adam on the held-out tasks."""
    pick = next((r for r in rows if r.pick), None)
    if pick is None:
        return ""
    if pick.held_out is None:
        return (f"> recommended: rank {pick.rank} ({pick.name}), by search score (held-out tasks not "
                "scored yet)")
    lr = ("" if pick.recommended_lr is None else f"; recommended lr {pick.recommended_lr:.3g}, which "
          + ("trains every held-out task without divergence" if pick.trains_everywhere
             else "is the best found but diverges on some held-out task"))
    if pick.beats_adam():
        return (f"> recommended: rank {pick.rank} ({pick.name}), {pick.held_out:+.3f} decades vs Adam "
                f"on the held-out tasks (noise +-{pick.held_out_noise:.3f}){lr}")
    evolved = [r for r in rows if r.evolved and r.held_out is not None]
    best = min(evolved, key=lambda r: r.held_out) if evolved else pick
    return (f"> no rule beats Adam on the held-out tasks (beyond seed noise); the best evolved rule is "
            f"rank {best.rank} ({best.name}, {best.held_out:+.3f} decades, noise "
            f"+-{best.held_out_noise:.3f}); recommended: rank {pick.rank}{lr}")


def _num(value: float | None, width: int = 7) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:+{width}.3f}"


def _status(run: runs.Run) -> str:
    state = run.summary.status if run.summary else "in progress or interrupted"
    if run.summary and run.summary.log_missing:
        state += f" (log.jsonl lacks {run.summary.log_missing} candidates)"
    return f"{state}, generation {run.generation} of {run.config.run.generations}"


def format_table(run: runs.Run, top: int | None = None) -> str:
    """``table`` as text, with a header saying what the numbers mean and a legend."""
    rows = table(run, top)
    cfg = run.config.tasks
    held = ", ".join(cfg.held_out) or "none"
    if cfg.held_out and not any(c.held_out for c in run.hall_of_fame):
        held = "not scored yet (the top rules are re-checked during the run, all at its end)"
    found = ("" if run.niches is None else
             f"; {run.niches} distinct optimizers among its best {POOL_PER_ENTRY * run.config.evaluation.hall_of_fame}"
             " behaviours" + (", one entry each" if run.forms is None else
                              f", in {run.forms} forms, one entry per form"))
    protocol = run.config.protocol
    horizons = (f"search: {protocol.steps} steps at size {cfg.size}; held out: {protocol.held_out_steps} "
                f"steps at size {cfg.held_out_size or cfg.size}")
    lines = [
        f"run {run.path.name} ({_status(run)}; {len(run.hall_of_fame)} rules in the hall of fame{found})",
        f"search tasks: {', '.join(cfg.search)}; held-out tasks: {held} ({horizons})",
        _SCORES[run.config.evolves_architectures],
        "",
        f"{'rank':>6}  {'search':^15}  {'held-out':^15}  {'cplx':>4}  {'fingerprint':16}  rule",
        f"{'':6}  {'tuned':>7} {'robust':>7}  {'tuned':>7} {'robust':>7}",
    ]
    for r in rows:
        mark = ("*" if r.pareto else " ") + (">" if r.pick else " ")
        hurdle = " (failed the hurdle)" if r.hurdle_failed else ""
        lines.append(
            f"{mark}{r.rank:>4}  {_num(r.fitness)} {_num(r.robust)}  "
            f"{_num(r.held_out)} {_num(r.held_out_robust)}  {r.complexity:>4}  "
            f"{r.fingerprint:16}  {'[' + r.architecture + '] ' if r.architecture else ''}"
            f"{r.text}{hurdle}"
        )
    all_rows = table(run)
    if any(r.pick for r in all_rows):
        lines += ["", "* Pareto-optimal in complexity vs search fitness over the hall of fame; "
                  + pick_rule(all_rows), verdict(all_rows)]
    return "\n".join(lines)


def pick_rule(rows: list[Row]) -> str:
    """How ``recommended`` chose the pick among ``rows``, with the complexity budget in numbers."""
    simplest = min(r.complexity for r in rows if r.pareto)
    return (f"the pick is the best held-out score among rules of complexity <= "
            f"{PICK_BUDGET * simplest:g} (unless only a larger one beats Adam)")


# ----------------------------------------------------------------------------- Pareto front


@dataclasses.dataclass(frozen=True)
class ParetoRow:
    """The best rule at one complexity, on the front of complexity vs search fitness."""

    complexity: int
    fitness: float
    held_out: float | None
    id: int
    generation: int
    name: str
    text: str


def pareto_rows(run: runs.Run, logged: list[Candidate] | None = None) -> list[ParetoRow]:
    """PySR's table: one row per complexity on the Pareto front of every candidate the run
    evaluated (complexity vs search fitness), simplest first; ``logged``: the log's candidates,
    if read already (``RunStore.candidates``)."""
    everyone = run.summary.pareto_front if run.summary else report_pareto_front(
        RunStore.open(run.path).candidates() if logged is None else logged)
    held = {c.key: c.held_out for c in run.hall_of_fame if c.held_out}
    return [ParetoRow(c.complexity, c.fitness, held[c.key].fitness if c.key in held else None, c.id,
                      c.generation, c.rule.name, _one_line(c.text)) for c in pareto_front(everyone)]


def format_pareto(run: runs.Run) -> str:
    lines = ["Pareto front of complexity vs search fitness over every candidate (one row per "
             "complexity: the best rule of that size)",
             f"{'cplx':>4}  {'search':>7}  {'held-out':>8}  {'id':>5}  rule"]
    lines += [f"{r.complexity:>4}  {r.fitness:+7.3f}  {_num(r.held_out, 8)}  {r.id:>5}  {r.text}"
              for r in pareto_rows(run)]
    return "\n".join(lines)


Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = get_args(Format)
TABLE, CSV, JSON = FORMATS


def render(run: runs.Run, fmt: Format = TABLE, top: int | None = None, pareto: bool = False) -> str:
    """The hall of fame and the Pareto front: ``table`` (both, as text), ``json`` (both),
    or ``csv`` (the hall of fame, or the Pareto front with ``pareto``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: {list(FORMATS)}")
    if fmt == TABLE:
        return format_table(run, top) + "\n\n" + format_pareto(run)
    if fmt == JSON:
        return json_text({"hall_of_fame": [dataclasses.asdict(r) for r in table(run, top)],
                          "pareto_front": [dataclasses.asdict(r) for r in pareto_rows(run)]}, indent=2)
    rows = [dataclasses.asdict(r) for r in (pareto_rows(run) if pareto else table(run, top))]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# ----------------------------------------------------------------------------- one rule


@dataclasses.dataclass(frozen=True)
class Ancestor:
    """One node of a rule's ancestry (``lineage``): a candidate of the log, and its parents.
    ``missing``: the log lacks it (only ``id`` is known); ``more``: its parents were cut off."""

    id: int
    generation: int | None = None
    fitness: float | None = None
    complexity: int | None = None
    mutation: str | None = None
    more: bool = False
    missing: bool = False
    parents: tuple[Ancestor, ...] = ()


def lineage(run: runs.Run, rank: int, depth: int = LINEAGE_DEPTH,
            logged: list[Candidate] | None = None) -> Ancestor:
    """The rule's ancestry from ``log.jsonl`` (``logged``: its candidates, if read already),
    ``depth`` generations up."""
    start = run.candidate(rank)
    log: dict[int, Candidate] = {c.id: c for c in (RunStore.open(run.path).candidates()
                                                    if logged is None else logged)}

    def node(cid: int, level: int) -> Ancestor:
        c = log.get(cid)
        if c is None:
            return Ancestor(cid, missing=True)
        more = bool(c.parents) and level >= depth
        return Ancestor(c.id, c.generation, c.fitness, c.complexity, c.mutation, more,
                        parents=() if more else tuple(node(p, level + 1) for p in c.parents))

    return node(start.id, 0)


def _lineage_lines(tree: Ancestor, prefix: str = "", branch: str = "") -> list[str]:
    if tree.missing:
        return [f"{prefix}{branch}#{tree.id} (not in log.jsonl)"]
    more = " ..." if tree.more else ""
    lines = [f"{prefix}{branch}#{tree.id}  gen {tree.generation}  fitness {tree.fitness:+.3f}  "
             f"cplx {tree.complexity}  {tree.mutation}{more}"]
    child_prefix = prefix + ("   " if branch.startswith("└") else "│  " if branch else "")
    for i, parent in enumerate(tree.parents):
        last = i == len(tree.parents) - 1
        lines += _lineage_lines(parent, child_prefix, "└─ " if last else "├─ ")
    return lines


def behaviour(rule: dsl.Rule, references: tuple[str, ...] = REFERENCES) -> dict[str, float]:
    """Mean cosine similarity of ``rule``'s update directions with each reference library
    rule's on the fixed probe gradient streams (``dsl.probe.similarity``; NumPy, no JAX):
    1 = moves parameters the same way, 0 = unrelated, -1 = the opposite way."""
    return {name: similarity(rule, dsl.library.get(name)) for name in references}


@dataclasses.dataclass(frozen=True)
class TaskLine:
    """A rule's result on one task of one split, and the share of the fitness it contributes."""

    split: str
    task: str
    result: TaskResult
    contribution: float


@dataclasses.dataclass(frozen=True)
class RuleDetails:
    """Everything ``format_rule`` shows of one hall-of-fame rule."""

    row: Row
    recommendation: Recommendation | None
    rule: dsl.Rule
    scores: tuple[TaskLine, ...]
    lineage: Ancestor
    behaviour: dict[str, float]
    niche: tuple[Candidate, ...]  # the other members of its niche (from log.jsonl), best first


def details(run: runs.Run, rank: int) -> RuleDetails:
    """Everything ``format_rule`` shows, as data."""
    candidate = run.candidate(rank)
    logged = {c.id: c for c in RunStore.open(run.path).candidates()} if candidate.niche else {}
    n_tasks = {"search": len(run.config.tasks.search), "held-out": len(run.config.tasks.held_out)}
    scores = tuple(TaskLine(split, task, result, fitness.contribution(result.ratio, n_tasks[split]))
                   for split, part in (("search", candidate.evaluation), ("held-out", candidate.held_out))
                   if part for task, result in part.tasks.items())
    return RuleDetails(row=table(run)[rank - 1], recommendation=candidate.recommendation,
                       rule=candidate.simplified, scores=scores, lineage=lineage(run, rank),
                       behaviour=behaviour(candidate.simplified),
                       niche=tuple(logged[i] for i in candidate.niche if i in logged))


def format_rule(run: runs.Run, rank: int) -> str:
    """One rule in full: text, LaTeX, state and hyper-parameters, per-task scores with the
    learning rate that won, lineage, and behavioural similarity to Adam, momentum and Lion."""
    d = details(run, rank)
    row, rule = d.row, d.rule
    notes = [w for w, on in (("Pareto-optimal", row.pareto), ("recommended pick", row.pick)) if on]
    held = "" if row.held_out is None else f", held-out {row.held_out:+.3f}"
    lines = [
        f"rank {rank} of {len(run.hall_of_fame)} in run {run.path.name}: candidate #{row.id} "
        f"(generation {row.generation}), fingerprint {row.fingerprint}",
        f"fitness {row.fitness:+.3f} on search tasks{held} (mean log10 ratio vs Adam, negative "
        f"beats Adam); complexity {row.complexity}" + "".join(f"; {n}" for n in notes),
        "", rule.to_text().rstrip(), "", "LaTeX:", rule.to_latex(), "",
        "state slots: " + (", ".join(rule.state) or "none") + "; hyper-parameters: "
        + (", ".join(f"{k}={v:g}" for k, v in rule.hyperparams.items()) or "none"),
        *([f"architecture: {row.architecture} (scores below: log10 held-out loss; score = the loss)"]
          if row.architecture else []),
        "",
        "per-task scores: decades = log10(score / Adam's) at the tuned lr (best, bracketed); tuned and "
        "robust (within a decade of it) = the task's fitness score: the decades within the clip, "
        "graded beyond it up to clip + 1 for no progress; contrib = its share of the fitness; "
        "lrs = how many were tried; ! = tuned lr at a hard limit of bracketing",
        f"{'split':9} {'task':22} {'decades':>7} {'tuned':>7} {'contrib':>7} {'robust':>7} {'tuned lr':>9} "
        f"{'score':>10} {'diverged':>8} {'lrs':>4}",
    ]
    for line in d.scores:
        s = line.result
        decades = "      -" if s.log_ratio is None else f"{s.log_ratio:+7.3f}"
        lines.append(f"{line.split:9} {line.task:22} {decades} {s.ratio:+7.3f} {line.contribution:+7.3f} "
                     f"{s.robust_ratio:+7.3f} {s.tuned_lr:9.3g} {s.tuned:10.3e} {s.diverged:8.0%} "
                     f"{len(s.learning_rates):4d}{' !' if s.at_limit else ''}")
    rec = d.recommendation
    if rec is not None:
        lines += ["", f"recommended learning rate {rec.lr:.3g}: the best worst case over the {rec.split} "
                  "tasks among lrs that " + ("train every one without divergence"
                                              if rec.trains_everywhere else
                                              "were tried (none trains every task without divergence)"),
                  "out of the box at that lr, log10(score / Adam's tuned score): "
                  + ", ".join(f"{t} {r:+.3f}" for t, r in rec.ratios.items())]
    lines += ["", f"its entry: {len(d.niche)} other rules are the same optimizer (update directions "
              f"within cosine {niches.SAME_OPTIMIZER} at every step of a 40-step stream) or the same "
              f"form with other constants (within cosine {niches.DISTINCT})" + (":" if d.niche else "")]
    lines += [f"  #{c.id:<6} gen {c.generation:<4} fitness {c.fitness:+.3f}  cplx {c.complexity:<3} "
              f"{_one_line(c.text)}" for c in d.niche[:NICHE_SHOWN]]
    if len(d.niche) > NICHE_SHOWN:
        lines.append(f"  ... and {len(d.niche) - NICHE_SHOWN} more")
    lines += ["", f"lineage (parents from log.jsonl, up to {LINEAGE_DEPTH} generations back):",
              *_lineage_lines(d.lineage), "",
              "behaviour: cosine similarity of update directions on probe gradient streams "
              "(1 = same direction, 0 = unrelated)"]
    lines += [f"  {name:9} {v:+.2f}" for name, v in d.behaviour.items()]
    return "\n".join(lines)
