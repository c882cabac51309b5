"""Architecture families by name: the token-model family as data (numbers equal a direct build,
non-shape genes compile nothing, shapes bounded), records that name their family, the config and
the hypothesis experiment taking the family, and the tasks where the optimizer matters."""

import dataclasses
import json
import random

import jax
import numpy as np
import pytest

import dsl
from discovery import cli, config, tasks
from discovery.evolution import architectures
from discovery.experiments import adam_hypothesis as hx
from discovery.records import Candidate, decode_candidate, encode_candidate
from discovery.tasks.token_family import (
    START_SPREAD,
    GradientSpreadArchitecture,
    LabelNoiseArchitecture,
    TokenArchitecture,
)
from discovery.training import scoring, trainer, tuning
from tests.per_token_build import reference_token_task
from tests.test_architecture_data import sgd_run

TOKENS = tasks.family("token_model")
BUDGET = 3000  # width 16 fits one block (attention only, tied): every width-16 architecture trains in 1 slot
STEPS = 8
LRS = (1e-2, 1e-1)


def random_token_architecture(rng: random.Random, **fixed) -> TokenArchitecture:
    """A random width-16 architecture of depth <= 1 (the genes in ``fixed`` set)."""
    while True:
        arch = dataclasses.replace(TokenArchitecture.random(rng), width=16, depth=rng.randint(0, 1))
        try:
            return dataclasses.replace(arch, **fixed)
        except ValueError:  # a block without attention or MLP: draw again
            continue


def test_token_family_losses_equal_the_per_architecture_build():
    rng = random.Random(0)
    archs = [random_token_architecture(rng, depth=1, attention=True, mlp=True, norm="layernorm", placement="post"),
             random_token_architecture(rng, depth=1, norm="rmsnorm", placement="pre", tied=True, head_bias=True),
             random_token_architecture(rng, depth=0, norm="none")]
    assert {a.shape(BUDGET) for a in archs} == {(1, 16)}
    for arch in archs:
        ours, ref = TOKENS.build(arch, "small", BUDGET), reference_token_task(arch)
        (curve, metrics), (ref_curve, ref_metrics) = sgd_run(ours), sgd_run(ref)
        assert np.isfinite(curve).all(), arch.summary()
        np.testing.assert_allclose(curve, ref_curve, rtol=2e-5, err_msg=arch.summary())
        np.testing.assert_allclose(metrics["test_loss"], ref_metrics["test_loss"], rtol=2e-5)
        assert tasks.n_params(ours) == tasks.n_params(ref) == arch.n_params()


@pytest.mark.parametrize("gene", ["depth-1", "attention", "heads up", "mlp", "norm", "placement",
                                  "residual", "embed_scale", "attn_scale", "mlp_scale", "head_scale", "tied",
                                  "head_bias"])
def test_editing_a_token_gene_that_is_not_a_shape_compiles_nothing(gene):
    protocol, lion = scoring.Protocol(LRS, (0,), STEPS), dsl.library.get("lion")
    parent = TokenArchitecture(width=16, depth=1, heads=1, norm="layernorm")
    tuning.tune(lion, TOKENS.build(parent, "small", BUDGET), protocol)
    child = next(c for what, c in TOKENS.edits(parent, random.Random(1)) if what == gene)
    assert child.shape(BUDGET) == parent.shape(BUDGET) and child != parent
    with dsl.count_compilations() as compiles:
        tuning.tune(lion, TOKENS.build(child, "small", BUDGET), protocol)
    assert compiles.count == 0, gene


def test_token_shapes_are_bounded_and_mutation_stays_within_them():
    assert TOKENS.shapes(20_000) == [(0, 64), (3, 16), (3, 32)]
    assert TOKENS.shapes(BUDGET) == [(0, 32), (1, 16)]
    rng = random.Random(2)
    arch = architectures.random_architecture(rng, 20_000, "token_model")
    seen = set()
    for _ in range(300):
        arch, what = architectures.mutate(arch, rng, 20_000)
        assert arch.n_params() <= 20_000 and what.startswith("arch")
        seen.add(arch.shape(20_000))
    assert seen <= set(TOKENS.shapes(20_000))
    a, b = TokenArchitecture(width=16, tied=True), TokenArchitecture(width=32, norm="rmsnorm", depth=0)
    child, _ = architectures.crossover(a, b, random.Random(1), 20_000)
    assert all(getattr(child, f) in (getattr(a, f), getattr(b, f)) for f in ("width", "tied", "norm", "depth"))
    # Parents whose mixtures can break a rule between genes (a block with neither sub-block).
    a, b = TokenArchitecture(attention=False, mlp=True), TokenArchitecture(attention=True, mlp=False)
    children = {architectures.crossover(a, b, random.Random(seed), 20_000)[0] for seed in range(40)}
    assert all(c.attention or c.mlp for c in children) and len(children) == 3


def test_token_genes_are_validated_plain_data():
    arch = TokenArchitecture(width=64, depth=0, heads=4, norm="rmsnorm", embed_scale=0.5, tied=True)
    assert TokenArchitecture.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch
    assert TokenArchitecture.from_dict({"width": 16}) == TokenArchitecture(width=16)
    for bad in ({"width": 48}, {"depth": 4}, {"norm": "batchnorm"}, {"tied": 1}, {"head_scale": 0.0},
                {"embed_scale": float("nan")}, {"depth": 1, "attention": False, "mlp": False}, {"widht": 16}):
        with pytest.raises(ValueError, match="TokenArchitecture"):
            TokenArchitecture.from_dict(bad)
    assert arch.key() != TokenArchitecture(width=64, depth=0, heads=4, norm="rmsnorm", tied=True).key()


def test_records_carry_their_family_and_old_records_load_as_mlp():
    lion, token_arch, mlp_arch = dsl.library.get("lion"), TokenArchitecture(width=16), tasks.Architecture(depth=1)
    assert decode_candidate(encode_candidate(lion, token_arch)) == (lion, token_arch)
    assert decode_candidate(encode_candidate(lion, mlp_arch)) == (lion, mlp_arch)
    assert tasks.architecture_record(token_arch)["family"] == "token_model"
    assert tasks.architecture_from_record(mlp_arch.to_dict()) == mlp_arch  # written before families existed
    with pytest.raises(ValueError, match="unknown architecture family"):
        tasks.architecture_from_record({"family": "nope", "width": 16})
    evaluation = {"fitness": 0.1, "tasks": {}, "hurdle_failed": False, "seconds": 0.0}
    stored = {"id": 1, "generation": 0, "rule": dsl.to_dict(lion), "architecture": mlp_arch.to_dict(),
              "simplified": dsl.to_dict(lion), "text": "", "complexity": 1, "fingerprint": "f", "key": "k",
              "parents": [], "origin": "mutation", "mutation": "", "cached": False, **evaluation}
    assert Candidate.from_dict(stored).architecture == mlp_arch
    again = Candidate.from_dict({**stored, "architecture": tasks.architecture_record(token_arch)})
    assert again.architecture == token_arch and again.to_dict()["architecture"]["family"] == "token_model"


def test_config_takes_the_family_by_name_or_import_path():
    assert config.Config().coevolution.family == "mlp"
    cfg = config.load(**{"coevolution.mode": "joint", "coevolution.family": "token_model"})
    assert cfg.coevolution.architecture_family is TOKENS
    assert config.loads(config.dumps(cfg)) == cfg
    with pytest.raises(ValueError, match="family"):
        config.load(**{"coevolution.family": "resnet"})
    with pytest.raises(ValueError, match="below the default architecture's 16992 parameters"):
        config.load(**{"coevolution.mode": "joint", "coevolution.family": "token_model",
                       "coevolution.param_budget": 10_000})
    with config.reading_stored():  # a run of a family registered elsewhere can still be read
        assert config.load(**{"coevolution.family": "someones_family"}).coevolution.family == "someones_family"
    example = tasks.family("tests.example_family:FAMILY")
    assert example.name == "tests.example_family:FAMILY"
    genes = example.random(random.Random(0))
    assert tasks.architecture_from_record(tasks.architecture_record(genes)) == genes
    assert architectures.mutate(genes, random.Random(0), 10_000)[0] != genes


def test_a_family_registered_by_a_researcher_runs_in_coevolution(tmp_path):
    from discovery import runs
    from tests.example_family import FAMILY

    tasks.register_family(dataclasses.replace(FAMILY, name="example"))
    with pytest.raises(ValueError, match="taken"):
        tasks.register_family(dataclasses.replace(FAMILY, name="mlp"))
    cfg = config.load(**{"coevolution.mode": "architectures", "coevolution.family": "example",
                         "coevolution.start_architectures": "varied", "coevolution.param_budget": 3000,
                         "run.population": 2, "run.generations": 2, "run.tournament": 2,
                         "protocol.learning_rates": [1e-2, 1e-1], "protocol.seeds": [0], "protocol.steps": 8,
                         "tasks.search": ["mf_k4"], "tasks.held_out": []})
    result = runs.run(cfg, out=tmp_path, progress=False)
    assert {type(c.architecture) for c in result.population} == {FAMILY.genes}
    loaded = runs.load_run(result.path)
    assert [c.architecture for c in loaded.hall_of_fame] == [c.architecture for c in result.hall_of_fame]


def test_the_hypothesis_experiment_takes_the_family_everywhere(tmp_path, capsys):
    tiny = dataclasses.replace(hx.EXPERIMENT_PRESETS["quick"], param_budget=20_000)
    experiment = hx.Experiment(tmp_path / "h", tiny, progress=False, family="token_model")
    for arm in experiment.arms():
        assert experiment.config(arm.name, 0, **dict(arm.overrides)).coevolution.family == "token_model", arm.name
    assert [d.family for d in experiment.designs()] == [None, tasks.control_family("token_model", "positive"),
                                                        tasks.control_family("token_model", "negative")]
    assert json.loads((tmp_path / "h" / "experiment.json").read_text())["config"]["family"] == "token_model"
    with pytest.raises(ValueError, match="holds another experiment"):
        hx.Experiment(tmp_path / "h", tiny, progress=False, family="mlp")  # the MLP family on the token family's folder
    mlp = hx.Experiment(tmp_path / "mlp", "quick", progress=False, family="mlp")  # the one design, no controls
    assert mlp.preset == dataclasses.replace(hx.EXPERIMENT_PRESETS["quick"], family="mlp") and len(mlp.designs()) == 1
    assert cli.main(["hypothesis", "--family", "resnet", "--out", str(tmp_path / "x")]) == 2
    assert "unknown architecture family 'resnet'" in capsys.readouterr().err


# --- tasks where the optimizer matters ---------------------------------------------------------


@pytest.mark.parametrize("name", ["zipf_softmax", "zipf_mlp", "zipf_tokens", "block_quadratic"])
def test_new_tasks_are_deterministic_per_seed_with_a_finite_initial_loss(name):
    a, b, other = tasks.get(name), tasks.get(name), tasks.get(name, seed=1)
    for x, y in zip(jax.tree.leaves(a.train_data), jax.tree.leaves(b.train_data)):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a.train_data),
                                                        jax.tree.leaves(other.train_data)))
    params = jax.jit(a.init)(jax.random.key(0), a.train_data)  # compiled: op by op is slower here
    initial = float(jax.jit(a.loss)(params, a.train_data))
    assert np.isfinite(initial) and initial > 0.1
    if name != "block_quadratic":  # KL from the truth: >= 0, and the truth scores 0
        assert float(jax.jit(a.metrics)(params, a.test_data)["test_loss"]) > 0.1


def test_kl_tasks_score_zero_only_at_the_truth():
    task = tasks.get("zipf_softmax")
    truth = task.train_data["log_p"]
    from discovery.tasks.classification import kl_from_truth

    assert float(kl_from_truth(truth, truth)) == pytest.approx(0.0, abs=1e-6)
    assert float(kl_from_truth(jax.nn.log_softmax(0.9 * truth), truth)) > 0.0  # any other distribution


def test_adam_beats_sgd_on_the_zipf_task_at_a_small_fixed_budget():
    """Heavy-tailed classes: gradient descent is slow on the rare ones, Adam is not (Kunstner et
    al. 2024). Documented: Adam ahead of SGD on ``zipf_softmax`` (docs/baselines.md); at this
    small budget (100 full-batch steps, lr swept over half decades) by more than a decade."""
    task = tasks.get("zipf_softmax")
    lrs = list(10.0 ** np.arange(-3, 2.01, 0.5))
    best = {name: float(np.min(trainer.train(dsl.library.get(name), task, lrs, [0], 100).value))
            for name in ("adam", "sgd")}
    assert np.log10(best["sgd"] / best["adam"]) > 0.3, best


def test_the_controls_genes_do_what_the_hypothesis_experiment_plants():
    """Positive control: a per-channel gradient factor exp(sigma z_c) leaves Adam's training
    unchanged (a fixed diagonal rescaling of the gradient; up to eps) and moves SGD's. Negative
    control: label noise raises the loss of every optimizer. Every start of the positive control
    sits at sigma = START_SPREAD, where SGD-type methods are hurt."""
    def final(name: str, arch) -> float:  # at lr 1e-2, trained as the gene-edit checks train (one compilation)
        task = tasks.family(arch.FAMILY).build(arch, "small", BUDGET)
        return float(trainer.train(dsl.library.get(name), task, LRS, [0], STEPS).value[LRS.index(1e-2), 0])

    base = dict(width=16, depth=0, tied=True)
    flat, spread = GradientSpreadArchitecture(**base), GradientSpreadArchitecture(**base, gradient_spread=2.0)
    assert final("adam", spread) == pytest.approx(final("adam", flat), rel=1e-3)
    assert abs(final("sgd", spread) / final("sgd", flat) - 1) > 0.01
    clean, noisy = LabelNoiseArchitecture(**base), LabelNoiseArchitecture(**base, label_noise=0.4)
    assert all(final(name, noisy) > final(name, clean) for name in ("adam", "sgd"))
    starts = {tasks.family("token_model_gradient_spread").random(random.Random(s)) for s in range(5)}
    assert {a.gradient_spread for a in starts} == {START_SPREAD} and len(starts) == 5
