"""``discovery export``: a rule as an Optax module (py), msgpack or DSL text."""

from __future__ import annotations

import argparse
import sys

from discovery.analysis.export import BINARY, FORMATS


def add_parser(subparsers) -> None:
    from discovery.cli import subparser

    p = subparser(subparsers, "export", "export a rule as an Optax module (py), msgpack or DSL text",
                  "Export hall-of-fame rule K of a run (by default the rule `discovery inspect` "
                  "recommends, marked '>') or a rule file as a self-contained "
                  "Python module defining NAME(learning_rate, ...) -> optax.GradientTransformation, "
                  "as msgpack (dsl.loads) or as DSL text (dsl.parse). Prints py/text without -o.")
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", help="a run folder")
    p.add_argument("--rank", type=int, metavar="K", help="hall-of-fame rank (default: the recommended "
                   "pick, which `inspect` marks '>'; rank 1 has the best search fitness)")
    p.add_argument("--rule-file", help="a DSL text or msgpack rule file instead of a run")
    p.add_argument("--format", choices=FORMATS, default="py", help="output format")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: stdout)")
    p.add_argument("--name", help="Python name of the optimizer (default: the rule's own name, "
                   "e.g. evolved_1a2b3c4d)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from discovery import runs
    from discovery.analysis import export

    if (args.run_dir is None) == (args.rule_file is None):
        raise ValueError("give either RUN_DIR (with --rank) or --rule-file FILE")
    if args.format in BINARY and args.output is None:
        raise ValueError(f"{args.format} is binary: give an output file with -o FILE")
    if args.rule_file is not None and args.rank is not None:
        raise ValueError("--rank needs RUN_DIR, not --rule-file")
    which = ""
    if args.run_dir is not None:
        run = runs.load_run(args.run_dir)
        rank = export.chosen_rank(run, args.rank)
        which = f"rank {rank}" + (" (the recommended pick; --rank K for another)" if args.rank is None else "")
        data = export.from_run(run, rank, args.format, args.name)
    else:
        data = export.render(export.read_rule_file(args.rule_file), args.format, args.name)
    if args.output is None:
        sys.stdout.write(data.decode())
        if which:
            print(f"discovery export: exported {which}", file=sys.stderr)
    else:
        written = export.write(data, args.output, args.force)
        print(f"wrote {written}" + (f": {which}" if which else ""))
    return 0
