"""``discovery hypothesis``: did architectures evolve to make Adam look best?"""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    from discovery import config as config_lib
    from discovery import tasks
    from discovery.cli import subparser
    from discovery.experiments.adam_hypothesis import EXPERIMENT_PRESETS

    p = subparser(subparsers, "hypothesis", "run (or resume) the Adam hypothesis experiment",
                  "Home advantage under rounds of selection on one shared, growing pool of "
                  "architectures: each optimizer's lineage keeps its best and adds their children, "
                  "selection and measurement on disjoint training seeds, a planted positive and a "
                  "negative control in every round; does Adam's home advantage grow with the rounds? "
                  "What in an architecture favours Adam; joint co-evolution from starts without Adam, "
                  "and the non-deep suite; effects with 95%% intervals and verdicts. Re-running with "
                  "the same --out resumes. "
                  + " ".join(f"{k}: {v.expected}." for k, v in EXPERIMENT_PRESETS.items()))
    p.add_argument("--preset", choices=tuple(EXPERIMENT_PRESETS), default="quick", help="experiment size")
    p.add_argument("--seeds", type=int, help="number of seeds (default: the preset's); more seeds on an "
                   "existing --out reuse the finished ones")
    p.add_argument("--out", default="runs/hypothesis", help="output folder (resumed if it exists)")
    p.add_argument("--family", help="architecture family of the pool and the joint arm (default: the "
                   "preset's, token_model, with controls; a family without control genes runs without "
                   f"them); built in: {', '.join(tasks.family_names())}, or 'package.module:FAMILY'")
    p.add_argument("--workers", type=int, default=1, help="processes that tune a round's new architectures, "
                   "each pinned to one CPU core (default 1; 2 on a 2-core machine halves the pool's time)")
    p.add_argument("--backend", choices=config_lib.BACKENDS, default="inprocess",
                   help="where the arms' evolution runs are evaluated")
    p.add_argument("--address", default="", help="with --backend ray: 'auto' or HOST:PORT of a cluster "
                   "(default: start a local one)")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from discovery import config
    from discovery.experiments import adam_hypothesis, report_files

    if args.address and args.backend != config.RAY:
        raise ValueError("--address needs --backend ray")
    report = adam_hypothesis.run_experiment(args.preset, args.seeds, args.out, args.backend, args.address,
                                            family=args.family, workers=args.workers)
    print(report_files.markdown(report))
    print(f"written: {', '.join(f'{args.out}/{name}' for name in report_files.files(report))}")
    return 0
