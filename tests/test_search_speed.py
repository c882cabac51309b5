"""What makes a search spend its time training: a compilation cache shared by every process,
and a generation record that says where its seconds went."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jaxlib
import pytest

from discovery import config
from discovery.evolution.generation import TIME_SPLIT
from discovery.training import compiler
from tests.tiny import tiny

ROOT = Path(__file__).parents[1]


def test_each_generation_splits_its_seconds_by_what_they_bought(stopped_run):
    generations = [json.loads(line) for line in (stopped_run / "log.jsonl").open()
                   if json.loads(line)["kind"] == "generation"]
    assert len(generations) == 2
    for record in generations:
        parts = [record[k] for k in TIME_SPLIT]
        assert all(p >= 0 for p in parts) and record["training_s"] > 0
        assert sum(parts) == pytest.approx(record["seconds"], abs=0.005)  # rounded to ms each
    with (stopped_run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["training_s"]) for r in rows] == [g["training_s"] for g in generations]
    assert set(TIME_SPLIT) <= set(rows[0])


def test_the_cache_folder_is_per_user_per_version_and_can_be_moved_or_switched_off(monkeypatch, tmp_path):
    monkeypatch.delenv(compiler.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    versions = f"jax-{jax.__version__}-jaxlib-{jaxlib.__version__}"
    assert compiler.cache_folder() == tmp_path / "xdg" / "optimizer-discovery" / versions
    monkeypatch.setenv(compiler.CACHE_ENV, str(tmp_path / "mine"))
    assert compiler.cache_folder() == tmp_path / "mine" / versions
    for off in ("off", "0", "false", "OFF"):
        monkeypatch.setenv(compiler.CACHE_ENV, off)
        assert compiler.cache_folder() is None


def test_the_config_key_switches_the_cache_and_bad_values_are_refused():
    assert config.load().evaluation.compilation_cache is True
    assert config.load(**{"evaluation.compilation_cache": False}).evaluation.compilation_cache is False
    with pytest.raises(ValueError, match="compilation_cache"):
        config.load(**{"evaluation.compilation_cache": "yes"})


def _fresh_function():
    """A new function object each call, the same computation: a new trace, one persistent-cache key."""
    def step(x):
        return jax.numpy.tanh(x) @ x.T + 1.0

    return compiler.jit(step)


def test_the_native_compile_cost_is_measured_by_compiling_not_by_loading():
    import dsl

    shortest = jax.config.jax_persistent_cache_min_compile_time_secs
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # keep this small one too
    try:
        x = jax.numpy.ones((5, 11))
        _fresh_function()(x)  # compiled, and kept in the persistent cache
        with dsl.count_compilations() as loaded:
            _fresh_function()(x)
        with dsl.count_compilations() as fresh, compiler.without_persistent_cache():
            _fresh_function()(x)
        with dsl.count_compilations() as again:
            _fresh_function()(x)
    finally:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", shortest)
    assert loaded.count == loaded.loaded == 1  # what the calibration timed before: a load
    assert fresh.count == 1 and fresh.loaded == 0  # now: a compilation
    assert again.loaded == 1  # the cache is back afterwards


def test_the_calibration_times_the_native_path_without_the_persistent_cache(monkeypatch):
    import contextlib

    import dsl
    from discovery import tasks
    from discovery.evaluation import cost_model
    from discovery.training import scoring

    entered = []

    @contextlib.contextmanager
    def recording():
        entered.append(True)
        yield

    monkeypatch.setattr(compiler, "without_persistent_cache", recording)
    trained = []
    monkeypatch.setattr(cost_model.trainer, "train", lambda *args, path: trained.append((entered[:], path)))
    protocol = scoring.Protocol(learning_rates=(1e-2,), seeds=(0,), steps=5)
    task = tasks.get("quadratic_ill", "small")
    cost_model.timed_train(dsl.library.get("sgd"), task, protocol, "interpreter")
    cost_model.timed_train(dsl.library.get("sgd"), task, protocol, "native")
    assert trained == [([], "interpreter"), ([True], "native")]  # native trains inside the fresh-compile scope


_TRAIN_ONCE = """
import json, sys
import dsl
from discovery import runs
from discovery.training import compiler
from tests.tiny import tiny
from tests.tiny import tiny
with dsl.count_compilations() as c:
    runs.run(tiny(**{"run.generations": 1, "run.population": 3, "tasks.search": ["quadratic_ill"],
                     "tasks.held_out": [], "evaluation.compilation_cache": sys.argv[2] == "on"}),
             out=sys.argv[1], progress=False)
from discovery.training import trainer
functions, traces = trainer.traced()
print(json.dumps({"count": c.count, "loaded": c.loaded, "functions": functions, "traces": traces,
                  "folder": str(compiler.use_compilation_cache(sys.argv[2] == "on"))}))
"""


def _run_in_a_fresh_process(out: Path, cache: Path, switch: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env[compiler.CACHE_ENV] = str(cache)
    done = subprocess.run([sys.executable, "-c", _TRAIN_ONCE, str(out), switch], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_second_run_compiles_nothing_new_and_the_switch_turns_the_cache_off(tmp_path):
    cache = tmp_path / "cache"
    first = _run_in_a_fresh_process(tmp_path / "a", cache, "on")
    second = _run_in_a_fresh_process(tmp_path / "b", cache, "on")
    assert first["count"] > 0 and first["loaded"] < first["count"]
    assert first["traces"] == first["functions"]  # the references' and candidates' blocks share each trace
    assert second["count"] == second["loaded"] == first["count"]  # every executable from the cache
    assert Path(second["folder"]).parent == cache and any(Path(second["folder"]).iterdir())
    off = _run_in_a_fresh_process(tmp_path / "c", cache, "off")
    assert off["loaded"] == 0 and off["count"] == first["count"] and off["folder"] == "None"


def test_random_search_draws_every_child_at_random_from_the_vocabulary(tmp_path):
    from discovery import runs

    run = runs.run(tiny(**{"run.mode": "random", "run.warm_start": [], "run.generations": 2,
                           "run.population": 4, "tasks.search": ["quadratic_ill"], "tasks.held_out": []}),
                   out=tmp_path, progress=False)
    records = [json.loads(line) for line in (run.path / "log.jsonl").open()]
    children = [r for r in records if r["kind"] == "candidate"]
    assert [c["mutation"] for c in children] == ["random"] * 8 and all(not c["parents"] for c in children)
    with pytest.raises(ValueError, match="mode = 'random'"):
        config.load(**{"run.mode": "random", "coevolution.mode": "architectures"})


def test_a_run_ends_complete_once_it_has_trained_max_evaluated_behaviours(tmp_path):
    from discovery import runs

    settings = {"run.mode": "random", "run.warm_start": [], "run.generations": 50, "run.population": 4,
                "tasks.search": ["quadratic_ill"], "tasks.held_out": []}
    run = runs.run(tiny(**settings, **{"run.max_evaluated": 3}), out=tmp_path, progress=False)
    trained = [g.trained for g in run.logbook]
    assert run.summary.status == "complete" and run.generation == len(trained) < 50
    assert run.summary.totals.evaluated == sum(trained) >= 3 > sum(trained[:-1])  # the first to reach it
    with pytest.raises(ValueError, match="max_evaluated"):
        config.load(**{"run.max_evaluated": -1})


def test_the_funnel_rechecks_the_hall_of_fame_on_larger_held_out_problems():
    from discovery import tasks
    from discovery.evaluation.evaluator import Evaluator

    same = Evaluator(config.load(**{"tasks.held_out": ["rosenbrock"]}))
    larger = Evaluator(config.load(**{"tasks.held_out": ["rosenbrock"], "tasks.held_out_size": "default"}))
    assert same.held_out_tasks[0].compile_key == tasks.get("rosenbrock", "small").compile_key
    assert larger.held_out_tasks[0].compile_key == tasks.get("rosenbrock", "default").compile_key
    assert larger.held_out_tasks[0].compile_key != same.held_out_tasks[0].compile_key
    assert larger.search_tasks[0].compile_key == same.search_tasks[0].compile_key
    with pytest.raises(ValueError, match="held_out_size"):
        config.load(**{"tasks.held_out_size": "huge"})
