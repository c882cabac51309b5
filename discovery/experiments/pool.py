"""The shared pool: architectures, every panel optimizer tuned on each, computed once.

Per replicate seed ``s`` the pool's *bases* are, in round 0, ``n`` random architectures of
the family within the parameter budget (``random_architecture`` from
``random.Random("pool-<s>")``); each later round adds the children of the members the
lineages selected (``children``: one family edit each, from a stream of the seed, the round
and the parent, so a parent's children are the same whichever lineage selected it). A
base's ``born`` is its round, its ``block`` its number in the seed's pool. Three designs
read the bases (``Design``, its ``group``: ``Group``, ``GROUPS``):

* ``main``: the bases themselves (each member its own block);
* ``positive`` / ``negative``: a *blocked* pool: every base at each value of its control's
  planted gene (``genes.PLANTED``: ``gradient_spread`` sigma in {0, 4}; ``label_noise`` in
  {0, 0.4}), one block per base, so that a base's copies differ in that gene alone. A copy
  at the gene's default is the base itself: its cells are the main pool's. The positive
  control plants a home advantage of ``PLANTED``.

Each cell is one optimizer on one member, fairly tuned (``tuning.tune``: natural scale,
bracketing, Adam's tuned lr as the centre) on the union of the seed's *selection* and
*measurement* training seeds; the two halves are then scored apart (``split``): per
half, the lr with the lowest mean held-out loss over that half's seeds and, at it, log10
of each seed's held-out loss. A score that selects and a score that measures thus share
no training. Cells are written to ``pools/s<seed>.json`` member by member (resumed
after a crash: a stored cell is never trained again) and read by every design and arm.

Example::

    bases = [Member(i, tasks.architecture_record(a)) for i, a in enumerate(draw_bases(0, 8, 10_000, "token_model"))]
    members(Design("positive", ("adam", "momentum"), 4, "token_model_gradient_spread"), bases)
    children(bases[0], seed=0, round=1, n=2, budget=10_000)   # two one-edit children
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path
from typing import Literal, get_args

import numpy as np

import dsl
from discovery import tasks
from discovery.analysis import outputs
from discovery.codec import Stored, real, record, sequence, stored, text, whole
from discovery.evolution.architectures import mutate, random_architecture
from discovery.experiments.arms import ADAM
from discovery.training import scoring, trainer, tuning

Control = Literal["positive", "negative"]
CONTROLS: tuple[Control, ...] = get_args(Control)
POSITIVE, NEGATIVE = CONTROLS
Group = Literal["main", Control]
GROUPS: tuple[Group, ...] = get_args(Group)
MAIN = GROUPS[0]
# The optimizer whose home advantage the positive control plants (its gene hurts SGD-type methods).
PLANTED = "momentum"


@dataclasses.dataclass(frozen=True)
class Design:
    """How a pool is read: ``group`` (``MAIN`` or a control), its ``panel`` (every member of
    it also selects), ``k`` (members each optimizer selects) and the ``family`` whose planted
    gene blocks it (None: a random pool of the bases)."""

    group: Group
    panel: tuple[str, ...]
    k: int
    family: str | None = None

    @property
    def planted(self) -> tuple[str, tuple[float, ...]] | None:
        """(gene, values) of the blocked design, or None."""
        return None if self.family is None else tasks.family(self.family).genes.PLANTED


def _table(value) -> dict:
    """An architecture record as stored (its genes are read by ``Member.genes``)."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a table, got {type(value).__name__}")
    return value


@dataclasses.dataclass(frozen=True)
class Member(Stored):
    """A pool member: its block, its architecture (``tasks.architecture_record``) and the round
    its base joined the pool (``born``)."""

    block: int = stored(whole())
    architecture: dict = stored(_table)
    born: int = stored(whole(), default=0)

    @property
    def key(self) -> str:
        return json.dumps(self.architecture, sort_keys=True)

    def genes(self):
        return tasks.architecture_from_record(self.architecture)


@dataclasses.dataclass(frozen=True)
class PoolCell(Stored):
    """One optimizer on one member: log10 held-out loss per selection seed and per measurement
    seed, each at the lr tuned on its own half (``selection_lr``, ``measurement_lr``)."""

    optimizer: str = stored(text)
    member: str = stored(text)
    selection: tuple[float, ...] = stored(sequence(real))
    measurement: tuple[float, ...] = stored(sequence(real))
    selection_lr: float = stored(real)
    measurement_lr: float = stored(real)

    @property
    def selection_score(self) -> float:
        return float(np.mean(self.selection))

    @property
    def measurement_score(self) -> float:
        return float(np.mean(self.measurement))


@dataclasses.dataclass(frozen=True)
class PoolProtocol(Stored):
    """What a seed's pool is trained under: the lr grid, steps, task size, parameter budget, and
    the replicate's selection and measurement training seeds."""

    learning_rates: tuple[float, ...] = stored(sequence(real))
    steps: int = stored(whole())
    size: str = stored(text)
    budget: int = stored(whole())
    selection_seeds: tuple[int, ...] = stored(sequence(whole()))
    measurement_seeds: tuple[int, ...] = stored(sequence(whole()))


@dataclasses.dataclass(frozen=True)
class PoolFile(Stored):
    """``pools/s<seed>.json``: the seed's cells, with the protocol they were trained under."""

    protocol: PoolProtocol = stored(record(PoolProtocol))
    cells: tuple[PoolCell, ...] = stored(sequence(record(PoolCell)))


def draw_bases(seed: int, n: int, budget: int, family: str) -> list:
    """The seed's ``n`` random base architectures of ``family`` within ``budget`` parameters."""
    rng = random.Random(f"pool-{seed}")
    return [random_architecture(rng, budget, family) for _ in range(n)]


def children(parent: Member, seed: int, round: int, n: int, budget: int) -> list:
    """``parent``'s ``n`` children in ``round`` of replicate ``seed``: one family edit each
    (``architectures.mutate``, within ``budget``), drawn from ``random.Random`` seeded by the
    seed, the round, the parent and the child's number; the same whichever lineage asks."""
    return [mutate(parent.genes(), random.Random(f"child-{seed}-{round}-{parent.key}-{j}"), budget)[0]
            for j in range(n)]


def members(design: Design, bases: list[Member]) -> list[Member]:
    """The design's members: the bases, or each base at every value of the planted gene (its
    block and round)."""
    if design.planted is None:
        return list(bases)
    gene, values = design.planted
    genes = tasks.family(design.family).genes
    out = []
    for base in bases:
        arch = base.genes()
        for v in values:
            copy = arch if getattr(arch, gene) == v else genes.from_dict({**arch.to_dict(), gene: v})
            out.append(Member(base.block, tasks.architecture_record(copy), base.born))
    return out


def split(result: trainer.TrainResult, n_selection: int) -> tuple[tuple[float, ...], float, tuple[float, ...], float]:
    """(selection log10 per seed, its lr, measurement log10 per seed, its lr): the first
    ``n_selection`` seeds of ``result`` select, the others measure, each at its own best lr."""
    values = np.maximum(result.test_value, scoring.FLOOR)
    out = []
    for cols in (slice(0, n_selection), slice(n_selection, None)):
        half = values[:, cols]
        best = int(np.argmin(half.mean(axis=1)))
        out += [tuple(math.log10(float(x)) for x in half[best]), float(result.learning_rates[best])]
    return tuple(out)


class PoolStore:
    """A seed's pool file (``PoolFile``): its cells, added member by member."""

    def __init__(self, file: Path, protocol: PoolProtocol):
        self.file, self.protocol = file, protocol
        self.cells: dict[tuple[str, str], PoolCell] = {}
        if file.exists():
            try:
                found = PoolFile.from_dict(json.loads(file.read_text()))
            except (OSError, ValueError) as e:
                raise ValueError(f"{file} is not a readable pool ({e}); remove it to recompute") from None
            if found.protocol != protocol:
                raise ValueError(f"{file} was trained under another protocol {found.protocol.to_dict()}; "
                                 f"this experiment's is {protocol.to_dict()}")
            self.cells = {(c.member, c.optimizer): c for c in found.cells}

    def has(self, member: Member, optimizer: str) -> bool:
        return (member.key, optimizer) in self.cells

    def get(self, member: Member, optimizer: str) -> PoolCell:
        return self.cells[member.key, optimizer]

    def add(self, cells: list[PoolCell]) -> None:
        """Store ``cells`` (atomically: a crash leaves the file as it was)."""
        self.cells.update({(c.member, c.optimizer): c for c in cells})
        self.file.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_json(self.file, PoolFile(self.protocol, tuple(self.cells.values())).to_dict())


def tune_member(member: Member, panel: tuple[str, ...], protocol: scoring.Protocol, n_selection: int,
                size: str, budget: int, adam: PoolCell | None = None) -> list[PoolCell]:
    """Every optimizer of ``panel`` tuned on ``member`` and split (``split``). Adam (first in the
    panel, or given as ``adam``, its stored cell) is tuned first; the others start around the lr
    it selected with, a stored number, so that a resumed pool trains exactly as a fresh one."""
    arch = member.genes()
    task = tasks.family_of(arch).build(arch, size, budget)
    cells = []
    for g in panel:
        center = None if adam is None else adam.selection_lr
        tuned = tuning.tune(dsl.library.get(g), task, protocol, metric="test", center=center)
        sel, sel_lr, meas, meas_lr = split(tuned.result, n_selection)
        cells.append(PoolCell(g, member.key, sel, meas, sel_lr, meas_lr))
        if g == ADAM:
            adam = cells[-1]
    return cells
