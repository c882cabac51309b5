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
    rows = inspect.table(run)                 # list of dicts, best first
    print(inspect.format_table(run))
    print(inspect.format_rule(run, rank=1))   # text, LaTeX, scores, lineage, behaviour
"""

from __future__ import annotations

import dataclasses
import statistics

import dsl
from discovery import runs
from discovery.records import Candidate, Evaluation, pareto_front
from discovery.runs.store import RunStore
from dsl.probe import similarity

_SCORES = (
    "scores: mean over tasks of log10(score / Adam's score), negative beats Adam; tuned = best lr "
    "(bracketed), robust = geometric mean within a decade of it",
    "scores (co-evolution): log10 of the (architecture, rule) pair's held-out loss, lower is better; "
    "tuned = best lr (bracketed), robust = geometric mean within a decade of it",
)
PICK_BUDGET = 1.5
LINEAGE_DEPTH = 4
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
    fitness: float
    robust: float | None
    held_out: float | None
    held_out_robust: float | None
    complexity: int
    fingerprint: str
    text: str
    hurdle_failed: bool
    pareto: bool
    pick: bool
    architecture: str | None


def _robust(evaluation: Evaluation | None) -> float | None:
    if evaluation is None or not evaluation.tasks:
        return None
    return statistics.fmean(t.robust_ratio for t in evaluation.tasks.values())


def _one_line(text: str) -> str:
    """``def r(b1=0.9):`` + body -> ``(b1=0.9) m = ...; return ...``."""
    head, *body = text.splitlines()
    return f"({head[head.index('(') + 1:head.rindex(')')]}) " + "; ".join(s.strip() for s in body)


def table(run: runs.Run, top: int | None = None) -> list[Row]:
    """The hall of fame as rows (best search fitness first), the first ``top`` of them."""
    front = {c.id for c in pareto_front(run.hall_of_fame)}
    rows = [Row(rank=rank, id=c.id, generation=c.generation, fitness=c.fitness, robust=_robust(c.evaluation),
                held_out=c.held_out.fitness if c.held_out else None, held_out_robust=_robust(c.held_out),
                complexity=c.complexity, fingerprint=c.fingerprint, text=_one_line(c.text),
                hurdle_failed=c.hurdle_failed, pareto=c.id in front, pick=False,
                architecture=c.architecture.summary() if c.architecture else None)
            for rank, c in enumerate(run.hall_of_fame, start=1)]
    pick = recommended(rows)
    if pick is not None:
        rows[pick - 1] = dataclasses.replace(rows[pick - 1], pick=True)
    return rows[:top]


def recommended(rows: list[Row]) -> int | None:
    """Rank of the recommended rule: best held-out score (search score if any is missing)
    among rows with complexity <= ``PICK_BUDGET`` x the simplest Pareto row's."""
    front = [r for r in rows if r.pareto]
    if not front:
        return None
    budget = PICK_BUDGET * min(r.complexity for r in front)
    small = [r for r in rows if r.complexity <= budget]
    by_held_out = all(r.held_out is not None for r in small)
    return min(small, key=lambda r: (r.held_out if by_held_out else r.fitness, r.fitness,
                                     r.complexity, r.rank)).rank


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
    if cfg.held_out and not run.summary:
        held = "not scored yet (they are scored when the run finishes)"
    lines = [
        f"run {run.path.name} ({_status(run)}; {len(run.hall_of_fame)} rules in the hall of fame)",
        f"search tasks: {', '.join(cfg.search)}; held-out tasks: {held}",
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
    front = [r for r in all_rows if r.pareto]
    pick = next((r for r in all_rows if r.pick), None)
    if pick is not None:
        by = "held-out" if pick.held_out is not None else "search (no held-out scores yet)"
        simplest = min(r.complexity for r in front)
        lines += ["", "* Pareto-optimal in complexity vs search fitness over the hall of fame",
                  f"> recommended: rank {pick.rank}, the best {by} score among rules of complexity "
                  f"<= {PICK_BUDGET * simplest:g} ({PICK_BUDGET:g} x the simplest Pareto rule's)"]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- one rule


def lineage(run: runs.Run, rank: int, depth: int = LINEAGE_DEPTH) -> dict:
    """The rule's ancestry from ``log.jsonl``: ``{id, generation, fitness, complexity,
    mutation, parents: [...]}``, ``depth`` generations up (``more`` marks a cut);
    an ancestor missing from the log has only ``id`` and ``missing``."""
    start = run.candidate(rank)
    log: dict[int, Candidate] = {c.id: c for c in RunStore.open(run.path).candidates()}

    def node(cid: int, level: int) -> dict:
        c = log.get(cid)
        if c is None:
            return {"id": cid, "missing": True}
        more = bool(c.parents) and level >= depth
        return {"id": c.id, "generation": c.generation, "fitness": c.fitness,
                "complexity": c.complexity, "mutation": c.mutation, "more": more,
                "parents": [] if more else [node(p, level + 1) for p in c.parents]}

    return node(start.id, 0)


def _lineage_lines(tree: dict, prefix: str = "", branch: str = "") -> list[str]:
    if tree.get("missing"):
        return [f"{prefix}{branch}#{tree['id']} (not in log.jsonl)"]
    more = " ..." if tree["more"] else ""
    lines = [f"{prefix}{branch}#{tree['id']}  gen {tree['generation']}  fitness {tree['fitness']:+.3f}  "
             f"cplx {tree['complexity']}  {tree['mutation']}{more}"]
    child_prefix = prefix + ("   " if branch.startswith("└") else "│  " if branch else "")
    for i, parent in enumerate(tree["parents"]):
        last = i == len(tree["parents"]) - 1
        lines += _lineage_lines(parent, child_prefix, "└─ " if last else "├─ ")
    return lines


def behaviour(rule: dsl.Rule, references: tuple[str, ...] = REFERENCES) -> dict[str, float]:
    """Mean cosine similarity of ``rule``'s update directions with each reference library
    rule's on the fixed probe gradient streams (``dsl.probe.similarity``; NumPy, no JAX):
    1 = moves parameters the same way, 0 = unrelated, -1 = the opposite way."""
    return {name: similarity(rule, dsl.library.get(name)) for name in references}


def details(run: runs.Run, rank: int) -> dict:
    """Everything ``format_rule`` shows, as data."""
    candidate = run.candidate(rank)
    rule = dsl.simplify(candidate.rule)
    scores = [{"split": split, "task": task, **result.to_dict()}
              for split, part in (("search", candidate.evaluation), ("held-out", candidate.held_out))
              if part for task, result in part.tasks.items()]
    return {
        "row": table(run)[rank - 1], "rule": rule, "text": rule.to_text(), "latex": rule.to_latex(),
        "state": list(rule.state), "hyperparams": rule.hyperparams, "scores": scores,
        "lineage": lineage(run, rank), "behaviour": behaviour(rule),
    }


def format_rule(run: runs.Run, rank: int) -> str:
    """One rule in full: text, LaTeX, state and hyper-parameters, per-task scores with the
    learning rate that won, lineage, and behavioural similarity to Adam, momentum and Lion."""
    d = details(run, rank)
    row: Row = d["row"]
    notes = [w for w, on in (("Pareto-optimal", row.pareto), ("recommended pick", row.pick)) if on]
    held = "" if row.held_out is None else f", held-out {row.held_out:+.3f}"
    lines = [
        f"rank {rank} of {len(run.hall_of_fame)} in run {run.path.name}: candidate #{row.id} "
        f"(generation {row.generation}), fingerprint {row.fingerprint}",
        f"fitness {row.fitness:+.3f} on search tasks{held} (mean log10 ratio vs Adam, negative "
        f"beats Adam); complexity {row.complexity}" + "".join(f"; {n}" for n in notes),
        "", d["text"].rstrip(), "", "LaTeX:", d["latex"], "",
        "state slots: " + (", ".join(d["state"]) or "none") + "; hyper-parameters: "
        + (", ".join(f"{k}={v:g}" for k, v in d["hyperparams"].items()) or "none"),
        *([f"architecture: {row.architecture} (scores below: log10 held-out loss; score = the loss)"]
          if row.architecture else []),
        "",
        "per-task scores: log10(score / Adam's), tuned (best lr, bracketed) and robust (within a "
        "decade of it); lrs = how many were tried; ! = tuned lr at a hard limit of bracketing",
        f"{'split':9} {'task':22} {'tuned':>7} {'robust':>7} {'tuned lr':>9} {'score':>10} {'diverged':>8} "
        f"{'lrs':>4}",
    ]
    for s in d["scores"]:
        lines.append(f"{s['split']:9} {s['task']:22} {s['ratio']:+7.3f} {s['robust_ratio']:+7.3f} "
                     f"{s['tuned_lr']:9.3g} {s['tuned']:10.3e} {s['diverged']:8.0%} "
                     f"{len(s['learning_rates']):4d}{' !' if s['at_limit'] else ''}")
    lines += ["", f"lineage (parents from log.jsonl, up to {LINEAGE_DEPTH} generations back):",
              *_lineage_lines(d["lineage"]), "",
              "behaviour: cosine similarity of update directions on probe gradient streams "
              "(1 = same direction, 0 = unrelated)"]
    lines += [f"  {name:9} {v:+.2f}" for name, v in d["behaviour"].items()]
    return "\n".join(lines)
