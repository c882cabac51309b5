"""``discovery hypothesis``: the Adam hypothesis experiment."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    from discovery.cli import subparser
    from discovery.experiments.adam_hypothesis import PRESETS

    p = subparser(subparsers, "hypothesis", "run the three-regime hypothesis experiment")
    p.add_argument("--preset", choices=tuple(PRESETS), default="quick", help="experiment size")
    p.add_argument("--seeds", type=int, help="number of seeds (default: the preset's)")
    p.add_argument("--out", default="runs/hypothesis", help="output folder")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from discovery.experiments import adam_hypothesis

    result = adam_hypothesis.run_experiment(args.preset, args.seeds, args.out)
    print(adam_hypothesis.markdown(result))
    print(f"written: {Path(args.out) / 'report.md'}, report.json, report.png")
    return 0
