"""The ``discovery`` command line: ``discovery {tasks,demo,baselines} ...``.

Every command exits non-zero with a one-line message on bad input.
"""

from __future__ import annotations

import argparse
import sys

import dsl


def _cmd_tasks(args) -> int:
    from discovery import tasks

    rows = tasks.describe(args.size)
    print(f"{'name':22} {'kind':8} {'params':>8}  {'f*':>10}  description")
    for row in rows:
        if args.kind and row["kind"] != args.kind:
            continue
        f_star = "-" if row["f_star"] is None else f"{row['f_star']:.4g}"
        print(f"{row['name']:22} {row['kind']:8} {row['n_params']:8d}  {f_star:>10}  {row['description']}")
    return 0


def _cmd_demo(args) -> int:
    from discovery.demo import demo

    demo(steps=args.steps)
    return 0


def _cmd_run(args) -> int:
    from discovery import config as config_lib
    from discovery import runs

    if args.resume:
        if args.config or args.preset or any(
            v is not None
            for v in (args.seed, args.generations, args.population, args.tasks, args.backend, args.address)
        ):
            raise ValueError("--resume continues a run with its own config; give no other options")
        result = runs.run(resume=args.resume)
    else:
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
        config = config_lib.load(args.config, preset=args.preset, **overrides)
        result = runs.run(config, out=args.out)
    print(runs.report(result, top=args.top))
    return 0 if result.summary else 130  # no summary: interrupted (Ctrl-C), resumable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="discovery", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks", help="list the registered tasks with their sizes")
    p.add_argument("--size", choices=("small", "default"), default="default")
    p.add_argument("--kind", choices=("deep", "nondeep"))
    p.set_defaults(func=_cmd_tasks)

    p = sub.add_parser("demo", help="compile the library rules both ways and train a small problem")
    p.add_argument("--steps", type=int, default=200)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("run", help="launch (or resume) an evolution run")
    p.add_argument("config", nargs="?", help="a TOML config file (see README)")
    p.add_argument("--preset", choices=("quick", "standard"))
    p.add_argument("--seed", type=int)
    p.add_argument("--out", default="runs", help="folder in which the run's folder is created")
    p.add_argument("--generations", type=int)
    p.add_argument("--population", type=int)
    p.add_argument("--tasks", help="comma-separated search tasks, e.g. mf_k4,quadratic_ill")
    p.add_argument("--backend", choices=("inprocess", "ray"),
                   help="where candidates are evaluated (ray: pip install '.[ray]')")
    p.add_argument("--address", help="with --backend ray: 'auto' or HOST:PORT of a running "
                                      "cluster (default: start a local one)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument("--top", type=int, default=5, help="rules to print at the end")
    p.set_defaults(func=_cmd_run)

    from discovery import baselines, hypothesis

    hypothesis.add_parser(sub)

    baselines.add_parser(sub)

    from discovery import compare, export, inspect

    inspect.add_parser(sub)
    export.add_parser(sub)
    compare.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, dsl.DSLError) as e:  # includes CheckpointError
        print(f"discovery {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"discovery {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
