"""Matrix factorization with a bias-free linear network, as in the sls experiments
(Vaswani et al. 2019).

Data: A = linspace(1, 1e-10, 10)[:, None] * U(0, 1)^(10 x 6), X ~ N(0, 1)^(6 x 1000),
Y = A X; the first 80% of the columns train, the rest test. Examples are the
columns, stored as rows: x (n, 6), y (n, 10).

Model: y_hat = W2 W1 x with W1 (k x 6), W2 (10 x k), PyTorch's default Linear
init U(-1/sqrt(fan_in), 1/sqrt(fan_in)).  Loss = mean over examples and the
10 outputs of (y_hat - y)^2.

f_star (Eckart-Young in the X-whitened metric): with the training inputs
X (n x 6) = Q R (thin QR, R invertible), ||X M^T - Y||^2 =
||R M^T - Q^T Y||^2 + ||(I - Q Q^T) Y||^2 and R M^T ranges over all rank-<=k
matrices, so  f* = (sum_{i>k} sigma_i(Q^T Y)^2 + ||(I - Q Q^T) Y||^2) / (10 n).
For k >= 6 this is the float32 rounding residual of Y = A X (~1e-16).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import Params, PyTree, Task, dataset_task, float32, sized

SIZES = {
    "small": {"n_examples": 1000, "batch_size": 100, "seed": 0},
    "default": {"n_examples": 1000, "batch_size": 100, "seed": 0},
}
RANKS = (1, 4, 10)
_IN, _OUT = 6, 10


def _init(key: jax.Array, rank: int) -> Params:
    k1, k2 = jax.random.split(key)
    b1, b2 = 1.0 / np.sqrt(_IN), 1.0 / np.sqrt(rank)
    return {
        "w1": jax.random.uniform(k1, (rank, _IN), jnp.float32, -b1, b1),
        "w2": jax.random.uniform(k2, (_OUT, rank), jnp.float32, -b2, b2),
    }


def _loss(params: Params, batch: PyTree) -> jax.Array:
    pred = batch["x"] @ params["w1"].T @ params["w2"].T
    return jnp.mean((pred - batch["y"]) ** 2)


def best_rank_k_loss(x: np.ndarray, y: np.ndarray, rank: int) -> float:
    """min over W2 W1 of rank <= ``rank`` of mean((x W1^T W2^T - y)^2), in float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    q, _ = np.linalg.qr(x)
    proj = q.T @ y
    sigma = np.linalg.svd(proj, compute_uv=False)
    outside = y - q @ proj
    return float((np.sum(sigma[rank:] ** 2) + np.sum(outside**2)) / y.size)


@sized
def make_matrix_factorization(rank: int, /, *, n_examples: int, batch_size: int, seed: int) -> Task:
    """The ``mf_k{rank}`` task."""
    rng = np.random.default_rng(seed)
    a = np.linspace(1.0, 1e-10, _OUT)[:, None] * rng.random((_OUT, _IN))
    x = rng.standard_normal((_IN, n_examples))
    y = (a @ x).T.astype(np.float32)
    x = x.T.astype(np.float32)
    n_train = round(0.8 * n_examples)
    return dataset_task(
        name=f"mf_k{rank}",
        kind="nondeep",
        description=f"matrix factorization Y = AX with a rank-{rank} linear net 6-{rank}-10, MSE",
        init=lambda key, _: _init(key, rank),
        loss=_loss,
        train_data={"x": float32(x[:n_train]), "y": float32(y[:n_train])},
        test_data={"x": float32(x[n_train:]), "y": float32(y[n_train:])},
        batch_size=batch_size,
        f_star=best_rank_k_loss(x[:n_train], y[:n_train], rank),
    )
