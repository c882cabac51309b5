"""report.html: written live from a run's first checkpoint, by ``inspect --html`` for any run,
self-contained (no network), every rule escaped; rendered by a headless Chromium where present."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import dsl
from discovery import cli, runs
from discovery.analysis import inspection, report_html
from tests import browser
from tests.tiny import tiny

REFRESH = re.compile(r'<meta http-equiv="refresh" content="\d+">')
CHARTS = ("fitness-chart", "pareto-chart", "time-chart")


def plotted(page: str) -> dict[str, list[dict]]:
    """Each chart's traces as the page hands them to plotly, by the chart's div id."""
    return {m.group(1): json.loads(m.group(2)) for m in re.finditer(
        r'Plotly\.newPlot\(\s*"([\w-]+)",\s*(\[.*?\]),\s*\{', page, re.DOTALL)}


def pick_text(run: runs.Run) -> str:
    return run.candidate(inspection.pick(run)).simplified.to_text().rstrip()


@pytest.fixture(scope="module")
def live_run(tmp_path_factory) -> tuple[str, runs.Run]:
    """A tiny run stopped after its first generation with the live report (the page then), and
    the same run resumed to completion as ``discovery run`` does it."""
    out = tmp_path_factory.mktemp("live")
    stopped = runs.run(tiny(), out=out, progress=False, stop_after=1, on_checkpoint=report_html.LiveReport())
    mid_run = (stopped.path / report_html.REPORT).read_text()
    return mid_run, report_html.run_with_report(resume=stopped.path, progress=False)


def test_the_report_is_written_from_the_first_checkpoint_and_reloads_until_complete(live_run):
    mid_run, finished = live_run
    assert REFRESH.search(mid_run) and "running: generation 1 of 3" in mid_run
    assert all(f'id="{chart}"' in mid_run for chart in CHARTS)
    page = (finished.path / report_html.REPORT).read_text()
    assert not REFRESH.search(page) and "complete: 3 generations" in page
    assert all(f'id="{chart}"' in page for chart in CHARTS)
    assert "curves-0-chart" not in page and "discovery inspect RUN --html --curves</code> adds them" in page
    assert html.escape(pick_text(finished)) in page
    why = page[page.index('class="card pick"'):]
    assert why.index("Why the pick: the pick is the best held-out score") < why.index("</div>")
    start = json.loads((finished.path / "log.jsonl").read_text().splitlines()[0])
    assert start["kind"] == "start" and f"start: {start['commit'] or 'not recorded'}" in page  # its commit


def test_the_report_holds_the_runs_own_numbers(live_run):
    _, run = live_run
    page = (run.path / report_html.REPORT).read_text()
    rows = inspection.table(run)
    for r in rows:
        assert f"#{r.rank} {r.name}" in page and f"search {r.fitness:+.3f}" in page
        assert f"held-out {r.held_out:+.3f} &plusmn; {r.held_out_noise:.3f}" in page
    figures = plotted(page)
    assert set(figures) == set(CHARTS)
    best = next(t for t in figures["fitness-chart"] if t["name"].startswith("best"))
    assert best["y"] == [g.best for g in run.logbook]
    front = figures["pareto-chart"][0]
    assert front["x"] == [r.complexity for r in inspection.pareto_rows(run)]
    assert all(html.escape(r.text) in text for r, text in zip(inspection.pareto_rows(run), front["hovertext"]))
    training = next(t for t in figures["time-chart"] if t["name"] == "training")
    assert np.allclose(training["y"], [g.training_s for g in run.logbook])
    tree = inspection.lineage(run, inspection.pick(run))
    assert f"<b>#{tree.id}</b> gen {tree.generation}, fitness {tree.fitness:+.3f}" in page


def test_a_live_report_is_written_at_the_first_checkpoint_then_at_most_every_interval(monkeypatch):
    clock, written = [0.0], []
    monkeypatch.setattr(report_html.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(report_html, "write", lambda run, live: written.append((clock[0], live)))
    live = report_html.LiveReport(every=20)
    for clock[0] in (0.0, 5.0, 19.9, 20.0, 30.0, 41.0):
        live(Path("runs/x"))
    assert written == [(0.0, True), (20.0, True), (41.0, True)]


def test_the_page_loads_nothing_from_the_network(live_run):
    _, run = live_run
    page = (run.path / report_html.REPORT).read_text()
    assert not browser.REMOTE.search(page)
    assert browser.REMOTE.search('<script src="https://cdn.plot.ly/plotly.min.js"></script>')  # the check can fail
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly.js inline


def test_rule_text_is_escaped(live_run):
    _, run = live_run
    rule = dsl.parse("def r(b1=0.9):\n    m = b1 * m + (1 - b1) * g\n    return m * (g * m > 0) + g\n")
    hostile = dataclasses.replace(run.hall_of_fame[0], simplified=rule, text=rule.to_text())
    page = report_html.page(dataclasses.replace(run, hall_of_fame=[hostile, *run.hall_of_fame[1:]]))
    assert "return m * (g * m &gt; 0) + g" in page and "(g * m > 0)" not in page


def test_inspect_html_writes_it_for_a_run_made_without_it(tiny_run, tmp_path, capsys):
    folder = Path(shutil.copytree(tiny_run.path, tmp_path / tiny_run.path.name))
    log = folder / "log.jsonl"
    old = [json.loads(line) for line in log.read_text().splitlines()]
    log.write_text("".join(json.dumps({k: v for k, v in e.items() if k not in ("commit", "version")}) + "\n" for e in old))
    assert not (folder / report_html.REPORT).exists()  # a run from before: no report, no commit logged
    assert cli.main(["inspect", str(folder), "--html", "--top", "1"]) == 0
    assert f"wrote {folder / report_html.REPORT}" in capsys.readouterr().out
    page = (folder / report_html.REPORT).read_text()
    assert not REFRESH.search(page) and html.escape(pick_text(tiny_run)) in page
    assert "start: not recorded" in page


def test_inspect_html_curves_trains_the_pick_and_tuned_adam_on_each_search_task(tiny_run, tmp_path, capsys):
    folder = Path(shutil.copytree(tiny_run.path, tmp_path / tiny_run.path.name))
    assert cli.main(["inspect", str(folder), "--curves"]) == 2
    assert "--curves needs --html" in capsys.readouterr().err and not (folder / report_html.REPORT).exists()
    assert cli.main(["inspect", str(folder), "--html", "--curves", "--top", "1"]) == 0
    page = (folder / report_html.REPORT).read_text()
    figures, pick = plotted(page), tiny_run.candidate(inspection.pick(tiny_run))
    assert set(figures) == {*CHARTS, *(f"curves-{i}-chart" for i in range(len(tiny_run.config.tasks.search)))}
    for i, task in enumerate(tiny_run.config.tasks.search):
        pick_trace, adam = figures[f"curves-{i}-chart"]
        # trained again with the run's protocol: the pick tunes to the lr the search found
        lr = pick.evaluation.tasks[task].tuned_lr
        assert pick_trace["name"] == f"the pick (rank {inspection.pick(tiny_run)}), lr {lr:.3g}"
        assert adam["name"].startswith("tuned adam, lr ") and f"<h3>{task}</h3>" in page
        assert len(pick_trace["y"]) == len(adam["y"]) == tiny_run.config.protocol.steps
        assert np.all(np.isfinite(pick_trace["y"])) and adam["y"][-1] < adam["y"][0]  # Adam trained


def test_inspect_html_on_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["inspect", str(tmp_path), "--html"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("discovery inspect: error: ") and f"{tmp_path} is not a run folder" in err
    assert not (tmp_path / report_html.REPORT).exists()


@browser.needs_chromium
def test_chromium_renders_every_chart_without_console_errors_and_a_screenshot_not_blank(live_run, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    assert browser.console(browser.load(broken, tmp_path / "broken.png"))  # a script error would be seen
    _, run = live_run
    shot = tmp_path / "report.png"
    done = browser.load(run.path / report_html.REPORT, shot)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert browser.console(done) == []
    assert all(browser.drawn(done.stdout, chart) for chart in CHARTS)
    assert html.escape(pick_text(run)) in done.stdout
    dark, colours = browser.ink(shot)
    assert dark > 0.02 and colours > 50  # text, lines and coloured charts on at least 2% of the page
