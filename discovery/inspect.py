"""Reading a run's results: the hall of fame as a table, and one rule in full.

The table is PySR's equations table for optimizers: per hall-of-fame rule,
its scores against Adam (mean over tasks of log10(score / Adam's score),
negative beats Adam; *tuned* at the best learning rate of the grid, *robust*
the median over the grid), on the search tasks and on the held-out tasks
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

import argparse
import statistics

import dsl
from discovery import runs
from discovery.search.engine import pareto_front
from discovery.store import RunStore
from discovery.tasks import Architecture
from dsl.probe import similarity

_SCORES = (
    "scores: mean over tasks of log10(score / Adam's score), negative beats Adam; tuned = best lr "
    "on the grid, robust = median over the grid",
    "scores (co-evolution): log10 of the (architecture, rule) pair's held-out loss, lower is better; "
    "tuned = best lr on the grid, robust = median over the grid",
)
PICK_BUDGET = 1.5
LINEAGE_DEPTH = 4
REFERENCES = ("adam", "momentum", "lion")  # library rules: Adam, SGD with (heavy-ball) momentum, Lion


def _mean(values) -> float | None:
    values = list(values)
    return statistics.fmean(values) if values else None


def _robust(split: dict | None) -> float | None:
    return None if not split else _mean(t["robust_ratio"] for t in split["tasks"].values())


def _one_line(text: str) -> str:
    """``def r(b1=0.9):`` + body -> ``(b1=0.9) m = ...; return ...``."""
    head, *body = text.splitlines()
    return f"({head[head.index('(') + 1:head.rindex(')')]}) " + "; ".join(s.strip() for s in body)


def table(run: runs.Run, top: int | None = None) -> list[dict]:
    """The hall of fame as rows (best search fitness first), the first ``top`` of them.

    Each row: ``rank``, ``id``, ``generation``, ``fitness`` and ``robust`` (search
    tasks), ``held_out`` and ``held_out_robust`` (None before the run finishes),
    ``complexity``, ``fingerprint``, ``text`` (the simplified rule on one line,
    its hyper-parameters first),
    ``hurdle_failed``, ``pareto`` and ``pick`` (booleans).
    """
    hall = run.hall_of_fame
    front = {r["id"] for r in pareto_front(hall)}
    rows = []
    for rank, r in enumerate(hall, start=1):
        held = r.get("held_out")
        rows.append({
            "rank": rank, "id": r["id"], "generation": r["generation"],
            "fitness": r["fitness"], "robust": _robust(r),
            "held_out": held["fitness"] if held else None, "held_out_robust": _robust(held),
            "complexity": r["complexity"], "fingerprint": r["fingerprint"],
            "text": _one_line(r["text"]),
            "hurdle_failed": r["hurdle_failed"], "pareto": r["id"] in front, "pick": False,
            "architecture": (Architecture.from_dict(r["architecture"]).summary()
                             if r.get("architecture") else None),
        })
    pick = recommended(rows)
    if pick is not None:
        rows[pick - 1]["pick"] = True
    return rows[:top]


def recommended(rows: list[dict]) -> int | None:
    """Rank of the recommended rule: best held-out score (search score if any is missing)
    among rows with complexity <= ``PICK_BUDGET`` x the simplest Pareto row's."""
    front = [r for r in rows if r["pareto"]]
    if not front:
        return None
    budget = PICK_BUDGET * min(r["complexity"] for r in front)
    small = [r for r in rows if r["complexity"] <= budget]
    key = "held_out" if all(r["held_out"] is not None for r in small) else "fitness"
    return min(small, key=lambda r: (r[key], r["fitness"], r["complexity"], r["rank"]))["rank"]


def _num(value: float | None, width: int = 7) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:+{width}.3f}"


def _status(run: runs.Run) -> str:
    total = run.config["run"]["generations"]
    state = (run.summary or {}).get("status", "in progress or interrupted")
    return f"{state}, generation {run.generation} of {total}"


def format_table(run: runs.Run, top: int | None = None) -> str:
    """``table`` as text, with a header saying what the numbers mean and a legend."""
    rows = table(run, top)
    cfg = run.config["tasks"]
    held = ", ".join(cfg["held_out"]) or "none"
    if cfg["held_out"] and not run.summary:
        held = "not scored yet (they are scored when the run finishes)"
    lines = [
        f"run {run.path.name} ({_status(run)}; {len(run.hall_of_fame)} rules in the hall of fame)",
        f"search tasks: {', '.join(cfg['search'])}; held-out tasks: {held}",
        _SCORES[run.config["coevolution"]["mode"] != "rules"],
        "",
        f"{'rank':>6}  {'search':^15}  {'held-out':^15}  {'cplx':>4}  {'fingerprint':16}  rule",
        f"{'':6}  {'tuned':>7} {'robust':>7}  {'tuned':>7} {'robust':>7}",
    ]
    for r in rows:
        mark = ("*" if r["pareto"] else " ") + (">" if r["pick"] else " ")
        hurdle = " (failed the hurdle)" if r["hurdle_failed"] else ""
        lines.append(
            f"{mark}{r['rank']:>4}  {_num(r['fitness'])} {_num(r['robust'])}  "
            f"{_num(r['held_out'])} {_num(r['held_out_robust'])}  {r['complexity']:>4}  "
            f"{r['fingerprint']:16}  {'[' + r['architecture'] + '] ' if r['architecture'] else ''}"
            f"{r['text']}{hurdle}"
        )
    all_rows = table(run)
    front = [r for r in all_rows if r["pareto"]]
    pick = next((r for r in all_rows if r["pick"]), None)
    if pick is not None:
        by = "held-out" if pick["held_out"] is not None else "search (no held-out scores yet)"
        simplest = min(r["complexity"] for r in front)
        lines += ["", "* Pareto-optimal in complexity vs search fitness over the hall of fame",
                  f"> recommended: rank {pick['rank']}, the best {by} score among rules of complexity "
                  f"<= {PICK_BUDGET * simplest:g} ({PICK_BUDGET:g} x the simplest Pareto rule's)"]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- one rule


def lineage(run: runs.Run, rank: int, depth: int = LINEAGE_DEPTH) -> dict:
    """The rule's ancestry from ``log.jsonl``: ``{id, generation, fitness, complexity,
    mutation, parents: [...]}``, ``depth`` generations up (``more`` marks a cut);
    an ancestor missing from the log has only ``id`` and ``missing``."""
    run.rule(rank)  # range check
    log = {e["id"]: e for e in RunStore.open(run.path).read_log() if e.get("kind") == "candidate"}

    def node(cid: int, level: int) -> dict:
        entry = log.get(cid)
        if entry is None:
            return {"id": cid, "missing": True}
        out = {k: entry[k] for k in ("id", "generation", "fitness", "complexity", "mutation")}
        parents = entry["parents"]
        out["more"] = bool(parents) and level >= depth
        out["parents"] = [] if out["more"] else [node(p, level + 1) for p in parents]
        return out

    return node(run.hall_of_fame[rank - 1]["id"], 0)


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
    rule = dsl.simplify(run.rule(rank))
    record = run.hall_of_fame[rank - 1]
    row = table(run)[rank - 1]
    scores = [{"split": split, "task": task, **values}
              for split, part in (("search", record), ("held-out", record.get("held_out")))
              if part for task, values in part["tasks"].items()]
    return {
        "row": row, "rule": rule, "text": rule.to_text(), "latex": rule.to_latex(),
        "state": list(rule.state), "hyperparams": rule.hyperparams, "scores": scores,
        "lineage": lineage(run, rank), "behaviour": behaviour(rule),
    }


def format_rule(run: runs.Run, rank: int) -> str:
    """One rule in full: text, LaTeX, state and hyper-parameters, per-task scores with the
    learning rate that won, lineage, and behavioural similarity to Adam, momentum and Lion."""
    d = details(run, rank)
    row = d["row"]
    notes = [w for w, on in (("Pareto-optimal", row["pareto"]), ("recommended pick", row["pick"])) if on]
    held = "" if row["held_out"] is None else f", held-out {row['held_out']:+.3f}"
    lines = [
        f"rank {rank} of {len(run.hall_of_fame)} in run {run.path.name}: candidate #{row['id']} "
        f"(generation {row['generation']}), fingerprint {row['fingerprint']}",
        f"fitness {row['fitness']:+.3f} on search tasks{held} (mean log10 ratio vs Adam, negative "
        f"beats Adam); complexity {row['complexity']}" + "".join(f"; {n}" for n in notes),
        "", d["text"].rstrip(), "", "LaTeX:", d["latex"], "",
        "state slots: " + (", ".join(d["state"]) or "none") + "; hyper-parameters: "
        + (", ".join(f"{k}={v:g}" for k, v in d["hyperparams"].items()) or "none"),
        *([f"architecture: {row['architecture']} (scores below: log10 held-out loss; score = the loss)"]
          if row["architecture"] else []),
        "",
        "per-task scores: log10(score / Adam's), tuned (best lr) and robust (median over the grid)",
        f"{'split':9} {'task':22} {'tuned':>7} {'robust':>7} {'tuned lr':>9} {'score':>10} {'diverged':>8}",
    ]
    for s in d["scores"]:
        lines.append(f"{s['split']:9} {s['task']:22} {s['ratio']:+7.3f} {s['robust_ratio']:+7.3f} "
                     f"{s['tuned_lr']:9.3g} {s['tuned']:10.3e} {s['diverged']:8.0%}")
    lines += ["", f"lineage (parents from log.jsonl, up to {LINEAGE_DEPTH} generations back):",
              *_lineage_lines(d["lineage"]), "",
              "behaviour: cosine similarity of update directions on probe gradient streams "
              "(1 = same direction, 0 = unrelated)"]
    lines += [f"  {name:9} {v:+.2f}" for name, v in d["behaviour"].items()]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line


def _cmd_inspect(args: argparse.Namespace) -> int:
    if args.top is not None and args.top < 1:
        raise ValueError(f"--top must be >= 1, got {args.top}")
    run = runs.load_run(args.run_dir)
    if args.rule is not None:
        print(format_rule(run, args.rule))
    else:
        print(format_table(run, args.top))
    if args.plots:
        from discovery import plots

        paths = plots.write(run)
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``discovery inspect`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "inspect", help="the hall of fame of a run as a table, or one rule in full",
        description="Print a run's hall of fame (scores vs Adam, complexity, Pareto front, "
        "recommended pick) or, with --rule K, one rule in full. Read-only: works on a run "
        "that is still going.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (runs/<name>-s<seed>-<time>)")
    p.add_argument("--top", type=int, help="rows to show (default: the whole hall of fame)")
    p.add_argument("--rule", type=int, metavar="K", help="show the rule at rank K in full")
    p.add_argument("--plots", action="store_true",
                   help="also write PNG figures into the run folder (trains the top rules and "
                   "baselines once more on the search tasks; overwrites earlier figures)")
    p.set_defaults(func=_cmd_inspect)
    return p
