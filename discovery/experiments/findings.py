"""What the hypothesis experiment's numbers say: effects, intervals, verdicts, the report.

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
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from discovery import tasks
from discovery.analysis import outputs
from discovery.experiments import gene_effects as ge
from discovery.experiments import selection as sel
from discovery.experiments import statistics as st
from discovery.experiments.arms import Arm
from discovery.experiments.pool import Design, Member, PoolCell
from discovery.experiments.selection import home_advantage, relative
from discovery.records import real

ADAM_LIKE = 0.95
REPORT_FILES = ("report.md", "report.json", "report.png", "genes.png")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One optimizer on one architecture or task: log10 of its tuned loss per training seed
    (held-out loss on architectures, f - f* or the loss on tasks), and out of the box."""

    optimizer: str
    where: str
    per_seed: tuple[float, ...]
    out_of_box: float | None = None

    @property
    def log10(self) -> float:
        return sum(self.per_seed) / len(self.per_seed)

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "per_seed": list(self.per_seed)}

    @classmethod
    def from_dict(cls, data: dict) -> Cell:
        out_of_box = data.get("out_of_box")
        return cls(**{**data, "per_seed": tuple(map(real, data["per_seed"])),
                      "out_of_box": None if out_of_box is None else real(out_of_box)})


@dataclasses.dataclass(frozen=True)
class JointArm:
    """A joint (rule, architecture) run: Adam-like share of the children per generation, the
    best rule's text and its distance (1 - cosine similarity) to reference rules."""

    adam_like_share: tuple[float, ...]
    best_rule: str
    distance: dict[str, float]

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "adam_like_share": list(self.adam_like_share)}

    @classmethod
    def from_dict(cls, data: dict) -> JointArm:
        return cls(**{**data, "adam_like_share": tuple(data["adam_like_share"])})


@dataclasses.dataclass(frozen=True)
class ArmResult:
    """What one arm's run gave for one seed, as its kind summarizes it (``arms.Arm``):
    ``cells`` (the panel on its top architectures, or on the non-deep tasks), ``joint`` (a joint
    arm's summary), ``rule`` (a rules arm's best rule); ``run``: its run folder."""

    kind: str
    run: str
    cells: tuple[Cell, ...] = ()
    joint: JointArm | None = None
    rule: str | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "run": self.run, "cells": [c.to_dict() for c in self.cells],
                "joint": None if self.joint is None else self.joint.to_dict(), "rule": self.rule}

    @classmethod
    def from_dict(cls, data: dict) -> ArmResult:
        return cls(data["kind"], data["run"], tuple(Cell.from_dict(c) for c in data["cells"]),
                   None if data["joint"] is None else JointArm.from_dict(data["joint"]), data["rule"])


@dataclasses.dataclass(frozen=True)
class PoolSeed:
    """One design's pool in one replicate seed: its members (in order) and the panel's cells on
    them (``pool.PoolCell``)."""

    seed: int
    members: tuple[Member, ...]
    cells: tuple[PoolCell, ...]

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

    def to_dict(self) -> dict:
        return {"seed": self.seed, "members": [dataclasses.asdict(m) for m in self.members],
                "cells": [c.to_dict() for c in self.cells]}

    @classmethod
    def from_dict(cls, data: dict) -> PoolSeed:
        return cls(data["seed"], tuple(Member(m["block"], m["architecture"]) for m in data["members"]),
                   tuple(PoolCell.from_dict(c) for c in data["cells"]))


@dataclasses.dataclass(frozen=True)
class SeedResult:
    """Everything one seed measured: each arm's result, by arm name, and each pool design's
    members and cells, by group ("main", "positive", "negative")."""

    seed: int
    arms: dict[str, ArmResult]
    pools: dict[str, PoolSeed] = dataclasses.field(default_factory=dict)

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
        return [c for a in self.arms.values() if a.kind == "rules" for c in a.cells]

    @property
    def nondeep_rule(self) -> str:
        return next(a.rule for a in self.arms.values() if a.kind == "rules")

    @property
    def joint(self) -> dict[str, JointArm]:
        return {name: a.joint for name, a in self.arms.items() if a.kind == "joint"}

    @property
    def runs(self) -> list[str]:
        return [a.run for a in self.arms.values()]

    def to_dict(self) -> dict:
        return {"seed": self.seed, "arms": {name: a.to_dict() for name, a in self.arms.items()},
                "pools": {group: p.to_dict() for group, p in self.pools.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> SeedResult:
        return cls(seed=data["seed"], arms={name: ArmResult.from_dict(a) for name, a in data["arms"].items()},
                   pools={group: PoolSeed.from_dict(p) for group, p in data.get("pools", {}).items()})


@dataclasses.dataclass(frozen=True)
class PoolResult:
    """One pool design read by selection (``selection``): every panel optimizer selects its top
    ``k`` on selection seeds; the home advantages from measurement seeds, with intervals over
    seeds and blocks; their margin (the pooled seed-to-seed spread of the measurement scores of
    the members any optimizer selected); the mean ``M`` over seeds; the gene effects. ``planted``:
    the optimizer whose home advantage the positive control plants, else None; a control
    (``group`` not "main") passes when it calls that one supported, or (the negative) none."""

    group: str
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
            return self.verdicts[self.planted] == "supported"
        return "supported" not in self.verdicts.values()

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
    genes = [{k: v for k, v in m.architecture.items() if k != "family"} for p in seeds for m in p.members]
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

    @classmethod
    def from_dict(cls, data: dict) -> Prediction:
        return cls(**{**data, "effect": st.Effect.from_dict(data["effect"])})


@dataclasses.dataclass(frozen=True)
class Report:
    preset: str
    config: dict
    fixed: tuple[str, ...]
    panel: tuple[str, ...]
    seeds: list[SeedResult]
    seconds: float
    margin: float  # of the architecture cells: the home advantage's tie (P2, P3); P1 has its own
    home_advantage: dict[str, st.Effect]
    predictions: list[Prediction]
    pools: list[PoolResult] = dataclasses.field(default_factory=list)

    @property
    def pool(self) -> PoolResult | None:
        """The main pool's reading, if the experiment has a pool."""
        return next((p for p in self.pools if p.group == "main"), None)

    @property
    def controls(self) -> list[PoolResult]:
        return [p for p in self.pools if p.group != "main"]

    @property
    def matrix(self) -> np.ndarray:
        """``M[f][g]`` averaged over seeds."""
        names = {f: Arm("architectures", fixed=f).name for f in self.fixed}
        return np.mean([s.matrix(names, self.panel) for s in self.seeds], axis=0)

    def to_dict(self) -> dict:
        return {"preset": self.preset, "config": self.config, "fixed": list(self.fixed),
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


def analyse(preset: str, config: dict, seeds: list[SeedResult], arms: Sequence, panel: Sequence[str],
            seconds: float, planted: str = "momentum", designs: Sequence[Design] = ()) -> Report:
    """Effects per seed, intervals over seeds, the margins and the verdicts (``arms``:
    ``arms.Arm`` records); each pool design's reading (``analyse_pool``; ``planted``:
    the positive control's optimizer). P2 and P3 read the main pool where there is one (its
    power is measured by the controls), the evolution arms otherwise."""
    panel = tuple(panel)
    main = {a.fixed: a.name for a in arms if a.kind == "architectures"}
    fixed = tuple(main)
    per_seed, ha, deep = _home_advantages(seeds, main, panel)
    margin = st.margin(deep)
    both_margin = st.margin(deep + [c.per_seed for s in seeds for c in s.nondeep])
    adam = panel.index("adam")
    p1 = st.interval([_nondeep_relative(s.nondeep, "adam") - float(relative(s.matrix(main, panel))[:, adam].mean())
                      for s in seeds])
    p3 = st.interval([float(np.mean(list(h.values()))) for h in per_seed])
    p4 = st.interval([s.joint[Arm("joint", start="noadam").name].adam_like_share[-1] - 0.5 for s in seeds])
    family = config.get("family", "mlp")
    pools = [analyse_pool(d, family, [s.pools[d.group] for s in seeds], planted if d.group == "positive" else None)
             for d in designs]
    home = (ha["adam"], margin), (p3, margin)
    if pools:
        home = (pools[0].home_advantage["adam"], pools[0].margin), (pools[0].mean_home_advantage, pools[0].margin)
    effects = {"P1": (p1, both_margin), "P2": home[0], "P3": home[1], "P4": (p4, 0.0)}
    predictions = [Prediction(k, STATEMENTS[k], e, m, +1, st.verdict(e, m, +1)) for k, (e, m) in effects.items()]
    return Report(preset, config, fixed, panel, seeds, seconds, margin, ha, predictions, pools)


# ----------------------------------------------------------------------------- the report


def _short(text: str) -> str:
    return " ; ".join(line.strip() for line in text.strip().splitlines()[1:])


def _matrix_lines(m: np.ndarray, rows: Sequence[str], panel: Sequence[str], what: str) -> list[str]:
    lines = [f"| {what} \\ evaluated | " + " | ".join(panel) + " |", "|---|" + "---|" * len(panel)]
    for i, f in enumerate(rows):
        cells = [f"**{v:+.3f}**" if g == f else f"{v:+.3f}" for g, v in zip(panel, m[i])]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return lines


ESTIMATORS = (
    "**Selection on the shared pool** compares like with like: every optimizer chooses among the same "
    "random architectures, every cell is trained once, and what selected (selection seeds) never "
    "measures (measurement seeds), so training noise cannot give any optimizer a home advantage; its "
    "power is measured by the controls on the same pool. It cannot see what several rounds of "
    "selection would reach: a home advantage that needs architectures far from random ones.",
    "**Evolution** (arch-f arms: several rounds of selection from one common start per seed; the panel "
    "on each arm's top architectures, on measurement seeds) can go where a random pool does not, but "
    "each arm keeps a few architectures of one small search, so most of its spread is which ones the "
    "search happened to keep; no control measures its power here.",
)


def markdown(report: Report) -> str:
    n = len(report.seeds)
    pool = report.pool
    lines = [
        "# Hypothesis experiment: did architectures evolve to make Adam look best?", "",
        f"Preset `{report.preset}`, architecture family `{report.config.get('family', 'mlp')}`, {n} seeds, "
        f"{report.seconds / 60:.0f} min in the call that finished it. Losses are log10 held-out loss "
        "(lower is better); every optimizer is tuned with bracketing. Margins are the pooled seed-to-seed "
        "standard deviation of identical trainings among the cells an effect is made of.", ""]
    if pool is not None:
        lines += [f"Pool: {pool.members} random architectures per seed, every optimizer of {' '.join(pool.panel)} "
                  f"tuned on each; each selects its top {pool.k} on selection seeds "
                  f"{report.config.get('train_seeds')} (shifted per seed), measured on "
                  f"{report.config.get('measure_seeds')}. Intervals: {pool.mean_home_advantage.method}.", "",
                  "## Home advantage, two estimators side by side", "",
                  "`HA(g) = mean_{f != g} R[f][g] - R[g][g]`, `R = M - row mean` (> 0: g does better, relative to "
                  "the panel, on architectures selected for it).", "",
                  f"| optimizer | pool selection: HA [95%] | verdict (margin {pool.margin:.3f}) | "
                  f"evolution arms: HA [95%] | verdict (margin {report.margin:.3f}) |", "|---|---|---|---|---|"]
        for g, e in pool.home_advantage.items():
            evo = report.home_advantage.get(g)
            lines.append(f"| {g} | {e.text(3)} | {pool.verdicts[g]} | "
                         + (f"{evo.text(3)} | {st.verdict(evo, report.margin, +1)} |" if evo else "not an arm | |"))
        lines += ["", *(f"- {text}" for text in ESTIMATORS), "",
                  "### `M[selected by f][evaluated g]` on the pool (mean over seeds)", "",
                  *_matrix_lines(pool.matrix, pool.panel, pool.panel, "selected by"), ""]
    lines += ["## Evolution arms: `M[evolved with f][evaluated g]` (mean over seeds, top architectures, "
              "the panel's training seeds)", "", *_matrix_lines(report.matrix, report.fixed, report.panel, "evolved with"),
              "", "Relative to the panel, R = M - row mean (bold: at home):", "",
              *_matrix_lines(relative(report.matrix), report.fixed, report.panel, "evolved with"), "",
              f"Intervals over seeds: {report.predictions[0].effect.method}."]
    if not report.config.get("measure_seeds"):
        lines += ["", "The design before pools: the panels trained on each seed's shifted training seeds, so "
                  "seed 0's panels trained on the very seeds its evolution selected with (a winner's curse "
                  "toward a home advantage in that seed)."]
    if pool is None:
        lines += ["", "## Home advantage HA(g) = mean_{f != g} R[f][g] - R[g][g] (> 0: better at home)", "",
                  "| optimizer | HA, mean [95% interval] | verdict (> 0) |", "|---|---|---|"]
        lines += [f"| {g} | {e.text(3)} | {st.verdict(e, report.margin, +1)} |"
                  for g, e in report.home_advantage.items()]
    lines += ["", "## Verdicts", "", f"Rule: {st.RULE}", "",
              *(f"- **{p.key}: {p.verdict}.** {p.statement}. Effect {p.effect.text(3)}, margin {p.margin:.3f}, "
                f"predicted {'> 0' if p.predicted > 0 else '< 0'}." for p in report.predictions)]
    if pool is not None:
        lines += ["", "P2 and P3 read the pool (the estimator whose power the controls measure)."]
    lines += _control_lines(report)
    lines += _gene_lines(report)
    lines += ["", "## Joint co-evolution (rules and architectures) without Adam", "",
              "| arm | Adam-like share per generation (mean over seeds) | best rule (seed 0) | "
              "distance to adam / lion / momentum (mean) |", "|---|---|---|---|"]
    for arm in report.seeds[0].joint:
        shares = np.mean([s.joint[arm].adam_like_share for s in report.seeds], axis=0)
        dist = {k: np.mean([s.joint[arm].distance[k] for s in report.seeds]) for k in ("adam", "lion", "momentum")}
        lines.append(f"| {arm} | {' '.join(f'{x:.2f}' for x in shares)} | `{_short(report.seeds[0].joint[arm].best_rule)}` | "
                     f"{dist['adam']:.2f} / {dist['lion']:.2f} / {dist['momentum']:.2f} |")
    lines += ["", "## Non-deep tasks", "",
              f"Rule evolved there (seed 0): `{_short(report.seeds[0].nondeep_rule)}`", "",
              "| task | Adam tuned - panel mean | Adam out of the box - panel mean (out of the box) |",
              "|---|---|---|"]
    tasks_ = list(dict.fromkeys(c.where for c in report.seeds[0].nondeep))
    for t in tasks_:
        tuned = [_task_relative(s.nondeep, t, "log10") for s in report.seeds]
        box = [_task_relative(s.nondeep, t, "out_of_box") for s in report.seeds]
        lines.append(f"| {t} | {st.interval(tuned).text(3)} | {st.interval(box).text(3)} |")
    lines += ["", "Run folders: " + ", ".join(p for s in report.seeds for p in s.runs)]
    return "\n".join(lines) + "\n"


CONTROL_TEXT = {
    "positive": "a planted home advantage: every base architecture of the pool also at {gene} = {values}, a "
                "gene that multiplies every weight's gradient, channel by channel, by fixed factors exp(sigma z) "
                "(Adam and other diagonal preconditioners are invariant to it, SGD-type methods are not), so "
                "{planted} selects the unspread copies and Adam does not mind: HA({planted}) > 0 by construction, "
                "and must be called supported",
    "negative": "a gene that moves every optimizer alike: every base also at {gene} = {values}, label noise "
                "mixing the uniform distribution into the targets (a higher floor for all); no home advantage "
                "may be called supported",
}


def _control_lines(report: Report) -> list[str]:
    if not report.controls:
        return ["", "## Controls", "", "None ran: the family has no control genes (`tasks.control_family`) or "
                "the experiment has no pool, so this report cannot say what it could have detected."]
    lines = ["", "## Controls: could this design see a home advantage?", ""]
    for c in report.controls:
        gene, values = tasks.family(c.family).genes.PLANTED
        lines += [f"**{c.group.capitalize()} control** (family `{c.family}`, a blocked pool of {c.members} "
                  f"members per seed, each optimizer selecting {c.k}; panel {' '.join(c.panel)}): "
                  + CONTROL_TEXT[c.group].format(planted=c.planted, gene=gene, values=list(values)) + ".", "",
                  "| optimizer | HA, mean [95% interval] | verdict (> 0) |", "|---|---|---|"]
        lines += [f"| {g} | {e.text(3)} | {c.verdicts[g]} |" for g, e in c.home_advantage.items()]
        lines += ["", f"Margin {c.margin:.3f} decades. The control **{'passed' if c.passed else 'FAILED'}**"
                  + (f": HA({c.planted}) = {c.home_advantage[c.planted].mean:+.3f} decades, "
                     f"{c.verdicts[c.planted]}." if c.planted else
                     f": {'no' if c.passed else 'a'} home advantage called supported."), ""]
    positive = next((c for c in report.controls if c.group == "positive"), None)
    if positive is not None:
        lines.append(f"Power: with this preset on this family a home advantage must exceed about "
                     f"**{positive.detectable:.3f} decades** (the margin {positive.margin:.3f} plus the mean "
                     "half-width of the intervals, from the positive control's numbers) to be called "
                     "supported; smaller ones read as ties or inconclusive. The controls share the main pool's "
                     "base architectures, so each control's home advantages include the family's own.")
    return lines


def _gene_lines(report: Report) -> list[str]:
    if not report.pools:
        return []
    pool = report.pool
    effects = pool.genes
    lines = ["", "## What in an architecture favours Adam", "",
             f"From the main pool's measurement scores ({effects.members} architectures over all seeds): the gap "
             "of each optimizer to Adam, log10 loss(g) - log10 loss(adam) (> 0: Adam better), mean per gene "
             f"value with a 95% interval ({next(iter(effects.rows[0].gaps.values())).method if effects.rows else ''}); "
             f"`{ge.LEAD}` is Adam's lead over the rest of the panel (the mean gap). Scale genes are split at their "
             "default. Genes are ordered by their effect in a ridge fit of Adam's lead on all genes at once "
             f"(penalty {ge.RIDGE:g}; {effects.parameters} parameters on {effects.members} members, R^2 = "
             f"{effects.r2:.2f}): the range of the gene's fitted contributions.", "",
             "| gene | value | n | " + " | ".join([*effects.optimizers, ge.LEAD]) + " |",
             "|---|---|---|" + "---|" * (len(effects.optimizers) + 1)]
    for row in effects.rows:
        lines.append(f"| {row.gene} | {row.value} | {row.n} | "
                     + " | ".join(row.gaps[g].text(2) for g in (*effects.optimizers, ge.LEAD)) + " |")
    lines += ["", "Fit over the genes (effect on Adam's lead, decades; largest first):", "",
              "| pool | " + " | ".join(f"#{i}" for i in range(1, 6)) + " |", "|---|" + "---|" * 5]
    for p in report.pools:
        top = [f"{f.gene} {f.effect.text(2)}" for f in p.genes.fit[:5]]
        lines.append(f"| {p.group} | " + " | ".join(top + [""] * (5 - len(top))) + " |")
    positive = next((c for c in report.controls if c.group == "positive"), None)
    if positive is not None:
        lines += ["", f"In the positive control the planted gene `{positive.planted_gene}` ranks "
                  f"**#{positive.planted_rank}** of {len(positive.genes.fit)} genes in the fit"
                  + (" (it must rank first)." if positive.planted_rank == 1 else ": **not first, the gene "
                     "analysis missed the plant**.")]
    return lines


def _task_relative(cells: list[Cell], task: str, field: str) -> float:
    values = {c.optimizer: getattr(c, field) for c in cells if c.where == task}
    return values["adam"] - float(np.mean(list(values.values())))


def figure(report: Report) -> Figure:
    fig = Figure(figsize=(15, 4.6), layout="constrained")
    heat, bars, share = fig.subplots(1, 3, gridspec_kw={"width_ratios": [2.2, 1, 1.2]})
    r = relative(report.matrix)
    limit = max(float(np.abs(r).max()), 1e-3)
    image = heat.imshow(r, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    heat.set_xticks(range(len(report.panel)), report.panel, rotation=45, ha="right")
    heat.set_yticks(range(len(report.fixed)), [f"evolved with {f}" for f in report.fixed])
    for i in range(r.shape[0]):
        for j in range(r.shape[1]):
            heat.text(j, i, f"{r[i, j]:+.2f}", ha="center", va="center", fontsize=7,
                      fontweight="bold" if report.panel[j] == report.fixed[i] else "normal")
    heat.set_title("evolution arms: R = log10 held-out loss - panel mean (blue: better)")
    fig.colorbar(image, ax=heat, shrink=0.8)
    series = [("evolution", report.home_advantage, report.margin)]
    series += [(p.group if p.group != "main" else "pool", p.home_advantage, p.margin) for p in report.pools]
    names = list(dict.fromkeys(g for _, effects, _ in series for g in effects))
    width = 0.8 / len(series)
    for i, (label, effects, margin) in enumerate(series):
        x = [names.index(g) + (i - (len(series) - 1) / 2) * width for g in effects]
        e = list(effects.values())
        bars.bar(x, [v.mean for v in e], width, label=f"{label} (margin {margin:.3f})", color=f"C{i}",
                 yerr=[[v.mean - v.low for v in e], [v.high - v.mean for v in e]], capsize=3)
    bars.set_xticks(range(len(names)), names, rotation=45, ha="right")
    bars.axhline(0, color="black", lw=0.8)
    bars.set_title("home advantage, 95% interval")
    bars.set_ylabel("decades (> 0: better at home)")
    bars.legend(fontsize=7)
    for arm in report.seeds[0].joint:
        curves = np.array([s.joint[arm].adam_like_share for s in report.seeds])
        share.plot(range(1, curves.shape[1] + 1), curves.mean(axis=0), marker="o", label=arm)
    share.axhline(0.5, color="grey", ls=":")
    share.set(xlabel="generation", ylabel=f"share Adam-like (similarity >= {ADAM_LIKE})", ylim=(-0.02, 1.02),
              title="joint co-evolution without Adam")
    share.legend(fontsize=7)
    fig.suptitle(f"Hypothesis experiment ({report.preset}, {len(report.seeds)} seeds)")
    return fig


def gene_figure(report: Report) -> Figure:
    """Per pool, each gene's effect on Adam's lead in the fit over genes, with its interval; and
    the main pool's gap to Adam per value of its top gene."""
    fig = Figure(figsize=(5 * (len(report.pools) + 1), 4.8), layout="constrained")
    axes = fig.subplots(1, len(report.pools) + 1)
    for ax, p in zip(axes, report.pools):
        fit = list(reversed(p.genes.fit))
        # A range's bootstrap interval need not hold its point estimate: whiskers clipped at the bar.
        ax.barh([f.gene for f in fit], [f.effect.mean for f in fit], color="C0",
                xerr=[[max(0.0, f.effect.mean - f.effect.low) for f in fit],
                      [max(0.0, f.effect.high - f.effect.mean) for f in fit]], capsize=3)
        planted = f", planted: {p.planted_gene}" if p.planted_gene else ""
        ax.set(title=f"{p.group} pool{planted}", xlabel="effect on Adam's lead (decades, fit over genes)")
        ax.tick_params(axis="y", labelsize=7)
    top = report.pool.genes.fit[0].gene if report.pool.genes.fit else None
    rows = [r for r in report.pool.genes.rows if r.gene == top]
    ax = axes[-1]
    for i, g in enumerate([*report.pool.genes.optimizers, ge.LEAD]):
        x = [j + (i - len(report.pool.genes.optimizers) / 2) * 0.18 for j in range(len(rows))]
        e = [r.gaps[g] for r in rows]
        ax.bar(x, [v.mean for v in e], 0.18, label=g, color=f"C{i}",
               yerr=[[max(0.0, v.mean - v.low) for v in e], [max(0.0, v.high - v.mean) for v in e]], capsize=3)
    ax.set_xticks(range(len(rows)), [r.value for r in rows])
    ax.axhline(0, color="black", lw=0.8)
    ax.set(title=f"main pool: gap to Adam by {top}", ylabel="log10 loss(g) - log10 loss(adam)")
    ax.legend(fontsize=7)
    fig.suptitle("What in an architecture favours Adam")
    return fig


def write(report: Report, out: Path) -> list[Path]:
    """``report.md``, ``report.json``, ``report.png`` and, with a pool, ``genes.png`` into ``out``
    (replacing earlier ones)."""
    paths = [out / name for name in REPORT_FILES]
    outputs.write_text(paths[0], markdown(report))
    outputs.write_json(paths[1], report.to_dict())
    outputs.write_png(figure(report), paths[2])
    if report.pools:
        outputs.write_png(gene_figure(report), paths[3])
        return paths
    return paths[:3]
