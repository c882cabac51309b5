"""A generic dense network (the one MLP shared by every MLP-shaped task).

Params are a list of layer dicts ``{"w": (fan_in, fan_out), "b": (fan_out,)}``,
hidden layers optionally with LayerNorm gain/bias ``{"ln_g", "ln_b"}``.
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
_GAINS = {
    "relu": math.sqrt(2.0),
    "gelu": math.sqrt(2.0),
    "swish": math.sqrt(2.0),
    "elu": math.sqrt(2.0),
    "tanh": 1.0,
}


def init_mlp(
    key: jax.Array,
    sizes: Sequence[int],
    *,
    activation: str = "relu",
    init_scale: float = 1.0,
    layernorm: bool = False,
) -> list[dict]:
    """Layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    w_l ~ N(0, (init_scale * gain)^2 / fan_in), b_l = 0, where gain is the
    activation's He/LeCun gain for hidden layers and 1 for the output layer;
    LayerNorm (g, b) = (1, 0) on hidden layers when ``layernorm``.
    """
    keys = jax.random.split(key, len(sizes) - 1)
    layers = []
    for i, (k, fan_in, fan_out) in enumerate(zip(keys, sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        std = init_scale * (_GAINS[activation] if hidden else 1.0) / math.sqrt(fan_in)
        layer = {
            "w": std * jax.random.normal(k, (fan_in, fan_out), jnp.float32),
            "b": jnp.zeros((fan_out,), jnp.float32),
        }
        if hidden and layernorm:
            layer["ln_g"] = jnp.ones((fan_out,), jnp.float32)
            layer["ln_b"] = jnp.zeros((fan_out,), jnp.float32)
        layers.append(layer)
    return layers


def layer_norm(x: jax.Array, g: jax.Array, b: jax.Array, eps: float = 1e-5) -> jax.Array:
    """g * (x - mean(x)) / sqrt(var(x) + eps) + b over the last axis."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.var(x, axis=-1, keepdims=True)
    return g * (x - mean) * jax.lax.rsqrt(var + eps) + b


def apply_mlp(
    layers: list[dict],
    x: jax.Array,
    *,
    activation: str = "relu",
    residual: bool = False,
    output_scale: float = 1.0,
) -> jax.Array:
    """Forward pass.

    Hidden: u = h W + b, u <- LN(u) if the layer has LayerNorm params,
    h' = act(u) + (h if ``residual`` and the widths match else 0).
    Output: output_scale * (h W + b), no activation.
    """
    act = ACTIVATIONS[activation]
    h = x
    for layer in layers[:-1]:
        u = h @ layer["w"] + layer["b"]
        if "ln_g" in layer:
            u = layer_norm(u, layer["ln_g"], layer["ln_b"])
        u = act(u)
        h = h + u if residual and u.shape == h.shape else u
    out = layers[-1]
    return output_scale * (h @ out["w"] + out["b"])
