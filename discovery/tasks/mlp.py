"""A generic dense network (the one MLP shared by every MLP-shaped task).

Params are a list of layer dicts ``{"w": (fan_in, fan_out), "b": (fan_out,)}``,
hidden layers optionally with LayerNorm gain/bias ``{"ln_g", "ln_b"}``.

Two forward passes share one init: ``apply_mlp`` with a fixed activation (the
fixed MLP tasks), and ``apply_switched_mlp``, whose init scales, activation,
LayerNorm, residual connections and output scale are data (``Switches``), so
one compiled function serves every network of the same layer sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .base import float32, int32

ACTIVATIONS = {  # the order is the index a ``Switches.activation`` holds
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "swish": jax.nn.swish,
    "elu": jax.nn.elu,
}
_BRANCHES = tuple(ACTIVATIONS.values())

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


def init_mlp(
    key: jax.Array,
    sizes: Sequence[int],
    stds: Sequence[float] | jax.Array | None = None,
    *,
    layernorm: bool = False,
) -> list[dict]:
    """Layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    w_l ~ N(0, stds[l]^2) (default ``layer_stds(sizes)``: He init for ReLU),
    b_l = 0; LayerNorm (g, b) = (1, 0) on hidden layers when ``layernorm``.
    ``stds`` may be a traced array: the init scale is then data.
    """
    stds = layer_stds(sizes) if stds is None else stds
    keys = jax.random.split(key, len(sizes) - 1)
    layers = []
    for i, (k, fan_in, fan_out) in enumerate(zip(keys, sizes[:-1], sizes[1:])):
        layer = {
            "w": stds[i] * jax.random.normal(k, (fan_in, fan_out), jnp.float32),
            "b": jnp.zeros((fan_out,), jnp.float32),
        }
        if i < len(sizes) - 2 and layernorm:
            layer["ln_g"] = jnp.ones((fan_out,), jnp.float32)
            layer["ln_b"] = jnp.zeros((fan_out,), jnp.float32)
        layers.append(layer)
    return layers


def layer_norm(x: jax.Array, g: jax.Array, b: jax.Array, eps: float = 1e-5) -> jax.Array:
    """g * (x - mean(x)) / sqrt(var(x) + eps) + b over the last axis."""
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.var(x, axis=-1, keepdims=True)
    return g * (x - mean) * jax.lax.rsqrt(var + eps) + b


def apply_mlp(layers: list[dict], x: jax.Array, activation: Callable = jax.nn.relu) -> jax.Array:
    """Forward pass: h' = activation(h W + b) on hidden layers, h W + b on the output layer."""
    h = x
    for layer in layers[:-1]:
        h = activation(h @ layer["w"] + layer["b"])
    out = layers[-1]
    return h @ out["w"] + out["b"]


class Switches(NamedTuple):
    """What a switched MLP computes beyond its layer sizes, as arrays (data, never compiled in).

    stds: float32 [layers], the init std of each layer (``layer_stds``).
    activation: int32, the index of the activation in ``ACTIVATIONS``.
    layernorm: int32 0 | 1, LayerNorm after each hidden dense layer.
    residual: int32 0 | 1, h' = act(u) + h on hidden layers whose input and output widths match.
    output_scale: float32, the multiplier on the logits.
    """

    stds: jax.Array
    activation: jax.Array
    layernorm: jax.Array
    residual: jax.Array
    output_scale: jax.Array


def switches(stds: Sequence[float], activation: str, layernorm: bool, residual: bool,
             output_scale: float) -> Switches:
    """The ``Switches`` of a network."""
    return Switches(float32(stds), int32(list(ACTIVATIONS).index(activation)), int32(layernorm),
                    int32(residual), float32(output_scale))


def used_leaves(layers: list[dict], s: Switches) -> list[dict]:
    """Per param leaf: whether ``apply_switched_mlp`` reads it (LayerNorm params only when switched on)."""
    return [{name: bool(s.layernorm) or not name.startswith("ln_") for name in layer} for layer in layers]


def apply_switched_mlp(layers: list[dict], x: jax.Array, s: Switches) -> jax.Array:
    """Forward pass of a network initialized with ``init_mlp(..., layernorm=True)``.

    Hidden: u = h W + b, u <- LN(u) if ``s.layernorm``, h' = act(u) + (h if ``s.residual``
    and the widths match else 0). Output: output_scale * (h W + b), no activation.
    With ``s.layernorm`` off the LayerNorm params are never read: their gradient is exactly 0
    and whatever values an optimizer gives them cannot reach the output.
    """
    norm, residual = s.layernorm != 0, s.residual != 0
    h = x
    for layer in layers[:-1]:
        u = h @ layer["w"] + layer["b"]
        g = jnp.where(norm, layer["ln_g"], 1.0)  # no NaN of an unused gain reaches u's gradient
        b = jnp.where(norm, layer["ln_b"], 0.0)
        u = jnp.where(norm, layer_norm(u, g, b), u)
        u = jax.lax.switch(s.activation, _BRANCHES, u)
        h = jnp.where(residual, h + u, u) if u.shape == h.shape else u
    out = layers[-1]
    return s.output_scale * (h @ out["w"] + out["b"])
