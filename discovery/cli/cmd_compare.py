"""``discovery compare``: a rule file against the Optax baselines (the baselines table)."""

from __future__ import annotations

import argparse

from discovery.cli import cmd_baselines

DEFAULT_LR = 1e-3


def add_parser(subparsers) -> None:
    from discovery.cli import subparser

    p = subparser(subparsers, "compare", "train a rule file against the Optax baselines (the baselines table)",
                  "Score a rule (DSL text or msgpack file) and the Optax baselines on the "
                  "task suite under one protocol; print and save the baselines table with the rule as "
                  "the last column.")
    p.add_argument("rule_file", metavar="RULE_FILE", help="a DSL text or msgpack rule file")
    p.add_argument("--default-lr", type=float, default=DEFAULT_LR,
                   help="the rule's out-of-the-box learning rate (Adam's default)")
    cmd_baselines.add_options(p, "runs/compare-<rule>-<size>")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from discovery.analysis import compare, export

    rule = export.read_rule_file(args.rule_file)
    name = compare.column_name(rule)
    extra = {name: compare.rule_baseline(rule, args.default_lr, f"rule file {args.rule_file}")}
    args.out = args.out or f"runs/compare-{name}-{args.size}"
    return cmd_baselines.command(args, extra)
