"""The hypothesis experiment's evolution arms: what each one evolves, how its result is read, its name.

An arm's name keys its results (``findings.SeedResult.arms``) and starts its run folders
(``runs/<name>-s<seed>-...``): ``joint-noadam`` (rules and architectures evolve jointly from
starts without Adam, one generation per round of the pool) and ``nondeep`` (rules evolve on
the non-deep tasks). ``Arm.name`` spells it from the arm's kind and its ``start``; no other
code spells one. The kinds are ``Kind`` (``KINDS``: ``JOINT``, ``RULES``); ``ADAM`` names the
optimizer the experiment asks about (a key of ``training.optimizers.OPTIMIZERS``).

(The architectures arms that evolved architectures with one optimizer held fixed, an estimator
without power at these budgets, were retired for rounds of selection on the shared pool; the
reports they made reproduce at commit c88c26b.)

Example::

    Arm("joint", start="noadam").name == "joint-noadam"
    Arm("rules").name == "nondeep"
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args

Kind = Literal["joint", "rules"]
KINDS: tuple[Kind, ...] = get_args(Kind)
JOINT, RULES = KINDS
Start = Literal["noadam"]  # from starts without Adam
JOINT_STARTS: tuple[Start, ...] = get_args(Start)
ADAM = "adam"
NO_ADAM = "joint-noadam"  # the name of Arm(JOINT, start="noadam")
_PREFIX: dict[Kind, str] = {JOINT: "joint", RULES: "nondeep"}
_DOING: dict[Kind, str] = {JOINT: "rules and architectures evolve jointly", RULES: "rules evolve on non-deep tasks"}


def arm_kind(value: Any) -> Kind:
    """A stored arm kind (a codec reader): one of ``KINDS``."""
    if value not in KINDS:
        raise TypeError(f"expected an arm kind {list(KINDS)}, got {str(value)[:40]!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Arm:
    """One arm: an evolution run per seed (``overrides`` of the experiment's config) and how its
    result is summarized (``kind``): ``"joint"``, the Adam-like share and the best rule's
    distance to Adam per generation (``start``: ``JOINT_STARTS``); ``"rules"``, the best rule,
    and the panel on the non-deep tasks."""

    kind: Kind
    start: Start | None = None
    overrides: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown arm kind {self.kind!r}; kinds: {list(KINDS)}")
        if self.start not in (JOINT_STARTS if self.kind == JOINT else (None,)):
            raise ValueError(f"a joint arm names its start from {list(JOINT_STARTS)}, a rules arm none; got {self}")

    @property
    def name(self) -> str:
        """``joint-<start>`` or ``nondeep``."""
        return f"{_PREFIX[self.kind]}-{self.start}" if self.start else _PREFIX[self.kind]

    @property
    def doing(self) -> str:
        """What evolves in the arm's runs, for the progress bar."""
        return _DOING[self.kind]

    @property
    def units(self) -> int:
        """Steps of progress: the run, and its panel if it has one."""
        return 1 if self.kind == JOINT else 2
