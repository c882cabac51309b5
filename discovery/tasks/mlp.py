"""A generic dense network (the one MLP shared by every MLP-shaped task).

Params are a list of layer dicts ``{"w": (fan_in, fan_out), "b": (fan_out,)}``,
hidden layers optionally with LayerNorm gain/bias ``{"ln_g", "ln_b"}``.
``switched_mlp`` builds the architecture family's network from these parts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "swish": jax.nn.swish,
    "elu": jax.nn.elu,
}

# Init gain per activation: He (sqrt 2) for ReLU-like units, LeCun (1) for tanh.
GAINS = {
    "relu": math.sqrt(2.0),
    "gelu": math.sqrt(2.0),
    "swish": math.sqrt(2.0),
    "elu": math.sqrt(2.0),
    "tanh": 1.0,
}


def layer_stds(sizes: Sequence[int], *, gain: float = GAINS["relu"], init_scale: float = 1.0) -> list[float]:
    """Init std per layer: init_scale * gain / sqrt(fan_in) for hidden layers, init_scale / sqrt(fan_in)
    for the output layer."""
    hidden = len(sizes) - 2
    return [init_scale * (gain if i < hidden else 1.0) / math.sqrt(fan_in)
            for i, fan_in in enumerate(sizes[:-1])]


def dense_layer(key: jax.Array, fan_in: int, fan_out: int, std: float | jax.Array, *,
                layernorm: bool = False) -> dict:
    """w ~ N(0, std^2), b = 0, and LayerNorm (g, b) = (1, 0) when ``layernorm``; ``std`` may be traced."""
    layer = {"w": std * jax.random.normal(key, (fan_in, fan_out), jnp.float32),
             "b": jnp.zeros((fan_out,), jnp.float32)}
    if layernorm:
        layer |= {"ln_g": jnp.ones((fan_out,), jnp.float32), "ln_b": jnp.zeros((fan_out,), jnp.float32)}
    return layer


def init_mlp(key: jax.Array, sizes: Sequence[int]) -> list[dict]:
    """Layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``, He init for ReLU (``layer_stds``),
    layer l drawn with the l-th key of ``jax.random.split(key, len(sizes) - 1)``."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [dense_layer(k, fan_in, fan_out, std)
            for k, fan_in, fan_out, std in zip(keys, sizes[:-1], sizes[1:], layer_stds(sizes))]


def layer_norm(x: jax.Array, g: jax.Array, b: jax.Array, eps: float = 1e-5) -> jax.Array:
    """g * (x - mean(x)) / sqrt(var(x) + eps) + b over the last axis."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.var(x, axis=-1, keepdims=True)
    return g * (x - mean) * jax.lax.rsqrt(var + eps) + b


def apply_mlp(layers: list[dict], x: jax.Array) -> jax.Array:
    """Forward pass: h' = relu(h W + b) on hidden layers, h W + b on the output layer."""
    h = x
    for layer in layers[:-1]:
        h = jax.nn.relu(h @ layer["w"] + layer["b"])
    out = layers[-1]
    return h @ out["w"] + out["b"]
