"""``discovery run``: launch or resume an evolution run."""

from __future__ import annotations

import argparse

from discovery import config as config_lib


def add_parser(subparsers) -> None:
    from discovery.cli import subparser

    p = subparser(subparsers, "run", "launch (or resume) an evolution run",
                  "Launch an evolution run from a preset and/or a TOML config (every key has a "
                  "default, see the README), or resume one with --resume RUN_DIR.")
    p.add_argument("config", nargs="?", help="a TOML config file (see README)")
    p.add_argument("--preset", choices=tuple(config_lib.PRESETS),
                   help="start from a preset (the TOML file and options override it)")
    p.add_argument("--seed", type=int, help="[run] seed")
    p.add_argument("--out", default="runs", help="folder in which the run's folder is created")
    p.add_argument("--generations", type=int, help="[run] generations")
    p.add_argument("--population", type=int, help="[run] population (also children per generation)")
    p.add_argument("--tasks", help="[tasks] search: comma-separated task names, e.g. mf_k4,quadratic_ill")
    p.add_argument("--backend", choices=config_lib.BACKENDS,
                   help="[evaluation] backend: where candidates are evaluated (ray: pip install '.[ray]')")
    p.add_argument("--address", help="[evaluation] address: with --backend ray, 'auto' or HOST:PORT "
                                     "of a running cluster (default: start a local one)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument("--top", type=int, default=5, help="rules to print at the end")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from discovery import runs

    overrides = {
        key: value
        for key, value in {
            "run.seed": args.seed,
            "run.generations": args.generations,
            "run.population": args.population,
            "tasks.search": args.tasks.split(",") if args.tasks else None,
            "evaluation.backend": args.backend,
            "evaluation.address": args.address,
        }.items()
        if value is not None
    }
    if args.resume:
        if args.config or args.preset or overrides:
            raise ValueError("--resume continues a run with its own config; give no other options")
        result = runs.run(resume=args.resume)
    else:
        result = runs.run(config_lib.load(args.config, preset=args.preset, **overrides), out=args.out)
    print(runs.report(result, top=args.top))
    return 0 if result.summary else 130  # no summary: interrupted (Ctrl-C), resumable
