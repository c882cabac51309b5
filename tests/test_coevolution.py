"""Co-evolution of architectures and rules."""

import random

import msgpack
import pytest

import dsl
from discovery import config, runs
from discovery.evolution import architectures
from discovery.records import decode_candidate, encode_candidate
from discovery.tasks import Architecture, from_architecture, n_params

COEVO = {
    "run.generations": 2,
    "run.population": 4,
    "run.tournament": 2,
    "tasks.search": ["mf_k4"],
    "tasks.held_out": [],
    "protocol.learning_rates": [1e-3, 1e-2],
    "protocol.seeds": [0],
    "protocol.steps": 20,
    "evaluation.path": "interpreter",
    "coevolution.start_architectures": "varied",
    "coevolution.param_budget": 3000,
}


def test_architecture_variation_respects_the_budget_and_is_deterministic():
    rng = random.Random(0)
    arch = architectures.random_architecture(rng, 3000)
    seen, shapes = set(), set()
    for _ in range(200):
        arch, what = architectures.mutate(arch, rng, 3000)
        assert arch.n_params() <= 3000 and what.startswith("arch")
        seen.add(arch.key())
        shapes.add(arch.shape(3000))
    assert len(seen) > 20
    assert shapes <= set(architectures.shapes(3000)) and len(architectures.shapes(3000)) == 4
    a, b = Architecture(depth=1, width=8), Architecture(depth=3, width=16, activation="tanh")
    child, _ = architectures.crossover(a, b, random.Random(1), 10_000)
    assert all(getattr(child, f) in (getattr(a, f), getattr(b, f)) for f in ("depth", "width", "activation"))
    run1 = [architectures.mutate(a, random.Random(5), 10_000) for _ in range(3)]
    run2 = [architectures.mutate(a, random.Random(5), 10_000) for _ in range(3)]
    assert run1 == run2


def test_parameter_count_matches_the_built_task():
    for arch in (Architecture(), Architecture(depth=0), Architecture(depth=3, width=16, norm="layernorm")):
        assert arch.n_params() == n_params(from_architecture(arch))


def test_pairs_travel_as_plain_data():
    rule, arch = dsl.library.get("lion"), Architecture(depth=1, width=16)
    raw = encode_candidate(rule, arch)
    assert msgpack.unpackb(raw)["format"] == "candidate-pair"
    assert decode_candidate(raw) == (rule, arch)
    assert decode_candidate(encode_candidate(rule, None)) == (rule, None)


@pytest.fixture(scope="module")
def joint_run(tmp_path_factory):
    cfg = config.load(**{**COEVO, "coevolution.mode": "joint", "run.warm_start": ["adam", "signum"],
                         "coevolution.start_architectures": "default", "run.population": 3,
                         "coevolution.param_budget": 8000})
    return runs.run(cfg, out=tmp_path_factory.mktemp("joint"), progress=False), cfg


def test_joint_run_evolves_pairs_and_can_resume(joint_run, tmp_path):
    result, cfg = joint_run
    assert all(r.architecture for r in result.population)
    for c in result.population:  # warm starts keep their names, varied rules are named for themselves
        assert c.rule.name in ("adam", "signum") or c.rule.name == f"evolved_{c.key[:8]}"
    shapes = {c.architecture.shape(8000) for c in result.population + result.hall_of_fame}
    assert len(shapes) <= result.logbook[-1].compiled_shapes <= len(architectures.shapes(8000))
    best = result.hall_of_fame[0]
    assert best.tasks["architecture"].accuracy >= 0 and best.tasks["architecture"].test_loss > 0
    assert best.architecture.n_params() <= 8000
    assert "test loss" in runs.report(result)
    partial = runs.run(cfg, out=tmp_path, progress=False, stop_after=1)
    resumed = runs.run(resume=partial.path, progress=False)
    key = lambda run: [(r.fingerprint, r.fitness) for r in run.hall_of_fame]
    assert key(resumed) == key(result)


def test_architectures_mode_keeps_the_rule_fixed(tmp_path):
    cfg = config.load(**{**COEVO, "coevolution.mode": "architectures", "coevolution.fixed_rule": "momentum",
                         "run.population": 2, "run.generations": 1, "protocol.scale_free": False})
    result = runs.run(cfg, out=tmp_path, progress=False)
    assert {r.rule.name for r in result.population} == {"momentum"}
    archs = {r.architecture.key() for r in result.population}
    assert len(archs) > 1


def test_bad_coevolution_config():
    with pytest.raises(ValueError, match="coevolution"):
        config.load(**{"coevolution.mode": "everything"})
    with pytest.raises(ValueError, match="param_budget"):
        config.load(**{"coevolution.param_budget": 10})
    with pytest.raises(ValueError, match="below the default architecture"):
        config.load(**{"coevolution.mode": "joint", "coevolution.param_budget": 5000})


def test_inspect_shows_the_architecture_of_each_entry(joint_run, capsys):
    from discovery import cli
    from discovery.analysis import inspection

    result, _ = joint_run
    rows = inspection.table(result)
    assert all(row.architecture for row in rows)
    assert cli.main(["inspect", str(result.path)]) == 0
    out = capsys.readouterr().out
    assert "co-evolution" in out and f"[{rows[0].architecture}]" in out
    assert cli.main(["inspect", str(result.path), "--rule", "1"]) == 0
    assert f"architecture: {rows[0].architecture}" in capsys.readouterr().out
