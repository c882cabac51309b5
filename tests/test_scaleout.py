"""Scale-out: the lr grid over several local devices, and runs on a local Ray cluster.

Ray runs must equal in-process runs (same config and seed: same hall of fame,
population and logbook), survive a worker killed mid-generation, resume from
checkpoints, and fail clearly, before evaluating anything, on an unreachable cluster.
"""

import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import dsl
from discovery import cli, config, runs, tasks
from discovery.evaluation import backends
from discovery.training import scoring, trainer
from tests.test_runs import outcome

ROOT = Path(__file__).parents[1]
LRS = (1e-3, 1e-2, 1e-1)  # odd: two devices need one padding lr
SEEDS = (0, 1)
STEPS = 30

MULTI_DEVICE_SCRIPT = """
import json, sys, jax, dsl
from discovery import tasks
from discovery.training import trainer
lrs, seeds, steps = json.loads(sys.argv[1])
out = {"devices": jax.local_device_count(), "results": {}}
for name, path in (("quadratic_ill", "interpreter"), ("mf_k4", "native")):
    r = trainer.train(dsl.library.get("adam"), tasks.get(name, "small"), lrs, seeds, steps, path=path)
    out["results"][name + "/" + path] = [r.final_loss.tolist(), r.curves.tolist()]
with dsl.count_compilations() as compiles:
    trainer.train(dsl.library.get("lion"), tasks.get("quadratic_ill", "small"), lrs, seeds, steps)
out["compiles_for_a_new_rule"] = compiles.count
print(json.dumps(out))
"""


def test_two_devices_give_the_scores_of_one():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", MULTI_DEVICE_SCRIPT, json.dumps([LRS, SEEDS, STEPS])],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    sharded = json.loads(proc.stdout.splitlines()[-1])
    assert sharded["devices"] == 2 and sharded["compiles_for_a_new_rule"] == 0
    for key, (final, curves) in sharded["results"].items():
        name, path = key.split("/")
        one = trainer.train(dsl.library.get("adam"), tasks.get(name, "small"), LRS, SEEDS, STEPS, path=path)
        assert np.asarray(curves).shape == one.curves.shape == (3, 2, STEPS)
        np.testing.assert_allclose(final, one.final_loss, rtol=1e-6)
        np.testing.assert_allclose(curves, one.curves, rtol=1e-6)
        two = dataclasses.replace(one, final_loss=np.asarray(final))
        assert scoring.score(two).tuned == pytest.approx(scoring.score(one).tuned, rel=1e-6)


SMALL = {"tasks.search": ["quadratic_ill"], "tasks.held_out": [], "run.generations": 3,
         "run.population": 6, "run.tournament": 3, "protocol.learning_rates": list(LRS),
         "protocol.seeds": [0], "protocol.steps": STEPS, "evaluation.path": "interpreter"}


def small(**extra):
    return config.load(**{**SMALL, **extra})


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    with warnings.catch_warnings():  # Ray's Popen forks then execs at once: nothing of JAX runs in the child
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    return runs.run(small(), out=tmp_path_factory.mktemp("inprocess"), progress=False)


def test_ray_run_equals_in_process_run_even_when_a_worker_dies(local_ray, in_process, tmp_path, monkeypatch):
    submit, used = backends.RayBackend._submit, []

    def submit_then_kill_once(self, actor, chunk):
        ref = submit(self, actor, chunk)
        used.append(self)
        if len(used) == 3:  # a chunk of the second generation, while it is in flight
            local_ray.kill(actor)
        return ref

    monkeypatch.setattr(backends.RayBackend, "_submit", submit_then_kill_once)
    result = runs.run(small(**{"evaluation.backend": "ray"}), out=tmp_path, progress=False)
    assert used[0].replaced >= 1 and len(used) > 3
    assert outcome(result) == outcome(in_process)
    assert result.hall_of_fame[0].fitness <= 0.0  # Adam's own score is 0


def test_ray_run_interrupted_then_resumed_equals_in_process_run(local_ray, in_process, tmp_path):
    partial = runs.run(small(**{"evaluation.backend": "ray"}), out=tmp_path, progress=False, stop_after=1)
    assert partial.generation == 1 and partial.summary is None
    resumed = runs.run(resume=partial.path, progress=False)
    assert outcome(resumed) == outcome(in_process)
    assert resumed.summary.status == "complete"


def test_unreachable_cluster_fails_before_anything_is_evaluated(local_ray, tmp_path, capsys):
    cfg = small(**{"evaluation.backend": "ray", "evaluation.address": "127.0.0.1:1"})
    with pytest.raises(backends.ClusterUnreachableError, match="127.0.0.1:1"):
        runs.run(cfg, out=tmp_path / "api", progress=False)
    assert not list((tmp_path / "api").glob("*/checkpoint.msgpack"))

    cfg_file = tmp_path / "run.toml"
    cfg_file.write_text(config.dumps(small()))
    argv = ["run", str(cfg_file), "--out", str(tmp_path / "cli"), "--backend", "ray"]
    assert cli.main([*argv, "--address", "127.0.0.1:1"]) == 2
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in capsys.readouterr().err
    assert cli.main([*argv[:-2], "--address", "127.0.0.1:1"]) == 2
    assert "needs backend = 'ray'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"evaluation.backend": "dask"}, r"\[evaluation\] backend = 'dask' is invalid: expected one of"),
        ({"evaluation.address": "auto"}, r"\[evaluation\] address = 'auto' needs backend = 'ray'"),
        ({"evaluation.backend": "ray", "evaluation.address": "head-node"}, "'auto' or HOST:PORT"),
        ({"evaluation.backend": "ray", "evaluation.address": 6379}, r"\[evaluation\] address = 6379"),
    ],
)
def test_bad_backend_settings_are_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        config.load(**overrides)
