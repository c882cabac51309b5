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
from discovery.experiments.findings import ADAM_LIKE, REFERENCES, Cell, Report
from discovery.experiments.pool import POSITIVE, Control
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
        f"Preset `{report.preset}`, architecture family `{report.config.family}`, {n} seeds, "
        f"{report.seconds / 60:.0f} min in the call that finished it. Losses are log10 held-out loss "
        "(lower is better); every optimizer is tuned with bracketing. Margins are the pooled seed-to-seed "
        "standard deviation of identical trainings among the cells an effect is made of.", ""]
    if pool is not None:
        lines += [f"Pool: {pool.members} random architectures per seed, every optimizer of {' '.join(pool.panel)} "
                  f"tuned on each; each selects its top {pool.k} on selection seeds "
                  f"{list(report.config.train_seeds)} (shifted per seed), measured on "
                  f"{list(report.config.measure_seeds)}. Intervals: {pool.mean_home_advantage.method}.", "",
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
    if not report.config.measure_seeds:
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
              f"distance to {' / '.join(REFERENCES)} (mean) |", "|---|---|---|---|"]
    for arm in report.seeds[0].joint:
        shares = np.mean([s.joint[arm].adam_like_share for s in report.seeds], axis=0)
        dist = [np.mean([s.joint[arm].distance[k] for s in report.seeds]) for k in REFERENCES]
        lines.append(f"| {arm} | {' '.join(f'{x:.2f}' for x in shares)} | `{_short(report.seeds[0].joint[arm].best_rule)}` | "
                     f"{' / '.join(f'{d:.2f}' for d in dist)} |")
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
    positive = report.pool_result(POSITIVE)
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
    positive = report.pool_result(POSITIVE)
    if positive is not None:
        lines += ["", f"In the positive control the planted gene `{positive.planted_gene}` ranks "
                  f"**#{positive.planted_rank}** of {len(positive.genes.fit)} genes in the fit"
                  + (" (it must rank first)." if positive.planted_rank == 1 else ": **not first, the gene "
                     "analysis missed the plant**.")]
    return lines


def _task_relative(cells: list[Cell], task: str, field: str) -> float:
    values = {c.optimizer: getattr(c, field) for c in cells if c.where == task}
    return values[ADAM] - float(np.mean(list(values.values())))


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
    series = report.estimates
    names = list(dict.fromkeys(g for _, effects, _ in series for g in effects))
    width = 0.8 / len(series)
    for i, (label, effects, margin) in enumerate(series):
        x = [names.index(g) + (i - (len(series) - 1) / 2) * width for g in effects]
        e = list(effects.values())
        bars.bar(x, [v.mean for v in e], width, label=f"{label} (margin {margin:.3f})", color=f"C{i}",
                 yerr=st.error_bars(e), capsize=3)
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
        ax.barh([f.gene for f in fit], [f.effect.mean for f in fit], color="C0",
                xerr=st.error_bars([f.effect for f in fit], clip=True), capsize=3)
        planted = f", planted: {p.planted_gene}" if p.planted_gene else ""
        ax.set(title=f"{p.group} pool{planted}", xlabel="effect on Adam's lead (decades, fit over genes)")
        ax.tick_params(axis="y", labelsize=7)
    rows = report.pool.genes.top_rows
    top = rows[0].gene if rows else None
    ax = axes[-1]
    for i, g in enumerate([*report.pool.genes.optimizers, ge.LEAD]):
        x = [j + (i - len(report.pool.genes.optimizers) / 2) * 0.18 for j in range(len(rows))]
        e = [r.gaps[g] for r in rows]
        ax.bar(x, [v.mean for v in e], 0.18, label=g, color=f"C{i}",
               yerr=st.error_bars(e, clip=True), capsize=3)
    ax.set_xticks(range(len(rows)), [r.value for r in rows])
    ax.axhline(0, color="black", lw=0.8)
    ax.set(title=f"main pool: gap to Adam by {top}", ylabel="log10 loss(g) - log10 loss(adam)")
    ax.legend(fontsize=7)
    fig.suptitle("What in an architecture favours Adam")
    return fig


def files(report: Report) -> tuple[str, ...]:
    """The names ``write`` writes for ``report``: ``REPORT_FILES``, but ``genes.png`` without a pool."""
    return REPORT_FILES if report.pools else REPORT_FILES[:-1]


def write(report: Report, out: Path) -> list[Path]:
    """``files(report)`` into ``out`` (replacing earlier ones); returns their paths."""
    text = markdown(report)
    paths = [out / name for name in files(report)]
    outputs.write_text(paths[0], text)
    outputs.write_json(paths[1], report.to_dict())
    outputs.write_text(paths[2], report_page.page(report, text))
    outputs.write_png(figure(report), paths[3])
    if report.pools:
        outputs.write_png(gene_figure(report), paths[4])
    return paths
