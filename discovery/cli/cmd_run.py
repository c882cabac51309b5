"""``discovery run``: launch, resume or extend an evolution run."""

from __future__ import annotations

import argparse
import tomllib

from discovery import config as config_lib


def add_parser(subparsers) -> None:
    from discovery import tasks
    from discovery.cli import subparser

    d = config_lib.Config()  # what an option left out (and no config file) gives
    p = subparser(subparsers, "run", "launch, resume or extend an evolution run",
                  "Launch an evolution run from a preset and/or a TOML config (every key has a "
                  "default, see docs/evolution.md), resume one with --resume RUN_DIR, or extend a finished "
                  "one with --resume RUN_DIR --generations N. Options override the config file; "
                  "an option left out keeps the config's value.")
    p.add_argument("config", nargs="?", help="a TOML config file (see docs/evolution.md); none: the defaults, or the preset")
    p.add_argument("--preset", choices=tuple(config_lib.RUN_PRESETS),
                   help="start from a preset (the TOML file and options override it)")
    p.add_argument("--seed", type=int, help=f"[run] seed (config default: {d.run.seed})")
    p.add_argument("--out", default="runs", help="folder in which the run's folder is created")
    p.add_argument("--generations", type=int,
                   help=f"[run] generations (config default: {d.run.generations}); with --resume, the "
                        "new length of the run (extends a finished one)")
    p.add_argument("--population", type=int, help=f"[run] population, also children per generation (config default: "
                        f"{d.run.population})")
    p.add_argument("--tasks", help="[tasks] search: comma-separated task names, e.g. mf_k4,quadratic_ill, "
                                   "or import paths package.module:factory (config default: "
                                   f"{','.join(d.tasks.search)})")
    p.add_argument("--held-out", help="[tasks] held_out: comma-separated task names, '' for none "
                                      f"(config default: {','.join(d.tasks.held_out)})")
    p.add_argument("--size", choices=tasks.SIZES, help=f"[tasks] size (config default: {d.tasks.size})")
    p.add_argument("--steps", type=int, help="[protocol] steps: training steps per search-task score "
                        f"(config default: {d.protocol.steps})")
    p.add_argument("--backend", choices=config_lib.BACKENDS,
                   help="[evaluation] backend: where candidates are evaluated (ray: pip install "
                        f"'.[ray]'; config default: {d.evaluation.backend})")
    p.add_argument("--address", help="[evaluation] address: with --backend ray, 'auto' or HOST:PORT "
                                     "of a running cluster (default: start a local one)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", dest="settings",
                   help="any config key, repeatable; VALUE is TOML (2, 1e-3, true, [1, 2], \"text\") "
                        "or else a bare string: --set protocol.held_out_steps=500")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint (its own config)")
    p.add_argument("--top", type=int, default=5, help="rules to print at the end")
    p.set_defaults(func=command)


def parse_setting(text: str) -> tuple[str, object]:
    """``"section.key=value"`` -> ``("section.key", value)``, the value read as TOML (else a string)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or "." not in key:
        raise ValueError(f"--set {text!r}: expected SECTION.KEY=VALUE, e.g. --set protocol.steps=200")
    try:
        return key, tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value.strip()


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def command(args: argparse.Namespace) -> int:
    from discovery import runs
    from discovery.analysis import report_html

    options = {
        "run.seed": args.seed,
        "run.population": args.population,
        "tasks.search": _names(args.tasks) if args.tasks is not None else None,
        "tasks.held_out": _names(args.held_out) if args.held_out is not None else None,
        "tasks.size": args.size,
        "protocol.steps": args.steps,
        "evaluation.backend": args.backend,
        "evaluation.address": args.address,
    }
    overrides = {**{k: v for k, v in options.items() if v is not None},
                 **dict(parse_setting(s) for s in args.settings)}
    if args.resume:
        if args.config or args.preset or overrides:
            raise ValueError("--resume continues a run with its own config; only --generations may change it")
        before = runs.load_run(args.resume)
        result = report_html.run_with_report(resume=args.resume, generations=args.generations)
        if before.summary is not None and result.generation == before.generation:
            print(f"run {result.path} is complete ({result.generation} generations): nothing changed; "
                  f"--generations N (N > {result.generation}) extends it")
    else:
        if args.generations is not None:
            overrides["run.generations"] = args.generations
        result = report_html.run_with_report(config_lib.load(args.config, preset=args.preset, **overrides),
                                             out=args.out)
    print(runs.report(result, top=args.top))
    if (result.path / report_html.REPORT).exists():
        print(f"report: {result.path / report_html.REPORT} (open it in a browser)")
    return 0 if result.summary else 130  # no summary: interrupted (Ctrl-C), resumable
