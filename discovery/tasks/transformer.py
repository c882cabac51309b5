"""A small transformer learning modular addition (a + b mod p).

Data: all p^2 pairs (a, b) as token sequences [a, b, =] (vocabulary p + 1,
"=" is token p), shuffled with the seed and split ``train_fraction`` / rest;
the label is (a + b) mod p.

Model (pre-LayerNorm, plain jax.numpy): h = E[tokens] + P;
each block h += MHA(LN(h)); h += W2 relu(W1 LN(h) + b1) + b2 (4x width);
logits = LN(h[last]) U.  Loss = mean softmax cross-entropy of the answer.
Weights ~ N(0, 1 / fan_in), embeddings ~ N(0, 1), LayerNorm (1, 0), biases 0.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .base import Params, Task, int32, sized
from .classification import classification_task
from .mlp import layer_norm

SIZES = {
    "small": {
        "modulus": 23,
        "train_fraction": 0.5,
        "width": 32,
        "heads": 2,
        "layers": 1,
        "batch_size": 64,
        "seed": 0,
    },
    "default": {
        "modulus": 97,
        "train_fraction": 0.5,
        "width": 64,
        "heads": 4,
        "layers": 2,
        "batch_size": 256,
        "seed": 0,
    },
}
_SEQ_LEN = 3


def _dense(key: jax.Array, fan_in: int, fan_out: int) -> jax.Array:
    return jax.random.normal(key, (fan_in, fan_out), jnp.float32) / math.sqrt(fan_in)


def _init(key: jax.Array, *, modulus: int, width: int, layers: int) -> Params:
    k_embed, k_pos, k_out, *k_blocks = jax.random.split(key, 3 + layers)
    ones, zeros = jnp.ones((width,), jnp.float32), jnp.zeros((width,), jnp.float32)
    blocks = []
    for kb in k_blocks:
        k_qkv, k_o, k_1, k_2 = jax.random.split(kb, 4)
        blocks.append(
            {
                "ln1_g": ones,
                "ln1_b": zeros,
                "qkv": _dense(k_qkv, width, 3 * width),
                "o": _dense(k_o, width, width),
                "ln2_g": ones,
                "ln2_b": zeros,
                "w1": _dense(k_1, width, 4 * width),
                "b1": jnp.zeros((4 * width,), jnp.float32),
                "w2": _dense(k_2, 4 * width, width),
                "b2": zeros,
            }
        )
    return {
        "embed": jax.random.normal(k_embed, (modulus + 1, width), jnp.float32),
        "pos": jax.random.normal(k_pos, (_SEQ_LEN, width), jnp.float32),
        "blocks": blocks,
        "lnf_g": ones,
        "lnf_b": zeros,
        "unembed": _dense(k_out, width, modulus),
    }


def _attention(block: Params, x: jax.Array, heads: int) -> jax.Array:
    n, t, d = x.shape
    q, k, v = jnp.split(x @ block["qkv"], 3, axis=-1)
    q, k, v = (a.reshape(n, t, heads, d // heads) for a in (q, k, v))
    scores = jnp.einsum("nqhc,nkhc->nhqk", q, k) / math.sqrt(d // heads)
    out = jnp.einsum("nhqk,nkhc->nqhc", jax.nn.softmax(scores, axis=-1), v)
    return out.reshape(n, t, d) @ block["o"]


def _apply(params: Params, tokens: jax.Array, heads: int) -> jax.Array:
    h = params["embed"][tokens] + params["pos"]
    for block in params["blocks"]:
        h = h + _attention(block, layer_norm(h, block["ln1_g"], block["ln1_b"]), heads)
        u = layer_norm(h, block["ln2_g"], block["ln2_b"])
        h = h + jax.nn.relu(u @ block["w1"] + block["b1"]) @ block["w2"] + block["b2"]
    last = layer_norm(h[:, -1], params["lnf_g"], params["lnf_b"])
    return last @ params["unembed"]


@sized
def make_transformer(
    *,
    modulus: int,
    train_fraction: float,
    width: int,
    heads: int,
    layers: int,
    batch_size: int,
    seed: int,
) -> Task:
    """The modular-addition task; ``width`` must be divisible by ``heads``."""
    if width % heads:
        raise ValueError(f"width {width} is not divisible by heads {heads}")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    a, b = np.divmod(np.arange(modulus * modulus), modulus)
    tokens = np.stack([a, b, np.full_like(a, modulus)], axis=1)
    labels = (a + b) % modulus
    perm = np.random.default_rng(seed).permutation(len(labels))
    n_train = round(train_fraction * len(labels))
    train_idx, test_idx = perm[:n_train], perm[n_train:]
    return classification_task(
        name="transformer_modadd",
        kind="deep",
        description=f"(a + b) mod {modulus} with a {layers}-layer, width-{width} transformer",
        init=lambda key, _: _init(key, modulus=modulus, width=width, layers=layers),
        apply=lambda params, x: _apply(params, x, heads),
        train_data={"x": int32(tokens[train_idx]), "y": int32(labels[train_idx])},
        test_data={"x": int32(tokens[test_idx]), "y": int32(labels[test_idx])},
        batch_size=batch_size,
    )
