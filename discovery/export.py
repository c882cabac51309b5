"""Exporting a discovered rule: a standalone Optax module, msgpack, or DSL text.

* ``py``: a Python module importing only jax and optax (``discovery.codegen``),
  documented with the rule's equations, where it came from and its scores;
* ``msgpack``: ``dsl.dumps`` bytes, read back with ``dsl.loads``;
* ``text``: the rule language, read back with ``dsl.parse`` (provenance as comments).

A rule exported from a run is its simplified form (``dsl.simplify``: same
updates, dead statements gone), named ``<rule name>_rank<K>`` unless a name
is given. Nothing is written over an existing file unless ``force``.

Example::

    run = discovery.load_run("runs/quick-s0-...")
    source = export.from_run(run, rank=1, fmt="py", name="my_opt")
    export.write(source, "my_opt.py")
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
from pathlib import Path

import dsl
from discovery import runs

FORMATS = ("py", "msgpack", "text")


def read_rule_file(path: str | Path) -> dsl.Rule:
    """A rule from a DSL text file or a msgpack file (``dsl.dumps``), told apart by content."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # msgpack maps start with a byte that is never UTF-8 text
        return dsl.loads(raw)
    return dsl.parse(text)


def recommended_lr(record: dict) -> float:
    """The geometric median over search tasks of the tuned learning rate, to 3 digits."""
    exponent = statistics.median(math.log10(t["tuned_lr"]) for t in record["tasks"].values())
    return float(f"{10 ** exponent:.3g}")


def provenance(run: runs.Run, rank: int) -> str:
    """Where rule ``rank`` of ``run`` comes from and how it scored, as plain text."""
    record = run.hall_of_fame[rank - 1]
    protocol = run.config["protocol"]
    lines = [
        f"Discovered by evolution: rank {rank} of the hall of fame of run {run.path.name}",
        f"({run.path.resolve()}), candidate #{record['id']}, generation {record['generation']}.",
        "",
        f"Search fitness {record['fitness']:+.3f}: mean over the search tasks of log10(tuned score /",
        "Adam's tuned score), negative beats Adam; tuned = best of "
        f"{len(protocol['learning_rates'])} learning rates, {len(protocol['seeds'])} seed(s), "
        f"{protocol['steps']} steps.",
    ]
    lines += _task_lines(record)
    held = record.get("held_out")
    if held:
        lines += ["", f"Held-out fitness {held['fitness']:+.3f} ({protocol['held_out_steps']} steps):",
                  *_task_lines(held)]
    lines += ["", f"Recommended learning rate: {recommended_lr(record):.3g} (median over the search "
              "tasks of the tuned learning rate)."]
    return "\n".join(lines)


def _task_lines(part: dict) -> list[str]:
    return [f"    {task:22} {t['ratio']:+.3f}  (tuned lr {t['tuned_lr']:.3g})"
            for task, t in part["tasks"].items()]


def render(rule: dsl.Rule, fmt: str, name: str | None = None, about: str = "",
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


def from_run(run: runs.Run, rank: int = 1, fmt: str = "py", name: str | None = None) -> bytes:
    """Hall-of-fame rule ``rank`` of ``run``, simplified, in format ``fmt``."""
    rule = dsl.simplify(run.rule(rank))
    name = f"{rule.name}_rank{rank}" if name is None else name
    return render(rule, fmt, name, provenance(run, rank), recommended_lr(run.hall_of_fame[rank - 1]))


def write(data: bytes, path: str | Path, force: bool = False) -> Path:
    """Write ``data`` to ``path``; ValueError if it exists and not ``force``."""
    path = Path(path)
    if path.exists() and not force:
        raise ValueError(f"{path} already exists; use --force (force=True) to overwrite it")
    path.write_bytes(data)
    return path


def _cmd_export(args: argparse.Namespace) -> int:
    if (args.run_dir is None) == (args.rule_file is None):
        raise ValueError("give either RUN_DIR (with --rank) or --rule-file FILE")
    if args.format == "msgpack" and args.output is None:
        raise ValueError("msgpack is binary: give an output file with -o FILE")
    if args.run_dir is not None:
        data = from_run(runs.load_run(args.run_dir), args.rank, args.format, args.name)
    else:
        data = render(read_rule_file(args.rule_file), args.format, args.name)
    if args.output is None:
        sys.stdout.write(data.decode())
    else:
        print(f"wrote {write(data, args.output, args.force)}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``discovery export`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "export", help="export a rule as an Optax module (py), msgpack or DSL text",
        description="Export hall-of-fame rule K of a run (or a rule file) as a self-contained "
        "Python module defining NAME(learning_rate, ...) -> optax.GradientTransformation, "
        "as msgpack (dsl.loads) or as DSL text (dsl.parse). Prints py/text without -o.",
    )
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", help="a run folder")
    p.add_argument("--rank", type=int, default=1, metavar="K", help="hall-of-fame rank (default 1)")
    p.add_argument("--rule-file", help="a DSL text or msgpack rule file instead of a run")
    p.add_argument("--format", choices=FORMATS, default="py", help="default py")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: stdout)")
    p.add_argument("--name", help="Python name of the optimizer (default <rule>_rank<K>, or "
                   "the rule's own name for --rule-file)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=_cmd_export)
    return p
