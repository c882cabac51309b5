"""The hypothesis experiment's arms: what each one evolves, how its result is read, its name.

An arm's name keys its results (``findings.SeedResult.arms``) and starts its run folders
(``runs/<name>-s<seed>-...``): ``arch-<f>`` (architectures evolve with ``f`` held fixed),
``joint-noadam`` and ``joint-random`` (rules and architectures evolve jointly, from starts
without Adam or from random rules), ``nondeep`` (rules evolve on the non-deep tasks).
``Arm.name`` spells it from the arm's kind and its ``fixed`` optimizer or ``start``; no other
code spells one (the analysis finds an arm's results by ``Arm(...).name``).

Example::

    Arm("architectures", fixed="adam").name == "arch-adam"
    Arm("joint", start="noadam").name == "joint-noadam"
"""

from __future__ import annotations

import dataclasses
from typing import Any

KINDS = ("architectures", "joint", "rules")
JOINT_STARTS = ("noadam", "random")  # from starts without Adam, from random rules
_PREFIX = {"architectures": "arch", "joint": "joint", "rules": "nondeep"}


@dataclasses.dataclass(frozen=True)
class Arm:
    """One arm: an evolution run per seed (``overrides`` of the experiment's config) and how its
    result is summarized (``kind``): ``"architectures"``, the panel ``panel`` tuned on its top
    architectures (``fixed``: the optimizer held fixed while they evolved); ``"joint"``, the
    Adam-like share per generation and the best rule's distances (``start``: ``JOINT_STARTS``);
    ``"rules"``, the best rule, and the panel on the non-deep tasks."""

    kind: str
    fixed: str | None = None
    start: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()
    panel: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown arm kind {self.kind!r}; kinds: {list(KINDS)}")
        if (self.fixed is None) == (self.kind == "architectures") or self.start not in (
                JOINT_STARTS if self.kind == "joint" else (None,)):
            raise ValueError(f"an architectures arm names its fixed optimizer and only it, a joint arm its "
                             f"start from {list(JOINT_STARTS)} and only it; got {self}")

    @property
    def name(self) -> str:
        """``arch-<fixed>``, ``joint-<start>`` or ``nondeep``."""
        detail = self.fixed or self.start
        return f"{_PREFIX[self.kind]}-{detail}" if detail else _PREFIX[self.kind]

    @property
    def units(self) -> int:
        """Steps of progress: the run, and its panel if it has one."""
        return 1 if self.kind == "joint" else 2
