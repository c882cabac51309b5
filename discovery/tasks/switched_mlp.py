"""One compiled network for many architectures: the family MLP whose every choice but its shape is data.

The network has ``slots`` hidden layers of one width; an architecture of depth
d <= slots uses the first d and skips the others (h passes through unchanged),
and its init scales, activation, LayerNorm, residual connections and output
scale are arrays (``Switches``). Every architecture of a shape (slots, width)
then trains in one compiled function:

    h_0 = x,  h_{l+1} = act(LN?(h_l W_l + b_l)) [+ h_l if residual and widths match]  (l < d),
    logits = output_scale * (h_d W_out + b_out).

Numbers equal the network built for the architecture alone: slot l < d is drawn
with the l-th key of ``jax.random.split(key, slots + 1)`` and the output layer
with the d-th, as ``mlp.init_mlp`` draws the d + 1 layers of that network
(``split`` is prefix-stable, JAX's default partitionable threefry). Parameters
an architecture does not use (skipped slots, LayerNorm switched off) are never
read: ``used_leaves`` names them, their gradient is exactly 0, and values an
optimizer gives them cannot reach the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .base import float32, int32
from .mlp import ACTIVATIONS, dense_layer, layer_norm

_BRANCHES = tuple(ACTIVATIONS.values())  # indexed by Switches.activation


class Switches(NamedTuple):
    """An architecture of the family beyond its shape, as arrays (data, never compiled in).

    stds: float32 [slots + 1], the init std of each hidden slot, then of the output layer.
    depth: int32, the hidden layers in use (the first ``depth`` slots; >= 1 when slots >= 1).
    activation: int32, the index of the activation in ``ACTIVATIONS``.
    layernorm: int32 0 | 1, LayerNorm after each hidden dense layer.
    residual: int32 0 | 1, h' = act(u) + h on hidden layers whose input and output widths match.
    output_scale: float32, the multiplier on the logits.
    """

    stds: jax.Array
    depth: jax.Array
    activation: jax.Array
    layernorm: jax.Array
    residual: jax.Array
    output_scale: jax.Array


def switches(hidden_stds: Sequence[float], output_std: float, slots: int, activation: str,
             layernorm: bool, residual: bool, output_scale: float) -> Switches:
    """The ``Switches`` of an architecture with ``len(hidden_stds)`` hidden layers in ``slots`` slots
    (skipped slots get std 0: drawn, never read)."""
    padding = [0.0] * (slots - len(hidden_stds))
    return Switches(float32([*hidden_stds, *padding, output_std]), int32(len(hidden_stds)),
                    int32(list(ACTIVATIONS).index(activation)), int32(layernorm), int32(residual),
                    float32(output_scale))


def init_switched_mlp(key: jax.Array, sizes: Sequence[int], s: Switches) -> list[dict]:
    """Layers ``sizes[0] -> width x slots -> sizes[-1]``, every hidden slot with LayerNorm params."""
    keys = jax.random.split(key, len(sizes) - 1)
    hidden = [dense_layer(keys[i], fan_in, fan_out, s.stds[i], layernorm=True)
              for i, (fan_in, fan_out) in enumerate(zip(sizes[:-2], sizes[1:-1]))]
    return [*hidden, dense_layer(keys[s.depth], sizes[-2], sizes[-1], s.stds[-1])]


def used_leaves(layers: list[dict], s: Switches) -> list[dict]:
    """Per param leaf: whether ``apply_switched_mlp`` reads it (host values of ``s``)."""
    depth, norm = int(s.depth), bool(s.layernorm)
    hidden = [{name: i < depth and (norm or not name.startswith("ln_")) for name in layer}
              for i, layer in enumerate(layers[:-1])]
    return [*hidden, {name: True for name in layers[-1]}]


def unless_skipped(used: jax.Array, layer_fn, h: jax.Array, layer: dict) -> jax.Array:
    """``layer_fn(h, layer)`` if ``used`` else ``h``. A skipped slot's params may hold anything (an
    optimizer's NaN): they are zeroed first, so nothing of them reaches h or its gradient."""
    layer = jax.tree.map(lambda p: jnp.where(used, p, 0.0), layer)
    return jax.lax.cond(used, layer_fn, lambda h, _: h, h, layer)


def apply_switched_mlp(layers: list[dict], x: jax.Array, s: Switches) -> jax.Array:
    """Logits of the architecture ``s`` (see the module docstring); skipped slots cost no compute
    (``lax.cond``) unless ``s`` is batched, when they are computed and discarded."""
    norm, residual = s.layernorm != 0, s.residual != 0

    def hidden(h, layer):
        u = h @ layer["w"] + layer["b"]
        g = jnp.where(norm, layer["ln_g"], 1.0)  # an unused gain or bias never reaches u's gradient
        b = jnp.where(norm, layer["ln_b"], 0.0)
        u = jnp.where(norm, layer_norm(u, g, b), u)
        u = jax.lax.switch(s.activation, _BRANCHES, u)
        return jnp.where(residual, h + u, u) if u.shape == h.shape else u

    h = x
    for i, layer in enumerate(layers[:-1]):  # the first slot is always in use
        h = hidden(h, layer) if i == 0 else unless_skipped(i < s.depth, hidden, h, layer)
    out = layers[-1]
    return s.output_scale * (h @ out["w"] + out["b"])
