"""One compiled next-token model for many architectures: only its shape (slots, width) is code.

The network has ``slots`` blocks of width d; an architecture uses the first
``depth`` (the others are skipped by ``lax.cond``). Everything else is data
(``Switches``):

    h_0 = E[x_t] + P_t                                  (token and position embeddings)
    block: h <- sub(attention, h) if attention;  h <- sub(MLP, h) if mlp
      sub(f, h) = h + f(N(h))   [pre, residual]    f(N(h))    [pre, no residual]
                  N(h + f(h))   [post, residual]   N(f(h))    [post, no residual]
    attention: causal softmax attention, ``heads`` heads over contiguous channel groups,
               logits q.k / sqrt(d / heads), q, k, v = h W_qkv, output (.) W_o
    MLP: relu(h W_1 + b_1) W_2 + b_2, hidden width 4d
    N: none | LayerNorm (gain, bias) | RMSNorm (gain)
    logits = head_scale * (N_final(h) U) [+ c if head_bias],  U = E^T if tied else its own
             matrix; N_final only with pre placement (post already normalizes).

Two genes are the hypothesis experiment's controls, planted by construction (1 and 0 in every
ordinary architecture): ``gradient_scales`` multiply the gradient of every parameter, channel
by channel of its last axis (each leaf enters as ``w * s + stop_gradient(w - w * s)``: the
same values, gradients times ``s``), a fixed per-coordinate rescaling to which Adam and the
other diagonal preconditioners are invariant and SGD is not; ``label_noise`` mixes the true next-token distribution with the
uniform one (the loss ``token_family.noisy_kl``), which raises the floor for every optimizer
alike.

Heads are data: ``MAX_HEADS`` heads are always computed, each over the channels a
mask gives it (``heads`` groups of d / heads channels; the other heads have an
empty mask and contribute nothing). Init: E, P ~ N(0, embed_std^2); W_qkv, W_o
~ N(0, attn_std^2); W_1 ~ N(0, (2 mlp_std^2)) scaled by 1/sqrt(d), W_2 by
1/sqrt(4d); U ~ N(0, 1/d); biases 0, gains 1 (``token_family`` sets the stds from
the genes). Each matrix is drawn with ``jax.random.fold_in(key, index)``, its
index fixed by its name and block (``KEYS``), so a network built for one
architecture alone draws the same numbers. Unused parameters (skipped blocks,
switched-off attention or MLP, norm gains and biases, U when tied) are never
read: ``used_leaves`` names them, their gradient is exactly 0.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .base import float32, int32
from .mlp import layer_norm
from .switched_mlp import unless_skipped

MAX_HEADS = 4
MLP_RATIO = 4
SCALED = 512  # the longest last axis of a parameter: 4 d at the widest width (128), or the vocabulary
NORMS = ("none", "layernorm", "rmsnorm")
PLACEMENTS = ("pre", "post")
KEYS = {"embed": 0, "pos": 1, "unembed": 2, "qkv": 0, "o": 1, "w1": 2, "w2": 3}


def block_key(key: jax.Array, block: int, name: str) -> jax.Array:
    """The key of matrix ``name`` ("qkv" | "o" | "w1" | "w2") of block ``block``."""
    return jax.random.fold_in(key, 100 + 10 * block + KEYS[name])


class Switches(NamedTuple):
    """A token-model architecture beyond its shape, as arrays (never compiled in)."""

    depth: jax.Array          # int32: blocks in use
    attention: jax.Array      # int32 0 | 1
    mlp: jax.Array            # int32 0 | 1
    head_mask: jax.Array      # float32 [MAX_HEADS, d]: the channels of each head
    attn_logit_scale: jax.Array  # float32: 1 / sqrt(d / heads)
    norm: jax.Array           # int32 index into NORMS
    post: jax.Array           # int32 0 (pre) | 1 (post)
    residual: jax.Array       # int32 0 | 1
    tied: jax.Array           # int32 0 | 1
    head_bias: jax.Array      # int32 0 | 1
    stds: jax.Array           # float32 [5]: embed, attention, w1, w2, unembed
    head_scale: jax.Array     # float32
    gradient_scales: jax.Array  # float32 [SCALED]: gradient factors of channels 0.. of a last axis (control)
    label_noise: jax.Array    # float32: share of the uniform distribution in the targets (control)


def head_mask(width: int, heads: int) -> list[list[float]]:
    """Head j < heads owns channels [j d / heads, (j + 1) d / heads); the other heads own none."""
    size = width // heads
    return [[float(j < heads and j * size <= c < (j + 1) * size) for c in range(width)]
            for j in range(MAX_HEADS)]


def switches(*, width: int, depth: int, attention: bool, heads: int, mlp: bool, norm: str, placement: str,
             residual: bool, tied: bool, head_bias: bool, stds: tuple[float, ...], head_scale: float,
             gradient_scales=None, label_noise: float = 0.0) -> Switches:
    scales = [1.0] * SCALED if gradient_scales is None else gradient_scales
    return Switches(int32(depth), int32(attention), int32(mlp), float32(head_mask(width, heads)),
                    float32(1.0 / math.sqrt(width // heads)), int32(NORMS.index(norm)),
                    int32(PLACEMENTS.index(placement)), int32(residual), int32(tied), int32(head_bias),
                    float32(stds), float32(head_scale), float32(scales), float32(label_noise))


def _gradient_scaled(x: jax.Array, scales: jax.Array) -> jax.Array:
    """``x`` itself, its gradient times ``scales[:n]`` (channel by channel of its last axis, n long)."""
    s = scales[: x.shape[-1]]
    return x * s + jax.lax.stop_gradient(x - x * s)


def init_token_model(key: jax.Array, vocab: int, length: int, width: int, slots: int, s: Switches) -> dict:
    """Every parameter of the shape (all blocks with attention, MLP and both norms)."""
    def normal(k, shape, std):
        return std * jax.random.normal(k, shape, jnp.float32)

    ones, zeros = jnp.ones((width,), jnp.float32), jnp.zeros((width,), jnp.float32)
    hidden = MLP_RATIO * width
    blocks = [{
        "attn_g": ones, "attn_b": zeros,
        "qkv": normal(block_key(key, i, "qkv"), (width, 3 * width), s.stds[1]),
        "o": normal(block_key(key, i, "o"), (width, width), s.stds[1]),
        "mlp_g": ones, "mlp_b": zeros,
        "w1": normal(block_key(key, i, "w1"), (width, hidden), s.stds[2]),
        "b1": jnp.zeros((hidden,), jnp.float32),
        "w2": normal(block_key(key, i, "w2"), (hidden, width), s.stds[3]),
        "b2": zeros,
    } for i in range(slots)]
    return {
        "embed": normal(jax.random.fold_in(key, KEYS["embed"]), (vocab, width), s.stds[0]),
        "pos": normal(jax.random.fold_in(key, KEYS["pos"]), (length, width), s.stds[0]),
        "unembed": normal(jax.random.fold_in(key, KEYS["unembed"]), (width, vocab), s.stds[4]),
        "head_bias": jnp.zeros((vocab,), jnp.float32),
        "final_g": ones, "final_b": zeros,
        "blocks": blocks,
    }


def used_leaves(params: dict, s: Switches) -> dict:
    """Per parameter leaf: whether ``apply_token_model`` reads it (host values of ``s``)."""
    depth, attention, mlp = int(s.depth), bool(s.attention), bool(s.mlp)
    norm, post, tied = NORMS[int(s.norm)], bool(s.post), bool(s.tied)
    gain, bias = norm != "none", norm == "layernorm"

    def block(i: int) -> dict:
        on = {"attn": i < depth and attention, "mlp": i < depth and mlp}
        out = {}
        for name in params["blocks"][i]:
            part = "attn" if name in ("attn_g", "attn_b", "qkv", "o") else "mlp"
            kind = {"attn_g": gain, "mlp_g": gain, "attn_b": bias, "mlp_b": bias}.get(name, True)
            out[name] = on[part] and kind
        return out

    return {"embed": True, "pos": True, "unembed": not tied, "head_bias": bool(s.head_bias),
            "final_g": gain and not post, "final_b": bias and not post,
            "blocks": [block(i) for i in range(len(params["blocks"]))]}


def _normalize(s: Switches, h: jax.Array, g: jax.Array, b: jax.Array) -> jax.Array:
    """N(h): none, LayerNorm or RMSNorm over the last axis; an unused gain or bias never enters."""
    g = jnp.where(s.norm > 0, g, 1.0)
    b = jnp.where(s.norm == 1, b, 0.0)
    rms = g * h * jax.lax.rsqrt(jnp.mean(h * h, axis=-1, keepdims=True) + 1e-5)
    return jax.lax.switch(s.norm, (lambda: h, lambda: layer_norm(h, g, b), lambda: rms))


def _attention(s: Switches, p: dict, h: jax.Array) -> jax.Array:
    length = h.shape[-2]
    q, k, v = jnp.split(h @ p["qkv"], 3, axis=-1)
    logits = jnp.einsum("ntc,hc,nuc->nhtu", q, s.head_mask, k) * s.attn_logit_scale
    causal = jnp.tril(jnp.ones((length, length), bool))
    weights = jax.nn.softmax(jnp.where(causal, logits, -1e9), axis=-1)
    return jnp.einsum("nhtu,hc,nuc->ntc", weights, s.head_mask, v) @ p["o"]


def _mlp(s: Switches, p: dict, h: jax.Array) -> jax.Array:
    return jax.nn.relu(h @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def _sub(s: Switches, f, p: dict, h: jax.Array, norm: str) -> jax.Array:
    g, b = p[f"{norm}_g"], p[f"{norm}_b"]
    post = s.post != 0
    u = f(s, p, jnp.where(post, h, _normalize(s, h, g, b)))
    r = jnp.where(s.residual != 0, h + u, u)
    return jnp.where(post, _normalize(s, r, g, b), r)


def _block(s: Switches, h: jax.Array, p: dict) -> jax.Array:
    attn = {k: p[k] for k in ("attn_g", "attn_b", "qkv", "o")}
    mlp = {k: p[k] for k in ("mlp_g", "mlp_b", "w1", "b1", "w2", "b2")}
    h = unless_skipped(s.attention != 0, lambda h, q: _sub(s, _attention, q, h, "attn"), h, attn)
    return unless_skipped(s.mlp != 0, lambda h, q: _sub(s, _mlp, q, h, "mlp"), h, mlp)


def apply_token_model(params: dict, tokens: jax.Array, s: Switches) -> jax.Array:
    """Next-token logits [n, length, vocab] of the architecture ``s`` for ``tokens`` [n, length]."""
    params = jax.tree.map(lambda w: _gradient_scaled(w, s.gradient_scales), params)
    embed = params["embed"]
    h = embed[tokens] + params["pos"]
    for i, block in enumerate(params["blocks"]):
        h = unless_skipped(i < s.depth, lambda h, p: _block(s, h, p), h, block)
    post = s.post != 0  # post placement reads no final norm: its gain and bias never enter
    final_g, final_b = jnp.where(post, 1.0, params["final_g"]), jnp.where(post, 0.0, params["final_b"])
    final = jnp.where(post, h, _normalize(s, h, final_g, final_b))
    unembed = jnp.where(s.tied != 0, embed.T, params["unembed"])
    return s.head_scale * (final @ unembed) + jnp.where(s.head_bias != 0, params["head_bias"], 0.0)
