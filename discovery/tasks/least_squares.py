"""Overdetermined linear least squares.

A (n x dim) has N(0, 1) entries times column scales logspace(0, -log10(condition), dim)
(so cond(A) ~ ``condition``), b = A w_true + 0.1 N(0, 1) with w_true ~ N(0, I).
Loss = 1/2 mean_i (a_i . w - b_i)^2 over rows; start w = 0.
f* = the same loss at the numpy lstsq solution of the training rows (float64).
80% of the rows train, 20% test.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import Params, PyTree, Task, dataset_task, float32, sized

SIZES = {
    "small": {"n_examples": 250, "dim": 20, "condition": 100.0, "batch_size": 32, "seed": 0},
    "default": {"n_examples": 2500, "dim": 100, "condition": 100.0, "batch_size": 100, "seed": 0},
}


def _loss(params: Params, batch: PyTree) -> jax.Array:
    return 0.5 * jnp.mean((batch["a"] @ params["w"] - batch["b"]) ** 2)


@sized
def make_least_squares(
    *, n_examples: int, dim: int, condition: float, batch_size: int, seed: int
) -> Task:
    """The least-squares task; needs at least ``dim`` training rows."""
    n_train = round(0.8 * n_examples)
    if n_train < dim:
        raise ValueError(
            f"overdetermined least squares needs 0.8 * n_examples >= dim, "
            f"got n_examples={n_examples}, dim={dim}"
        )
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n_examples, dim)) * np.logspace(0.0, -np.log10(condition), dim)
    b = a @ rng.standard_normal(dim) + 0.1 * rng.standard_normal(n_examples)
    a, b = a.astype(np.float32), b.astype(np.float32)
    a_train, b_train = a[:n_train].astype(np.float64), b[:n_train].astype(np.float64)
    w_star = np.linalg.lstsq(a_train, b_train, rcond=None)[0]
    return dataset_task(
        name="linear_least_squares",
        kind="nondeep",
        description=f"overdetermined least squares, {n_train} x {dim}, condition ~{condition:g}",
        init=lambda key, _: {"w": jnp.zeros((dim,), jnp.float32)},
        loss=_loss,
        train_data={"a": float32(a[:n_train]), "b": float32(b[:n_train])},
        test_data={"a": float32(a[n_train:]), "b": float32(b[n_train:])},
        batch_size=batch_size,
        f_star=float(0.5 * np.mean((a_train @ w_star - b_train) ** 2)),
    )
