"""The hypothesis experiment: home advantage statistics on known numbers, rounds, resume, the report."""

import dataclasses
import html
import json
import re
import shutil

import numpy as np
import pytest

from discovery import cli, config, tasks
from discovery.codec import RecordError
from discovery.experiments import adam_hypothesis as hx
from discovery.experiments import findings, report_files, report_page, upgrade
from discovery.experiments import gene_effects as ge
from discovery.experiments import pool as pool_lib
from discovery.experiments import selection as sel
from discovery.experiments.arms import Arm
from tests import browser

PANEL = ("adam", "momentum", "lion", "sgd")
CONFIG = hx.EXPERIMENT_PRESETS["quick"]  # the token model's: what the synthetic reports say they ran
CONTROL_PANEL = ("adam", "momentum", "sgd")
K = 2
DESIGNS = [pool_lib.Design("main", PANEL, K), pool_lib.Design("positive", CONTROL_PANEL, 2 * K, "token_model_gradient_spread"),
           pool_lib.Design("negative", CONTROL_PANEL, 2 * K, "token_model_label_noise")]
ROUNDS = 2  # after the random pool
TRUE = {"adam": -1.0, "momentum": -0.8, "lion": -0.9, "sgd": -0.6}


def synthetic_seed(seed: int, home: float, rng, planted: float = 0.0, noise: float = 0.01) -> findings.SeedResult:
    """A seed whose pool has 8 random bases, then per round 3 new bases for each lineage of its own (its
    candidates: them and its 2 best of the round before). Scores are a base effect per member plus
    training noise; optimizer ``f`` gains ``home * r`` decades on the members born into its lineage
    in round ``r`` (a home advantage that grows with the rounds); on a copy with the planted gene at
    its non-zero value momentum and SGD lose ``planted`` decades (positive control), or everyone
    loses 0.3 (negative)."""
    archs = pool_lib.draw_bases(seed, 8 + 3 * len(PANEL) * ROUNDS, 10_000, "token_model")
    bases, owner = [], {}
    for i, a in enumerate(archs):
        born = 0 if i < 8 else 1 + (i - 8) // (3 * len(PANEL))
        bases.append(pool_lib.Member(i, tasks.architecture_record(a), born))
        if born:
            owner[bases[-1].key] = PANEL[(i - 8) // 3 % len(PANEL)]
    effect = {m.key: rng.normal(0, 0.1) for m in bases}
    cells: dict[tuple[str, str], pool_lib.PoolCell] = {}

    def cell(member: pool_lib.Member, g: str) -> pool_lib.PoolCell:
        if (member.key, g) not in cells:
            base = next(b for b in bases if b.block == member.block)
            true = effect[base.key] + TRUE[g] - (home * base.born if owner.get(base.key) == g else 0.0)
            if member.architecture.get("gradient_spread") and g in ("momentum", "sgd"):
                true += planted
            true += 0.3 * bool(member.architecture.get("label_noise"))
            cells[member.key, g] = pool_lib.PoolCell(g, member.key, tuple(true + rng.normal(0, noise, 1)),
                                                     tuple(true + rng.normal(0, noise, 2)), 1e-2, 1e-2)
        return cells[member.key, g]

    lineages = [{f: [m.key for m in bases if m.born == 0] for f in PANEL}]
    for r in range(1, ROUNDS + 1):
        step = {}
        for f in PANEL:
            before = [m for m in bases if m.key in lineages[-1][f]]
            best = sorted(before, key=lambda m: cell(m, f).selection_score)[:K]
            step[f] = [m.key for m in best] + [m.key for m in bases if m.born == r and owner[m.key] == f]
        lineages.append(step)
    pools = {d.group: findings.design_seed(d, seed, bases, lineages, cell) for d in DESIGNS}
    nondeep = tuple(findings.Cell(g, "mf_k4", tuple(TRUE[g] + (0.5 if g == "adam" else 0.0) + rng.normal(0, 0.01, 2)),
                                  out_of_box=TRUE[g]) for g in PANEL)
    arms = {"joint-noadam": findings.ArmResult("joint", f"runs/joint-noadam-s{seed}", joint=findings.JointArm(
                (0.0, 0.2, 0.9), "def r():\n    return g\n", {"adam": 0.1, "lion": 0.5, "momentum": 0.4},
                (0.6, 0.3, 0.1))),
            "nondeep": findings.ArmResult("rules", f"runs/nondeep-s{seed}", nondeep, rule="def r():\n    return g\n")}
    return findings.SeedResult(seed, arms, pools)


def analyse(home: float, seeds: int = 3, planted: float = 1.0, noise: float = 0.01) -> findings.Report:
    rng = np.random.default_rng(0)
    return findings.analyse("synthetic", CONFIG, [synthetic_seed(s, home, rng, planted, noise) for s in range(seeds)],
                            DESIGNS, 1.0)


@pytest.fixture(scope="module", autouse=True)
def fewer_resamples():
    """The machinery's tests draw 400 bootstrap resamples instead of 2,000: their effects are far from
    their margins, and each report's intervals then cost a fifth of the time."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sel, "RESAMPLES", 400)
        yield


@pytest.fixture(scope="module")
def growing() -> findings.Report:
    return analyse(home=0.15)


def test_an_arm_name_is_spelled_in_one_place_and_found_by_it(tmp_path):
    assert [Arm("joint", start="noadam").name, Arm("rules").name] == ["joint-noadam", "nondeep"]
    for bad in (dict(kind="architectures"), dict(kind="joint", start="adam"), dict(kind="rules", start="noadam"),
                dict(kind="joint")):
        with pytest.raises(ValueError, match="arm"):
            Arm(**bad)
    experiment = hx.Experiment(tmp_path, TINY, progress=False)
    assert [a.name for a in experiment.arms()] == ["joint-noadam", "nondeep"]
    assert experiment.config("joint-noadam", 0, **dict(experiment.arm("joint-noadam").overrides)).run.generations == 2
    with pytest.raises(ValueError, match=r"unknown arm 'arch-adam'; arms: \['joint-noadam', 'nondeep'\]"):
        experiment.arm("arch-adam")


def test_home_advantage_is_the_stated_difference_in_differences():
    m = np.array([[0.0, 1.0, 1.0, 2.0],   # selected by adam: adam best
                  [1.0, 0.0, 1.0, 2.0],   # selected by momentum: momentum best
                  [1.0, 1.0, 0.0, 2.0]])  # selected by lion: lion best
    fixed = PANEL[:3]
    assert sel.home_advantage(m, fixed, PANEL) == pytest.approx({"adam": 1.0, "momentum": 1.0, "lion": 1.0})
    assert sel.home_advantage(np.ones((3, 4)), fixed, PANEL) == pytest.approx({g: 0.0 for g in fixed})


def test_a_home_advantage_that_grows_with_the_rounds_is_supported(growing):
    report = growing
    adam = report.series("adam")
    assert abs(adam[0].mean) < 0.01 and adam[0].low <= 0 <= adam[0].high  # the random pool: none
    # In round r each optimizer gains 0.15 r on its own lineage's new members, which it then selects.
    assert [e.mean for e in adam[1:]] == pytest.approx([0.15, 0.30], abs=0.05)
    verdicts = {p.key: p.verdict for p in report.predictions}
    assert verdicts["P5"] == verdicts["P2"] == verdicts["P3"] == "supported"
    assert report.growth["adam"].mean == pytest.approx(adam[-1].mean - adam[0].mean)
    assert verdicts["P1"] == "supported"  # adam +0.5 worse on the non-deep task, relative to the panel
    assert verdicts["P4"] == "supported"  # the last generation is 90% Adam-like
    assert 0.005 < report.pool.margin < 0.02  # the synthetic training-seed noise is 0.01
    assert [len(r.pools) for r in report.rounds] == [3, 3, 3]
    # The negative control reads what its gene adds beyond the main pool's home advantages: nothing.
    assert all(r.pool("negative").passed for r in report.rounds) and report.rounds[-1].pool("negative").home_advantage[
        "adam"].mean > 0.2
    # The positive control reads its own planted home advantage. Beyond the main pool's, the same
    # plant reads smaller as momentum's natural home advantage grows beside it: the two do not add.
    first = report.rounds[0].pool("positive").beyond_main["momentum"].mean
    for r in report.rounds[1:]:
        positive = r.pool("positive")
        assert positive.passed and positive.judged is positive.home_advantage
        assert r.main.home_advantage["momentum"].mean > 0.1 and positive.beyond_main["momentum"].mean < first - 0.03
        assert r.pool("negative").judged is r.pool("negative").beyond_main
    # Nothing planted: the control fails where the main pool has no home advantage of momentum's,
    # and passes on the main pool's own where it has one (which the design then sees).
    unplanted = analyse(home=0.15, planted=0.0)
    assert [r.pool("positive").passed for r in unplanted.rounds] == [False, True, True]


def test_no_growth_is_a_tie_and_contradicts_the_prediction():
    report = analyse(home=0.0)
    verdicts = {p.key: p.verdict for p in report.predictions}
    assert verdicts["P5"] == verdicts["P2"] == "contradicted"
    assert all(abs(e.mean) < report.pool.margin for e in report.series("adam"))
    assert report.controls_pass  # the controls see their plant in every round all the same


def test_each_prediction_has_the_margin_of_its_own_cells():
    report = analyse(home=0.15, noise=0.05)
    margins = {p.key: p.margin for p in report.predictions}
    assert margins["P2"] == margins["P3"] == report.pool.margin and 0.03 < report.pool.margin < 0.07
    assert margins["P5"] == max(report.rounds[0].main.margin, report.pool.margin)
    assert margins["P4"] == 0.0 and margins["P1"] != margins["P2"]


def test_a_planted_home_advantage_is_supported_in_every_round_and_a_null_control_is_not():
    report = analyse(home=0.0, planted=1.0)
    for r in report.rounds:
        main, positive, negative = r.pools
        assert [c.group for c in r.controls] == ["positive", "negative"] and r.main is main
        assert positive.planted == "momentum" and positive.planted_gene == "gradient_spread" and positive.passed
        # Momentum and SGD select the unspread copies, Adam half of each (it ties within a base):
        # R[adam][momentum] - R[momentum][momentum] = 1/2 (1 - 2/3); HA is its mean over the two away rows.
        assert positive.home_advantage["momentum"].mean == pytest.approx(0.5 * (1 / 6), abs=0.03)
        assert negative.planted is None and negative.passed and "supported" not in negative.verdicts.values()
        assert positive.margin < positive.detectable < 0.1  # noise 0.01 per training: small effects are seen
    assert report.planted_rank == 1 and report.genes["positive"].fit[0].effect.mean == pytest.approx(1.0, abs=0.1)
    failed = analyse(home=0.0, planted=0.0)  # nothing planted: the control fails, in every round
    assert not failed.controls_pass and not any(r.pool("positive").passed for r in failed.rounds)
    text = report_files.markdown(report)
    assert "**Positive control**" in text and "Both controls pass in every round" in text
    assert "ranks **#1**" in text and "| gradient_spread |" not in text  # the gene table reads the main pool
    assert "Controls FAILED: positive in round 0, positive in round 1, positive in round 2" in report_files.markdown(failed)


def test_lineages_report_their_selection_differential_response_and_distance(growing):
    last = growing.last.lineages
    assert [x.optimizer for x in last] == list(PANEL)
    assert all(x.differential < 0 for x in last)  # a selection is never worse than its candidates
    assert all(x.response < -0.2 for x in last)  # each does better on its own lineage (0.3 decades planted)
    assert all(0 < x.distance <= 1 and set(x.moved) <= set(ge.specs_of(tasks.TokenArchitecture)) for x in last)
    assert growing.rounds[0].lineages[0].response == 0.0


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
    assert findings.tie_order(0, ["a", "b"]).tolist() == findings.tie_order(0, ["a", "b"]).tolist() != \
        findings.tie_order(1, ["a", "b"]).tolist()  # from the seed and the member alone


def test_a_lineage_selects_among_its_own_candidates_and_resamples_as_many_of_them():
    scores = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    masks = {"adam": np.array([False, False, True, True, True]), "sgd": np.array([True, False, False, False, True])}
    pool = sel.SeedPool({"adam": scores, "sgd": -scores}, {"adam": scores, "sgd": scores}, np.arange(5),
                        np.arange(5), masks)
    assert pool.top("adam", 2).tolist() == [2, 3] and pool.top("sgd", 2).tolist() == [4, 0]
    assert sel.selected(pool, ("adam", "sgd"), 1).tolist() == [2, 4]
    assert sel.matrix(pool, ("adam", "sgd"), ("adam", "sgd"), 2).tolist() == [[2.5, 2.5], [2.0, 2.0]]
    rng = np.random.default_rng(0)
    for _ in range(50):
        drawn = pool.resample(rng)
        assert drawn.mask("adam").sum() == 3 and drawn.mask("sgd").sum() == 2  # each its own, as many
        assert set(drawn.blocks[drawn.mask("sgd")]) <= {0, 4} and set(drawn.blocks[drawn.mask("adam")]) <= {2, 3, 4}
    shared = sel.SeedPool(pool.selection, pool.measurement, pool.blocks, pool.order,
                          {"adam": np.ones(5, bool), "sgd": np.ones(5, bool)})
    drawn = shared.resample(rng)  # the same candidates (round 0): the same blocks
    assert drawn.blocks[drawn.mask("adam")].tolist() == drawn.blocks[drawn.mask("sgd")].tolist()
    assert len(pool.top("sgd", 3)) == 2  # fewer than k candidates: all of them


def test_the_change_between_rounds_pairs_the_same_seed_resamples():
    rng = np.random.default_rng(0)
    panel = ("adam", "sgd")

    def pools(shift: float):
        return [sel.SeedPool({g: rng.normal(0, 1, 8) for g in panel},
                             {"adam": np.r_[np.full(4, -shift), np.zeros(4)] + rng.normal(0, 0.01, 8),
                              "sgd": rng.normal(0, 0.01, 8)}, np.arange(8), np.arange(8)) for _ in range(3)]

    before = sel.home_advantage_draws(pools(0.0), panel, panel, 4, resamples=200)
    after = sel.home_advantage_draws(pools(0.0), panel, panel, 4, resamples=200)
    change, _ = after.change(before)
    assert change["adam"].mean == pytest.approx(after.effects()[0]["adam"].mean - before.effects()[0]["adam"].mean)
    assert change["adam"].values == pytest.approx(tuple(after.per_seed[:, 0] - before.per_seed[:, 0]))


def test_a_parents_children_are_the_same_whichever_lineage_asks_and_differ_by_round():
    parent = pool_lib.Member(0, tasks.architecture_record(pool_lib.draw_bases(0, 1, 10_000, "token_model")[0]))
    first = pool_lib.children(parent, seed=0, round=1, n=3, budget=10_000)
    assert first == pool_lib.children(parent, seed=0, round=1, n=3, budget=10_000)
    assert first != pool_lib.children(parent, seed=0, round=2, n=3, budget=10_000)
    assert first != pool_lib.children(parent, seed=1, round=1, n=3, budget=10_000)
    for child in first:
        assert child.n_params() <= 10_000 and type(child) is type(parent.genes())
        changed = [g for g, v in child.to_dict().items() if parent.genes().to_dict()[g] != v]
        assert len(changed) <= 2, changed  # one family edit (an edit may move a gene and its partner)


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
    assert len(data["pools"]["main"]["rounds"]) == ROUNDS + 1
    data["arms"]["nondeep"]["cells"][1]["per_seed"][0] = "fast"
    with pytest.raises(RecordError, match="'arms' is malformed: entry 'nondeep'.*'cells'.*item 1.*'per_seed'"):
        findings.SeedResult.from_dict(data)
    with pytest.raises(RecordError, match="field 'arms' is missing"):
        findings.SeedResult.from_dict({"seed": 0})
    with pytest.raises(RecordError, match=r"unknown field\(s\) \['planted'\]"):
        findings.PoolSeed.from_dict({**seed.pools["main"].to_dict(), "planted": 1})
    with pytest.raises(RecordError, match="'rounds'"):
        findings.PoolSeed.from_dict({**seed.pools["main"].to_dict(), "rounds": [{"candidates": {"adam": [-1]}}]})


def test_the_report_round_trips_and_renders(growing, tmp_path):
    paths = report_files.write(growing, tmp_path)
    doc = json.loads(paths[1].read_text())
    assert [findings.SeedResult.from_dict(s) for s in doc["seeds"]] == growing.seeds
    assert [[p["group"] for p in r["pools"]] for r in doc["rounds"]] == [["main", "positive", "negative"]] * 3
    assert doc["controls_pass"] == growing.controls_pass and doc["growth"]["adam"]["mean"] == growing.growth["adam"].mean
    assert doc["rounds"][1]["pools"][2]["beyond_main"]["adam"]["mean"] < 0.05 < doc["rounds"][1]["pools"][2][
        "home_advantage"]["adam"]["mean"]
    text = paths[0].read_text()
    first = text.splitlines()[2]
    assert first.startswith("**Does Adam's home advantage grow with rounds of selection? Yes** (P5 supported)")
    assert "P2: supported" in text and "## Dose-response" in text and "| adam |" in text
    assert text.index("## Dose-response") < text.index("## Lineages") < text.index("## Verdicts")
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths[3:])
    assert [p.name for p in paths] == list(report_files.REPORT_FILES)
    assert "<h1>Hypothesis experiment" in paths[2].read_text()  # report.html: the markdown, rendered


# The token-model family: it has control genes, so the pipeline check runs the controls too.
TINY = hx.Preset(seeds=2, population=2, steps=8, size="small", learning_rates=(1e-3, 1e-2, 1e-1),
                 train_seeds=(0,), measure_seeds=(1, 2), nondeep=("mf_k4",), param_budget=2000,
                 panel=("adam", "momentum", "sgd"), family="token_model", control_panel=("adam", "momentum", "sgd"),
                 pool=2, pool_top_k=1, rounds=1, children=1)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The tiny experiment, uninterrupted, in one process (read-only)."""
    out = tmp_path_factory.mktemp("hypothesis")
    return hx.run_experiment(TINY, out=out, progress=False, workers=1), out


def _outcome(report: findings.Report) -> dict:
    doc = report.to_dict()
    for s in doc["seeds"]:
        for arm in s["arms"].values():
            arm.pop("run")
    return {k: v for k, v in doc.items() if k != "seconds"}


def test_two_worker_processes_tune_the_same_pool_as_one(uninterrupted, tmp_path):
    """Seed 0's round-1 members (and their planted copies) tuned again in two processes pinned to a
    core each, the rest of the experiment loaded: the same report."""
    report, out = uninterrupted
    copy = shutil.copytree(out, tmp_path / "copy")
    born = {m.key for pool in report.seeds[0].pools.values() for m in pool.members if m.born == 1}
    file = copy / "pools" / "s0.json"
    stored = json.loads(file.read_text())
    kept = [c for c in stored["cells"] if c["member"] not in born]
    assert len(stored["cells"]) - len(kept) >= 2 * len(TINY.panel)  # at least two members to share out
    file.write_text(json.dumps({**stored, "cells": kept}))
    again = hx.Experiment(copy, TINY, progress=False, workers=2).execute()
    assert _outcome(again) == _outcome(report)
    assert len(json.loads((copy / "pools" / "s0.json").read_text())["cells"]) == len(
        json.loads((out / "pools" / "s0.json").read_text())["cells"])


def test_an_interrupted_experiment_resumes_to_the_same_report(uninterrupted, tmp_path, monkeypatch):
    """Crashes in round 0, in round 1, in an arm's run and in the non-deep panel, each resumed: the
    same report as the uninterrupted experiment."""
    report, out = uninterrupted
    experiment = hx.Experiment(tmp_path, TINY, progress=False)
    original_tune = pool_lib.tune_member
    tuned = []

    def crash_in_pool(*args, **kwargs):
        tuned.append(args[0])
        if len(tuned) == 2 or (args[0].born == 1 and [m.born for m in tuned].count(1) == 1):
            raise KeyboardInterrupt  # the process dies while a member of round 0, then of round 1, trains
        return original_tune(*args, **kwargs)

    monkeypatch.setattr(pool_lib, "tune_member", crash_in_pool)
    with pytest.raises(KeyboardInterrupt):
        experiment.execute()
    assert len(experiment.pool_store(0).cells) == len(TINY.panel)  # the first member's cells were kept
    with pytest.raises(KeyboardInterrupt):
        experiment.execute()
    assert tuned[-1].born == 1 and any(m.born == 0 for m in tuned[2:-1])  # the second crash came in round 1
    monkeypatch.setattr(pool_lib, "tune_member", original_tune)
    original_run = hx.runs.run
    monkeypatch.setattr(hx.runs, "run", lambda *a, **k: original_run(*a, **k, stop_after=1))
    with pytest.raises(KeyboardInterrupt, match="joint-noadam-s0-.* interrupted"):
        experiment.execute()  # Ctrl-C honoured by the first run: checkpointed, no summary
    assert not (tmp_path / "cells").exists()  # the experiment stopped with it
    monkeypatch.setattr(hx.runs, "run", original_run)
    calls = []
    original = hx.Experiment.nondeep_cells

    def crash_once(self, seed):
        calls.append(seed)
        if len(calls) == 1:
            raise KeyboardInterrupt  # the process dies in the middle of seed 0's non-deep panel
        return original(self, seed)

    monkeypatch.setattr(hx.Experiment, "nondeep_cells", crash_once)
    with pytest.raises(KeyboardInterrupt):
        experiment.execute()
    resumed = hx.Experiment(tmp_path, TINY, progress=False).execute()
    assert _outcome(resumed) == _outcome(report)
    assert calls == [0, 0, 1]  # seed 0 retried, then seed 1


def test_each_round_keeps_each_lineages_best_and_adds_their_children(uninterrupted):
    report, out = uninterrupted
    experiment = hx.Experiment(out, TINY, progress=False)
    store = experiment.pool_store(0)
    main = report.seeds[0].pools["main"]
    assert [m.born for m in main.members][:TINY.pool] == [0] * TINY.pool
    for f in TINY.panel:
        start = [main.members[i] for i in main.rounds[0].candidates[f]]
        assert len(start) == TINY.pool  # round 0: the random pool
        best = min(start, key=lambda m: (store.get(m, f).selection_score, findings.tie_order(0, [m.key])[0]))
        children = [tasks.architecture_record(c) for c in pool_lib.children(best, 0, 1, TINY.children, TINY.param_budget)]
        then = [main.members[i] for i in main.rounds[1].candidates[f]]
        assert then[0] == best and [m.architecture for m in then[1:]] == [c for c in children if c != best.architecture]
    positive = report.seeds[0].pools["positive"]
    for f in TINY.control_panel:  # the control rides on the same lineage: the copies of its candidates
        blocks = {main.members[i].block for i in main.rounds[1].candidates[f]}
        assert {positive.members[i].block for i in positive.rounds[1].candidates[f]} == blocks
        assert len(positive.rounds[1].candidates[f]) == 2 * len(blocks)


def test_each_seed_is_an_independent_replicate(uninterrupted):
    report, _ = uninterrupted
    experiment = hx.Experiment(uninterrupted[1], TINY, progress=False)
    assert [experiment.selection_seeds(s) for s in range(3)] == [(0,), (3,), (6,)]
    assert [experiment.panel_seeds(s) for s in range(3)] == [(1, 2), (4, 5), (7, 8)]  # never a selecting seed
    assert experiment.config("joint-noadam", 1).protocol.seeds == (3,)  # the arm selects on seed 1's own
    first, second = ([c.per_seed for c in s.nondeep] for s in report.seeds)
    assert first != second  # the non-deep panel trains with each seed's own training seeds
    assert report.seeds[0].pools["main"].members != report.seeds[1].pools["main"].members  # its own pool


def test_more_seeds_reuse_the_finished_ones(uninterrupted, tmp_path, monkeypatch):
    report, out = uninterrupted
    copy = shutil.copytree(out, tmp_path / "copy")
    original = hx.Experiment.seed_result

    def stand_in(self, seed, bar):  # seed 2 as a relabelled seed 1 (loaded from disk, nothing trains)
        return dataclasses.replace(original(self, 1, bar), seed=2) if seed == 2 else original(self, seed, bar)

    monkeypatch.setattr(hx.Experiment, "seed_result", stand_in)
    monkeypatch.setattr(hx.runs, "run", None)  # a run started anew would fail: seeds 0 and 1 are loaded
    monkeypatch.setattr(pool_lib, "tune_member", None)  # so would a pool cell trained again
    extended = hx.Experiment(copy, TINY, seeds=3, progress=False).execute()
    assert [s.seed for s in extended.seeds] == [0, 1, 2]
    assert _outcome(extended)["seeds"][:2] == _outcome(report)["seeds"]
    assert json.loads((copy / "experiment.json").read_text())["config"]["seeds"] == 3


def test_the_report_names_every_arm_seed_and_run_folder(uninterrupted):
    report, out = uninterrupted
    text = (out / "report.md").read_text()
    folders = [p for s in report.seeds for p in s.runs]
    assert len(folders) == 2 * 2 and all(p in text for p in folders)
    for arm in ("joint-noadam", "nondeep"):
        for seed in (0, 1):
            assert any(f"/{arm}-s{seed}-" in p for p in folders)
    assert {p.key for p in report.predictions} == {"P1", "P2", "P3", "P4", "P5"}
    assert [[(c.group, c.family, c.planted) for c in r.controls] for r in report.rounds] == [
        [("positive", "token_model_gradient_spread", "momentum"), ("negative", "token_model_label_noise", None)]] * 2
    assert text.splitlines()[2].startswith("**Does Adam's home advantage grow with rounds of selection?")
    assert "**Positive control**" in text and "**Negative control**" in text and "## Controls in every round" in text
    assert "## What in an architecture favours Adam" in text and (out / "genes.png").exists()
    assert len(report.seeds[0].joint["joint-noadam"].adam_distance) == TINY.generations
    pool = json.loads((out / "pools" / "s0.json").read_text())
    members = len(report.seeds[0].pools["main"].members)
    assert len(pool["cells"]) == 3 * members * 3  # each base once for every design, each planted copy once


HTML_CHARTS = ("dose-response", "matrix-pool", "home-advantage", "joint-share", "genes-main", "genes-positive",
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
    for r in report.rounds:
        for g, e in r.main.home_advantage.items():
            assert e.text(3) in text and e.text(3) in page, (r.round, g)
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
    assert cli.main(["hypothesis", "--workers", "0", "--out", str(tmp_path / "w")]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
    assert cli.main(["hypothesis", "--address", "auto", "--out", str(tmp_path / "h")]) == 2
    assert "--address needs --backend ray" in capsys.readouterr().err
    hx.Experiment(tmp_path / "other", TINY, progress=False)
    assert cli.main(["hypothesis", "--out", str(tmp_path / "other")]) == 2
    assert "holds another experiment" in capsys.readouterr().err


def test_a_folder_of_an_earlier_design_is_refused_naming_the_commit_that_reproduces_it(tmp_path, capsys):
    folder = tmp_path / "earlier"
    folder.mkdir()
    earlier = {"preset": "medium", "config": {**{k: v for k, v in TINY.to_dict().items() if k != "rounds"},
                                              "generations": 2, "fixed": ["adam", "momentum"], "top_k": 2}}
    (folder / "experiment.json").write_text(json.dumps(earlier))
    assert cli.main(["hypothesis", "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "earlier design" in err and upgrade.EARLIER_DESIGN_COMMIT in err and "choose another --out" in err
    assert json.loads((folder / "experiment.json").read_text()) == earlier  # left as it was


def test_an_unknown_preset_names_the_presets_of_its_kind(tmp_path):
    with pytest.raises(ValueError, match=r"unknown preset 'standard'; presets: \['quick', 'medium', 'full'\]"):
        hx.Experiment(tmp_path / "h", "standard", progress=False)  # a run's preset, not an experiment's
    with pytest.raises(ValueError, match=r"unknown preset 'medium'; presets: \['quick', 'standard'\]"):
        config.load(preset="medium")
    assert not (tmp_path / "h").exists()


def test_a_preset_names_its_rounds_and_refuses_what_cannot_run(tmp_path):
    token = hx.Experiment(tmp_path / "token", "medium", progress=False).preset
    assert token == hx.EXPERIMENT_PRESETS["medium"] and token.rounds >= 3 and token.generations == token.rounds + 1
    more = hx.Experiment(tmp_path / "token", "medium", seeds=8, progress=False).preset
    assert more == dataclasses.replace(token, seeds=8)  # --seeds still wins; the folder is reused
    assert [d.group for d in hx.Experiment(tmp_path / "token", "medium", progress=False).designs()] == [
        "main", "positive", "negative"]
    mlp = hx.Experiment(tmp_path / "mlp", "quick", progress=False, family="mlp")
    assert mlp.preset.family == "mlp" and [d.group for d in mlp.designs()] == ["main"]  # no control genes
    for bad, match in ((dict(measure_seeds=(0, 1)), "disjoint"), (dict(measure_seeds=(1,)), "at least two"),
                       (dict(pool_top_k=3), "pool_top_k"), (dict(rounds=0), "rounds"), (dict(children=0), "children"),
                       (dict(control_panel=("adam", "momentum", "lion")), "control optimizer in the panel")):
        with pytest.raises(ValueError, match=match):
            dataclasses.replace(TINY, **bad)
