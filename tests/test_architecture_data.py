"""Architectures as data: only the network's shape (slots, width) compiles; numbers equal a
per-architecture build."""

import dataclasses
import math
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dsl
from discovery import tasks
from discovery.evolution import architectures
from discovery.tasks.architecture import DATA_SIZES, make_mlp_family
from discovery.tasks.mlp import ACTIVATIONS
from discovery.training import scoring, trainer, tuning
from tests.per_architecture_build import reference_task

BUDGET = 700  # width 8 fits 4 hidden layers: every architecture of width 8 trains in 4 slots
STEPS = 8
LRS = [1e-2, 1e-1]


def random_architecture(rng: random.Random, depth: int, norm: str, residual: bool) -> tasks.Architecture:
    """Width 8, random activation and scales."""
    return tasks.Architecture(depth=depth, width=8, activation=rng.choice(sorted(ACTIVATIONS)), norm=norm,
                              residual=residual, init_scale=round(math.exp(rng.gauss(0, 0.5)), 3),
                              output_scale=round(math.exp(rng.gauss(0, 0.5)), 3))


def sgd_run(task: tasks.Task):
    """Minibatch losses of STEPS SGD steps from the seed-0 init and the held-out metrics after them
    (compiled once per ``task.compile_key``)."""

    def build():
        def run(train_data, test_data):
            def step(params, i):
                batch = task.sample_batch(train_data, jax.random.key(i))
                loss, grads = jax.value_and_grad(task.loss)(params, batch)
                return jax.tree.map(lambda p, g: p - 0.1 * g, params, grads), loss

            final, curve = jax.lax.scan(step, task.init(jax.random.key(0), train_data), jnp.arange(STEPS))
            return curve, task.metrics(final, test_data)

        return run

    return trainer.compiled(("sgd test", task.compile_key), build)(task.train_data, task.test_data)


def test_losses_equal_the_per_architecture_build():
    rng = random.Random(0)
    archs = [random_architecture(rng, 2, "layernorm", True), random_architecture(rng, 3, "none", False),
             random_architecture(rng, 1, "none", True)]
    assert {a.shape(BUDGET) for a in archs} == {(4, 8)}
    for arch in archs:
        ours, ref = tasks.from_architecture(arch, budget=BUDGET), reference_task(arch)
        (curve, metrics), (ref_curve, ref_metrics) = sgd_run(ours), sgd_run(ref)
        np.testing.assert_allclose(curve, ref_curve, rtol=1e-5, err_msg=arch.summary())
        np.testing.assert_allclose(metrics["test_loss"], ref_metrics["test_loss"], rtol=1e-5)
        assert metrics["accuracy"] == ref_metrics["accuracy"]
        assert tasks.n_params(ours) == tasks.n_params(ref) == arch.n_params()


def test_step_sizes_see_only_the_parameters_the_loss_reads():
    arch = tasks.Architecture(depth=2, width=8, activation="tanh")  # two slots skipped, LayerNorm off
    _, params = tuning.initial_gradients(tasks.from_architecture(arch, budget=BUDGET))
    ref = reference_task(arch)
    assert [p.shape for p in params] == [p.shape for p in jax.tree.leaves(
        jax.eval_shape(ref.init, jax.random.key(0), ref.train_data))]


def test_unused_parameters_cannot_reach_the_loss():
    """``g / abs(g)`` is ``sign(g)`` except at g = 0, where it is NaN: on the parameters the
    architecture does not use (gradient exactly 0) and nowhere else (tanh units are never flat)."""
    task = tasks.from_architecture(tasks.Architecture(depth=1, width=8, activation="tanh"), budget=BUDGET)
    nan_at_zero = dsl.parse("def nan_at_zero():\n    return g / abs(g)\n")
    sign = dsl.parse("def sign_of_g():\n    return sign(g)\n")
    ours, reference = (trainer.train(rule, task, LRS, [0], STEPS) for rule in (nan_at_zero, sign))
    assert np.isfinite(ours.curves).all() and not ours.diverged.any()
    np.testing.assert_array_equal(ours.curves, reference.curves)


@pytest.mark.parametrize("field", ["depth+1", "depth-1", "init scale", "output scale", "activation", "norm",
                                   "residual"])
def test_mutations_within_a_shape_compile_nothing(field):
    protocol, lion = scoring.Protocol(tuple(LRS), (0,), STEPS), dsl.library.get("lion")
    parent = tasks.Architecture(depth=2, width=8, activation="tanh")
    tuning.tune(lion, tasks.from_architecture(parent, budget=BUDGET), protocol)
    child = next(c for what, c in tasks.family("mlp").edits(parent, random.Random(1)) if what == field)
    assert child.shape(BUDGET) == parent.shape(BUDGET) and child != parent
    with dsl.count_compilations() as compiles:
        tuning.tune(lion, tasks.from_architecture(child, budget=BUDGET), protocol)
    assert compiles.count == 0, field


def test_shapes_are_one_per_width_within_the_budget():
    assert architectures.shapes(BUDGET) == [(0, 0), (4, 8)]
    assert architectures.shapes(20_000) == [(0, 0), (1, 128), (1, 256), (5, 64), (6, 8), (6, 16), (6, 32)]
    a, b = tasks.Architecture(depth=0, width=8), tasks.Architecture(depth=0, width=64)
    assert tasks.from_architecture(a).compile_key == tasks.from_architecture(b).compile_key
    deeper = dataclasses.replace(a, depth=1)
    assert tasks.from_architecture(deeper).compile_key != tasks.from_architecture(a).compile_key
    assert tasks.from_architecture(deeper, budget=BUDGET).sizes["slots"] == 4
    with pytest.raises(ValueError, match="does not fit"):
        make_mlp_family(**DATA_SIZES["small"], depth=3, slots=2)


def test_tuning_many_architectures_in_one_call_equals_tuning_each():
    """``tune_many`` (vmapped over pairs of one shape) scores each pair as ``tune`` does alone,
    bracketing included (one pair starts at the grid's edge and extends it)."""
    rng = random.Random(3)
    archs = [random_architecture(rng, depth, norm, residual)
             for depth, norm, residual in ((1, "none", False), (3, "layernorm", True), (2, "none", True))]
    pairs = [tasks.from_architecture(a, budget=BUDGET) for a in archs]
    protocol = scoring.Protocol(tuple(LRS), (0,), STEPS)
    rules = [dsl.library.get("adam"), dsl.library.get("lion"), dsl.library.get("sgd")]
    together = tuning.tune_many(rules, pairs, protocol, metric="test")
    for rule, task, many in zip(rules, pairs, together):
        alone = tuning.tune(rule, task, protocol, metric="test")
        np.testing.assert_array_equal(many.result.learning_rates, alone.result.learning_rates)
        assert many.score.tuned_lr == alone.score.tuned_lr
        np.testing.assert_allclose(many.score.tuned, alone.score.tuned, rtol=1e-4)
        stable = many.result.learning_rates <= many.score.tuned_lr  # above it, rounding grows chaotically
        np.testing.assert_allclose(many.result.curves[stable], alone.result.curves[stable], rtol=1e-4, atol=1e-6)
    assert any(len(t.result.learning_rates) > len(LRS) for t in together)  # some pair bracketed


def test_training_many_refuses_pairs_that_do_not_share_a_compilation():
    small, wide = (tasks.from_architecture(tasks.Architecture(depth=1, width=w), budget=BUDGET * 4)
                   for w in (8, 16))
    adam, lion = dsl.library.get("adam"), dsl.library.get("lion")
    with pytest.raises(ValueError, match="compile_key"):
        trainer.train_many([adam, adam], [small, wide], [LRS, LRS], (0,), STEPS)
    with pytest.raises(ValueError, match="compile alike"):
        trainer.train_many([adam, lion], [small, small], [LRS, LRS], (0,), STEPS, path="native")
    with pytest.raises(ValueError, match="as many learning rates"):
        trainer.train_many([adam, adam], [small, small], [LRS, LRS[:1]], (0,), STEPS)
