"""Multiclass softmax (linear) regression on synthetic Gaussian clusters.

Class means mu_c ~ N(0, separation^2 / dim I) in ``dim`` dimensions (so
||mu_c - mu_c'|| ~ separation sqrt 2 whatever ``dim``); each example picks a
class c uniformly and x = mu_c + N(0, I). Model logits = x W + b,
loss = mean softmax cross-entropy, start W = 0, b = 0. The classes overlap,
so f* is not known in closed form (None). 80% of the examples train.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import Params, Task, float32, int32, sized
from .classification import classification_task

SIZES = {
    "small": {
        "n_examples": 500,
        "dim": 10,
        "classes": 5,
        "separation": 2.0,
        "batch_size": 32,
        "seed": 0,
    },
    "default": {
        "n_examples": 5000,
        "dim": 50,
        "classes": 10,
        "separation": 2.0,
        "batch_size": 100,
        "seed": 0,
    },
}


def _apply(params: Params, x: jax.Array) -> jax.Array:
    return x @ params["w"] + params["b"]


@sized
def make_softmax_regression(
    *, n_examples: int, dim: int, classes: int, separation: float, batch_size: int, seed: int
) -> Task:
    """The softmax-regression task."""
    rng = np.random.default_rng(seed)
    means = separation / np.sqrt(dim) * rng.standard_normal((classes, dim))
    y = rng.integers(0, classes, n_examples)
    x = means[y] + rng.standard_normal((n_examples, dim))
    n_train = round(0.8 * n_examples)
    return classification_task(
        name="softmax_regression",
        kind="nondeep",
        description=f"softmax regression, {classes} Gaussian clusters in {dim} dims",
        init=lambda key, _: {
            "w": jnp.zeros((dim, classes), jnp.float32),
            "b": jnp.zeros((classes,), jnp.float32),
        },
        apply=_apply,
        train_data={"x": float32(x[:n_train]), "y": int32(y[:n_train])},
        test_data={"x": float32(x[n_train:]), "y": int32(y[n_train:])},
        batch_size=batch_size,
    )
