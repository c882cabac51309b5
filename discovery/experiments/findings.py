"""What the hypothesis experiment's numbers say: effects, intervals, verdicts, the report.

Per seed ``s``, from the cells of ``adam_hypothesis`` (log10 losses, lower is better):

* ``M_s[f][g]``  optimizer ``g``'s log10 held-out loss on the top architectures evolved
  with ``f`` fixed (mean over architectures and training seeds);
* ``R_s[f][g] = M_s[f][g] - mean_h M_s[f][h]``  ``g`` relative to the panel there;
* home advantage ``HA_s(g) = mean_{f != g} R_s[f][g] - R_s[g][g]``: how much better ``g``
  does, relative to the panel, on architectures evolved for it than on those evolved
  for the others (a difference in differences; > 0 is a home advantage).

Predictions (each effect is measured per seed; ``statistics`` gives the 95%
interval over seeds, the margin and the verdict):

* P1  Adam is better on deep than on non-deep problems, relative to the panel:
      ``mean_tasks(log10 Adam - mean_h log10 h) - mean_f R_s[f][adam]``, predicted > 0;
* P2  the home advantage of Adam is positive: ``HA_s(adam)``, predicted > 0;
* P3  home advantage is general: ``mean_{g in F} HA_s(g)``, predicted > 0;
* P4  joint co-evolution from starts without Adam converges to Adam-like rules: the
      last generation's share of Adam-like children (similarity to Adam >=
      ``ADAM_LIKE``) minus one half, predicted > 0.

The margin of P1-P3 is the pooled seed-to-seed standard deviation of identical
trainings (each cell's log10 loss over its training seeds) among the cells its
effect is made of: the architecture cells for P2 and P3 (``Report.margin``, also
the home-advantage table's), those and the non-deep cells for P1 (whose tasks are
far noisier). P4 counts rules, so its margin is 0 and its interval carries the
seed-to-seed variation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from discovery.analysis import outputs
from discovery.experiments import statistics as st
from discovery.records import real

ADAM_LIKE = 0.95
REPORT_FILES = ("report.md", "report.json", "report.png")


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
    """What one arm's run gave for one seed, as its kind summarizes it (``adam_hypothesis.Arm``):
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
class SeedResult:
    """Everything one seed measured: each arm's result, by arm name."""

    seed: int
    arms: dict[str, ArmResult]

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
        return {"seed": self.seed, "arms": {name: a.to_dict() for name, a in self.arms.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> SeedResult:
        return cls(seed=data["seed"], arms={name: ArmResult.from_dict(a) for name, a in data["arms"].items()})


@dataclasses.dataclass(frozen=True)
class Control:
    """A control's fixed-optimizer arms, tuned by its own panel: its home advantages, their
    margin, and ``planted``: the optimizer whose home advantage the control plants (the positive
    control), or None (the negative one: no home advantage may be called supported)."""

    group: str
    family: str
    fixed: tuple[str, ...]
    panel: tuple[str, ...]
    home_advantage: dict[str, st.Effect]
    margin: float
    planted: str | None

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
        """The smallest home advantage this design can call supported, from the control's own
        numbers: the margin plus the mean half-width of the home advantages' intervals."""
        return self.margin + float(np.mean([(e.high - e.low) / 2 for e in self.home_advantage.values()]))

    def to_dict(self) -> dict:
        return {"group": self.group, "family": self.family, "fixed": list(self.fixed), "panel": list(self.panel),
                "home_advantage": {g: e.to_dict() for g, e in self.home_advantage.items()},
                "margin": self.margin, "planted": self.planted, "verdicts": self.verdicts,
                "passed": self.passed, "detectable": self.detectable}


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
    controls: list[Control] = dataclasses.field(default_factory=list)

    @property
    def matrix(self) -> np.ndarray:
        """``M[f][g]`` averaged over seeds."""
        names = {f: f"arch-{f}" for f in self.fixed}
        return np.mean([s.matrix(names, self.panel) for s in self.seeds], axis=0)

    def to_dict(self) -> dict:
        return {"preset": self.preset, "config": self.config, "fixed": list(self.fixed),
                "panel": list(self.panel), "seconds": self.seconds, "margin": self.margin,
                "seeds": [s.to_dict() for s in self.seeds],
                "matrix": self.matrix.tolist(),
                "home_advantage": {g: e.to_dict() for g, e in self.home_advantage.items()},
                "predictions": [p.to_dict() for p in self.predictions], "rule": st.RULE,
                "controls": [c.to_dict() for c in self.controls]}


def relative(m: np.ndarray) -> np.ndarray:
    """``R[f][g] = M[f][g] - mean_h M[f][h]``."""
    return m - m.mean(axis=1, keepdims=True)


def home_advantage(m: np.ndarray, fixed: Sequence[str], panel: Sequence[str]) -> dict[str, float]:
    """``HA(g) = mean_{f != g} R[f][g] - R[g][g]`` for every ``g`` of ``fixed`` (>0: better at home)."""
    r = relative(m)
    out = {}
    for i, g in enumerate(fixed):
        j = list(panel).index(g)
        away = [r[k, j] for k in range(len(fixed)) if k != i]
        out[g] = float(np.mean(away) - r[i, j])
    return out


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
            seconds: float, planted: str = "momentum") -> Report:
    """Effects per seed, intervals over seeds, the margins and the verdicts; and each control's
    (``arms``: ``adam_hypothesis.Arm`` records; ``planted``: the positive control's optimizer)."""
    panel = tuple(panel)
    main = {a.fixed: a.name for a in arms if a.kind == "architectures" and not a.group}
    fixed = tuple(main)
    per_seed, ha, deep = _home_advantages(seeds, main, panel)
    margin = st.margin(deep)
    both_margin = st.margin(deep + [c.per_seed for s in seeds for c in s.nondeep])
    adam = panel.index("adam")
    p1 = st.interval([_nondeep_relative(s.nondeep, "adam") - float(relative(s.matrix(main, panel))[:, adam].mean())
                      for s in seeds])
    p3 = st.interval([float(np.mean(list(h.values()))) for h in per_seed])
    p4 = st.interval([s.joint["joint-noadam"].adam_like_share[-1] - 0.5 for s in seeds])
    effects = {"P1": (p1, both_margin), "P2": (ha["adam"], margin), "P3": (p3, margin), "P4": (p4, 0.0)}
    predictions = [Prediction(k, STATEMENTS[k], e, m, +1, st.verdict(e, m, +1)) for k, (e, m) in effects.items()]
    controls = []
    for group in dict.fromkeys(a.group for a in arms if a.group):
        members = [a for a in arms if a.group == group]
        names = {a.fixed: a.name for a in members}
        _, effects, cells = _home_advantages(seeds, names, members[0].panel)
        family = dict(members[0].overrides)["coevolution.family"]
        controls.append(Control(group, family, tuple(names), members[0].panel, effects, st.margin(cells),
                                planted if group == "positive" else None))
    return Report(preset, config, fixed, panel, seeds, seconds, margin, ha, predictions, controls)


# ----------------------------------------------------------------------------- the report


def _short(text: str) -> str:
    return " ; ".join(line.strip() for line in text.strip().splitlines()[1:])


def markdown(report: Report) -> str:
    m, r = report.matrix, relative(report.matrix)
    n = len(report.seeds)
    lines = [
        "# Hypothesis experiment: did architectures evolve to make Adam look best?", "",
        f"Preset `{report.preset}`, architecture family `{report.config.get('family', 'mlp')}`, {n} seeds, "
        f"{report.seconds / 60:.0f} min in the call that finished it. Losses are log10 "
        "(lower is better); every optimizer is tuned with bracketing. Intervals are 95% over seeds "
        f"({report.predictions[0].effect.method}). Margins (pooled seed-to-seed standard deviation of "
        f"identical trainings among the cells an effect is made of): {report.margin:.3f} decades on the "
        f"evolved architectures (home advantage, P2, P3), {report.predictions[0].margin:.3f} with the "
        "non-deep tasks too (P1).", "",
        "## M[evolved with f][evaluated g]: log10 held-out loss (mean over seeds, top architectures, "
        "training seeds)", "",
        "| evolved with \\ evaluated | " + " | ".join(report.panel) + " |",
        "|---|" + "---|" * len(report.panel),
    ]
    for i, f in enumerate(report.fixed):
        cells = [f"**{v:+.3f}**" if g == f else f"{v:+.3f}" for g, v in zip(report.panel, m[i])]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    lines += ["", "Relative to the panel, R = M - row mean (bold: at home):", "",
              "| evolved with \\ evaluated | " + " | ".join(report.panel) + " |",
              "|---|" + "---|" * len(report.panel)]
    for i, f in enumerate(report.fixed):
        cells = [f"**{v:+.3f}**" if g == f else f"{v:+.3f}" for g, v in zip(report.panel, r[i])]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    lines += ["", "## Home advantage HA(g) = mean_{f != g} R[f][g] - R[g][g] (> 0: better at home)", "",
              "| optimizer | HA, mean [95% interval] | verdict (> 0) |", "|---|---|---|"]
    for g, e in report.home_advantage.items():
        lines.append(f"| {g} | {e.text(3)} | {st.verdict(e, report.margin, +1)} |")
    lines += ["", "## Verdicts", "", f"Rule: {st.RULE}", ""]
    for p in report.predictions:
        lines.append(f"- **{p.key}: {p.verdict}.** {p.statement}. Effect {p.effect.text(3)}, margin "
                     f"{p.margin:.3f}, predicted {'> 0' if p.predicted > 0 else '< 0'}.")
    lines += _control_lines(report)
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
    tasks = list(dict.fromkeys(c.where for c in report.seeds[0].nondeep))
    for t in tasks:
        tuned = [_task_relative(s.nondeep, t, "log10") for s in report.seeds]
        box = [_task_relative(s.nondeep, t, "out_of_box") for s in report.seeds]
        lines.append(f"| {t} | {st.interval(tuned).text(3)} | {st.interval(box).text(3)} |")
    lines += ["", "Run folders: " + ", ".join(p for s in report.seeds for p in s.runs)]
    return "\n".join(lines) + "\n"


CONTROL_TEXT = {
    "positive": "a planted home advantage: a gene that multiplies every weight's gradient, channel by "
                "channel, by fixed factors exp(sigma z) (Adam and other diagonal preconditioners are "
                "invariant to it, SGD-type methods are not); evolved with {planted} fixed, sigma is "
                "selected down, with Adam fixed it drifts: HA({planted}) > 0 by construction, and must be "
                "called supported",
    "negative": "a gene that changes every optimizer's loss alike: label noise mixing the uniform "
                "distribution into the targets (a higher floor for all); no home advantage may be "
                "called supported",
}


def _control_lines(report: Report) -> list[str]:
    if not report.controls:
        return ["", "## Controls", "", "None ran: the family has no control genes "
                "(`tasks.control_family`), so this report cannot say what it could have detected."]
    lines = ["", "## Controls: could this design see a home advantage?", ""]
    for c in report.controls:
        lines += [f"**{c.group.capitalize()} control** (family `{c.family}`, evolved with "
                  f"{' / '.join(c.fixed)}, panel {' '.join(c.panel)}): "
                  + CONTROL_TEXT[c.group].format(planted=c.planted) + ".", "",
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
                     "supported; smaller ones read as ties or inconclusive.")
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
    heat.set_title("R = log10 held-out loss - panel mean (blue: better)")
    fig.colorbar(image, ax=heat, shrink=0.8)
    names = list(report.home_advantage)
    effects = [report.home_advantage[g] for g in names]
    bars.bar(names, [e.mean for e in effects], color="C0",
             yerr=[[e.mean - e.low for e in effects], [e.high - e.mean for e in effects]], capsize=4)
    bars.axhspan(-report.margin, report.margin, color="grey", alpha=0.25, label="margin (tie)")
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


def write(report: Report, out: Path) -> list[Path]:
    """``report.md``, ``report.json`` and ``report.png`` into ``out`` (replacing earlier ones)."""
    paths = [out / name for name in REPORT_FILES]
    outputs.write_text(paths[0], markdown(report))
    outputs.write_json(paths[1], report.to_dict())
    outputs.write_png(figure(report), paths[2])
    return paths
