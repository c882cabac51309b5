"""``report.html``: the hypothesis experiment's report on one self-contained page that works offline.

The text is ``report.md`` itself rendered by Python-Markdown (tables, headings), so the
dose-response, every matrix, home advantage, control, interval and gene effect reads exactly as there; raw HTML and links in
the text are not interpreted (a rule, a path or a family name shows as typed). The figures of
``report.png`` and ``genes.png`` are plotly charts on the page (hover shows a cell's value, a
bar's interval), sharing the run report's scaffolding (``analysis.html_page``).

Example::

    text = report_files.markdown(report)
    outputs.write_text(out / "report.html", report_page.page(report, text))
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import markdown
import numpy as np
import plotly.graph_objects as go

from discovery.analysis import html_page
from discovery.experiments import gene_effects as ge
from discovery.experiments import statistics as st
from discovery.experiments.findings import ADAM_LIKE, DOSE, Report
from discovery.experiments.pool import MAIN, PLANTED, POSITIVE
from discovery.experiments.selection import relative

# Python-Markdown's parts that would pass the text's HTML and links through to the page.
_UNSAFE = {"preprocessors": ("html_block",),
           "inlinePatterns": ("html", "link", "image_link", "reference", "image_reference",
                              "short_reference", "short_image_ref", "autolink", "automail")}


def page(report: Report, text: str) -> str:
    """The page: ``text`` (the report's markdown) as HTML, a link to the figures under its title,
    then the figures."""
    title = f"Hypothesis experiment {report.preset}"
    figures = [_dose_chart(report),
               _matrix_chart("pool", f"the pool after round {report.last.round}", report.pool.matrix, report.panel,
                             report.panel, "selected by"),
               _home_chart(report), _share_chart(report), *_gene_charts(report)]
    contents = '</h1>\n<p class="muted">The figures are <a href="#figures">at the end</a> (hover, zoom).</p>'
    body = [_to_html(text).replace("</h1>", contents, 1),
            html_page.section("figures", "Figures", "\n".join(figures))]
    footer = (f'written {time.strftime("%Y-%m-%d %H:%M:%S")} by discovery hypothesis, beside report.md '
              "(the same text) and report.json (every number)")
    return html_page.document(title, body, footer)


def _to_html(text: str) -> str:
    md = markdown.Markdown(extensions=["tables"])
    for registry, names in _UNSAFE.items():
        for name in names:
            getattr(md, registry).deregister(name, strict=False)
    return md.convert(text)


def _finite(values: Sequence[float]) -> list[float | None]:
    """``values`` for plotly's JSON: an infinite or undefined one (one seed: no interval) drawn as nothing."""
    return [v if math.isfinite(v) else None for v in values]


def _bars(fig: go.Figure, effects: Sequence[st.Effect], labels: Sequence[str], name: str,
          clip: bool = False, horizontal: bool = False) -> None:
    """One bar per effect at its mean, its 95% interval as asymmetric error bars."""
    down, up = st.error_bars(effects, clip)
    errors = {"type": "data", "symmetric": False, "array": _finite(up), "arrayminus": _finite(down)}
    means = [e.mean for e in effects]
    hover = [f"{label}: {e.text(3)}" for label, e in zip(labels, effects)]
    if horizontal:
        fig.add_bar(x=means, y=list(labels), orientation="h", error_x=errors, name=name,
                    hovertext=hover, hoverinfo="text")
    else:
        fig.add_bar(x=list(labels), y=means, error_y=errors, name=name, hovertext=hover, hoverinfo="text")


def _matrix_chart(anchor: str, name: str, m: np.ndarray, rows: Sequence[str], panel: Sequence[str],
                  what: str) -> str:
    """``R = M - row mean`` of ``name`` as a heatmap (blue: better than the panel), each cell's value on it."""
    r = relative(m)
    limit = max(float(np.abs(r).max()), 1e-3)
    fig = go.Figure(go.Heatmap(z=r, x=list(panel), y=[f"{what} {f}" for f in rows], colorscale="RdBu",
                               reversescale=True, zmin=-limit, zmax=limit, texttemplate="%{z:+.3f}",
                               colorbar={"title": "R"},
                               hovertemplate="%{y}, evaluated %{x}: R = %{z:+.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    heading = f"<h3>{name}: R = log10 held-out loss - row mean (blue: better than the panel)</h3>"
    return heading + html_page.chart(fig, f"matrix-{anchor}", height=120 + 50 * len(rows))


def _dose_chart(report: Report) -> str:
    """The dose-response: each followed home advantage against the round, with its interval."""
    fig = go.Figure()
    rounds = [r.round for r in report.rounds]
    series = [(f"HA({g})", report.series(g)) for g in DOSE if g in report.panel] + [("mean HA", report.series("mean"))]
    if report.last.pool(POSITIVE) is not None:
        series.append((f"positive control: planted HA({PLANTED})",
                       report.series(PLANTED, POSITIVE)))
        fig.add_scatter(x=rounds, y=[r.pool(POSITIVE).detectable for r in report.rounds], mode="lines",
                        line_dash="dash", line_color="grey", name="power (detectable HA)")
    for label, effects in series:
        down, up = st.error_bars(effects, clip=True)
        fig.add_scatter(x=rounds, y=[e.mean for e in effects], mode="lines+markers", name=label,
                        error_y={"type": "data", "symmetric": False, "array": _finite(up), "arrayminus": _finite(down)},
                        hovertext=[f"{label}, round {r}: {e.text(3)}" for r, e in zip(rounds, effects)],
                        hoverinfo="text")
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_layout(xaxis_title="round of selection (0: random pool)", yaxis_title="HA, decades (95% interval)")
    fig.update_xaxes(tickformat="d", dtick=1)
    return ("<h3>Dose-response: does Adam's home advantage grow with rounds of selection?</h3>"
            + html_page.chart(fig, "dose-response"))


def _home_chart(report: Report) -> str:
    fig = go.Figure()
    for r in report.rounds:
        effects = r.main.home_advantage
        _bars(fig, list(effects.values()), list(effects), f"round {r.round} (margin {r.main.margin:.3f})")
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_layout(barmode="group", yaxis_title="HA, decades (> 0: better at home)")
    return "<h3>Home advantage per round, main pool, 95% interval</h3>" + html_page.chart(fig, "home-advantage")


def _share_chart(report: Report) -> str:
    fig = go.Figure()
    for arm in report.seeds[0].joint:
        shares = np.mean([s.joint[arm].adam_like_share for s in report.seeds], axis=0)
        to_adam = np.mean([s.joint[arm].adam_distance for s in report.seeds], axis=0)
        fig.add_scatter(x=list(range(len(shares))), y=shares.tolist(), mode="lines+markers",
                        name=f"{arm}: Adam-like share")
        fig.add_scatter(x=list(range(len(to_adam))), y=to_adam.tolist(), mode="lines+markers", line_dash="dash",
                        name=f"{arm}: best rule's distance to Adam")
    fig.add_hline(y=0.5, line_dash="dot", line_color="grey")
    fig.update_layout(xaxis_title="generation (one per round)",
                      yaxis_title=f"share Adam-like (similarity >= {ADAM_LIKE}); distance", yaxis_range=[-0.02, 1.02])
    fig.update_xaxes(tickformat="d", dtick=1)
    return ("<h3>Joint co-evolution without Adam (mean over seeds)</h3>"
            + html_page.chart(fig, "joint-share", height=320))


def _gene_charts(report: Report) -> list[str]:
    """Per design, each gene's effect on Adam's lead (the fit over every round's members); the main
    pool's gaps to Adam per value of its top gene."""
    out = []
    for group, effects in report.genes.items():
        fig = go.Figure()
        fit = list(reversed(effects.fit))
        _bars(fig, [f.effect for f in fit], [f.gene for f in fit], "effect", clip=True, horizontal=True)
        fig.update_layout(xaxis_title="effect on Adam's lead (decades, fit over genes)", showlegend=False)
        gene = report.last.pool(group).planted_gene
        planted = f", planted: {gene}" if gene else ""
        out.append(f"<h3>What favours Adam, {html_page.escape(group)} pool{html_page.escape(planted)}</h3>"
                   + html_page.chart(fig, f"genes-{group}", height=140 + 22 * len(fit)))
    main = report.genes[MAIN]
    rows = main.top_rows
    if rows:
        fig = go.Figure()
        for g in (*main.optimizers, ge.LEAD):
            _bars(fig, [r.gaps[g] for r in rows], [r.value for r in rows], g, clip=True)
        fig.add_hline(y=0, line_color="black", line_width=1)
        fig.update_layout(barmode="group", xaxis_title=rows[0].gene,
                          yaxis_title="log10 loss(g) - log10 loss(adam)")
        out.append(f"<h3>Main pool: gap to Adam by {html_page.escape(rows[0].gene)}</h3>"
                   + html_page.chart(fig, "genes-top"))
    return out
