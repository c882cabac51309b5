"""A dense autoencoder on MNIST-1D signals.

x_hat = MLP(x) with layers 40 -> hidden -> code -> hidden -> 40 (ReLU between
layers, linear output, He init); loss = mean over examples and the 40 samples
of (x_hat - x)^2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .base import Params, PyTree, Task, dataset_task, sized
from .mlp import apply_mlp, init_mlp
from .mnist1d_data import N_FEATURES, mnist1d_splits

SIZES = {
    "small": {"hidden": 32, "code": 8, "num_samples": 1000, "batch_size": 50, "seed": 42},
    "default": {"hidden": 64, "code": 10, "num_samples": 5000, "batch_size": 100, "seed": 42},
}


def _loss(params: Params, batch: PyTree) -> jax.Array:
    return jnp.mean((apply_mlp(params, batch["x"]) - batch["x"]) ** 2)


@sized
def make_autoencoder(
    *, hidden: int, code: int, num_samples: int, batch_size: int, seed: int
) -> Task:
    """The autoencoder task; trains on the MNIST-1D training signals (labels unused)."""
    train, test = mnist1d_splits(num_samples, seed)
    layer_sizes = (N_FEATURES, hidden, code, hidden, N_FEATURES)
    return dataset_task(
        name="mnist1d_autoencoder",
        kind="deep",
        description=f"MNIST-1D autoencoder {'-'.join(map(str, layer_sizes))}, MSE",
        init=lambda key, _: init_mlp(key, layer_sizes),
        loss=_loss,
        train_data={"x": train["x"]},
        test_data={"x": test["x"]},
        batch_size=batch_size,
    )
