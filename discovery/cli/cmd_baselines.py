"""``discovery baselines``: Adam vs the other Optax optimizers on the task suites."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from discovery import tasks
from discovery.analysis import baselines
from discovery.training import scoring


def add_parser(subparsers) -> None:
    from discovery.cli import subparser

    p = subparser(subparsers, "baselines",
                  "Adam vs the other Optax optimizers on the task suites, under one protocol",
                  f"Train {', '.join(baselines.OPTIMIZERS)} on every task of the suite with the same "
                  "lr grid, seeds and steps; print and save tuned / out-of-the-box scores and Adam's rank.")
    add_options(p, "runs/baselines-<suite>-<size>")
    p.set_defaults(func=command)


def add_options(p: argparse.ArgumentParser, default_out: str) -> None:
    """The table's options (suite, size, out, steps, seeds, optimizers, tasks, force, data file)."""
    p.add_argument("--suite", default="all", help=f"one of {', '.join(baselines.SUITES)}")
    p.add_argument("--size", default="default", help=" | ".join(tasks.SIZES))
    p.add_argument("--out", help=f"output folder (default {default_out})")
    p.add_argument("--steps", type=int, help=f"training steps (default per size: {baselines.DEFAULT_STEPS})")
    p.add_argument("--seeds", type=int, default=len(scoring.DEFAULT_SEEDS), help="number of seeds 0..N-1")
    p.add_argument("--optimizers", help="comma-separated subset (adam is always included)")
    p.add_argument("--tasks", help="comma-separated tasks of the suite (default: the whole suite)")
    p.add_argument("--force", action="store_true", help="overwrite results in the output folder")
    p.add_argument("--data-file", help="a LIBSVM-format file (e.g. the real mushrooms set) for the "
                   "klr_* tasks instead of their synthetic data")


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def command(args: argparse.Namespace, extra: Mapping[str, baselines.Baseline] | None = None) -> int:
    """Run the table for parsed ``add_options`` arguments (plus ``extra`` optimizers)."""
    suite = baselines.suite_tasks(args.suite)
    if args.size not in tasks.SIZES:
        raise ValueError(f"unknown size {args.size!r}; valid sizes: {list(tasks.SIZES)}")
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    chosen = _names(args.tasks)
    if chosen is not None:
        baselines.checked(chosen, tasks.names(), "task")
        outside = [t for t in chosen if t not in suite]
        if outside:
            raise ValueError(f"task(s) {outside} are not in suite {args.suite!r}; use --suite all")
    steps = baselines.DEFAULT_STEPS[args.size] if args.steps is None else args.steps
    protocol = scoring.Protocol(seeds=tuple(range(args.seeds)), steps=steps)
    optimizers = _names(args.optimizers)
    if optimizers is not None:
        baselines.checked(optimizers, list(baselines.OPTIMIZERS), "optimizer")
    if args.data_file:
        if not any(t.startswith("klr_") for t in chosen or suite):
            raise ValueError("--data-file applies to the kernel logistic regression tasks (klr_*); "
                             "choose one with --tasks or --suite")
        if not Path(args.data_file).is_file():
            raise FileNotFoundError(f"--data-file {args.data_file} does not exist")
    out = Path(args.out or f"runs/baselines-{args.suite}-{args.size}")
    baselines.claim_outputs(out, args.force)  # refuse before hours of training, not after
    table = baselines.run_baselines(chosen or suite, args.size, protocol, optimizers, extra=extra,
                                    data_file=args.data_file)
    print(baselines.format_table(table))
    paths = baselines.write_outputs(table, out, force=args.force)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
