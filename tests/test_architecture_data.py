"""Architectures as data: only the shape (depth, width) compiles; the numbers equal a per-architecture build."""

import dataclasses
import math
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dsl
from discovery import tasks
from discovery.search import architectures
from discovery.tasks.architecture import DATA_SIZES
from discovery.tasks.classification import classification_task
from discovery.tasks.mlp import ACTIVATIONS, GAINS, layer_norm
from discovery.tasks.mnist1d_data import mnist1d_splits
from discovery.training import scoring, trainer, tuning

STEPS = 8
LRS = [1e-2, 1e-1]


def reference_task(arch: tasks.Architecture) -> tasks.Task:
    """The per-architecture build the family replaced: every field baked into the code."""
    sizes = arch.layer_sizes()
    layernorm = arch.norm == "layernorm"

    def init(key, _):
        layers = []
        for i, (k, fan_in, fan_out) in enumerate(zip(jax.random.split(key, len(sizes) - 1), sizes[:-1], sizes[1:])):
            hidden = i < len(sizes) - 2
            std = arch.init_scale * (GAINS[arch.activation] if hidden else 1.0) / math.sqrt(fan_in)
            layer = {"w": std * jax.random.normal(k, (fan_in, fan_out), jnp.float32),
                     "b": jnp.zeros((fan_out,), jnp.float32)}
            if hidden and layernorm:
                layer |= {"ln_g": jnp.ones((fan_out,), jnp.float32), "ln_b": jnp.zeros((fan_out,), jnp.float32)}
            layers.append(layer)
        return layers

    def apply(layers, x):
        h = x
        for layer in layers[:-1]:
            u = h @ layer["w"] + layer["b"]
            if "ln_g" in layer:
                u = layer_norm(u, layer["ln_g"], layer["ln_b"])
            u = ACTIVATIONS[arch.activation](u)
            h = h + u if arch.residual and u.shape == h.shape else u
        return arch.output_scale * (h @ layers[-1]["w"] + layers[-1]["b"])

    data = DATA_SIZES["small"]
    train, test = mnist1d_splits(data["num_samples"], data["seed"])
    return classification_task(name=f"reference {arch.key()}", kind="deep", description="", sizes={},
                               init=init, apply=apply, train_data=train, test_data=test,
                               batch_size=data["batch_size"])


def random_switches(rng: random.Random, norm: str, residual: bool) -> tasks.Architecture:
    """2x8, random activation and scales."""
    return tasks.Architecture(depth=2, width=8, activation=rng.choice(sorted(ACTIVATIONS)), norm=norm,
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
    for arch in (random_switches(rng, "layernorm", True), random_switches(rng, "none", False)):
        ours, ref = tasks.from_architecture(arch), reference_task(arch)
        (curve, metrics), (ref_curve, ref_metrics) = sgd_run(ours), sgd_run(ref)
        np.testing.assert_allclose(curve, ref_curve, rtol=1e-5, err_msg=arch.summary())
        np.testing.assert_allclose(metrics["test_loss"], ref_metrics["test_loss"], rtol=1e-5)
        assert metrics["accuracy"] == ref_metrics["accuracy"]
        assert tasks.n_params(ours) == tasks.n_params(ref) == arch.n_params()


def test_step_sizes_see_only_the_parameters_the_loss_reads():
    arch = tasks.Architecture(depth=1, width=8, activation="tanh")  # LayerNorm off: its params unused
    _, params = tuning.initial_gradients(tasks.from_architecture(arch))
    ref = reference_task(arch)
    assert [p.shape for p in params] == [p.shape for p in jax.tree.leaves(
        jax.eval_shape(ref.init, jax.random.key(0), ref.train_data))]


def test_unused_layernorm_parameters_cannot_reach_the_loss():
    """``g / abs(g)`` is ``sign(g)`` except at g = 0, where it is NaN: on the switched-off LayerNorm's
    parameters (gradient exactly 0) and nowhere else (tanh units are never exactly flat)."""
    task = tasks.from_architecture(tasks.Architecture(depth=1, width=8, activation="tanh"))
    nan_at_zero = dsl.parse("def nan_at_zero():\n    return g / abs(g)\n")
    sign = dsl.parse("def sign_of_g():\n    return sign(g)\n")
    ours, reference = (trainer.train(rule, task, LRS, [0], STEPS) for rule in (nan_at_zero, sign))
    assert np.isfinite(ours.curves).all() and not ours.diverged.any()
    np.testing.assert_array_equal(ours.curves, reference.curves)


@pytest.mark.parametrize("field", ["init scale", "output scale", "activation", "norm", "residual"])
def test_mutating_the_switches_compiles_nothing(field):
    protocol = scoring.Protocol(tuple(LRS), (0,), STEPS)
    parent = tasks.Architecture(depth=1, width=8, activation="tanh")
    tuning.tune(dsl.library.get("adam"), tasks.from_architecture(parent), protocol)
    rng = random.Random(1)
    child = next(c for what, c in architectures._mutations(parent, rng) if what == field)
    assert child.shape() == parent.shape() and child != parent
    with dsl.count_compilations() as compiles:
        tuning.tune(dsl.library.get("adam"), tasks.from_architecture(child), protocol)
    assert compiles.count == 0, field


def test_a_width_at_depth_zero_sets_no_shape():
    a, b = tasks.Architecture(depth=0, width=8), tasks.Architecture(depth=0, width=64)
    assert tasks.from_architecture(a).compile_key == tasks.from_architecture(b).compile_key
    deeper = dataclasses.replace(a, depth=1)
    assert tasks.from_architecture(deeper).compile_key != tasks.from_architecture(a).compile_key
