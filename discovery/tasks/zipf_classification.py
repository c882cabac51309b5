"""Heavy-tailed (Zipf) class imbalance, in a linear and an MLP form, full batch.

Data (``zipf_data.classification_teacher``): x ~ N(0, I_dim) and the true
class probabilities p(c | x) = softmax_c(beta x.W / sqrt(dim) + log pi_c),
pi_c ∝ 1/c over ``classes`` classes, W ~ N(0, 1): class frequencies fall like
Zipf's law (with 128 classes the 10 most frequent hold about half the mass).

Loss: the mean over examples of KL(p(. | x) || q(. | x)) in nats (the
expected cross-entropy of a label drawn from the truth, minus its entropy),
with q = softmax of the model's logits:

* ``zipf_softmax``  q = softmax(x W + b), W ~ N(0, 1/dim), b = 0 at the start (convex); the
  teacher is linear, so f* = 0, approached but not reached: at the default size,
  300 full-batch steps leave the best optimizer above 1e-4;
* ``zipf_mlp``      the same data through one hidden ReLU layer of ``hidden``
  units (He init, the output layer N(0, 1/hidden)); f* >= 0 is unknown.

Every step sees the whole training set (full batch: the regime in which Adam's
lead over gradient descent on rare classes is largest, Kunstner et al. 2023,
2024); ``test_loss`` is the same KL on held-out inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from .base import Params, PyTree, Task, float32, sized
from .classification import kl_from_truth
from .zipf_data import classification_teacher

SIZES = {
    "small": {"n_examples": 256, "dim": 16, "classes": 32, "beta": 8.0, "exponent": 1.0, "seed": 0},
    "default": {"n_examples": 1024, "dim": 64, "classes": 128, "beta": 8.0, "exponent": 1.0, "seed": 0},
}
MLP_SIZES = {size: {**values, "hidden": 64} for size, values in SIZES.items()}
N_TEST = 512


def _full_batch(data: PyTree, key: jax.Array) -> PyTree:
    return data


def _softmax_regression(dim: int, classes: int) -> tuple[Callable, Callable]:
    """(init, apply): logits x W + b, W ~ N(0, 1/dim), b = 0."""
    def init(key: jax.Array, data: PyTree) -> Params:
        return {"w": jax.random.normal(key, (dim, classes), jnp.float32) / math.sqrt(dim),
                "b": jnp.zeros((classes,), jnp.float32)}

    return init, lambda p, x: x @ p["w"] + p["b"]


def _one_hidden_layer(dim: int, classes: int, hidden: int) -> tuple[Callable, Callable]:
    """(init, apply): one hidden ReLU layer of ``hidden`` units (He init), the output N(0, 1/hidden)."""
    def init(key: jax.Array, data: PyTree) -> Params:
        k1, k2 = jax.random.split(key)
        return {"w1": math.sqrt(2.0 / dim) * jax.random.normal(k1, (dim, hidden), jnp.float32),
                "b1": jnp.zeros((hidden,), jnp.float32),
                "w": jax.random.normal(k2, (hidden, classes), jnp.float32) / math.sqrt(hidden),
                "b": jnp.zeros((classes,), jnp.float32)}

    def apply(p: Params, x: jax.Array) -> jax.Array:
        return jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w"] + p["b"]

    return init, apply


@sized
def make_zipf_classification(*, n_examples: int, dim: int, classes: int, beta: float, exponent: float,
                             seed: int, hidden: int | None = None) -> Task:
    """``zipf_softmax``, or with ``hidden`` units ``zipf_mlp`` (see the module docstring)."""
    if hidden is None:
        name, kind, model, f_star = "zipf_softmax", "nondeep", "softmax regression", 0.0
        init, apply = _softmax_regression(dim, classes)
    else:
        name, kind, model, f_star = "zipf_mlp", "deep", f"one hidden ReLU layer of {hidden}", None
        init, apply = _one_hidden_layer(dim, classes, hidden)
    x, log_p = classification_teacher(n_examples, dim, classes, beta, exponent, seed)
    x_test, log_p_test = classification_teacher(N_TEST, dim, classes, beta, exponent, seed)

    def loss(params: Params, data: PyTree) -> jax.Array:
        return kl_from_truth(jax.nn.log_softmax(apply(params, data["x"])), data["log_p"])

    return Task(
        name=name, kind=kind,
        description=f"{model}, {classes} Zipf classes in {dim} dims, {n_examples} examples, full batch, "
                    "KL from the true class distribution",
        init=init, loss=loss,
        train_data={"x": float32(x), "log_p": float32(log_p)},
        test_data={"x": float32(x_test), "log_p": float32(log_p_test)},
        sample_batch=_full_batch,
        metrics=lambda params, data: {"test_loss": loss(params, data)},
        f_star=f_star, batch_size=None,
    )
