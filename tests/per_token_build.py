"""A token-model architecture built alone, every gene baked into the code: the reference that
tests/test_families.py compares the family's shared network with (and the "before" of
tests/benchmarks/bench_coevolution.py for the token family).

It holds only the parameters the architecture uses, drawn with the same keys
(``token_model.KEYS``: ``fold_in`` by name and block), and computes the model of
``token_model``'s docstring with ordinary Python branches and reshaped heads.
"""

import math

import jax
import jax.numpy as jnp

from discovery import tasks
from discovery.tasks.base import Task, float32, int32, row_sampler
from discovery.tasks.classification import kl_from_truth
from discovery.tasks.mlp import layer_norm
from discovery.tasks.token_family import DATA_SIZES, LENGTH, N_TEST, VOCAB, stream_arrays
from discovery.tasks.token_model import KEYS, MLP_RATIO, block_key


def _norm(arch: tasks.TokenArchitecture, h, p, prefix):
    if arch.norm == "layernorm":
        return layer_norm(h, p[f"{prefix}_g"], p[f"{prefix}_b"])
    if arch.norm == "rmsnorm":
        return p[f"{prefix}_g"] * h * jax.lax.rsqrt(jnp.mean(h * h, axis=-1, keepdims=True) + 1e-5)
    return h


def reference_token_task(arch: tasks.TokenArchitecture, size: str = "small") -> Task:
    d, hidden = arch.width, MLP_RATIO * arch.width
    stds = arch.switches().stds

    def init(key, _):
        def normal(k, shape, std):
            return std * jax.random.normal(k, shape, jnp.float32)

        def norm_params(prefix):
            out = {}
            if arch.norm != "none":
                out[f"{prefix}_g"] = jnp.ones((d,), jnp.float32)
            if arch.norm == "layernorm":
                out[f"{prefix}_b"] = jnp.zeros((d,), jnp.float32)
            return out

        blocks = []
        for i in range(arch.depth):
            block = {}
            if arch.attention:
                block |= {**norm_params("attn"), "qkv": normal(block_key(key, i, "qkv"), (d, 3 * d), stds[1]),
                          "o": normal(block_key(key, i, "o"), (d, d), stds[1])}
            if arch.mlp:
                block |= {**norm_params("mlp"), "w1": normal(block_key(key, i, "w1"), (d, hidden), stds[2]),
                          "b1": jnp.zeros((hidden,), jnp.float32),
                          "w2": normal(block_key(key, i, "w2"), (hidden, d), stds[3]),
                          "b2": jnp.zeros((d,), jnp.float32)}
            blocks.append(block)
        params = {"embed": normal(jax.random.fold_in(key, KEYS["embed"]), (VOCAB, d), stds[0]),
                  "pos": normal(jax.random.fold_in(key, KEYS["pos"]), (LENGTH, d), stds[0]),
                  "blocks": blocks}
        if arch.head_bias:
            params["head_bias"] = jnp.zeros((VOCAB,), jnp.float32)
        if not arch.tied:
            params["unembed"] = normal(jax.random.fold_in(key, KEYS["unembed"]), (d, VOCAB), stds[4])
        if arch.placement == "pre":
            params |= norm_params("final")
        return params

    def attention(p, h):
        n, t, _ = h.shape
        q, k, v = (a.reshape(n, t, arch.heads, d // arch.heads) for a in jnp.split(h @ p["qkv"], 3, axis=-1))
        logits = jnp.einsum("nqhc,nkhc->nhqk", q, k) / math.sqrt(d // arch.heads)
        logits = jnp.where(jnp.tril(jnp.ones((t, t), bool)), logits, -1e9)
        out = jnp.einsum("nhqk,nkhc->nqhc", jax.nn.softmax(logits, axis=-1), v)
        return out.reshape(n, t, d) @ p["o"]

    def mlp(p, h):
        return jax.nn.relu(h @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]

    def sub(f, p, h, prefix):
        if arch.placement == "pre":
            u = f(p, _norm(arch, h, p, prefix))
            return h + u if arch.residual else u
        u = f(p, h)
        return _norm(arch, h + u if arch.residual else u, p, prefix)

    def apply(params, x):
        h = params["embed"][x] + params["pos"]
        for p in params["blocks"]:
            if arch.attention:
                h = sub(attention, p, h, "attn")
            if arch.mlp:
                h = sub(mlp, p, h, "mlp")
        if arch.placement == "pre":
            h = _norm(arch, h, params, "final")
        unembed = params["embed"].T if arch.tied else params["unembed"]
        return arch.head_scale * (h @ unembed) + (params["head_bias"] if arch.head_bias else 0.0)

    def loss(params, data):
        return kl_from_truth(jax.nn.log_softmax(apply(params, data["x"]), axis=-1), data["log_p"])

    sizes = DATA_SIZES[size]
    train, test = stream_arrays(sizes["n_sequences"], sizes["seed"], 0), stream_arrays(N_TEST, sizes["seed"], 1)
    return Task(name=f"per-architecture token build {arch.key()}", kind="deep", description="",
                sizes=dict(sizes), init=init, loss=loss,
                train_data={"x": int32(train[0]), "log_p": float32(train[1])},
                test_data={"x": int32(test[0]), "log_p": float32(test[1])},
                sample_batch=row_sampler(sizes["batch_size"]),
                metrics=lambda params, data: {"test_loss": loss(params, data)},
                f_star=None, batch_size=sizes["batch_size"])
