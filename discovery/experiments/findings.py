"""What the hypothesis experiment's numbers say: effects, intervals, verdicts (the report that
shows them is rendered by ``report_files``).

Two estimators of the home advantage, from the cells of ``adam_hypothesis`` (log10
held-out losses, lower is better). On the shared pool (``selection``: each panel
optimizer selects its top k on selection seeds; ``M_s[f][g]`` is ``g``'s mean on them on
measurement seeds; intervals over seeds and the pool's blocks) for the main pool and the
controls (``PoolResult``, with the gene effects of ``gene_effects``); and from the
evolution arms, per seed ``s``:

* ``M_s[f][g]``  optimizer ``g``'s log10 held-out loss on the top architectures evolved
  with ``f`` fixed (mean over architectures and measurement seeds);
* ``R_s[f][g] = M_s[f][g] - mean_h M_s[f][h]``  ``g`` relative to the panel there;
* home advantage ``HA_s(g) = mean_{f != g} R_s[f][g] - R_s[g][g]``: how much better ``g``
  does, relative to the panel, on architectures evolved for it than on those evolved
  for the others (a difference in differences; > 0 is a home advantage).

Predictions (each effect is measured per seed; ``statistics`` gives the 95%
interval over seeds, the margin and the verdict):

* P1  Adam is better on deep than on non-deep problems, relative to the panel:
      ``mean_tasks(log10 Adam - mean_h log10 h) - mean_f R_s[f][adam]``, predicted > 0;
* P2  the home advantage of Adam is positive: ``HA(adam)``, predicted > 0;
* P3  home advantage is general: ``mean_{g in F} HA(g)``, predicted > 0 (P2 and P3 on the
      main pool where there is one, its ``F`` the whole panel; else on the evolution arms);
* P4  joint co-evolution from starts without Adam converges to Adam-like rules: the
      last generation's share of Adam-like children (similarity to Adam >=
      ``ADAM_LIKE``) minus one half, predicted > 0.

The margin of P1-P3 is the pooled seed-to-seed standard deviation of identical
trainings (each cell's log10 loss over its training seeds) among the cells its
effect is made of: for P2 and P3 the pool's selected members' measurement cells
(``PoolResult.margin``), or the evolved architectures' cells (``Report.margin``);
those and the non-deep cells for P1 (whose tasks are far noisier). P4 counts rules, so its margin is 0 and its interval carries the
seed-to-seed variation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from discovery import tasks
from discovery.codec import Stored, mapping, optional, real, record, sequence, stored, text, whole
from discovery.experiments import gene_effects as ge
from discovery.experiments import selection as sel
from discovery.experiments import statistics as st
from discovery.experiments.arms import ADAM, ARCHITECTURES, JOINT, RULES, Arm, Kind, arm_kind
from discovery.experiments.pool import MAIN, PLANTED, POSITIVE, Design, Group, Member, PoolCell
from discovery.experiments.preset import Preset
from discovery.experiments.selection import home_advantage, relative

ADAM_LIKE = 0.95
REFERENCES = ("adam", "lion", "momentum")  # the rules a joint arm's best rule is measured against


@dataclasses.dataclass(frozen=True)
class Cell(Stored):
    """One optimizer on one architecture or task: log10 of its tuned loss per training seed
    (held-out loss on architectures, f - f* or the loss on tasks), and out of the box."""

    optimizer: str = stored(text)
    where: str = stored(text)
    per_seed: tuple[float, ...] = stored(sequence(real))
    out_of_box: float | None = stored(optional(real), default=None)

    @property
    def log10(self) -> float:
        return sum(self.per_seed) / len(self.per_seed)


@dataclasses.dataclass(frozen=True)
class JointArm(Stored):
    """A joint (rule, architecture) run: Adam-like share of the children per generation, the
    best rule's text and its distance (1 - cosine similarity) to each of ``REFERENCES``."""

    adam_like_share: tuple[float, ...] = stored(sequence(real))
    best_rule: str = stored(text)
    distance: dict[str, float] = stored(mapping(real))


@dataclasses.dataclass(frozen=True)
class ArmResult(Stored):
    """What one arm's run gave for one seed, as its kind summarizes it (``arms.Arm``):
    ``cells`` (the panel on its top architectures, or on the non-deep tasks), ``joint`` (a joint
    arm's summary), ``rule`` (a rules arm's best rule); ``run``: its run folder."""

    kind: Kind = stored(arm_kind)
    run: str = stored(text)
    cells: tuple[Cell, ...] = stored(sequence(record(Cell)), default=())
    joint: JointArm | None = stored(optional(record(JointArm)), default=None)
    rule: str | None = stored(optional(text), default=None)


@dataclasses.dataclass(frozen=True)
class PoolSeed(Stored):
    """One design's pool in one replicate seed: its members (in order) and the panel's cells on
    them (``pool.PoolCell``)."""

    seed: int = stored(whole())
    members: tuple[Member, ...] = stored(sequence(record(Member)))
    cells: tuple[PoolCell, ...] = stored(sequence(record(PoolCell)))

    def scores(self, panel: Sequence[str]) -> sel.SeedPool:
        """The pool as ``selection.SeedPool`` arrays over members; exact ties in selection are
        broken in an order drawn from the seed."""
        by = {(c.member, c.optimizer): c for c in self.cells}
        keys = [m.key for m in self.members]
        return sel.SeedPool(
            {g: np.array([by[k, g].selection_score for k in keys]) for g in panel},
            {g: np.array([by[k, g].measurement_score for k in keys]) for g in panel},
            np.array([m.block for m in self.members]),
            np.random.default_rng(self.seed).permutation(len(keys)))



@dataclasses.dataclass(frozen=True)
class SeedResult(Stored):
    """Everything one seed measured: each arm's result, by arm name, and each pool design's
    members and cells, by group (``pool.GROUPS``). A seed of an older ``report.json`` reads
    through ``upgrade.seed``."""

    seed: int = stored(whole())
    arms: dict[str, ArmResult] = stored(mapping(record(ArmResult)))
    pools: dict[str, PoolSeed] = stored(mapping(record(PoolSeed)))

    def cross(self, names: dict[str, str]) -> dict[str, list[Cell]]:
        """``{fixed optimizer: cells}`` of the architecture arms ``names`` (``{fixed: arm name}``)."""
        return {f: list(self.arms[name].cells) for f, name in names.items()}

    def matrix(self, names: dict[str, str], panel: Sequence[str]) -> np.ndarray:
        """``M[f][g]``: mean log10 held-out loss of ``g`` on the architectures evolved with ``f``."""
        cross = self.cross(names)
        return np.array([[np.mean([c.log10 for c in cross[f] if c.optimizer == g]) for g in panel]
                         for f in names])

    @property
    def nondeep(self) -> list[Cell]:
        return [c for a in self.arms.values() if a.kind == RULES for c in a.cells]

    @property
    def nondeep_rule(self) -> str:
        return next(a.rule for a in self.arms.values() if a.kind == RULES)

    @property
    def joint(self) -> dict[str, JointArm]:
        return {name: a.joint for name, a in self.arms.items() if a.kind == JOINT}

    @property
    def runs(self) -> list[str]:
        return [a.run for a in self.arms.values()]



@dataclasses.dataclass(frozen=True)
class PoolResult:
    """One pool design read by selection (``selection``): every panel optimizer selects its top
    ``k`` on selection seeds; the home advantages from measurement seeds, with intervals over
    seeds and blocks; their margin (the pooled seed-to-seed spread of the measurement scores of
    the members any optimizer selected); the mean ``M`` over seeds; the gene effects. ``planted``:
    the optimizer whose home advantage the positive control plants, else None; a control
    (``group`` not ``MAIN``) passes when it calls that one supported, or (the negative) none."""

    group: Group
    family: str
    panel: tuple[str, ...]
    k: int
    members: int
    home_advantage: dict[str, st.Effect]
    mean_home_advantage: st.Effect
    margin: float
    matrix: np.ndarray
    genes: ge.GeneEffects
    planted: str | None = None
    planted_gene: str | None = None

    @property
    def verdicts(self) -> dict[str, str]:
        return {g: st.verdict(e, self.margin, +1) for g, e in self.home_advantage.items()}

    @property
    def passed(self) -> bool:
        """The positive control calls its planted effect supported; the negative calls none."""
        if self.planted is not None:
            return self.verdicts[self.planted] == st.SUPPORTED
        return st.SUPPORTED not in self.verdicts.values()

    @property
    def detectable(self) -> float:
        """The smallest home advantage this design can call supported, from its own numbers: the
        margin plus the mean half-width of the home advantages' intervals."""
        return self.margin + float(np.mean([(e.high - e.low) / 2 for e in self.home_advantage.values()]))

    @property
    def planted_rank(self) -> int | None:
        """Where the planted gene ranks in the gene-effect fit (1: the largest), if there is one."""
        names = [f.gene for f in self.genes.fit]
        return names.index(self.planted_gene) + 1 if self.planted_gene in names else None

    def to_dict(self) -> dict:
        return {"group": self.group, "family": self.family, "panel": list(self.panel), "k": self.k,
                "members": self.members, "home_advantage": {g: e.to_dict() for g, e in self.home_advantage.items()},
                "mean_home_advantage": self.mean_home_advantage.to_dict(),
                "margin": self.margin, "matrix": self.matrix.tolist(), "genes": self.genes.to_dict(),
                "planted": self.planted, "planted_gene": self.planted_gene, "verdicts": self.verdicts,
                "passed": self.passed, "detectable": self.detectable, "planted_rank": self.planted_rank}


def analyse_pool(design: Design, family: str, seeds: Sequence[PoolSeed], planted: str | None) -> PoolResult:
    """A design's home advantages, margin, mean matrix and gene effects over the seeds' pools."""
    panel = design.panel
    pools = [p.scores(panel) for p in seeds]
    effects, mean = sel.home_advantage_intervals(pools, panel, panel, design.k)
    repeats = []
    for p, arrays in zip(seeds, pools):
        chosen = {p.members[i].key for i in sel.selected(arrays, panel, design.k)}
        repeats += [c.measurement for c in p.cells if c.member in chosen]
    matrix = np.mean([sel.matrix(a, panel, panel, design.k) for a in pools], axis=0)
    genes_class = tasks.family(design.family or family).genes
    genes = [m.genes().to_dict() for p in seeds for m in p.members]
    blocks = np.array([p.seed * 100_000 + m.block for p in seeds for m in p.members])
    scores = {g: np.concatenate([a.measurement[g] for a in pools]) for g in panel}
    effects_of_genes = ge.gene_effects(genes, scores, blocks, ge.specs_of(genes_class))
    gene = design.planted[0] if design.planted else None
    return PoolResult(design.group, design.family or family, panel, design.k, len(seeds[0].members), effects,
                      mean, st.margin(repeats), matrix, effects_of_genes, planted, gene)


@dataclasses.dataclass(frozen=True)
class Prediction:
    key: str
    statement: str
    effect: st.Effect
    margin: float
    predicted: int
    verdict: str

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "effect": self.effect.to_dict()}


@dataclasses.dataclass(frozen=True)
class Report:
    preset: str
    config: Preset
    fixed: tuple[str, ...]
    panel: tuple[str, ...]
    seeds: list[SeedResult]
    seconds: float
    margin: float  # of the architecture cells: the home advantage's tie (P2, P3); P1 has its own
    home_advantage: dict[str, st.Effect]
    predictions: list[Prediction]
    pools: list[PoolResult] = dataclasses.field(default_factory=list)

    def pool_result(self, group: Group) -> PoolResult | None:
        """The reading of the pool design ``group``, if it ran."""
        return next((p for p in self.pools if p.group == group), None)

    @property
    def pool(self) -> PoolResult | None:
        """The main pool's reading, if the experiment has a pool."""
        return self.pool_result(MAIN)

    @property
    def controls(self) -> list[PoolResult]:
        return [p for p in self.pools if p.group != MAIN]

    @property
    def estimates(self) -> list[tuple[str, dict[str, st.Effect], float]]:
        """Every estimate of the home advantages with its margin, as the figures label them:
        the evolution arms' ("evolution"), the main pool's ("pool"), each control's (its group)."""
        return [("evolution", self.home_advantage, self.margin),
                *((p.group if p.group != MAIN else "pool", p.home_advantage, p.margin) for p in self.pools)]

    @property
    def matrix(self) -> np.ndarray:
        """``M[f][g]`` averaged over seeds."""
        names = {f: Arm(ARCHITECTURES, fixed=f).name for f in self.fixed}
        return np.mean([s.matrix(names, self.panel) for s in self.seeds], axis=0)

    def to_dict(self) -> dict:
        return {"preset": self.preset, "config": self.config.to_dict(), "fixed": list(self.fixed),
                "panel": list(self.panel), "seconds": self.seconds, "margin": self.margin,
                "seeds": [s.to_dict() for s in self.seeds],
                "matrix": self.matrix.tolist(),
                "home_advantage": {g: e.to_dict() for g, e in self.home_advantage.items()},
                "predictions": [p.to_dict() for p in self.predictions], "rule": st.RULE,
                "pools": [p.to_dict() for p in self.pools]}


def _nondeep_relative(cells: list[Cell], optimizer: str) -> float:
    """Mean over tasks of ``log10 optimizer - mean_h log10 h`` on the non-deep tasks."""
    by_task: dict[str, dict[str, float]] = {}
    for c in cells:
        by_task.setdefault(c.where, {})[c.optimizer] = c.log10
    return float(np.mean([v[optimizer] - np.mean(list(v.values())) for v in by_task.values()]))


STATEMENTS = {
    "P1": "Adam is better on deep than on non-deep problems, relative to the panel",
    "P2": "Adam has a home advantage: it does better, relative to the panel, on architectures "
          "evolved with Adam than on architectures evolved with other optimizers",
    "P3": "home advantage is general: the mean home advantage over the fixed optimizers is positive",
    "P4": "joint co-evolution from starts without Adam converges to Adam-like rules (the last "
          f"generation's share of Adam-like children, similarity >= {ADAM_LIKE}, exceeds one half)",
}


def _home_advantages(seeds: list[SeedResult], names: dict[str, str], panel: tuple[str, ...]):
    """Per seed, the home advantages of the arms ``names``; their intervals; the margin of their cells."""
    per_seed = [home_advantage(s.matrix(names, panel), tuple(names), panel) for s in seeds]
    effects = {g: st.interval([h[g] for h in per_seed]) for g in names}
    cells = [c.per_seed for s in seeds for cs in s.cross(names).values() for c in cs]
    return per_seed, effects, cells


def analyse(preset: str, config: Preset, seeds: list[SeedResult], arms: Sequence, panel: Sequence[str],
            seconds: float, planted: str = PLANTED, designs: Sequence[Design] = ()) -> Report:
    """Effects per seed, intervals over seeds, the margins and the verdicts of the experiment
    ``preset`` sized ``config`` (``arms``: ``arms.Arm`` records); each pool design's reading (``analyse_pool``; ``planted``:
    the positive control's optimizer). P2 and P3 read the main pool where there is one (its
    power is measured by the controls), the evolution arms otherwise."""
    panel = tuple(panel)
    main = {a.fixed: a.name for a in arms if a.kind == ARCHITECTURES}
    fixed = tuple(main)
    per_seed, ha, deep = _home_advantages(seeds, main, panel)
    margin = st.margin(deep)
    both_margin = st.margin(deep + [c.per_seed for s in seeds for c in s.nondeep])
    adam = panel.index(ADAM)
    p1 = st.interval([_nondeep_relative(s.nondeep, ADAM) - float(relative(s.matrix(main, panel))[:, adam].mean())
                      for s in seeds])
    p3 = st.interval([float(np.mean(list(h.values()))) for h in per_seed])
    p4 = st.interval([s.joint[Arm(JOINT, start="noadam").name].adam_like_share[-1] - 0.5 for s in seeds])
    pools = [analyse_pool(d, config.family, [s.pools[d.group] for s in seeds], planted if d.group == POSITIVE else None)
             for d in designs]
    home = (ha[ADAM], margin), (p3, margin)
    if pools:
        home = (pools[0].home_advantage[ADAM], pools[0].margin), (pools[0].mean_home_advantage, pools[0].margin)
    effects = {"P1": (p1, both_margin), "P2": home[0], "P3": home[1], "P4": (p4, 0.0)}
    predictions = [Prediction(k, STATEMENTS[k], e, m, +1, st.verdict(e, m, +1)) for k, (e, m) in effects.items()]
    return Report(preset, config, fixed, panel, seeds, seconds, margin, ha, predictions, pools)
