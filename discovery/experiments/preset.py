"""The hypothesis experiment's size (``Preset``): what every round, arm, pool and panel gets,
stored in ``experiment.json`` and ``report.json`` (``Preset.to_dict``) and read back through
the codec (an ``experiment.json`` of the design before rounds is refused by
``upgrade.experiment``, naming the commit that reproduces it).

Example::

    Preset(seeds=2, population=4, steps=60, size="small", learning_rates=(1e-3, 1e-2),
           train_seeds=(0,), measure_seeds=(1, 2), nondeep=("mf_k4",), param_budget=10_000,
           pool=6, rounds=2).generations   # 3: the joint arm's generations, one per round
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
    """The experiment's size.

    ``train_seeds``: the training seeds that select (the pool's selection scores, the arms'
    fitness); ``measure_seeds``: disjoint ones that measure (the pool's measurement scores, the
    non-deep panel); each replicate seed shifts both by a stride (``Experiment.selection_seeds``).
    ``pool``: random base architectures per seed (round 0); ``pool_top_k``: members each panel
    optimizer's lineage selects per round (the controls' blocked pools, with a base at each
    planted value, select as many per base); ``rounds``: rounds of selection after the random
    pool; ``children``: children of each selected member per round. The evolution arms run
    ``population`` rules for ``generations`` (= rounds + 1) generations."""

    seeds: int = stored(whole())
    population: int = stored(whole())
    steps: int = stored(whole())
    size: str = stored(text)
    learning_rates: tuple[float, ...] = stored(sequence(real))
    train_seeds: tuple[int, ...] = stored(sequence(whole()))
    measure_seeds: tuple[int, ...] = stored(sequence(whole()))
    nondeep: tuple[str, ...] = stored(sequence(text))
    param_budget: int = stored(whole())
    pool: int = stored(whole())
    rounds: int = stored(whole())
    children: int = stored(whole(), default=2)
    pool_top_k: int = stored(whole(), default=2)
    panel: tuple[str, ...] = stored(sequence(text), default=PANEL)
    expected: str = stored(text, default="")
    family: str = stored(text, default="token_model")
    controls: tuple[Control, ...] = stored(sequence(text), default=CONTROLS)  # run where the family has them
    control_panel: tuple[str, ...] = stored(sequence(text), default=("adam", "momentum", "sgd", "adabelief"))

    def __post_init__(self):
        if not tasks.is_known_family(self.family):
            raise ValueError(f"unknown architecture family {self.family!r}; valid families: "
                             f"{tasks.family_names()}")
        unknown = [n for n in (*self.panel, *self.control_panel) if n not in OPTIMIZERS]
        if unknown or self.panel[0] != ADAM or self.control_panel[0] != ADAM or PLANTED not in self.control_panel \
                or not set(self.control_panel) <= set(self.panel):
            raise ValueError(f"panel {self.panel} and control_panel {self.control_panel} must be Optax baselines "
                             f"({list(OPTIMIZERS)}): adam first in both, {PLANTED} in the control panel, every "
                             "control optimizer in the panel (its lineage is the panel's)")
        if unknown_controls := set(self.controls) - set(CONTROLS):
            raise ValueError(f"unknown controls {sorted(unknown_controls)}; controls: {list(CONTROLS)}")
        if set(self.measure_seeds) & set(self.train_seeds) or len(self.measure_seeds) < 2 or not self.train_seeds:
            raise ValueError(f"measure_seeds {self.measure_seeds} must be at least two (the margin), disjoint "
                             f"from train_seeds {self.train_seeds} (at least one)")
        if not 0 < self.pool_top_k < self.pool:
            raise ValueError(f"pool_top_k {self.pool_top_k} must be between 1 and pool - 1 ({self.pool - 1})")
        if self.rounds < 1 or self.children < 1:
            raise ValueError(f"rounds ({self.rounds}) and children ({self.children}) must be at least 1: the "
                             "experiment asks what rounds of selection do")

    @property
    def generations(self) -> int:
        """The evolution arms' generations: one per round, the random pool's included."""
        return self.rounds + 1

    def same_work(self, other: Preset) -> bool:
        """Whether a seed's work is the same under ``other``: every field but the number of seeds
        and the note on the expected time."""
        return dataclasses.replace(other, seeds=self.seeds, expected=self.expected) == self
