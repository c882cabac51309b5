"""The per-architecture build the architecture family replaced: every field baked into the code.

Each architecture is its own task (its own compile key), as before architectures
became data: the reference for tests/test_architecture_data.py and the "before"
of tests/benchmarks/bench_coevolution.py.
"""

import math

import jax
import jax.numpy as jnp

from discovery import tasks
from discovery.tasks.architecture import DATA_SIZES
from discovery.tasks.classification import classification_task
from discovery.tasks.mlp import ACTIVATIONS, GAINS, layer_norm
from discovery.tasks.mnist1d_data import mnist1d_splits


def reference_task(arch: tasks.Architecture, size: str = "small") -> tasks.Task:
    sizes = arch.layer_sizes()

    def init(key, _):
        layers = []
        for i, (k, fan_in, fan_out) in enumerate(zip(jax.random.split(key, len(sizes) - 1), sizes[:-1], sizes[1:])):
            hidden = i < len(sizes) - 2
            std = arch.init_scale * (GAINS[arch.activation] if hidden else 1.0) / math.sqrt(fan_in)
            layer = {"w": std * jax.random.normal(k, (fan_in, fan_out), jnp.float32),
                     "b": jnp.zeros((fan_out,), jnp.float32)}
            if hidden and arch.norm == "layernorm":
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

    data = DATA_SIZES[size]
    train, test = mnist1d_splits(data["num_samples"], data["seed"])
    return classification_task(name=f"per-architecture build {arch.key()}", kind="deep", description="",
                               sizes=dict(data), init=init, apply=apply, train_data=train, test_data=test,
                               batch_size=data["batch_size"])
