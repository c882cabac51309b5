"""``discovery tasks``: the registered tasks with their sizes."""

from __future__ import annotations

import argparse

from discovery import tasks


def add_parser(subparsers) -> None:
    from discovery.cli import subparser

    p = subparser(subparsers, "tasks", "list the registered tasks with their sizes")
    p.add_argument("--size", choices=tasks.SIZES, default="default", help="task size")
    p.add_argument("--kind", choices=tasks.KINDS, help="only tasks of this kind")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    print(f"{'name':22} {'kind':8} {'params':>8}  {'f*':>10}  description")
    for row in tasks.describe(args.size):
        if args.kind and row.kind != args.kind:
            continue
        f_star = "-" if row.f_star is None else f"{row.f_star:.4g}"
        print(f"{row.name:22} {row.kind:8} {row.n_params:8d}  {f_star:>10}  {row.description}")
    return 0
