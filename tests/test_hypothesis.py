"""The hypothesis experiment: home advantage statistics on known numbers, resume, the report."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from discovery import cli, runs
from discovery.experiments import adam_hypothesis as hx
from discovery.experiments import findings

FIXED = ("adam", "momentum", "lion")
PANEL = ("adam", "momentum", "lion", "sgd")


ARMS = [hx.Arm(f"arch-{f}", "architectures", fixed=f, panel=PANEL) for f in FIXED] + [
    hx.Arm("joint-noadam", "joint"), hx.Arm("joint-random", "joint"), hx.Arm("nondeep", "rules", panel=PANEL)]
CONTROL_PANEL = ("adam", "momentum", "sgd")
CONTROLS = [hx.Arm(f"{g}-arch-{f}", "architectures", (("coevolution.family", f"token_model_{g}"),), fixed=f,
                   panel=CONTROL_PANEL, group=g) for g in ("positive", "negative") for f in ("adam", "momentum")]


def _cells(where: str, base: dict, gain: dict, panel, rng) -> tuple[findings.Cell, ...]:
    return tuple(findings.Cell(g, where, tuple(base[g] - gain.get(g, 0.0) + rng.normal(0, 0.01, size=2)))
                 for g in panel)


def synthetic_seed(seed: int, home: float, rng, planted: float = 0.0) -> findings.SeedResult:
    """Cells where every optimizer gains ``home`` decades on architectures evolved for it; in the
    positive control momentum gains ``planted`` at home, in the negative control nothing does."""
    base = {"adam": -1.0, "momentum": -0.9, "lion": -0.95, "sgd": -0.6}
    arms = {f"arch-{f}": findings.ArmResult("architectures", f"runs/arch-{f}-s{seed}",
                                            _cells(f"arch-{f}", base, {f: home}, PANEL, rng)) for f in FIXED}
    nondeep = tuple(findings.Cell(g, "mf_k4", tuple(base[g] + (0.5 if g == "adam" else 0.0) + rng.normal(0, 0.01, 2)),
                                  out_of_box=base[g]) for g in PANEL)
    arms |= {name: findings.ArmResult("joint", f"runs/{name}-s{seed}", joint=findings.JointArm(
        (0.0, 0.2, 0.9), "def r():\n    return g\n", {"adam": 0.1, "lion": 0.5, "momentum": 0.4}))
        for name in ("joint-noadam", "joint-random")}
    arms["nondeep"] = findings.ArmResult("rules", f"runs/nondeep-s{seed}", nondeep, rule="def r():\n    return g\n")
    control_rng = np.random.default_rng(100 + seed)  # the main cells' noise stays as it was
    for arm in CONTROLS:
        gain = {"momentum": planted} if arm.group == "positive" and arm.fixed == "momentum" else {}
        arms[arm.name] = findings.ArmResult("architectures", f"runs/{arm.name}-s{seed}",
                                            _cells(arm.name, base, gain, CONTROL_PANEL, control_rng))
    return findings.SeedResult(seed, arms)


def analyse(home: float, seeds: int = 3, planted: float = 0.0) -> findings.Report:
    rng = np.random.default_rng(0)
    return findings.analyse("synthetic", {}, [synthetic_seed(s, home, rng, planted) for s in range(seeds)],
                            ARMS + CONTROLS, PANEL, 1.0)


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
    report = findings.analyse("synthetic", {}, noisy, ARMS, PANEL, 1.0)
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
    report = findings.analyse("synthetic", {}, seeds, ARMS, PANEL, 1.0)
    assert {p.key: p.verdict for p in report.predictions}["P2"] == "inconclusive"


def test_a_planted_home_advantage_is_supported_and_a_null_control_is_not():
    report = analyse(home=0.0, planted=0.3)
    positive, negative = report.controls
    assert positive.group == "positive" and positive.planted == "momentum" and positive.passed
    assert positive.verdicts["momentum"] == "supported"
    assert positive.home_advantage["momentum"].mean == pytest.approx(0.3 * (1 - 1 / 3), abs=0.03)  # vs the row mean
    assert negative.planted is None and negative.passed and "supported" not in negative.verdicts.values()
    assert positive.margin < positive.detectable < 0.1  # noise 0.01 per training: small effects are seen
    failed = analyse(home=0.0, planted=0.0).controls[0]  # nothing planted: the positive control fails
    assert not failed.passed and failed.verdicts["momentum"] != "supported"
    text = findings.markdown(report)
    assert "**Positive control**" in text and "The control **passed**" in text and "Power:" in text


def test_the_report_round_trips_and_renders(tmp_path):
    report = analyse(home=0.5)
    paths = findings.write(report, tmp_path)
    doc = json.loads(paths[1].read_text())
    assert [findings.SeedResult.from_dict(s) for s in doc["seeds"]] == report.seeds
    text = paths[0].read_text()
    assert "P2: supported" in text and "margin" in text and "| adam |" in text
    assert paths[2].read_bytes()[:4] == b"\x89PNG"


# The token-model family: it has control genes, so the pipeline check runs the controls too.
TINY = hx.Preset(seeds=2, population=2, generations=1, steps=8, size="small",
                 learning_rates=(1e-3, 1e-2, 1e-1), train_seeds=(0, 1), nondeep=("mf_k4",),
                 param_budget=2500, fixed=("adam", "momentum"), panel=("adam", "momentum", "sgd"),
                 top_k=1, family="token_model", control_panel=("adam", "momentum", "sgd"))


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
    assert [experiment.panel_seeds(s) for s in range(3)] == [(0, 1), (2, 3), (4, 5)]
    first, second = ([c.per_seed for c in s.nondeep] for s in report.seeds)
    assert first != second  # the non-deep panel trains with each seed's own training seeds


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
    assert len(folders) == 2 * (2 + 3 + 4) and all(p in text for p in folders)
    for arm in ("arch-adam", "arch-momentum", "joint-noadam", "joint-random", "nondeep",
                "positive-arch-adam", "positive-arch-momentum", "negative-arch-adam", "negative-arch-momentum"):
        for seed in (0, 1):
            assert any(f"/{arm}-s{seed}-" in p for p in folders)
    assert {p.key for p in report.predictions} == {"P1", "P2", "P3", "P4"}
    assert [(c.group, c.family, c.planted) for c in report.controls] == [
        ("positive", "token_model_gradient_spread", "momentum"), ("negative", "token_model_label_noise", None)]
    assert "**Positive control**" in text and "**Negative control**" in text and "Power:" in text
    cfg = runs.load_run(next(p for p in folders if "/positive-arch-adam-s0-" in p)).config
    assert cfg.coevolution.family == "token_model_gradient_spread"


def test_hypothesis_cli_errors(tmp_path, capsys):
    assert cli.main(["hypothesis", "--seeds", "1", "--out", str(tmp_path / "h")]) == 2
    assert "--seeds must be >= 2" in capsys.readouterr().err
    assert cli.main(["hypothesis", "--address", "auto", "--out", str(tmp_path / "h")]) == 2
    assert "--address needs --backend ray" in capsys.readouterr().err
    hx.Experiment(tmp_path / "other", TINY, progress=False)
    assert cli.main(["hypothesis", "--out", str(tmp_path / "other")]) == 2
    assert "holds another experiment" in capsys.readouterr().err


def test_a_preset_is_sized_for_the_family_it_runs_on(tmp_path):
    mlp = hx.Experiment(tmp_path / "mlp", "medium", progress=False).preset
    token = hx.Experiment(tmp_path / "token", "medium", progress=False, family="token_model").preset
    assert mlp == hx.PRESETS["medium"] and token.family == "token_model"
    assert (token.seeds, token.param_budget, token.fixed) == (6, 10000, ("adam", "momentum"))
    more = hx.Experiment(tmp_path / "token", "medium", seeds=8, progress=False, family="token_model").preset
    assert more == dataclasses.replace(token, seeds=8)  # --seeds still wins; the folder is reused
    assert [a.name for a in hx.Experiment(tmp_path / "token", "medium", progress=False,
                                          family="token_model").arms()][-4:] == [
        "positive-arch-adam", "positive-arch-momentum", "negative-arch-adam", "negative-arch-momentum"]
