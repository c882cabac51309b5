"""The hypothesis experiment's report: ``findings.Report`` rendered as markdown and figures,
and written (``REPORT_FILES``: ``report.md``, ``report.json``, ``report.html`` (``report_page``:
the markdown and interactive figures on one offline page), ``report.png``, ``genes.png``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from discovery import tasks
from discovery.analysis import outputs
from discovery.experiments import gene_effects as ge
from discovery.experiments import report_page
from discovery.experiments import statistics as st
from discovery.experiments.arms import ADAM
from discovery.experiments.findings import ADAM_LIKE, DOSE, REFERENCES, Cell, Report
from discovery.experiments.pool import MAIN, PLANTED, POSITIVE, Control
from discovery.experiments.selection import relative

REPORT_FILES = ("report.md", "report.json", "report.html", "report.png", "genes.png")


def _short(text: str) -> str:
    return " ; ".join(line.strip() for line in text.strip().splitlines()[1:])


def _matrix_lines(m: np.ndarray, rows: Sequence[str], panel: Sequence[str], what: str) -> list[str]:
    lines = [f"| {what} \\ evaluated | " + " | ".join(panel) + " |", "|---|" + "---|" * len(panel)]
    for i, f in enumerate(rows):
        cells = [f"**{v:+.3f}**" if g == f else f"{v:+.3f}" for g, v in zip(panel, m[i])]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return lines


ANSWERS = {st.SUPPORTED: "Yes", st.CONTRADICTED: "No", st.INCONCLUSIVE: "Not established"}


def answer_lines(report: Report) -> list[str]:
    """The report's first lines: does Adam's home advantage grow with rounds of selection?"""
    p5 = next(p for p in report.predictions if p.key == "P5")
    adam = report.series(ADAM)
    failed = [f"{c.group} in round {r.round}" for r in report.rounds for c in r.controls if not c.passed]
    powers = [r.pool(POSITIVE).detectable for r in report.rounds if r.pool(POSITIVE) is not None]
    return [
        f"**Does Adam's home advantage grow with rounds of selection? {ANSWERS[p5.verdict]}** "
        f"(P5 {p5.verdict}): HA(adam) {adam[0].text(3)} in the random pool, {adam[-1].text(3)} after "
        f"round {report.last.round}; the change {p5.effect.text(3)} decades, margin {p5.margin:.3f}.", "",
        ("Both controls pass in every round" if report.controls_pass else
         f"**Controls FAILED: {', '.join(failed) or 'none ran'}**")
        + (f"; power (smallest home advantage the positive control says this design would call supported) "
           f"{' / '.join(f'{x:.3f}' for x in powers)} decades in rounds {', '.join(str(r.round) for r in report.rounds)}."
           if powers else "; no control ran, so the report cannot say what it could have detected."), ""]


def markdown(report: Report) -> str:
    n = len(report.seeds)
    c = report.config
    lines = [
        "# Hypothesis experiment: does selecting architectures with Adam make Adam look best?", "",
        *answer_lines(report),
        f"Preset `{report.preset}`, architecture family `{c.family}`, {n} seeds, "
        f"{report.seconds / 60:.0f} min in the call that finished it. Losses are log10 held-out loss "
        "(lower is better); every optimizer is tuned with bracketing. Margins are the pooled seed-to-seed "
        "standard deviation of identical trainings among the cells an effect is made of.", "",
        f"Rounds: {c.pool} random architectures per seed (round 0), then {c.rounds} rounds in which each "
        f"optimizer's lineage keeps its top {c.pool_top_k} and adds {c.children} one-edit "
        f"{'child' if c.children == 1 else 'children'} per kept member (children common to all lineages); "
        f"every member tuned once with every optimizer of {' '.join(report.panel)}; selection on training seeds {list(c.train_seeds)}, measurement on "
        f"{list(c.measure_seeds)} (shifted per seed). Intervals: {report.pool.mean_home_advantage.method}.", "",
        "## Dose-response: the home advantage against the round", "",
        "`HA(g) = mean_{f != g} R[f][g] - R[g][g]`, `R = M - row mean`, `M[f][g]`: g's measured score on f's "
        "selection (> 0: g does better, relative to the panel, on architectures selected for it).", "",
        "| round | candidates per seed | HA(adam) | HA(momentum) | mean HA | margin | power | controls |",
        "|---|---|---|---|---|---|---|---|"]
    for r in report.rounds:
        m, pos = r.main, r.pool(POSITIVE)
        lines.append(f"| {r.round} | {m.members:.1f} | {m.home_advantage[ADAM].text(3)} | "
                     f"{m.home_advantage['momentum'].text(3) if 'momentum' in m.home_advantage else ''} | "
                     f"{m.mean_home_advantage.text(3)} | {m.margin:.3f} | "
                     f"{f'{pos.detectable:.3f}' if pos else 'no control'} | "
                     f"{'pass' if r.controls_pass else 'FAIL'} |")
    lines += ["", "Change from round 0 to the last round (paired bootstrap draws):", "",
              *(f"- {g}: {e.text(3)}" for g, e in report.growth.items()), "",
              "## Lineages: how far selection moved them", "",
              "Selection differential: the selected members' mean selection score minus the candidates' (< 0: "
              "selection found better ones); response: the lineage's own measured score on its selection minus in "
              "round 0 (< 0: it does better); distance: the mean over genes of the total-variation distance "
              "between its selection's gene values and the random pool's (0: as random, 1: disjoint). Round 0's "
              "distance is what choosing k of the random pool gives by itself: the baseline for the later rounds.", "",
              "| round | lineage | selection differential | response | distance | genes moved most |",
              "|---|---|---|---|---|---|"]
    for r in report.rounds:
        for x in r.lineages:
            top = sorted(x.moved.items(), key=lambda kv: -kv[1])[:3]
            lines.append(f"| {r.round} | {x.optimizer} | {x.differential:+.3f} | {x.response:+.3f} | "
                         f"{x.distance:.2f} | {', '.join(f'{g} {v:.2f}' for g, v in top)} |")
    lines += ["", "## Home advantage per round, main pool", "",
              "| optimizer | " + " | ".join(f"round {r.round}" for r in report.rounds) + " |",
              "|---|" + "---|" * len(report.rounds)]
    for g in report.panel:
        lines.append(f"| {g} | " + " | ".join(f"{r.main.home_advantage[g].text(3)} {r.main.verdicts[g]}"
                                            for r in report.rounds) + " |")
    lines += ["", f"### `M[selected by f][evaluated g]` after round {report.last.round} (mean over seeds)", "",
              *_matrix_lines(report.pool.matrix, report.panel, report.panel, "selected by"), "",
              "Relative to the panel, R = M - row mean (bold: at home):", "",
              *_matrix_lines(relative(report.pool.matrix), report.panel, report.panel, "selected by")]
    lines += ["", "## Verdicts", "", f"Rule: {st.RULE}", "",
              *(f"- **{p.key}: {p.verdict}.** {p.statement}. Effect {p.effect.text(3)}, margin {p.margin:.3f}, "
                f"predicted {'> 0' if p.predicted > 0 else '< 0'}." for p in report.predictions)]
    lines += _control_lines(report)
    lines += _gene_lines(report)
    lines += ["", "## Joint co-evolution (rules and architectures) without Adam, one generation per round", "",
              "| arm | Adam-like share per generation | best rule's distance to Adam per generation | "
              f"best rule (seed 0) | final distance to {' / '.join(REFERENCES)} |", "|---|---|---|---|---|"]
    for arm in report.seeds[0].joint:
        shares = np.mean([s.joint[arm].adam_like_share for s in report.seeds], axis=0)
        to_adam = np.mean([s.joint[arm].adam_distance for s in report.seeds], axis=0)
        dist = [np.mean([s.joint[arm].distance[k] for s in report.seeds]) for k in REFERENCES]
        lines.append(f"| {arm} | {' '.join(f'{x:.2f}' for x in shares)} | {' '.join(f'{x:.2f}' for x in to_adam)} | "
                     f"`{_short(report.seeds[0].joint[arm].best_rule)}` | {' / '.join(f'{d:.2f}' for d in dist)} |")
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


CONTROL_TEXT: dict[Control, str] = {
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
    controls = report.last.controls
    if not controls:
        return ["", "## Controls", "", "None ran: the family has no control genes (`tasks.control_family`), so "
                "this report cannot say what it could have detected."]
    lines = ["", "## Controls in every round: could this design see a home advantage?", ""]
    for c in controls:
        gene, values = tasks.family(c.family).genes.PLANTED
        lines += [f"**{c.group.capitalize()} control** (family `{c.family}`): every candidate of every lineage "
                  f"also at {gene} = {list(values)}, each optimizer selecting {c.k} of its lineage's copies; "
                  + CONTROL_TEXT[c.group].format(planted=c.planted, gene=gene, values=list(values)) + ".", ""]
    lines += ["| round | control | optimizer | HA [95%] | HA minus the main pool's [95%] | verdict (on) | margin | passed |",
              "|---|---|---|---|---|---|---|---|"]
    for r in report.rounds:
        for c in r.controls:
            g = c.planted or max(c.judged, key=lambda h: c.judged[h].high)
            lines.append(f"| {r.round} | {c.group} | {g} | {c.home_advantage[g].text(3)} | {c.beyond_main[g].text(3)} | "
                         f"{c.verdicts[g]} ({'HA' if c.planted else 'minus main'}) | {c.margin:.3f} | "
                         f"{'passed' if c.passed else 'FAILED'} |")
    lines += ["", "The positive control is judged on its own home advantage, positive by construction whatever "
              "the main pool's: it shows this round's design sees a home advantage of that size (were the main "
              "pool's own one supported, the control would pass on it alone). Beyond the main pool's it need "
              "not be supported, because the plant and a natural home advantage both come from the planted "
              "optimizer choosing its own best bases and do not add. The "
              "negative control is judged on its home advantage minus the main pool's in the same round (paired "
              "bootstrap draws): what its gene adds, whatever home advantage the family has of its own. "
              "The positive control's row is its planted optimizer; the negative control's, the optimizer whose "
              "interval reaches highest. Power per round (the dose-response table) is the positive control's "
              "margin plus the mean half-width of its home advantages' intervals. The controls ride on the main "
              "lineages' candidates: every candidate at each planted value, copies that differ in that gene alone."]
    return lines


def _gene_lines(report: Report) -> list[str]:
    effects = report.genes[MAIN]
    lines = ["", "## What in an architecture favours Adam", "",
             f"From the main pool's measurement scores over every round ({effects.members} architectures over all "
             "seeds, the lineages' children included): the gap of each optimizer to Adam, log10 loss(g) - log10 "
             "loss(adam) (> 0: Adam better), mean per gene value with a 95% interval "
             f"({next(iter(effects.rows[0].gaps.values())).method if effects.rows else ''}); `{ge.LEAD}` is "
             "Adam's lead over the rest of the panel (the mean gap). Scale genes are split at their default. "
             f"Genes are ordered by their effect in a ridge fit of Adam's lead on all genes at once (penalty "
             f"{ge.RIDGE:g}; {effects.parameters} parameters on {effects.members} members, R^2 = {effects.r2:.2f}): "
             "the range of the gene's fitted contributions.", "",
             "| gene | value | n | " + " | ".join([*effects.optimizers, ge.LEAD]) + " |",
             "|---|---|---|" + "---|" * (len(effects.optimizers) + 1)]
    for row in effects.rows:
        lines.append(f"| {row.gene} | {row.value} | {row.n} | "
                     + " | ".join(row.gaps[g].text(2) for g in (*effects.optimizers, ge.LEAD)) + " |")
    lines += ["", "Fit over the genes (effect on Adam's lead, decades; largest first):", "",
              "| pool | " + " | ".join(f"#{i}" for i in range(1, 6)) + " |", "|---|" + "---|" * 5]
    for group, g in report.genes.items():
        top = [f"{f.gene} {f.effect.text(2)}" for f in g.fit[:5]]
        lines.append(f"| {group} | " + " | ".join(top + [""] * (5 - len(top))) + " |")
    rank = report.planted_rank
    if rank is not None:
        gene = report.last.pool(POSITIVE).planted_gene
        lines += ["", f"In the positive control the planted gene `{gene}` ranks **#{rank}** of "
                  f"{len(report.genes[POSITIVE].fit)} genes in the fit"
                  + (" (it must rank first)." if rank == 1 else ": **not first, the gene analysis missed the plant**.")]
    return lines


def _task_relative(cells: list[Cell], task: str, field: str) -> float:
    values = {c.optimizer: getattr(c, field) for c in cells if c.where == task}
    return values[ADAM] - float(np.mean(list(values.values())))


def figure(report: Report) -> Figure:
    """The dose-response (home advantages against the round, with the positive control's planted
    one and the power), how far the lineages moved, and the joint arm per generation."""
    fig = Figure(figsize=(15, 4.6), layout="constrained")
    dose, moved, joint = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.6, 1, 1]})
    rounds = np.array([r.round for r in report.rounds], float)
    series = [(f"HA({g})", report.series(g)) for g in DOSE if g in report.panel] + [("mean HA", report.series("mean"))]
    if report.last.pool(POSITIVE) is not None:
        series.append((f"positive control: planted HA({PLANTED})",
                       report.series(PLANTED, POSITIVE)))
    for i, (label, effects) in enumerate(series):
        dose.errorbar(rounds + 0.06 * (i - len(series) / 2), [e.mean for e in effects],
                      yerr=st.error_bars(effects, clip=True), marker="o", capsize=3, label=label, color=f"C{i}")
    powers = [r.pool(POSITIVE).detectable for r in report.rounds if r.pool(POSITIVE) is not None]
    if powers:
        dose.plot(rounds, powers, ls="--", color="grey", label="power (detectable HA)")
    dose.axhline(0, color="black", lw=0.8)
    dose.set(xlabel="round of selection (0: random pool)", ylabel="home advantage, decades (95% interval)",
             title="Does Adam's home advantage grow with rounds of selection?")
    dose.set_xticks(rounds)
    dose.legend(fontsize=7)
    for i, f in enumerate(report.panel):
        distance = [next(x for x in r.lineages if x.optimizer == f).distance for r in report.rounds]
        moved.plot(rounds, distance, marker="o", label=f"{f} lineage", color=f"C{i}")
    moved.set(xlabel="round (0: k of the random pool, the baseline)",
              ylabel="distance from the random pool (mean TV over genes)", ylim=(0, None),
              title="how far each lineage moved")
    moved.set_xticks(rounds)
    moved.legend(fontsize=7)
    for arm in report.seeds[0].joint:
        shares = np.mean([s.joint[arm].adam_like_share for s in report.seeds], axis=0)
        to_adam = np.mean([s.joint[arm].adam_distance for s in report.seeds], axis=0)
        joint.plot(range(len(shares)), shares, marker="o", label=f"{arm}: Adam-like share")
        joint.plot(range(len(to_adam)), to_adam, marker="s", ls="--", label=f"{arm}: best rule's distance to Adam")
    joint.axhline(0.5, color="grey", ls=":")
    joint.set(xlabel="generation (one per round)", ylim=(-0.02, 1.02),
              ylabel=f"share Adam-like (similarity >= {ADAM_LIKE}); distance", title="joint co-evolution without Adam")
    joint.set_xticks(range(len(report.seeds[0].joint[next(iter(report.seeds[0].joint))].adam_like_share)))
    joint.legend(fontsize=7)
    fig.suptitle(f"Hypothesis experiment ({report.preset}, {len(report.seeds)} seeds)")
    return fig


def gene_figure(report: Report) -> Figure:
    """Per design, each gene's effect on Adam's lead in the fit over genes (every round's members),
    with its interval; and the main pool's gap to Adam per value of its top gene."""
    fig = Figure(figsize=(5 * (len(report.genes) + 1), 4.8), layout="constrained")
    axes = fig.subplots(1, len(report.genes) + 1)
    for ax, (group, effects) in zip(axes, report.genes.items()):
        fit = list(reversed(effects.fit))
        ax.barh([f.gene for f in fit], [f.effect.mean for f in fit], color="C0",
                xerr=st.error_bars([f.effect for f in fit], clip=True), capsize=3)
        planted = report.last.pool(group).planted_gene
        ax.set(title=f"{group} pool" + (f", planted: {planted}" if planted else ""),
               xlabel="effect on Adam's lead (decades, fit over genes)")
        ax.tick_params(axis="y", labelsize=7)
    main = report.genes[MAIN]
    rows = main.top_rows
    ax = axes[-1]
    for i, g in enumerate([*main.optimizers, ge.LEAD]):
        x = [j + (i - len(main.optimizers) / 2) * 0.18 for j in range(len(rows))]
        e = [r.gaps[g] for r in rows]
        ax.bar(x, [v.mean for v in e], 0.18, label=g, color=f"C{i}", yerr=st.error_bars(e, clip=True), capsize=3)
    ax.set_xticks(range(len(rows)), [r.value for r in rows])
    ax.axhline(0, color="black", lw=0.8)
    ax.set(title=f"main pool: gap to Adam by {rows[0].gene if rows else '-'}", ylabel="log10 loss(g) - log10 loss(adam)")
    ax.legend(fontsize=7)
    fig.suptitle("What in an architecture favours Adam (every round's members)")
    return fig


def files(report: Report) -> tuple[str, ...]:
    """The names ``write`` writes for ``report``: ``REPORT_FILES``."""
    return REPORT_FILES


def write(report: Report, out: Path) -> list[Path]:
    """``files(report)`` into ``out`` (replacing earlier ones); returns their paths."""
    text = markdown(report)
    paths = [out / name for name in files(report)]
    outputs.write_text(paths[0], text)
    outputs.write_json(paths[1], report.to_dict())
    outputs.write_text(paths[2], report_page.page(report, text))
    outputs.write_png(figure(report), paths[3])
    outputs.write_png(gene_figure(report), paths[4])
    return paths
