"""MNIST-1D classification with a small 1-D convolutional network.

Three convolutions (kernel 5, 3, 3; stride 2; SAME padding; ReLU) map the
40-sample signal to 5 positions x ``channels``, then a dense layer to 10
logits; loss = mean softmax cross-entropy. Weights ~ N(0, 2 / fan_in), biases 0.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from .base import Params, Task, sized
from .mnist1d_data import N_CLASSES, N_FEATURES, mnist1d_classifier

SIZES = {
    "small": {"channels": 8, "num_samples": 1000, "batch_size": 50, "seed": 42},
    "default": {"channels": 32, "num_samples": 5000, "batch_size": 100, "seed": 42},
}

_KERNELS = (5, 3, 3)
_STRIDE = 2


def _out_length() -> int:
    n = N_FEATURES
    for _ in _KERNELS:
        n = -(-n // _STRIDE)
    return n


def _init(key: jax.Array, channels: int) -> Params:
    keys = jax.random.split(key, len(_KERNELS) + 1)
    convs, c_in = [], 1
    for k, width in zip(keys, _KERNELS):
        fan_in = width * c_in
        w = math.sqrt(2.0 / fan_in) * jax.random.normal(k, (width, c_in, channels), jnp.float32)
        convs.append({"w": w, "b": jnp.zeros((channels,), jnp.float32)})
        c_in = channels
    fan_in = _out_length() * channels
    dense = {
        "w": jax.random.normal(keys[-1], (fan_in, N_CLASSES), jnp.float32) / math.sqrt(fan_in),
        "b": jnp.zeros((N_CLASSES,), jnp.float32),
    }
    return {"convs": convs, "dense": dense}


def _apply(params: Params, x: jax.Array) -> jax.Array:
    h = x[:, :, None]  # (batch, length, channels)
    for conv in params["convs"]:
        h = jax.lax.conv_general_dilated(
            h, conv["w"], (_STRIDE,), "SAME", dimension_numbers=("NWC", "WIO", "NWC")
        )
        h = jax.nn.relu(h + conv["b"])
    h = h.reshape(h.shape[0], -1)
    return h @ params["dense"]["w"] + params["dense"]["b"]


@sized
def make_mnist1d_cnn(*, channels: int, num_samples: int, batch_size: int, seed: int) -> Task:
    """The CNN classifier task; ``num_samples`` MNIST-1D examples, 80% train."""
    return mnist1d_classifier("mnist1d_cnn", f"MNIST-1D, 3-layer 1-D CNN ({channels} channels), cross-entropy",
                              lambda key, _: _init(key, channels), _apply, num_samples, batch_size, seed)
