"""The ``discovery`` command line: one module per subcommand (``cmd_*.py``).

Only this package imports argparse; the library modules it calls take plain
arguments. Every command exits non-zero with a one-line message on bad input.
"""

from __future__ import annotations

import argparse
import sys

import dsl
from discovery.cli import (
    cmd_baselines,
    cmd_compare,
    cmd_demo,
    cmd_export,
    cmd_hypothesis,
    cmd_inspect,
    cmd_run,
    cmd_tasks,
)

COMMANDS = (cmd_tasks, cmd_demo, cmd_run, cmd_inspect, cmd_export, cmd_compare, cmd_baselines,
            cmd_hypothesis)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="discovery",
        description="Evolutionary discovery of optimizer update rules, compiled to Optax.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def subparser(subparsers, name: str, help: str, description: str = "") -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows every option's default."""
    return subparsers.add_parser(name, help=help, description=description or help,
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)


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
