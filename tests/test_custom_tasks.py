"""Your own problem: tasks from a loss, registered or named by import path; the notebook API;
runs that grow; a CLI that reaches every config key. Run folders stay usable in a fresh process."""

import argparse
import csv
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import discovery
from discovery import cli, config, runs, tasks
from discovery.cli.cmd_run import parse_setting
from discovery.evolution.generation import TIMINGS
from tests.custom_task import logreg_data, logreg_init, logreg_loss
from tests.tiny import TINY

ROOT = Path(__file__).resolve().parent.parent
PATH_TASK = "tests.custom_task:make_logreg"
SMALL = {**{k: v for k, v in TINY.items() if not k.startswith(("tasks.", "run."))},
         "run.generations": 2, "run.population": 4, "run.tournament": 2, "tasks.held_out": []}


def logreg(name: str = "my_logreg") -> tasks.Task:
    return tasks.make_task(name, logreg_loss, logreg_init, logreg_data(), batch_size=32)


def fresh_process(*argv: str) -> subprocess.CompletedProcess:
    """``discovery ARGV`` in a new Python process (nothing registered there)."""
    return subprocess.run([sys.executable, "-m", "discovery.cli", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})


# -- tasks from a loss ---------------------------------------------------------------------


def test_a_task_from_a_loss_trains_like_any_other():
    task = logreg()
    assert task.kind == "custom" and tasks.n_params(task) == 9
    params = task.init(jax.random.key(0), task.train_data)
    batch = task.sample_batch(task.train_data, jax.random.key(1))
    assert jax.tree.leaves(batch)[0].shape[0] == 32
    assert float(task.metrics(params, task.test_data)["test_loss"]) == pytest.approx(
        float(logreg_loss(params, task.train_data)))  # no test data: scored on the training data


def test_flax_and_equinox_style_params_fit_without_adapters():
    """Flax keeps params as nested dicts ``{"params": {"Dense_0": {"kernel", "bias"}}}`` and applies
    them with ``model.apply``; an Equinox module is split into arrays and the rest, the loss
    recombining them. Both are plain pytrees of float32 arrays."""
    data = logreg_data()

    def apply(variables, x):  # what flax.linen.Dense(1).apply computes
        dense = variables["params"]["Dense_0"]
        return (x @ dense["kernel"] + dense["bias"])[:, 0]

    flax_like = tasks.make_task(
        "flax_like", lambda v, b: jnp.mean(jnp.logaddexp(0.0, -b["y"] * apply(v, b["x"]))),
        lambda key: {"params": {"Dense_0": {"kernel": jax.random.normal(key, (8, 1)) * 0.1,
                                            "bias": jnp.zeros(1)}}}, data)
    static = {"activation": jnp.tanh}  # what eqx.partition leaves out: not arrays

    def eqx_loss(arrays, batch):
        model = {**arrays, **static}  # eqx.combine(arrays, static)
        return jnp.mean(jnp.square(model["activation"](batch["x"] @ model["w"]) - batch["y"]))

    equinox_like = tasks.make_task("equinox_like", eqx_loss, {"w": np.zeros(8, np.float32)}, data, batch_size=16)
    for task in (flax_like, equinox_like):
        result = discovery.training.trainer.train(optax.adam, task, [1e-2], [0], 20, path="native")
        assert result.final_loss[0, 0] < result.initial_loss[0, 0]


@pytest.mark.parametrize("make, message", [
    (lambda: tasks.make_task("t", lambda p, b: b["x"] @ p["w"], logreg_init, logreg_data()),
     r"loss is float32\[128\], expected a float32 scalar"),
    (lambda: tasks.make_task("t", lambda p, b: jnp.log(-jnp.sum(p["w"] ** 2)), logreg_init, logreg_data()),
     "the loss at init is nan"),
    (lambda: tasks.make_task("t", logreg_loss, {"w": jnp.zeros(8, jnp.int32), "b": jnp.zeros(())},
                             logreg_data()), r"parameter \['w'\] is int32, expected a float32 array"),
    (lambda: tasks.make_task("t", lambda p, b: float(p["w"][0]), logreg_init, logreg_data()),
     "cannot be traced by jax.jit"),
    (lambda: tasks.make_task("t", logreg_loss, logreg_init, logreg_data(), batch_size=1000),
     r"batch_size must be an integer in \[1, 128\]"),
    (lambda: tasks.make_task("t", logreg_loss, logreg_init, {"x": np.zeros((4, 2)), "y": np.zeros(3)},
                             batch_size=2), r"share its first \(example\) axis; found first axes \[3, 4\]"),
    (lambda: tasks.make_task("no spaces", logreg_loss, logreg_init, logreg_data()), "task name 'no spaces'"),
    (lambda: tasks.register(logreg("mf_k4")), "taken by a built-in task"),
    (lambda: tasks.get("tests.no_such_module:make"), "module 'tests.no_such_module' cannot be imported"),
    (lambda: tasks.get("tests.custom_task:nothing"), "has no function 'nothing'"),
    (lambda: tasks.get("tests.custom_task:not_a_task"), "returned int, expected a Task"),
    (lambda: tasks.get("my_logreg_typo"), "register it .* or name it by import path"),
])
def test_a_bad_task_is_one_clear_error(make, message):
    with pytest.raises(ValueError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_tasks_by_import_path_are_named_by_it_and_built_once():
    task = tasks.get(PATH_TASK)
    assert task.name == PATH_TASK and task is tasks.get(PATH_TASK)
    assert config.load(**{"tasks.search": [PATH_TASK, "mf_k4"]}).tasks.search == (PATH_TASK, "mf_k4")
    with pytest.raises(ValueError, match=r"\[tasks\] search .* import paths"):
        config.load(**{"tasks.search": ["not a task"]})


# -- the notebook API, a run folder usable anywhere ----------------------------------------------


@pytest.fixture(scope="module")
def registered_run(tmp_path_factory):
    """A search on a task registered in this process only."""
    return discovery.search([logreg()], generations=2, population=4, seed=0, progress=False,
                            out=tmp_path_factory.mktemp("custom"), name="mine", settings=SMALL)


def test_search_returns_the_run_and_what_a_notebook_needs(registered_run, tmp_path):
    run = registered_run
    assert run.summary is not None and run.config.tasks.search == ("my_logreg",)
    assert isinstance(run, discovery.Run) and discovery.load_run(run.path).hall_of_fame == run.hall_of_fame
    assert "my_logreg" in run.table() and run.table("csv").startswith("rank,")
    optimizer = run.to_optax(1)
    params = {"w": jnp.ones(3)}
    updates, _ = optimizer.update(params, optimizer.init(params), params)
    assert np.all(np.isfinite(updates["w"]))
    written = run.export(1, tmp_path / "mine.py")
    assert f"learning_rate: optax.ScalarOrSchedule = {run.candidate(1).recommended_lr!r}," in written.read_text()
    assert run.export(1, fmt="text").decode().count("return") == 1
    with pytest.raises(ValueError, match="wrap it in a list"):
        discovery.search(logreg(), progress=False)


def test_a_run_on_a_registered_task_is_inspected_and_exported_in_a_fresh_process(registered_run, tmp_path):
    inspect = fresh_process("inspect", str(registered_run.path))
    assert inspect.returncode == 0 and "rank" in inspect.stdout, inspect.stderr
    export = fresh_process("export", str(registered_run.path), "-o", str(tmp_path / "opt.py"))
    assert export.returncode == 0 and (tmp_path / "opt.py").exists(), export.stderr
    resume = fresh_process("run", "--resume", str(registered_run.path), "--generations", "3")
    assert resume.returncode == 2 and resume.stderr.count("\n") == 1
    assert "unknown task 'my_logreg'; a task of your own: register it" in resume.stderr


def test_a_run_on_an_import_path_task_resumes_in_a_fresh_process(tmp_path):
    cfg = config.load(**{**SMALL, "tasks.search": [PATH_TASK], "run.name": "bypath"})
    partial = runs.run(cfg, out=tmp_path, progress=False, stop_after=1)
    resumed = fresh_process("run", "--resume", str(partial.path))
    assert resumed.returncode == 0, resumed.stderr
    done = discovery.load_run(partial.path)
    assert done.summary is not None and done.generation == 2
    assert PATH_TASK in done.candidate(1).tasks


# -- runs that grow --------------------------------------------------------------------------


def test_extending_a_finished_run_equals_launching_it_longer(tmp_path, capsys):
    cfg = config.load(**{**SMALL, "tasks.search": ["quadratic_ill"], "run.generations": 2})
    short = runs.run(cfg, out=tmp_path / "a", progress=False)
    summary = (short.path / "summary.json").read_bytes()
    assert cli.main(["run", "--resume", str(short.path)]) == 0
    assert "is complete (2 generations): nothing changed" in capsys.readouterr().out
    assert (short.path / "summary.json").read_bytes() == summary
    extended = discovery.run(resume=short.path, generations=3, progress=False)
    direct = runs.run(cfg.replace(**{"run.generations": 3}), out=tmp_path / "b", progress=False)
    assert [(c.fingerprint, c.fitness, c.id) for c in extended.hall_of_fame] == [
        (c.fingerprint, c.fitness, c.id) for c in direct.hall_of_fame]
    assert extended.logbook == [dataclasses.replace(r, **{k: getattr(e, k) for k in TIMINGS})
                                for r, e in zip(direct.logbook, extended.logbook)]
    assert json.loads((short.path / "history" / "summary-g2.json").read_bytes()) == json.loads(summary)
    assert extended.config.run.generations == 3
    with open(extended.path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["gen"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["hall_of_fame_best"]) == min(float(r["best"]) for r in rows) <= float(rows[-1]["median"])
    assert cli.main(["run", "--resume", str(short.path), "--generations", "1"]) == 0  # shorter: unchanged
    assert "nothing changed" in capsys.readouterr().out


# -- the CLI ---------------------------------------------------------------------------------


def test_every_option_of_every_command_has_help_and_the_top_level_lists_every_command():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    top = parser.format_help()
    for name, command in sub.choices.items():
        assert name in top
        for action in command._actions:
            assert action.help, f"discovery {name} {action.option_strings or action.dest} has no help"
    assert "(default: runs)" in " ".join(sub.choices["run"].format_help().split())


def test_set_reads_toml_values_and_bare_strings():
    assert parse_setting("protocol.steps=200") == ("protocol.steps", 200)
    assert parse_setting("protocol.learning_rates=[1e-3, 0.1]") == ("protocol.learning_rates", [1e-3, 0.1])
    assert parse_setting("tasks.size=default") == ("tasks.size", "default")
    assert parse_setting("evaluation.batch=true") == ("evaluation.batch", True)


@pytest.mark.parametrize("argv, message", [
    (["--set", "protocol.steps"], "expected SECTION.KEY=VALUE"),
    (["--set", "protocol.nope=3"], "unknown key 'nope' in \\[protocol\\]"),
    (["--set", "protocol.steps=-1"], "\\[protocol\\] steps = -1 is invalid"),
    (["--steps", "0"], "\\[protocol\\] steps = 0 is invalid"),
    (["--tasks", "mf_k4,no_such_task"], "\\[tasks\\] search"),
    (["--resume", "x", "--steps", "3"], "only --generations may change it"),
])
def test_run_options_are_validated_like_the_config(argv, message, capsys, tmp_path):
    assert cli.main(["run", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err
    assert not any(tmp_path.iterdir())  # no run folder for a bad config


def test_run_options_reach_the_config(tmp_path, capsys):
    argv = ["run", "--out", str(tmp_path), "--tasks", "quadratic_ill", "--held-out", "", "--steps", "20",
            "--size", "small", "--generations", "1", "--population", "4",
            *[f"--set={k}={json.dumps(v)}" for k, v in SMALL.items() if k.startswith(("protocol.learning", "protocol.seeds",
                                                                                      "evaluation."))],
            "--set", "run.tournament=2"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    cfg = discovery.load_run(next(tmp_path.iterdir())).config
    assert (cfg.tasks.search, cfg.tasks.held_out, cfg.protocol.steps, cfg.run.generations,
            cfg.run.tournament, cfg.evaluation.hall_of_fame) == (("quadratic_ill",), (), 20, 1, 2, 4)
