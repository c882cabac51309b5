"""The evolution-versus-random-search benchmark's own logic (its runs are a benchmark, not a test):
a known optimizer at other constants is reported as that optimizer, the table's differences and
verdicts are computed from the records, and a rerun skips what the results file holds."""

from __future__ import annotations

import dataclasses

import pytest

import dsl
from tests.benchmarks import bench_versus_random as bench


def test_a_known_optimizer_at_other_constants_is_named_with_its_fitted_constants():
    adam = dsl.library.get("adam")
    tuned = dataclasses.replace(adam, params=(("b1", 0.8), ("b2", 0.95), ("eps", 1e-8)))
    assert bench.nearest(tuned) == ("adam(b1=0.8, b2=0.95)", 1.0)
    heavy_ball = dsl.parse("def f():\n    m = 0.5 * m + g\n    return m")
    name, cosine = bench.nearest(heavy_ball)
    assert name in ("momentum(beta=0.5)", "nesterov(beta=0.5)") and cosine > 0.99


def _scores(shift: float, se: float = 0.01) -> dict:
    return {t: {"log10": -2.0 + shift, "se": se, "lr": 0.1} for t in bench.MEASURE}


def _records(evolution_shift: float, random_shift: float) -> list[dict]:
    baselines = [{"kind": "baseline", "baseline": b, "task": t, "log10": -2.0, "se": 0.01, "lr": 0.1,
                  "variant": "", "variants": {}} for b in bench.BASELINES for t in bench.MEASURE]
    runs = [{"kind": "seed_run", "vocabulary": "blocks", "seed": 0, "mode": mode, "evaluated": 10,
             "fully_evaluated": 5, "children": 20, "complexity": 9, "nearest": "sgd", "nearest_cosine": 1.0,
             "first_beats_momentum": None, "pick": "return g", "scores": _scores(shift)}
            for mode, shift in (("evolution", evolution_shift), ("random", random_shift))]
    return baselines + runs


@pytest.mark.parametrize("evolution, random, verdict", [
    (-0.3, 0.0, "evolution"), (0.0, -0.3, "random search"), (-0.01, 0.0, "tie")])
def test_the_table_compares_evolution_with_random_search_beyond_the_noise(evolution, random, verdict):
    text = bench.table(_records(evolution, random))
    noise = 2 * 2 ** 0.5 * 0.01 * len(bench.MEASURE) ** 0.5 / len(bench.MEASURE)  # two SEs of the mean
    assert f"| {evolution:+.3f} ± {noise:.3f} |" in text  # the evolution row, against tuned Adam
    assert f"| blocks | 0 | {evolution - random:+.3f} ± {2 ** 0.5 * noise:.3f} | {verdict} |" in text
    assert f"beat random search beyond noise in {int(verdict == 'evolution')} of 1 seeds" in text
    assert bench.table(_records(evolution, random)[1:]) == "baselines not measured yet"


def test_a_rerun_skips_the_jobs_the_results_file_holds():
    records = _records(0.0, 0.0)
    assert bench.done(records, ("pair", "blocks", 0)) and not bench.done(records, ("pair", "blocks", 1))
    assert not bench.done(records[:-1], ("pair", "blocks", 0))  # random search not measured yet
    assert bench.done(records, ("baseline", "adam", bench.MEASURE[0]))
    assert not bench.done(records[1:], ("baseline", "adam", bench.MEASURE[0]))


def test_a_change_under_trial_reaches_both_modes_and_the_baselines_come_from_the_main_file(tmp_path, monkeypatch):
    changes = bench.overrides(["protocol.steps=300", "tasks.held_out_size=default"])
    assert changes == {"protocol.steps": 300, "tasks.held_out_size": "default"}
    for mode in bench.MODES:
        cfg = bench.settings("blocks", 10, mode, changes=changes)
        assert (cfg.protocol.steps, cfg.tasks.held_out_size, cfg.run.seed) == (300, "default", 10)
    assert bench.settings("blocks", 10, "random").protocol.steps == 100
    with pytest.raises(ValueError, match="SECTION.KEY=VALUE"):
        bench.overrides(["steps"])
    main, dev = tmp_path / "main.jsonl", tmp_path / "dev.jsonl"
    monkeypatch.setattr(bench, "RESULTS", main)
    baselines, runs = _records(0.0, 0.0)[:-2], _records(0.0, 0.0)[-2:]
    for r in baselines:
        bench.append(main, r)
    bench.append(main, {**runs[0], "seed": 3})
    for r in runs:
        bench.append(dev, {**r, "seed": 10})
    assert bench.records(dev) == [{**r, "seed": 10} for r in runs] + baselines  # not the main file's seed-runs
    assert bench.done(bench.records(dev), ("pair", "blocks", 10))
    assert "| blocks | 10 |" in bench.table(bench.records(dev))
