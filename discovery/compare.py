"""``discovery compare RULE_FILE``: a rule against the Optax baselines, as in the baselines table.

The rule (DSL text or msgpack, e.g. from ``discovery export``) is one more
column of ``discovery.baselines``: same tasks, lr grid, seeds and steps, the
same tuned / out-of-the-box scores and ranks, the same CSV, JSON and heatmap.
Its out-of-the-box score is at ``--default-lr`` (1e-3, Adam's default, unless given).

Example::

    discovery export runs/quick-s0-... --rank 1 --format text -o best.txt
    discovery compare best.txt --suite nondeep --size small --out runs/compare-best
"""

from __future__ import annotations

import argparse

import dsl
from discovery import baselines, export

DEFAULT_LR = 1e-3


def rule_baseline(rule: dsl.Rule, default_lr: float = DEFAULT_LR, source: str = "") -> baselines.Baseline:
    """``rule`` as a ``baselines.Baseline`` (compiled natively, like an Optax optimizer)."""
    if not default_lr > 0:
        raise ValueError(f"the default learning rate must be positive, got {default_lr}")
    return baselines.Baseline(dsl.optimizer_factory(rule), default_lr, source or f"rule {rule.name}")


def column_name(rule: dsl.Rule) -> str:
    """The rule's name, suffixed with '_rule' if a baseline has it (a DSL ``adam``)."""
    return f"{rule.name}_rule" if rule.name in baselines.OPTIMIZERS else rule.name


def _cmd_compare(args: argparse.Namespace) -> int:
    rule = export.read_rule_file(args.rule_file)
    name = column_name(rule)
    extra = {name: rule_baseline(rule, args.default_lr, f"rule file {args.rule_file}")}
    args.out = args.out or f"runs/compare-{name}-{args.size}"
    return baselines.command(args, extra)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``discovery compare`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "compare", help="train a rule file against the Optax baselines (the baselines table)",
        description="Score a rule (DSL text or msgpack file) and the Optax baselines on the "
        "task suite under one protocol; print and save the baselines table with the rule as "
        "the last column.",
    )
    p.add_argument("rule_file", metavar="RULE_FILE", help="a DSL text or msgpack rule file")
    p.add_argument("--default-lr", type=float, default=DEFAULT_LR,
                   help="the rule's out-of-the-box learning rate (default %(default)g, Adam's)")
    baselines.add_options(p, "runs/compare-<rule>-<size>")
    p.set_defaults(func=_cmd_compare)
    return p
