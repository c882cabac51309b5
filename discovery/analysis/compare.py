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

import dsl
from discovery.analysis import baselines

DEFAULT_LR = 1e-3


def rule_baseline(rule: dsl.Rule, default_lr: float = DEFAULT_LR, source: str = "") -> baselines.Baseline:
    """``rule`` as a ``baselines.Baseline`` (tuned from its own natural scale, ``tuning.tune``)."""
    if not default_lr > 0:
        raise ValueError(f"the default learning rate must be positive, got {default_lr}")
    return baselines.Baseline(rule, default_lr, source or f"rule {rule.name}")


def column_name(rule: dsl.Rule) -> str:
    """The rule's name, suffixed with '_rule' if a baseline has it (a DSL ``adam``)."""
    return f"{rule.name}_rule" if rule.name in baselines.OPTIMIZERS else rule.name
