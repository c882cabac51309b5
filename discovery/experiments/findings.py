"""What the hypothesis experiment's numbers say: effects, intervals, verdicts (the report that
shows them is rendered by ``report_files``).

The home advantage, from the cells of ``adam_hypothesis`` (log10 held-out losses, lower is
better), per round of selection on the shared pool (``rounds``): in round ``r`` each panel
optimizer ``f`` selects its top k among its lineage's candidates ``C_r(f)`` by selection
scores; ``M_r[f][g]`` is ``g``'s mean measurement score on them (``selection``), and

    HA_r(g) = mean_{f != g} R_r[f][g] - R_r[g][g],   R_r = M_r - row mean

with intervals over seeds and the pool's blocks, for the main pool and for the controls,
which ride on the same lineages (``RoundResult``). The dose-response is ``HA_r`` against
``r``; its change ``HA_last - HA_0`` has paired bootstrap intervals (``selection.Draws``).

Predictions (each effect is measured per seed; ``statistics`` gives the margin and verdict):

* P1  Adam is better on deep than on non-deep problems, relative to the panel:
      ``mean_tasks(log10 Adam - mean_h log10 h) - mean_a (T[adam][a] - mean_h T[h][a])`` over
      the random pool's members ``a``, predicted > 0;
* P2  the home advantage of Adam is positive after the last round: ``HA_last(adam)`` > 0;
* P3  home advantage is general: ``mean_g HA_last(g)`` > 0;
* P4  joint co-evolution from starts without Adam converges to Adam-like rules: the
      last generation's share of Adam-like children (similarity to Adam >=
      ``ADAM_LIKE``) minus one half, predicted > 0;
* P5  Adam's home advantage grows with rounds of selection: ``HA_last(adam) - HA_0(adam)`` > 0.

The margin of P2, P3 and P5 is the pooled seed-to-seed standard deviation of identical
trainings among the measurement cells of the members any optimizer selected in the last
round (``PoolResult.margin``; P5 the larger of round 0's and the last's); P1's adds the
non-deep cells (far noisier). P4 counts rules, so its margin is 0 and its interval carries
the seed-to-seed variation.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence

import numpy as np

from discovery import tasks
from discovery.codec import Stored, mapping, optional, real, record, sequence, stored, text, whole
from discovery.experiments import gene_effects as ge
from discovery.experiments import pool as pool_lib
from discovery.experiments import selection as sel
from discovery.experiments import statistics as st
from discovery.experiments.arms import ADAM, JOINT, NO_ADAM, RULES, Kind, arm_kind
from discovery.experiments.pool import MAIN, PLANTED, POSITIVE, Design, Group, Member, PoolCell
from discovery.experiments.preset import Preset

ADAM_LIKE = 0.95
REFERENCES = ("adam", "lion", "momentum")  # the rules a joint arm's best rule is measured against
DOSE = ("adam", "momentum")  # the home advantages the dose-response follows, beside the mean


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
    """A joint (rule, architecture) run, one generation per round: the Adam-like share of the
    children and the best rule's distance to Adam (1 - cosine similarity) per generation; the
    final best rule's text and its distance to each of ``REFERENCES``."""

    adam_like_share: tuple[float, ...] = stored(sequence(real))
    best_rule: str = stored(text)
    distance: dict[str, float] = stored(mapping(real))
    adam_distance: tuple[float, ...] = stored(sequence(real), default=())


@dataclasses.dataclass(frozen=True)
class ArmResult(Stored):
    """What one arm's run gave for one seed, as its kind summarizes it (``arms.Arm``):
    ``joint`` (a joint arm's summary), or ``cells`` (the panel on the non-deep tasks) and
    ``rule`` (a rules arm's best rule); ``run``: its run folder."""

    kind: Kind = stored(arm_kind)
    run: str = stored(text)
    cells: tuple[Cell, ...] = stored(sequence(record(Cell)), default=())
    joint: JointArm | None = stored(optional(record(JointArm)), default=None)
    rule: str | None = stored(optional(text), default=None)


@dataclasses.dataclass(frozen=True)
class Round(Stored):
    """One round of one design in one seed: each lineage's candidates (indices into the
    design's ``PoolSeed.members``)."""

    candidates: dict[str, tuple[int, ...]] = stored(mapping(sequence(whole())))


def tie_order(seed: int, keys: Sequence[str]) -> np.ndarray:
    """A seeded rank per member, from its key alone, that breaks exact ties in selection the same
    way in every round."""
    return np.array([int(hashlib.sha256(f"{seed}:{k}".encode()).hexdigest()[:12], 16) for k in keys])


@dataclasses.dataclass(frozen=True)
class PoolSeed(Stored):
    """One design's pool in one replicate seed: its members (every round's, in order), the
    panel's cells on them (``pool.PoolCell``) and each round's candidates per lineage."""

    seed: int = stored(whole())
    members: tuple[Member, ...] = stored(sequence(record(Member)))
    cells: tuple[PoolCell, ...] = stored(sequence(record(PoolCell)))
    rounds: tuple[Round, ...] = stored(sequence(record(Round)))

    def scores(self, panel: Sequence[str], round: int) -> tuple[sel.SeedPool, np.ndarray]:
        """Round ``round`` as a ``selection.SeedPool`` over the members that are anyone's
        candidates, with each lineage's candidates as a mask; and those members' indices."""
        chosen = self.rounds[round].candidates
        used = np.array(sorted({i for idx in chosen.values() for i in idx}))
        by = {(c.member, c.optimizer): c for c in self.cells}
        keys = [self.members[i].key for i in used]
        masks = {f: np.isin(used, idx) for f, idx in chosen.items()}
        return sel.SeedPool(
            {g: np.array([by[k, g].selection_score for k in keys]) for g in panel},
            {g: np.array([by[k, g].measurement_score for k in keys]) for g in panel},
            np.array([self.members[i].block for i in used]), tie_order(self.seed, keys), masks), used


def design_seed(design: Design, seed: int, bases: Sequence[Member], lineages: Sequence[dict[str, Sequence[str]]],
                cell: Callable[[Member, str], PoolCell]) -> PoolSeed:
    """A design's ``PoolSeed``: its members made of ``bases`` (``pool.members``), their cells
    (``cell(member, optimizer)``) and, per round, each of its lineages' candidates: the members made
    of that round's candidates of the same optimizer's main lineage (``lineages[r][f]``: base keys)."""
    members = pool_lib.members(design, list(bases))
    block = {m.key: m.block for m in bases}
    rounds = tuple(Round({f: tuple(i for i, m in enumerate(members) if m.block in {block[k] for k in chosen[f]})
                          for f in design.panel}) for chosen in lineages)
    return PoolSeed(seed, tuple(members), tuple(cell(m, g) for m in members for g in design.panel), rounds)


@dataclasses.dataclass(frozen=True)
class SeedResult(Stored):
    """Everything one seed measured: each arm's result, by arm name, and each pool design's
    members, cells and rounds, by group (``pool.GROUPS``)."""

    seed: int = stored(whole())
    arms: dict[str, ArmResult] = stored(mapping(record(ArmResult)))
    pools: dict[str, PoolSeed] = stored(mapping(record(PoolSeed)))

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
    """One pool design in one round, read by selection (``selection``): every panel optimizer
    selects its top ``k`` of its candidates on selection seeds; the home advantages from
    measurement seeds, with intervals over seeds and blocks (``draws``, kept for the change
    between rounds); their margin (the pooled seed-to-seed spread of the measurement scores of
    the members any optimizer selected); the mean ``M`` over seeds. A control (``group`` not
    ``MAIN``) also has ``beyond_main``, its home advantages minus the main pool's in the same
    round (paired draws). The positive control passes when it calls ``planted`` (the optimizer
    whose home advantage it plants) supported on its own home advantage, which is positive by
    construction whatever the main pool's: it shows that this round's design sees a home
    advantage of that size (were the main pool's own home advantage of ``planted`` supported,
    the control would pass on it alone, and the design would have seen that one). Beyond the
    main pool's it need not be supported: the plant and a natural home advantage both come from
    the planted optimizer choosing its own best bases, so they do not add. The negative control
    passes when it calls none supported beyond the main pool's: on its own it would report any
    real home advantage the family has."""

    group: Group
    round: int
    family: str
    panel: tuple[str, ...]
    k: int
    members: float  # candidates of anyone in the round, mean per seed
    home_advantage: dict[str, st.Effect]
    mean_home_advantage: st.Effect
    margin: float
    matrix: np.ndarray
    draws: sel.Draws
    planted: str | None = None
    planted_gene: str | None = None
    beyond_main: dict[str, st.Effect] | None = None

    @property
    def judged(self) -> dict[str, st.Effect]:
        """The effects the verdicts read: ``beyond_main`` for the negative control, the home
        advantages for the main pool and the positive control."""
        return self.home_advantage if self.beyond_main is None or self.planted is not None else self.beyond_main

    @property
    def verdicts(self) -> dict[str, str]:
        return {g: st.verdict(e, self.margin, +1) for g, e in self.judged.items()}

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

    def to_dict(self) -> dict:
        return {"group": self.group, "round": self.round, "family": self.family, "panel": list(self.panel),
                "k": self.k, "members": self.members,
                "home_advantage": {g: e.to_dict() for g, e in self.home_advantage.items()},
                "mean_home_advantage": self.mean_home_advantage.to_dict(),
                "margin": self.margin, "matrix": self.matrix.tolist(), "planted": self.planted,
                "beyond_main": None if self.beyond_main is None else {g: e.to_dict() for g, e in self.beyond_main.items()},
                "planted_gene": self.planted_gene, "verdicts": self.verdicts, "passed": self.passed,
                "detectable": self.detectable}


def analyse_pool(design: Design, family: str, seeds: Sequence[PoolSeed], planted: str | None,
                 round: int, main: PoolResult | None = None) -> PoolResult:
    """A design's home advantages, margin and mean matrix in ``round`` over the seeds' pools; a
    control's also minus ``main``'s (the main pool's reading of the same round)."""
    panel = design.panel
    pools = [p.scores(panel, round) for p in seeds]
    draws = sel.home_advantage_draws([a for a, _ in pools], panel, panel, design.k)
    effects, mean = draws.effects()
    repeats = []
    for p, (arrays, used) in zip(seeds, pools):
        chosen = {p.members[used[i]].key for i in sel.selected(arrays, panel, design.k)}
        repeats += [c.measurement for c in p.cells if c.member in chosen]
    matrix = np.mean([sel.matrix(a, panel, panel, design.k) for a, _ in pools], axis=0)
    gene = design.planted[0] if design.planted else None
    return PoolResult(design.group, round, design.family or family, panel, design.k,
                      float(np.mean([len(used) for _, used in pools])), effects, mean, st.margin(repeats),
                      matrix, draws, planted, gene, None if main is None else draws.change(main.draws)[0])


def design_genes(design: Design, family: str, seeds: Sequence[PoolSeed]) -> ge.GeneEffects:
    """The gene effects (``gene_effects``) over every member of every round of the seeds' pools."""
    genes_class = tasks.family(design.family or family).genes
    genes, scores, blocks = [], {g: [] for g in design.panel}, []
    for p in seeds:
        by = {(c.member, c.optimizer): c for c in p.cells}
        for m in p.members:
            genes.append(m.genes().to_dict())
            blocks.append(p.seed * 100_000 + m.block)
            for g in design.panel:
                scores[g].append(by[m.key, g].measurement_score)
    return ge.gene_effects(genes, {g: np.array(v) for g, v in scores.items()}, np.array(blocks),
                           ge.specs_of(genes_class))


@dataclasses.dataclass(frozen=True)
class Lineage:
    """How one optimizer's lineage stands in a round, mean over seeds: ``differential``, the
    selection differential (its selected members' mean selection score minus its candidates',
    decades; < 0: selection found better ones); ``response``, its own measurement score on its
    selected members minus in round 0 (< 0: it does better than on its random-pool picks);
    ``moved``, per gene the total-variation distance between its selected members' values and
    the random pool's (0: as random, 1: disjoint; scale genes in ``gene_effects``' two bins)."""

    optimizer: str
    differential: float
    response: float
    moved: dict[str, float]

    @property
    def distance(self) -> float:
        """The mean of ``moved`` over the genes: how far from random architectures."""
        return float(np.mean(list(self.moved.values()))) if self.moved else 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"distance": self.distance}


def _label_shares(genes: Sequence[dict], specs: dict) -> dict[str, dict[str, float]]:
    out = {}
    for name, (spec, default) in specs.items():
        labels = [ge.value_label(g[name], spec, default) for g in genes]
        out[name] = {v: labels.count(v) / len(labels) for v in set(labels)}
    return out


def lineages(design: Design, family: str, seeds: Sequence[PoolSeed], round: int) -> list[Lineage]:
    """Each lineage's selection differential, response and movement in ``round`` (``Lineage``)."""
    specs = ge.specs_of(tasks.family(design.family or family).genes)
    per_seed = []  # each seed's round, its round 0, its members' genes and the random pool's gene shares
    for p in seeds:
        genes = [m.genes().to_dict() for m in p.members]
        random = _label_shares([g for g, m in zip(genes, p.members) if m.born == 0], specs)
        per_seed.append((p.scores(design.panel, round), p.scores(design.panel, 0)[0], genes, random))
    varied = [g for g in specs if len({ge.value_label(genes[g], *specs[g])
                                       for *_, members, _ in per_seed for genes in members}) > 1]
    out = []
    for f in design.panel:
        diff, resp, moved = [], [], []
        for (pool, used), start, genes, random in per_seed:
            top = pool.top(f, design.k)
            diff.append(pool.selection[f][top].mean() - pool.selection[f][pool.mask(f)].mean())
            resp.append(pool.measurement[f][top].mean() - start.measurement[f][start.top(f, design.k)].mean())
            picked = _label_shares([genes[used[i]] for i in top], specs)
            moved.append({g: 0.5 * sum(abs(picked[g].get(v, 0.0) - random[g].get(v, 0.0))
                                       for v in {*picked[g], *random[g]}) for g in specs})
        out.append(Lineage(f, float(np.mean(diff)), float(np.mean(resp)),
                           {g: float(np.mean([m[g] for m in moved])) for g in varied}))
    return out


@dataclasses.dataclass(frozen=True)
class RoundResult:
    """One round: each design's reading (the main pool first, then the controls) and the main
    lineages' standing (``Lineage``)."""

    round: int
    pools: tuple[PoolResult, ...]
    lineages: tuple[Lineage, ...]

    @property
    def main(self) -> PoolResult:
        return self.pools[0]

    @property
    def controls(self) -> tuple[PoolResult, ...]:
        return self.pools[1:]

    def pool(self, group: Group) -> PoolResult | None:
        return next((p for p in self.pools if p.group == group), None)

    @property
    def controls_pass(self) -> bool:
        return all(c.passed for c in self.controls)

    def to_dict(self) -> dict:
        return {"round": self.round, "pools": [p.to_dict() for p in self.pools],
                "lineages": [x.to_dict() for x in self.lineages], "controls_pass": self.controls_pass}


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
    """The experiment's findings: every round's readings, the change of each home advantage from
    round 0 to the last (``growth``, the dose-response's answer), the gene effects over every
    round's members per design, and the predictions."""

    preset: str
    config: Preset
    panel: tuple[str, ...]
    seeds: list[SeedResult]
    seconds: float
    rounds: list[RoundResult]
    growth: dict[str, st.Effect]  # HA_last - HA_0 per DOSE optimizer and "mean"
    genes: dict[str, ge.GeneEffects]  # by group
    predictions: list[Prediction]

    @property
    def last(self) -> RoundResult:
        return self.rounds[-1]

    @property
    def pool(self) -> PoolResult:
        """The main pool's reading after the last round."""
        return self.last.main

    @property
    def controls_pass(self) -> bool:
        """Both controls pass in every round."""
        return all(r.controls_pass for r in self.rounds)

    @property
    def planted_rank(self) -> int | None:
        """Where the positive control's planted gene ranks in its gene-effect fit (1: the largest),
        if there is one."""
        positive = self.last.pool(POSITIVE)
        if positive is None or POSITIVE not in self.genes:
            return None
        names = [f.gene for f in self.genes[POSITIVE].fit]
        return names.index(positive.planted_gene) + 1 if positive.planted_gene in names else None

    def series(self, name: str, group: Group = MAIN) -> list[st.Effect]:
        """Per round, ``group``'s judged effect for ``name`` (``PoolResult.judged``: ``HA_r(name)``
        of the main pool or the positive control, the negative control's beyond the main pool's) or
        its mean home advantage (``"mean"``)."""
        out = []
        for r in self.rounds:
            p = r.pool(group)
            out.append(p.mean_home_advantage if name == "mean" else p.judged[name])
        return out

    def to_dict(self) -> dict:
        return {"preset": self.preset, "config": self.config.to_dict(), "panel": list(self.panel),
                "seconds": self.seconds, "seeds": [s.to_dict() for s in self.seeds],
                "rounds": [r.to_dict() for r in self.rounds],
                "growth": {g: e.to_dict() for g, e in self.growth.items()},
                "genes": {g: e.to_dict() for g, e in self.genes.items()}, "controls_pass": self.controls_pass,
                "planted_rank": self.planted_rank,
                "predictions": [p.to_dict() for p in self.predictions], "rule": st.RULE}


def _nondeep_relative(cells: list[Cell], optimizer: str) -> float:
    """Mean over tasks of ``log10 optimizer - mean_h log10 h`` on the non-deep tasks."""
    by_task: dict[str, dict[str, float]] = {}
    for c in cells:
        by_task.setdefault(c.where, {})[c.optimizer] = c.log10
    return float(np.mean([v[optimizer] - np.mean(list(v.values())) for v in by_task.values()]))


def _deep_relative(pool: PoolSeed, panel: Sequence[str], optimizer: str) -> float:
    """Mean over the random pool's members of ``T[optimizer][a] - mean_h T[h][a]``."""
    arrays, _ = pool.scores(panel, 0)
    t = np.array([arrays.measurement[g] for g in panel])
    return float(np.mean(t[list(panel).index(optimizer)] - t.mean(axis=0)))


STATEMENTS = {
    "P1": "Adam is better on deep than on non-deep problems, relative to the panel",
    "P2": "Adam has a home advantage after the last round: it does better, relative to the panel, on "
          "architectures selected with Adam than on architectures selected with other optimizers",
    "P3": "home advantage is general: the mean home advantage over the panel is positive after the last round",
    "P4": "joint co-evolution from starts without Adam converges to Adam-like rules (the last "
          f"generation's share of Adam-like children, similarity >= {ADAM_LIKE}, exceeds one half)",
    "P5": "Adam's home advantage grows with rounds of selection (after the last round minus in the random pool)",
}


def analyse(preset: str, config: Preset, seeds: list[SeedResult], designs: Sequence[Design], seconds: float,
            planted: str = PLANTED) -> Report:
    """Every round's readings of every design (``analyse_pool``; ``planted``: the positive control's
    optimizer), the lineages, the dose-response's change, the gene effects and the verdicts of the
    experiment ``preset`` sized ``config``."""
    main = designs[0]
    panel = main.panel
    family = config.family
    n_rounds = len(seeds[0].pools[MAIN].rounds)
    rounds = []
    for r in range(n_rounds):
        first = analyse_pool(main, family, [s.pools[MAIN] for s in seeds], None, r)
        controls = [analyse_pool(d, family, [s.pools[d.group] for s in seeds], planted if d.group == POSITIVE else None,
                                 r, first) for d in designs[1:]]
        rounds.append(RoundResult(r, (first, *controls), tuple(lineages(main, family, [s.pools[MAIN] for s in seeds], r))))
    first, last = rounds[0].main, rounds[-1].main
    by, mean = last.draws.change(first.draws)
    growth = {g: by[g] for g in DOSE if g in by} | {"mean": mean}
    genes = {d.group: design_genes(d, family, [s.pools[d.group] for s in seeds]) for d in designs}
    deep = [c.measurement for s in seeds for c in s.pools[MAIN].cells]
    both_margin = st.margin(deep + [c.per_seed for s in seeds for c in s.nondeep])
    p1 = st.interval([_nondeep_relative(s.nondeep, ADAM) - _deep_relative(s.pools[MAIN], panel, ADAM) for s in seeds])
    p4 = st.interval([s.joint[NO_ADAM].adam_like_share[-1] - 0.5 for s in seeds])
    effects = {"P1": (p1, both_margin), "P2": (last.home_advantage[ADAM], last.margin),
               "P3": (last.mean_home_advantage, last.margin), "P4": (p4, 0.0),
               "P5": (growth[ADAM], max(first.margin, last.margin))}
    predictions = [Prediction(k, STATEMENTS[k], e, m, +1, st.verdict(e, m, +1)) for k, (e, m) in effects.items()]
    return Report(preset, config, panel, seeds, seconds, rounds, growth, genes, predictions)
