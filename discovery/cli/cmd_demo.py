"""``discovery demo``: the library rules compiled both ways, trained on small tasks."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    from discovery.cli import subparser

    p = subparser(subparsers, "demo", "compile the library rules both ways and train a small problem")
    p.add_argument("--steps", type=int, default=200, help="training steps per task")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from discovery.analysis.demo import demo

    demo(steps=args.steps)
    return 0
