"""The hypothesis experiment's arms: what each one evolves, how its result is read, its name.

An arm's name keys its results (``findings.SeedResult.arms``) and starts its run folders
(``runs/<name>-s<seed>-...``): ``arch-<f>`` (architectures evolve with ``f`` held fixed),
``joint-noadam`` and ``joint-random`` (rules and architectures evolve jointly, from starts
without Adam or from random rules), ``nondeep`` (rules evolve on the non-deep tasks).
``Arm.name`` spells it from the arm's kind and its ``fixed`` optimizer or ``start``; no other
code spells one (the analysis finds an arm's results by ``Arm(...).name``). The kinds are
``Kind`` (``KINDS``: ``ARCHITECTURES``, ``JOINT``, ``RULES``), the starts ``Start``; ``ADAM``
names the optimizer the experiment asks about (a key of ``training.optimizers.OPTIMIZERS``).

Example::

    Arm("architectures", fixed="adam").name == "arch-adam"
    Arm("joint", start="noadam").name == "joint-noadam"
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args

Kind = Literal["architectures", "joint", "rules"]
KINDS: tuple[Kind, ...] = get_args(Kind)
ARCHITECTURES, JOINT, RULES = KINDS
Start = Literal["noadam", "random"]  # from starts without Adam, from random rules
JOINT_STARTS: tuple[Start, ...] = get_args(Start)
ADAM = "adam"
_PREFIX: dict[Kind, str] = {ARCHITECTURES: "arch", JOINT: "joint", RULES: "nondeep"}
_DOING: dict[Kind, str] = {ARCHITECTURES: "architectures evolve with the rule fixed",
                           JOINT: "rules and architectures evolve jointly", RULES: "rules evolve on non-deep tasks"}


def arm_kind(value: Any) -> Kind:
    """A stored arm kind (a codec reader): one of ``KINDS``."""
    if value not in KINDS:
        raise TypeError(f"expected an arm kind {list(KINDS)}, got {str(value)[:40]!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Arm:
    """One arm: an evolution run per seed (``overrides`` of the experiment's config) and how its
    result is summarized (``kind``): ``"architectures"``, the panel ``panel`` tuned on its top
    architectures (``fixed``: the optimizer held fixed while they evolved); ``"joint"``, the
    Adam-like share per generation and the best rule's distances (``start``: ``JOINT_STARTS``);
    ``"rules"``, the best rule, and the panel on the non-deep tasks."""

    kind: Kind
    fixed: str | None = None
    start: Start | None = None
    overrides: tuple[tuple[str, Any], ...] = ()
    panel: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown arm kind {self.kind!r}; kinds: {list(KINDS)}")
        if (self.fixed is None) == (self.kind == ARCHITECTURES) or self.start not in (
                JOINT_STARTS if self.kind == JOINT else (None,)):
            raise ValueError(f"an architectures arm names its fixed optimizer and only it, a joint arm its "
                             f"start from {list(JOINT_STARTS)} and only it; got {self}")

    @property
    def name(self) -> str:
        """``arch-<fixed>``, ``joint-<start>`` or ``nondeep``."""
        detail = self.fixed or self.start
        return f"{_PREFIX[self.kind]}-{detail}" if detail else _PREFIX[self.kind]

    @property
    def doing(self) -> str:
        """What evolves in the arm's runs, for the progress bar."""
        return _DOING[self.kind]

    @property
    def units(self) -> int:
        """Steps of progress: the run, and its panel if it has one."""
        return 1 if self.kind == JOINT else 2
