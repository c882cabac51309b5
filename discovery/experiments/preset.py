"""The hypothesis experiment's size (``Preset``): what every arm, pool and panel gets, stored in
``experiment.json`` and ``report.json`` (``Preset.to_dict``) and read back through the codec
(an older ``experiment.json`` through ``upgrade.experiment``).

Example::

    Preset(seeds=2, population=4, generations=2, steps=60, size="small", learning_rates=(1e-3, 1e-2),
           train_seeds=(0,), nondeep=("mf_k4",), param_budget=10_000).family   # "token_model"
"""

from __future__ import annotations

import dataclasses

from discovery import tasks
from discovery.codec import Stored, real, sequence, stored, text, whole
from discovery.experiments.arms import ADAM
from discovery.experiments.pool import CONTROLS, PLANTED, Control
from discovery.training.optimizers import OPTIMIZERS

PANEL = tuple(OPTIMIZERS)  # adam adamw sgd momentum nesterov rmsprop adagrad lion adabelief


@dataclasses.dataclass(frozen=True)
class Preset(Stored):
    """The experiment's size: every arm gets the same budget.

    ``train_seeds``: the training seeds that select (evolution's fitness, the pool's selection
    scores); ``measure_seeds``: disjoint ones that measure (the panels); each replicate seed
    shifts both by a stride (``Experiment.selection_seeds``). ``measure_seeds=()`` is the design
    before pools (the MLP family's): evolution trains on ``train_seeds`` in every replicate and
    the panels on the replicate's shifted ``train_seeds``. ``pool``: random base architectures
    per seed (0: no pool); ``pool_top_k``: members each panel optimizer selects from them (the
    controls' blocked pools, with a base at each planted value, select as many per base)."""

    seeds: int = stored(whole())
    population: int = stored(whole())
    generations: int = stored(whole())
    steps: int = stored(whole())
    size: str = stored(text)
    learning_rates: tuple[float, ...] = stored(sequence(real))
    train_seeds: tuple[int, ...] = stored(sequence(whole()))
    nondeep: tuple[str, ...] = stored(sequence(text))
    param_budget: int = stored(whole())
    fixed: tuple[str, ...] = stored(sequence(text), default=("adam", "momentum", "lion", "adagrad"))
    panel: tuple[str, ...] = stored(sequence(text), default=PANEL)
    top_k: int = stored(whole(), default=3)
    expected: str = stored(text, default="")
    family: str = stored(text, default="token_model")
    controls: tuple[Control, ...] = stored(sequence(text), default=CONTROLS)  # run where the family has them
    control_panel: tuple[str, ...] = stored(sequence(text), default=("adam", "momentum", "sgd", "adabelief"))
    measure_seeds: tuple[int, ...] = stored(sequence(whole()), default=())
    pool: int = stored(whole(), default=0)
    pool_top_k: int = stored(whole(), default=2)

    def __post_init__(self):
        if not tasks.is_known_family(self.family):
            raise ValueError(f"unknown architecture family {self.family!r}; valid families: "
                             f"{tasks.family_names()}")
        unknown = [n for n in (*self.fixed, *self.panel, *self.control_panel) if n not in OPTIMIZERS]
        if unknown or ADAM not in self.fixed or self.panel[0] != ADAM or not set(self.fixed) <= set(self.panel) or (
                self.control_panel[0] != ADAM or PLANTED not in self.control_panel):
            raise ValueError(f"fixed {self.fixed}, panel {self.panel} and control_panel {self.control_panel} "
                             f"must be Optax baselines ({list(OPTIMIZERS)}): adam fixed and first in both "
                             f"panels, every fixed one in the panel, {PLANTED} in the control panel")
        if unknown_controls := set(self.controls) - set(CONTROLS):
            raise ValueError(f"unknown controls {sorted(unknown_controls)}; controls: {list(CONTROLS)}")
        if set(self.measure_seeds) & set(self.train_seeds) or (self.pool and len(self.measure_seeds) < 2):
            raise ValueError(f"measure_seeds {self.measure_seeds} must be disjoint from train_seeds "
                             f"{self.train_seeds}, and at least two where there is a pool (its margin)")
        if self.pool and not 0 < self.pool_top_k < self.pool:
            raise ValueError(f"pool_top_k {self.pool_top_k} must be between 1 and pool - 1 ({self.pool - 1})")

    def same_work(self, other: Preset) -> bool:
        """Whether a seed's work is the same under ``other``: every field but the number of seeds
        and the note on the expected time."""
        return dataclasses.replace(other, seeds=self.seeds, expected=self.expected) == self
