"""Exporting a discovered rule: a standalone Optax module, msgpack, or DSL text.

* ``py``: a Python module importing only jax and optax (``dsl.python_module``),
  documented with the rule's equations, where it came from and its scores;
* ``msgpack``: ``dsl.dumps`` bytes, read back with ``dsl.loads``;
* ``text``: the rule language, read back with ``dsl.parse`` (provenance as comments).

A rule exported from a run is the form the run reports (``dsl.prune``: the same
updates within 1e-3 from the second step on, what does not matter removed),
under its own name (``evolved_<8 hex>``) unless a name is given. Nothing is
written over an existing file (or link) unless ``force``; writes are atomic and
replace a link rather than write through it.

Without a rank, the rule exported is the recommended pick (``inspection.pick``: the rule
``inspect`` marks ``>``), not necessarily rank 1 (the best search fitness).

Example::

    run = discovery.load_run("runs/quick-s0-...")
    rank = export.chosen_rank(run)                   # the recommended pick
    source = export.from_run(run, rank, fmt="py", name="my_opt")
    export.write(source, "my_opt.py")
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Literal, get_args

import dsl
from discovery import runs
from discovery.analysis import inspection
from discovery.records import Evaluation
from discovery.runs.files import atomic_write, read_capped
from dsl.parser import MAX_TEXT
from dsl.serialize import MAX_BYTES

Format = Literal["py", "msgpack", "text"]
FORMATS: tuple[Format, ...] = get_args(Format)
BINARY: tuple[Format, ...] = ("msgpack",)  # the formats a terminal cannot show
MAX_RULE_FILE = max(MAX_BYTES, 4 * MAX_TEXT)  # bytes: the largest msgpack or UTF-8 rule


def read_rule_file(path: str | Path) -> dsl.Rule:
    """A rule from a DSL text file or a msgpack file (``dsl.dumps``), told apart by content.

    At most ``MAX_RULE_FILE`` bytes are read; every error names the file."""
    raw = read_capped(path, MAX_RULE_FILE, "rule file")
    try:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # msgpack maps start with a byte that is never UTF-8 text
            return dsl.loads(raw)
        return dsl.parse(text)
    except dsl.DSLError as e:
        raise ValueError(f"rule file {path}: {e}") from None


def provenance(run: runs.Run, rank: int) -> str:
    """Where rule ``rank`` of ``run`` comes from and how it scored, as plain text."""
    c = run.candidate(rank)
    protocol = run.config.protocol
    picked = " (the recommended pick)" if rank == inspection.pick(run) else ""
    lines = [
        f"Discovered by evolution: rank {rank}{picked} of the hall of fame of run {run.path.name}",
        f"({run.path.resolve()}), candidate #{c.id}, generation {c.generation}.",
        "",
        f"Search fitness {c.fitness:+.3f}: mean over the search tasks of log10(tuned score /",
        "Adam's tuned score), negative beats Adam; tuned = best of "
        f"{len(protocol.learning_rates)} learning rates, {len(protocol.seeds)} seed(s), "
        f"{protocol.steps} steps.",
    ]
    lines += _task_lines(c.evaluation)
    if c.held_out:
        lines += ["", f"Held-out fitness {c.held_out.fitness:+.3f} ({protocol.held_out_steps} steps):",
                  *_task_lines(c.held_out)]
    rec = c.recommendation
    lines += ["", f"Recommended learning rate (the default of this optimizer): {c.recommended_lr:.3g}"
              + (f", the best worst case over the {rec.split} tasks among lrs that "
                 + ("trained every one without divergence." if rec.trains_everywhere
                    else "were tried (none trained every task without divergence).")
                 if rec else " (median over the search tasks of the tuned learning rate).")]
    return "\n".join(lines)


def _task_lines(evaluation: Evaluation) -> list[str]:
    return [f"    {task:22} {t.ratio:+.3f}  (tuned lr {t.tuned_lr:.3g})"
            for task, t in evaluation.tasks.items()]


def render(rule: dsl.Rule, fmt: Format, name: str | None = None, about: str = "",
           lr: float | None = None) -> bytes:
    """``rule`` in format ``fmt`` (``FORMATS``), named ``name``. ``about`` documents the
    ``py`` output (docstring) and the ``text`` one (comments); ``lr`` is the recommended
    learning rate stated in the ``py`` optimizer's docstring."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: {list(FORMATS)}")
    name = rule.name if name is None else name
    dsl.check_export_name(name)
    rule = dataclasses.replace(rule, name=name)
    if fmt == "py":
        return dsl.python_module(rule, about=about, recommended_lr=lr).encode()
    if fmt == "msgpack":
        return dsl.dumps(rule)
    return ("".join(f"# {line}".rstrip() + "\n" for line in about.splitlines())
            + rule.to_text()).encode()


def chosen_rank(run: runs.Run, rank: int | None = None) -> int:
    """``rank`` if given (checked), else the recommended pick's rank (``inspection.pick``)."""
    if rank is None:
        return inspection.pick(run)
    run.candidate(rank)  # ValueError if out of range
    return rank


def from_run(run: runs.Run, rank: int | None = None, fmt: Format = "py", name: str | None = None) -> bytes:
    """Hall-of-fame rule ``rank`` of ``run`` (default: the recommended pick, ``chosen_rank``),
    as reported (pruned: ``Candidate.simplified``), in format ``fmt``."""
    rank = chosen_rank(run, rank)
    rule = run.candidate(rank).simplified
    return render(rule, fmt, name, provenance(run, rank), run.candidate(rank).recommended_lr)


def write(data: bytes, path: str | Path, force: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically. ValueError if ``path`` is a folder, or if anything
    is there (a file, a link, even a dangling one) and not ``force``; a link is replaced, never
    written through."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name")
    if os.path.lexists(path) and not force:
        raise ValueError(f"{path} already exists; use --force (force=True) to overwrite it")
    return atomic_write(path, data)
