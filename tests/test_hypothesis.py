"""The hypothesis experiment: home advantage statistics on known numbers, resume, the report."""

import dataclasses
import html
import json
import re
import shutil

import numpy as np
import pytest

from discovery import cli, config, runs, tasks
from discovery.codec import RecordError
from discovery.experiments import adam_hypothesis as hx
from discovery.experiments import findings, report_files, report_page, upgrade
from discovery.experiments import gene_effects as ge
from discovery.experiments import pool as pool_lib
from discovery.experiments import selection as sel
from discovery.experiments.arms import Arm
from discovery.runs.store import RunStore
from tests import browser

FIXED = ("adam", "momentum", "lion")
PANEL = ("adam", "momentum", "lion", "sgd")


ARMS = [Arm("architectures", fixed=f, panel=PANEL) for f in FIXED] + [
    Arm("joint", start="noadam"), Arm("joint", start="random"), Arm("rules", panel=PANEL)]
CONFIG = hx.EXPERIMENT_PRESETS["quick"]  # the token model's: what the synthetic reports say they ran
CONTROL_PANEL = ("adam", "momentum", "sgd")
DESIGNS = [pool_lib.Design("main", PANEL, 3), pool_lib.Design("positive", CONTROL_PANEL, 6, "token_model_gradient_spread"),
           pool_lib.Design("negative", CONTROL_PANEL, 6, "token_model_label_noise")]


def _cells(where: str, base: dict, gain: dict, panel, rng) -> tuple[findings.Cell, ...]:
    return tuple(findings.Cell(g, where, tuple(base[g] - gain.get(g, 0.0) + rng.normal(0, 0.01, size=2)))
                 for g in panel)


def synthetic_pool(seed: int, design: pool_lib.Design, bases: int, rng, gain: float = 0.0,
                   noise: float = 0.01) -> findings.PoolSeed:
    """A pool of random token architectures whose scores are a base effect per member plus
    training noise (independent per seed); on a member with the planted gene at its non-zero
    value, momentum and SGD lose ``gain`` decades (positive), or everyone loses 0.3 (negative)."""
    archs = pool_lib.draw_bases(seed, bases, 10_000, "token_model")
    members = pool_lib.members(design, archs)
    cells = []
    for m in members:
        base = rng.normal(0, 0.1)
        genes = m.architecture
        for g in design.panel:
            true = base + {"adam": -1.0, "momentum": -0.8, "lion": -0.9, "sgd": -0.6}[g]
            if genes.get("gradient_spread") and g in ("momentum", "sgd"):
                true += gain
            true += 0.3 * bool(genes.get("label_noise"))
            cells.append(pool_lib.PoolCell(g, m.key, tuple(true + rng.normal(0, noise, 1)),
                                           tuple(true + rng.normal(0, noise, 2)), 1e-2, 1e-2))
    return findings.PoolSeed(seed, tuple(members), tuple(cells))


def synthetic_seed(seed: int, home: float, rng, planted: float = 0.0) -> findings.SeedResult:
    """Cells where every optimizer gains ``home`` decades on architectures evolved for it; pools
    (``synthetic_pool``) where the positive control plants ``planted`` decades."""
    base = {"adam": -1.0, "momentum": -0.9, "lion": -0.95, "sgd": -0.6}
    arms = {f"arch-{f}": findings.ArmResult("architectures", f"runs/arch-{f}-s{seed}",
                                            _cells(f"arch-{f}", base, {f: home}, PANEL, rng)) for f in FIXED}
    nondeep = tuple(findings.Cell(g, "mf_k4", tuple(base[g] + (0.5 if g == "adam" else 0.0) + rng.normal(0, 0.01, 2)),
                                  out_of_box=base[g]) for g in PANEL)
    arms |= {name: findings.ArmResult("joint", f"runs/{name}-s{seed}", joint=findings.JointArm(
        (0.0, 0.2, 0.9), "def r():\n    return g\n", {"adam": 0.1, "lion": 0.5, "momentum": 0.4}))
        for name in ("joint-noadam", "joint-random")}
    arms["nondeep"] = findings.ArmResult("rules", f"runs/nondeep-s{seed}", nondeep, rule="def r():\n    return g\n")
    pool_rng = np.random.default_rng(100 + seed)  # the main cells' noise stays as it was
    pools = {d.group: synthetic_pool(seed, d, 8, pool_rng, planted) for d in DESIGNS}
    return findings.SeedResult(seed, arms, pools)


def analyse(home: float, seeds: int = 3, planted: float = 0.0, designs=()) -> findings.Report:
    rng = np.random.default_rng(0)
    return findings.analyse("synthetic", CONFIG,
                            [synthetic_seed(s, home, rng, planted) for s in range(seeds)], ARMS, PANEL, 1.0,
                            designs=designs)


def test_an_arm_name_is_spelled_in_one_place_and_found_by_it(tmp_path):
    assert [a.name for a in ARMS] == ["arch-adam", "arch-momentum", "arch-lion", "joint-noadam", "joint-random",
                                      "nondeep"]
    for bad in (dict(kind="architectures"), dict(kind="joint", start="adam"), dict(kind="rules", fixed="adam"),
                dict(kind="evolution")):
        with pytest.raises(ValueError, match="arm"):
            Arm(**bad)
    experiment = hx.Experiment(tmp_path, TINY, progress=False)
    assert [a.name for a in experiment.arms()] == ["arch-adam", "arch-momentum", "joint-noadam", "joint-random",
                                                  "nondeep"]
    assert dict(experiment.arm("arch-momentum").overrides)["coevolution.fixed_rule"] == "momentum"
    with pytest.raises(ValueError, match=r"unknown arm 'arch-sgd'; arms: \['arch-adam'"):
        experiment.arm("arch-sgd")


def test_home_advantage_is_the_stated_difference_in_differences():
    m = np.array([[0.0, 1.0, 1.0, 2.0],   # evolved with adam: adam best
                  [1.0, 0.0, 1.0, 2.0],   # evolved with momentum: momentum best
                  [1.0, 1.0, 0.0, 2.0]])  # evolved with lion: lion best
    ha = findings.home_advantage(m, FIXED, PANEL)
    assert ha == pytest.approx({"adam": 1.0, "momentum": 1.0, "lion": 1.0})
    assert findings.home_advantage(np.ones((3, 4)), FIXED, PANEL) == pytest.approx({g: 0.0 for g in FIXED})


def test_a_clear_home_advantage_is_supported():
    report = analyse(home=0.5)
    verdicts = {p.key: p.verdict for p in report.predictions}
    assert verdicts["P2"] == verdicts["P3"] == "supported"
    assert report.home_advantage["adam"].mean == pytest.approx(0.5, abs=0.02)  # exactly the home gain
    assert verdicts["P1"] == "supported"  # adam +0.5 worse on the non-deep task, relative to the panel
    assert verdicts["P4"] == "supported"  # the last generation is 90% Adam-like
    assert 0.005 < report.margin < 0.02   # the synthetic training-seed noise is 0.01


def test_each_prediction_has_the_margin_of_its_own_cells():
    rng = np.random.default_rng(1)
    seeds = [synthetic_seed(s, 0.5, rng) for s in range(3)]
    noisy = []
    for s in seeds:
        rules = s.arms["nondeep"]
        spread = tuple(dataclasses.replace(c, per_seed=(c.per_seed[0] + 1, c.per_seed[1] - 1)) for c in rules.cells)
        noisy.append(dataclasses.replace(s, arms={**s.arms, "nondeep": dataclasses.replace(rules, cells=spread)}))
    report = findings.analyse("synthetic", CONFIG, noisy, ARMS, PANEL, 1.0)
    margins = {p.key: p.margin for p in report.predictions}
    assert margins["P2"] == margins["P3"] == report.margin < 0.02  # architecture cells only
    assert margins["P1"] > 0.5  # the non-deep cells' spread (sd ~1.4) counts for P1 alone
    assert {p.key: p.verdict for p in report.predictions}["P2"] == "supported"


def test_no_home_advantage_is_a_tie_and_contradicts_the_prediction():
    report = analyse(home=0.0)
    assert {p.key: p.verdict for p in report.predictions}["P2"] == "contradicted"
    assert abs(report.home_advantage["adam"].mean) < report.margin


def test_a_small_advantage_near_the_margin_is_inconclusive():
    rng = np.random.default_rng(3)
    seeds = [synthetic_seed(s, home, rng) for s, home in enumerate((0.0, 0.03, 0.06))]
    report = findings.analyse("synthetic", CONFIG, seeds, ARMS, PANEL, 1.0)
    assert {p.key: p.verdict for p in report.predictions}["P2"] == "inconclusive"


def test_a_planted_home_advantage_is_supported_and_a_null_control_is_not():
    report = analyse(home=0.0, planted=1.0, designs=DESIGNS)
    main, positive, negative = report.pools
    assert [c.group for c in report.controls] == ["positive", "negative"] and report.pool is main
    assert positive.planted == "momentum" and positive.planted_gene == "gradient_spread" and positive.passed
    # Momentum and SGD select the unspread copies, Adam half of each (it ties within a base):
    # R[adam][momentum] - R[momentum][momentum] = 1/2 (1 - 2/3); HA is its mean over the two away rows.
    assert positive.home_advantage["momentum"].mean == pytest.approx(0.5 * (1 / 6), abs=0.03)
    assert negative.planted is None and negative.passed and "supported" not in negative.verdicts.values()
    assert positive.margin < positive.detectable < 0.1  # noise 0.01 per training: small effects are seen
    assert positive.planted_rank == 1 and positive.genes.fit[0].effect.mean == pytest.approx(1.0, abs=0.1)
    failed = analyse(home=0.0, planted=0.0, designs=DESIGNS).controls[0]  # nothing planted: the control fails
    assert not failed.passed and failed.verdicts["momentum"] != "supported"
    text = report_files.markdown(report)
    assert "**Positive control**" in text and "The control **passed**" in text and "Power:" in text
    assert "ranks **#1**" in text and "| gradient_spread |" not in text  # the table reads the main pool
    assert "pool selection: HA" in text and "evolution arms: HA" in text  # both estimators


def test_measuring_on_the_selecting_seeds_gives_every_optimizer_a_home_advantage():
    """No interaction: every optimizer scores every member alike but for independent training noise.
    Selected and measured on the same trainings, the winner's curse makes each look better at
    home; measured on other trainings, the home advantage is zero up to its noise."""
    rng = np.random.default_rng(0)
    panel = ("adam", "momentum", "sgd")
    same, split = [], []
    for _ in range(200):
        base = rng.normal(0, 0.05, 16)  # architectures that differ about as much as trainings do
        selecting = {g: base + rng.normal(0, 0.05, 16) for g in panel}
        measuring = {g: base + rng.normal(0, 0.05, 16) for g in panel}
        order = rng.permutation(16)
        for out, measured in ((same, selecting), (split, measuring)):
            pool = sel.SeedPool(selecting, measured, np.arange(16), order)
            out.append(np.mean(list(sel.home_advantage(sel.matrix(pool, panel, panel, 4), panel, panel).values())))
    assert np.mean(same) > 0.03  # the noise selected for comes back as a home advantage (0.042 here)
    assert abs(np.mean(split)) < 0.004 < np.std(split)  # unbiased (-0.001 +- 0.001), though each pool varies


def test_selection_breaks_exact_ties_in_the_seeded_order_and_resamples_whole_blocks():
    scores = np.array([1.0, 0.0, 0.0, 2.0])
    assert sel.top_k(scores, 2, np.array([0, 3, 1, 2])).tolist() == [2, 1]
    with pytest.raises(ValueError, match="top 5 of a pool of 4"):
        sel.top_k(scores, 5, np.arange(4))
    pool = sel.SeedPool({"adam": scores}, {"adam": scores}, np.array([0, 0, 1, 1]), np.arange(4))
    drawn = pool.resample(np.random.default_rng(1))
    assert len(drawn.blocks) == 4 and all(np.sum(drawn.blocks == b) in (0, 2, 4) for b in (0, 1))


def test_gene_effects_find_the_gene_that_moves_the_gap_to_adam():
    rng = np.random.default_rng(0)
    archs = pool_lib.draw_bases(0, 60, 10_000, "token_model")
    genes = [a.to_dict() for a in archs]
    tied = np.array([g["tied"] for g in genes], float)
    adam = rng.normal(0, 0.1, 60)
    scores = {"adam": adam, "sgd": adam + 0.2 + 0.5 * tied + rng.normal(0, 0.02, 60)}
    effects = ge.gene_effects(genes, scores, np.arange(60), ge.specs_of(tasks.TokenArchitecture), resamples=100)
    assert effects.fit[0].gene == "tied" and effects.fit[0].effect.mean == pytest.approx(0.5, abs=0.05)
    rows = {r.value: r for r in effects.rows if r.gene == "tied"}
    assert rows["True"].gaps["sgd"].mean == pytest.approx(0.7, abs=0.02)
    assert rows["False"].gaps[ge.LEAD].mean == pytest.approx(0.2, abs=0.02)
    assert rows["True"].n + rows["False"].n == 60
    with pytest.raises(ValueError, match="needs adam"):
        ge.gene_effects(genes, {"sgd": adam}, np.arange(60), ge.specs_of(tasks.TokenArchitecture))


def test_a_seed_result_reads_back_field_by_field_and_a_bad_one_names_its_field():
    seed = synthetic_seed(0, 0.5, np.random.default_rng(0))
    data = json.loads(json.dumps(seed.to_dict()))
    assert findings.SeedResult.from_dict(data) == seed and set(data["pools"]) == {d.group for d in DESIGNS}
    assert findings.SeedResult.from_dict({**data, "pools": {}}) == dataclasses.replace(seed, pools={})
    older = {k: v for k, v in data.items() if k != "pools"}  # written before pools existed
    assert findings.SeedResult.from_dict(upgrade.seed(older)).pools == {}
    with pytest.raises(RecordError, match="field 'pools' is missing"):
        findings.SeedResult.from_dict(older)  # the live record knows the current form only
    data["arms"]["nondeep"]["cells"][1]["per_seed"][0] = "fast"
    with pytest.raises(RecordError, match="'arms' is malformed: entry 'nondeep'.*'cells'.*item 1.*'per_seed'"):
        findings.SeedResult.from_dict(data)
    with pytest.raises(RecordError, match="field 'arms' is missing"):
        findings.SeedResult.from_dict({"seed": 0})
    with pytest.raises(RecordError, match=r"unknown field\(s\) \['planted'\]"):
        findings.PoolSeed.from_dict({**seed.pools["main"].to_dict(), "planted": 1})


def test_the_report_round_trips_and_renders(tmp_path):
    report = analyse(home=0.5)
    paths = report_files.write(report, tmp_path)
    doc = json.loads(paths[1].read_text())
    assert [findings.SeedResult.from_dict(s) for s in doc["seeds"]] == report.seeds
    text = paths[0].read_text()
    assert "P2: supported" in text and "margin" in text and "| adam |" in text
    assert paths[3].read_bytes()[:4] == b"\x89PNG" and len(paths) == 4  # no pool: no gene figure
    assert [p.name for p in paths] == list(report_files.files(report)) and "genes.png" not in report_files.files(report)
    pooled = analyse(home=0.5, planted=1.0, designs=DESIGNS)
    paths = report_files.write(pooled, tmp_path)
    doc = json.loads(paths[1].read_text())
    assert [findings.SeedResult.from_dict(s) for s in doc["seeds"]] == pooled.seeds
    assert [p["group"] for p in doc["pools"]] == ["main", "positive", "negative"] and doc["pools"][1]["passed"]
    assert paths[4].name == "genes.png" and paths[4].read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in paths] == list(report_files.files(pooled)) == list(report_files.REPORT_FILES)
    assert "<h1>Hypothesis experiment" in paths[2].read_text()  # report.html: the markdown, rendered


# The token-model family: it has control genes, so the pipeline check runs the controls too.
TINY = hx.Preset(seeds=2, population=2, generations=1, steps=8, size="small",
                 learning_rates=(1e-3, 1e-2, 1e-1), train_seeds=(0,), measure_seeds=(1, 2), nondeep=("mf_k4",),
                 param_budget=2500, fixed=("adam", "momentum"), panel=("adam", "momentum", "sgd"),
                 top_k=1, family="token_model", control_panel=("adam", "momentum", "sgd"), pool=2, pool_top_k=1)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("hypothesis")
    return hx.run_experiment(TINY, out=out, progress=False), out


def _outcome(report: findings.Report) -> dict:
    doc = report.to_dict()
    for s in doc["seeds"]:
        for arm in s["arms"].values():
            arm.pop("run")
    return {k: v for k, v in doc.items() if k != "seconds"}


def test_an_interrupted_experiment_resumes_to_the_same_report(uninterrupted, tmp_path, monkeypatch):
    report, out = uninterrupted
    experiment = hx.Experiment(tmp_path, TINY, progress=False)
    original_tune = pool_lib.tune_member
    tuned = []

    def crash_in_pool(*args, **kwargs):
        tuned.append(args[0])
        if len(tuned) == 2:
            raise KeyboardInterrupt  # the process dies while the pool's second member trains
        return original_tune(*args, **kwargs)

    monkeypatch.setattr(pool_lib, "tune_member", crash_in_pool)
    with pytest.raises(KeyboardInterrupt):
        experiment.execute()
    assert len(experiment.pool_store(0).cells) == len(TINY.panel)  # the first member's cells were kept
    monkeypatch.setattr(pool_lib, "tune_member", original_tune)
    original_run = hx.runs.run
    monkeypatch.setattr(hx.runs, "run", lambda *a, **k: original_run(*a, **k, stop_after=1))
    with pytest.raises(KeyboardInterrupt, match="arch-adam-s0-.* interrupted"):
        experiment.execute()  # Ctrl-C honoured by the first run: checkpointed, no summary
    assert not (tmp_path / "cells").exists()  # the experiment stopped with it, no panel on a partial run
    monkeypatch.setattr(hx.runs, "run", original_run)
    runs.run(experiment.config("arch-momentum", 1, **dict(experiment.arm("arch-momentum").overrides)),
             out=tmp_path / "runs", progress=False, stop_after=0)  # a run that crashed at once
    calls = []
    original = hx.Experiment.nondeep_cells

    def crash_once(self, seed):
        calls.append(seed)
        if len(calls) == 1:
            raise KeyboardInterrupt  # the process dies in the middle of seed 0's last panel
        return original(self, seed)

    monkeypatch.setattr(hx.Experiment, "nondeep_cells", crash_once)
    with pytest.raises(KeyboardInterrupt):
        experiment.execute()
    finished_cells = sorted(p.name for p in (tmp_path / "cells").iterdir())
    resumed = hx.Experiment(tmp_path, TINY, progress=False).execute()
    assert _outcome(resumed) == _outcome(report)
    assert "cross-adam-s0.json" in finished_cells and calls == [0, 0, 1]  # seed 0 retried, then seed 1


def test_each_seed_is_an_independent_replicate(uninterrupted):
    report, _ = uninterrupted
    experiment = hx.Experiment(uninterrupted[1], TINY, progress=False)
    assert [experiment.selection_seeds(s) for s in range(3)] == [(0,), (3,), (6,)]
    assert [experiment.panel_seeds(s) for s in range(3)] == [(1, 2), (4, 5), (7, 8)]  # never a selecting seed
    assert experiment.config("arch-adam", 1).protocol.seeds == (3,)  # evolution selects on seed 1's own
    first, second = ([c.per_seed for c in s.nondeep] for s in report.seeds)
    assert first != second  # the non-deep panel trains with each seed's own training seeds
    assert report.seeds[0].pools["main"].members != report.seeds[1].pools["main"].members  # its own pool
    legacy = hx.Experiment(uninterrupted[1].parent / "legacy", "quick", family="mlp", progress=False)
    assert legacy.selection_seeds(1) == (0, 1) and legacy.panel_seeds(1) == (2, 3)  # as before pools


def test_every_arm_of_a_seed_starts_from_the_same_population(uninterrupted):
    report, _ = uninterrupted
    for s in report.seeds:
        starts = [[c.architecture for c in RunStore.open(s.arms[f"arch-{f}"].run).candidates() if c.generation == 0]
                  for f in TINY.fixed]
        assert starts[0] == starts[1] and len(starts[0]) == TINY.population


def test_more_seeds_reuse_the_finished_ones(uninterrupted, tmp_path, monkeypatch):
    report, out = uninterrupted
    copy = shutil.copytree(out, tmp_path / "copy")
    original = hx.Experiment.seed_result

    def stand_in(self, seed, bar):  # seed 2 as a relabelled seed 1 (loaded from disk, nothing trains)
        return dataclasses.replace(original(self, 1, bar), seed=2) if seed == 2 else original(self, seed, bar)

    monkeypatch.setattr(hx.Experiment, "seed_result", stand_in)
    monkeypatch.setattr(hx.runs, "run", None)  # a run started anew would fail: seeds 0 and 1 are loaded
    extended = hx.Experiment(copy, TINY, seeds=3, progress=False).execute()
    assert [s.seed for s in extended.seeds] == [0, 1, 2]
    assert _outcome(extended)["seeds"][:2] == _outcome(report)["seeds"]
    assert json.loads((copy / "experiment.json").read_text())["config"]["seeds"] == 3


def test_the_report_names_every_arm_seed_and_run_folder(uninterrupted):
    report, out = uninterrupted
    text = (out / "report.md").read_text()
    folders = [p for s in report.seeds for p in s.runs]
    assert len(folders) == 2 * (2 + 3) and all(p in text for p in folders)
    for arm in ("arch-adam", "arch-momentum", "joint-noadam", "joint-random", "nondeep"):
        for seed in (0, 1):
            assert any(f"/{arm}-s{seed}-" in p for p in folders)
    assert {p.key for p in report.predictions} == {"P1", "P2", "P3", "P4"}
    assert [(c.group, c.family, c.planted, c.members) for c in report.controls] == [
        ("positive", "token_model_gradient_spread", "momentum", 4), ("negative", "token_model_label_noise", None, 4)]
    assert "**Positive control**" in text and "**Negative control**" in text and "Power:" in text
    assert "## What in an architecture favours Adam" in text and (out / "genes.png").exists()
    pool = json.loads((out / "pools" / "s0.json").read_text())
    assert len(pool["cells"]) == 3 * 2 + 3 * 2 * 2  # the bases once for every design, the copies once each


HTML_CHARTS = ("matrix-evolution", "matrix-pool", "home-advantage", "joint-share", "genes-main", "genes-positive",
               "genes-negative", "genes-top")


def _as_html(cell: str) -> str:
    """A report.md table cell as Python-Markdown writes it (bold, code, escaped)."""
    cell = re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(cell, quote=False))
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", cell)


def test_report_html_shows_every_table_cell_and_interval_of_report_md_offline(uninterrupted):
    report, out = uninterrupted
    text, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert not browser.REMOTE.search(page) and "Plotly.newPlot" in page  # plotly.js inline, nothing fetched
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    assert len(rows) > 30
    for line in rows:
        for cell in (c.strip() for c in line.strip().strip("|").split(" | ")):
            assert f">{_as_html(cell)}</t" in page, (line, cell)
    for label, effects, _ in report.estimates:
        for g, e in effects.items():
            assert e.text(3) in text and e.text(3) in page, (label, g)
    assert all(f'id="{chart}-chart"' in page for chart in HTML_CHARTS)


def test_report_html_shows_the_texts_markup_as_text(uninterrupted):
    report, _ = uninterrupted
    page = report_page.page(report, "# t\n\n<script>alert(1)</script> [x](javascript:alert(1)) `g * m > 0`\n")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<code>g * m &gt; 0</code>" in page
    assert "[x](javascript:alert(1))" in page and 'href="javascript' not in page  # a link, not followed


@browser.needs_chromium
def test_chromium_draws_the_hypothesis_report_without_console_errors(uninterrupted, tmp_path):
    report, out = uninterrupted
    shot = tmp_path / "report.png"
    done = browser.load(out / "report.html", shot)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert browser.console(done) == []
    assert all(browser.drawn(done.stdout, f"{chart}-chart") for chart in HTML_CHARTS)
    assert report.pool.home_advantage["adam"].text(3) in done.stdout
    dark, colours = browser.ink(shot)
    assert dark > 0.02 and colours > 50


def test_hypothesis_cli_errors(tmp_path, capsys):
    assert cli.main(["hypothesis", "--seeds", "1", "--out", str(tmp_path / "h")]) == 2
    assert "--seeds must be >= 2" in capsys.readouterr().err
    assert cli.main(["hypothesis", "--address", "auto", "--out", str(tmp_path / "h")]) == 2
    assert "--address needs --backend ray" in capsys.readouterr().err
    hx.Experiment(tmp_path / "other", TINY, progress=False)
    assert cli.main(["hypothesis", "--out", str(tmp_path / "other")]) == 2
    assert "holds another experiment" in capsys.readouterr().err


def test_an_unknown_preset_names_the_presets_of_its_kind(tmp_path):
    with pytest.raises(ValueError, match=r"unknown preset 'standard'; presets: \['quick', 'medium', 'full'\]"):
        hx.Experiment(tmp_path / "h", "standard", progress=False)  # a run's preset, not an experiment's
    with pytest.raises(ValueError, match=r"unknown preset 'medium'; presets: \['quick', 'standard'\]"):
        config.load(preset="medium")
    assert not (tmp_path / "h").exists()


def test_a_preset_is_sized_for_the_family_it_runs_on(tmp_path):
    token = hx.Experiment(tmp_path / "token", "medium", progress=False).preset
    assert token == hx.EXPERIMENT_PRESETS["medium"] and token.family == "token_model" and token.pool > 0
    mlp = hx.Experiment(tmp_path / "mlp", "medium", progress=False, family="mlp").preset
    # The MLP experiment as the README's report ran it: no pool, four fixed optimizers, 8 seeds.
    assert (mlp.family, mlp.pool, mlp.measure_seeds, mlp.seeds, mlp.population, mlp.generations) == (
        "mlp", 0, (), 8, 12, 8)
    assert (mlp.train_seeds, mlp.param_budget, mlp.top_k, mlp.fixed) == (
        (0, 1), 20000, 3, ("adam", "momentum", "lion", "adagrad"))
    assert hx.Experiment(tmp_path / "mlp", "medium", progress=False, family="mlp").designs() == []
    more = hx.Experiment(tmp_path / "token", "medium", seeds=8, progress=False).preset
    assert more == dataclasses.replace(token, seeds=8)  # --seeds still wins; the folder is reused
    assert [d.group for d in hx.Experiment(tmp_path / "token", "medium", progress=False).designs()] == [
        "main", "positive", "negative"]
    with pytest.raises(ValueError, match="disjoint"):
        dataclasses.replace(TINY, measure_seeds=(0, 1))
    with pytest.raises(ValueError, match="pool_top_k"):
        dataclasses.replace(TINY, pool_top_k=2)
