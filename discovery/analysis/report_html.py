"""``report.html``: a run on one self-contained page that works offline.

The page answers what a researcher asks of a search: is it still improving (best and median
fitness per generation), what did it find and how simple (the Pareto front of complexity vs
fitness, each point's rule on hover; the hall of fame as cards with per-task scores against
Adam), which rule is the pick and why (``inspection.recommended`` and ``verdict``), where the
pick came from (``inspection.lineage`` as a tree), where the time goes (``TIME_SPLIT`` per
generation) and how to reproduce it (config, seed, git commit). Every number comes from the
functions ``discovery inspect`` prints (``inspection.table``, ``pareto_rows``, ``lineage``,
``Run.logbook``).

Charts are plotly's: interactive (hover, zoom) and self-contained, its JavaScript embedded in
the page (about 5 MB), so the file opens without a network. While a run is live the page
reloads itself every ``REFRESH_S`` seconds; ``run`` rewrites it at the first checkpoint, then
at most that often, and at the end.

Example::

    report_html.write("runs/quick-s0-20250101-120000")      # -> .../report.html
    report_html.run_with_report(config, out="runs")         # runs.run, writing the report live
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from discovery import config as config_lib
from discovery import runs
from discovery.analysis import html_page, inspection
from discovery.analysis.html_page import chart as _chart
from discovery.analysis.html_page import escape as _e
from discovery.analysis.html_page import section as _section
from discovery.evolution.generation import TIME_SPLIT
from discovery.records import Candidate
from discovery.runs import events
from discovery.runs.files import atomic_write
from discovery.runs.store import RunStore, RunWarning

if TYPE_CHECKING:
    from discovery.analysis.plots import Results

REPORT = "report.html"
REFRESH_S = 20  # a live page reloads, and a running search rewrites it, at most this often


def write(run: runs.Run | str | Path, live: bool | None = None, curves: bool = False) -> Path:
    """Write ``report.html`` into the run folder ``run`` (a path or a loaded run); return its
    path. ``live``: reload the page every ``REFRESH_S`` s (default: while the run has no summary).
    ``curves``: with the pick's training curves against tuned Adam on each search task, which
    trains both again (``plots.train_top``: seconds to minutes), so only on request."""
    run = run if isinstance(run, runs.Run) else runs.load_run(run)
    trained = None
    if curves:
        from discovery.analysis import baselines, plots  # matplotlib: only for curves

        trained = plots.train_top(run, optimizers=[baselines.REFERENCE], ranks=[inspection.pick(run)])
    path = run.path / REPORT
    atomic_write(path, page(run, live, trained).encode())
    return path


class LiveReport:
    """A ``runs.run`` ``on_checkpoint`` callback: ``write`` at the first checkpoint, then at
    most every ``every`` seconds. A failure to write is a warning: it never stops a run."""

    def __init__(self, every: float = REFRESH_S):
        self.every, self.last = every, None

    def __call__(self, path: Path) -> None:
        now = time.monotonic()
        if self.last is None or now - self.last >= self.every:
            self.last = now
            self.write(path, live=True)

    def write(self, run: runs.Run | Path, live: bool) -> None:
        """``write``, a failure a ``RunWarning``: a report is a view, the search goes on without it."""
        try:
            write(run, live)
        except Exception as e:
            where = run.path if isinstance(run, runs.Run) else run
            warnings.warn(f"{where / REPORT} not written: {e}", RunWarning, stacklevel=2)


def run_with_report(config: config_lib.Config | None = None, out: str | Path = "runs",
                    resume: str | Path | None = None, progress: bool = True,
                    generations: int | None = None, every: float = REFRESH_S) -> runs.Run:
    """``runs.run`` with ``report.html`` written at its first checkpoint, then at most every
    ``every`` seconds, and always at the end (then without reloading itself)."""
    live = LiveReport(every)
    result = runs.run(config, out, resume, progress, generations=generations, on_checkpoint=live)
    live.write(result, live=False)
    return result


# ----------------------------------------------------------------------------- the page


def page(run: runs.Run, live: bool | None = None, curves: Results | None = None) -> str:
    """The report as one HTML document (plotly's JavaScript inline); ``curves``: the pick's and
    Adam's training on each search task (``plots.train_top``), else a line on how to add them."""
    live = run.summary is None if live is None else live and run.summary is None
    rows = inspection.table(run)
    logged = RunStore.open(run.path).candidates()  # decoded once, for the Pareto front and the lineage
    title = f"run {run.path.name}"
    body = [f"<h1>{_e(title)}</h1>", _status(run, rows, live),
            _section("fitness", "Fitness per generation", _fitness_chart(run)),
            _section("pareto", "Pareto front: fitness against complexity", _pareto_chart(run, rows, logged)),
            _section("hall-of-fame", "Hall of fame", _cards(run, rows)),
            _section("lineage", "Where the pick came from", _lineage(run, rows, logged)),
            _section("curves", "The pick's training against tuned Adam", _curves(curves)),
            _section("time", "Where the time goes", _time_chart(run)),
            _section("reproduce", "Reproduce it", _reproduce(run))]
    footer = f'written {time.strftime("%Y-%m-%d %H:%M:%S")} by discovery (discovery inspect RUN --html)'
    return html_page.document(title, body, footer, REFRESH_S if live else None)


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _unit(run: runs.Run) -> str:
    return ("log10 held-out loss of the (rule, architecture) pair; lower is better"
            if run.config.evolves_architectures else
            "mean over tasks of log10(score / Adam's), graded beyond the clip; negative beats Adam")


def _status(run: runs.Run, rows: list[inspection.Row], live: bool) -> str:
    if run.summary is not None:
        state = f"complete: {run.generation} generations"
    elif live:
        state = (f"running: generation {run.generation} of {run.config.run.generations} "
                 f"(this page reloads every {REFRESH_S} s)")
    else:
        state = (f"interrupted at generation {run.generation} of {run.config.run.generations}: "
                 f"resume with discovery run --resume {run.path}")
    found = "" if run.niches is None else f"; {run.niches} distinct optimizers in {run.forms} forms"
    verdict = inspection.verdict(rows).removeprefix("> ")
    return (f'<p class="status">{_e(state)}; {len(rows)} rules in the hall of fame{_e(found)}.<br>'
            f"<b>{_e(verdict or 'no generation finished yet')}</b></p>"
            f'<p class="muted">fitness: {_e(_unit(run))}</p>')


def _generations_axis(fig: go.Figure, gens: list[int]) -> None:
    fig.update_xaxes(title="generation", tickformat="d", dtick=max(1, len(gens) // 10))


def _fitness_chart(run: runs.Run) -> str:
    if not run.logbook:
        return '<p class="muted">no generation finished yet</p>'
    gens = [g.gen for g in run.logbook]
    fig = go.Figure()
    for name, values in (("best of the population", [g.best for g in run.logbook]),
                         ("median of the population", [g.median for g in run.logbook]),
                         ("hall of fame best", [g.hall_of_fame_best for g in run.logbook])):
        if any(v is not None for v in values):
            fig.add_scatter(x=gens, y=values, mode="lines+markers", name=name)
    fig.update_layout(yaxis_title="fitness (lower is better)")
    _generations_axis(fig, gens)
    return _chart(fig, "fitness")


def _pareto_chart(run: runs.Run, rows: list[inspection.Row], logged: list[Candidate]) -> str:
    front = inspection.pareto_rows(run, logged)
    if not front:
        return '<p class="muted">no candidate evaluated yet</p>'
    fig = go.Figure()
    fig.add_scatter(x=[r.complexity for r in front], y=[r.fitness for r in front], mode="lines+markers",
                    line_shape="hv", name="Pareto front (every candidate)",
                    hovertext=[_e(f"#{r.id} gen {r.generation}: {r.text}") for r in front],
                    hoverinfo="x+y+text")
    for picked in (False, True):
        shown = [r for r in rows if r.pick == picked]
        if shown:
            fig.add_scatter(x=[r.complexity for r in shown], y=[r.fitness for r in shown], mode="markers",
                            name="the pick" if picked else "hall of fame",
                            marker={"size": 14 if picked else 9, "symbol": "star" if picked else "circle"},
                            hovertext=[_e(f"rank {r.rank} #{r.id}: {r.text}") for r in shown],
                            hoverinfo="x+y+text")
    fig.update_layout(xaxis_title="complexity (expression nodes + statements, simplified)",
                      yaxis_title="search fitness (lower is better)")
    return _chart(fig, "pareto")


def _cards(run: runs.Run, rows: list[inspection.Row]) -> str:
    if not rows:
        return '<p class="muted">empty: no generation finished yet</p>'
    why = inspection.pick_rule(rows)
    return '<div class="cards">' + "".join(_card(run, r, why) for r in rows) + "</div>"


def _card(run: runs.Run, row: inspection.Row, why: str) -> str:
    c = run.candidate(row.rank)
    marks = [m for m, on in (("Pareto-optimal", row.pareto), ("the pick", row.pick)) if on]
    held = ("not scored yet" if row.held_out is None else
            f"{row.held_out:+.3f} &plusmn; {row.held_out_noise or 0:.3f}"
            + (" (beats Adam beyond noise)" if row.beats_adam() else ""))
    lr = "" if row.recommended_lr is None else f"; recommended lr {row.recommended_lr:.3g}"
    tasks = "".join(
        f"<tr><td>{_e(split)}: {_e(task)}</td><td>{r.ratio:+.3f} &plusmn; {2 * r.spread:.3f}</td>"
        f"<td>{r.tuned_lr:.3g}</td></tr>"
        for split, part in (("search", c.evaluation), ("held-out", c.held_out)) if part
        for task, r in part.tasks.items())
    return (f'<div class="card{" pick" if row.pick else ""}" id="rank-{row.rank}">'
            f"<h3>#{row.rank} {_e(row.name)} <span class=\"muted\">candidate {row.id}, generation "
            f"{row.generation}{_e(', ' + ', '.join(marks) if marks else '')}</span></h3>"
            + (f'<p class="why">{_e("Why the pick: " + why)}</p>' if row.pick else "")
            + f"<pre>{_e(c.simplified.to_text().rstrip())}</pre>"
            f"<p>search {row.fitness:+.3f} (robust {_num(row.robust)}); held-out {held}{_e(lr)}<br>"
            f"complexity {row.complexity}; state slots: {_e(', '.join(c.simplified.state) or 'none')}"
            + (f"<br>architecture: {_e(row.architecture)}" if row.architecture else "")
            + ("<br>failed the hurdle" if row.hurdle_failed else "") + "</p>"
            "<table><tr><th>task</th><th>vs Adam &plusmn; 2 SE</th><th>tuned lr</th></tr>"
            f"{tasks}</table></div>")


def _lineage(run: runs.Run, rows: list[inspection.Row], logged: list[Candidate]) -> str:
    pick = next((r for r in rows if r.pick), None)
    if pick is None:
        return '<p class="muted">no pick yet</p>'
    tree = inspection.lineage(run, pick.rank, logged=logged)
    return (f"<p>The pick (rank {pick.rank}) and its parents from log.jsonl, up to "
            f"{inspection.LINEAGE_DEPTH} generations back; lower fitness is better.</p>"
            f'<ul class="tree">{_node(tree)}</ul>')


def _node(node: inspection.Ancestor) -> str:
    if node.missing:
        return f"<li>#{node.id} <span class=\"muted\">(not in log.jsonl)</span></li>"
    more = ' <span class="muted">...</span>' if node.more else ""
    children = f"<ul>{''.join(_node(p) for p in node.parents)}</ul>" if node.parents else ""
    return (f"<li><b>#{node.id}</b> gen {node.generation}, fitness {node.fitness:+.3f}, complexity "
            f"{node.complexity}, <i>{_e(node.mutation)}</i>{more}{children}</li>")


def _curves(curves: Results | None) -> str:
    if curves is None:
        return ('<p class="muted">Not drawn: they train the pick and Adam again. '
                "<code>discovery inspect RUN --html --curves</code> adds them.</p>")
    from discovery.analysis.plots import tuned_index

    charts = []
    for i, (task, by_label) in enumerate(curves.items()):
        fig = go.Figure()
        for label, result in by_label.items():
            k = tuned_index(result)
            name = f"the pick ({label})" if label.startswith("rank") else f"tuned {label}"
            fig.add_scatter(x=list(range(1, result.steps + 1)), y=result.curves[k].mean(axis=0).tolist(),
                            mode="lines", name=f"{name}, lr {result.learning_rates[k]:.3g}",
                            line={"dash": "solid" if label.startswith("rank") else "dash"})
        f_star = next(iter(by_label.values())).f_star
        if f_star:  # f* = 0 has no place on a log axis
            fig.add_hline(y=f_star, line_dash="dot", line_color="grey", annotation_text=f"f* = {f_star:.3g}")
        fig.update_layout(xaxis_title="step", yaxis_title="minibatch training loss (seed mean)", yaxis_type="log")
        charts.append(f"<h3>{_e(task)}</h3>" + _chart(fig, f"curves-{i}", height=320))
    return ("<p>Each at its tuned learning rate on the run's protocol (its lr grid, seeds and steps), "
            "trained again when this page was written.</p>" + "".join(charts))


def _time_chart(run: runs.Run) -> str:
    if not run.logbook:
        return '<p class="muted">no generation finished yet</p>'
    gens = [g.gen for g in run.logbook]
    fig = go.Figure()
    for part in TIME_SPLIT:
        values = [getattr(g, part) for g in run.logbook]
        if any(v is not None for v in values):
            fig.add_bar(x=gens, y=values, name=part.removesuffix("_s"))
    fig.add_scatter(x=gens, y=[g.seconds for g in run.logbook], mode="lines+markers", name="total")
    fig.update_layout(barmode="stack", yaxis_title="seconds")
    _generations_axis(fig, gens)
    total = sum(g.seconds for g in run.logbook)
    return (f"<p>{total:.1f} s over {len(gens)} generations, split by what the time bought "
            "(a generation's total includes the saving of the one before).</p>" + _chart(fig, "time"))


def _reproduce(run: runs.Run) -> str:
    starts = RunStore.open(run.path).read_log("start", "resume")
    commits = "".join(f"<li>{events.kind(e)}: {_e(e.commit or 'not recorded')}</li>" for e in starts)
    return (f"<p>seed {run.config.run.seed}; the code's git commit at each start and resume "
            f"(<code>-dirty</code>: with uncommitted changes):</p><ul>{commits}</ul>"
            f"<p>Run it again: <code>discovery run {_e(run.path / 'config.toml')}</code></p>"
            f"<pre>{_e(config_lib.dumps(run.config))}</pre>")
