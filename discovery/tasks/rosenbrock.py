"""The chained Rosenbrock function.

f(x) = sum_{i=1}^{dim-1} [100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2],  f* = 0 at x = 1.
Start: the standard point (-1.2, 1, -1.2, 1, ...) plus N(0, init_noise^2) per
coordinate (init_noise = 0 gives the classical start for every seed).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import Params, PyTree, Task, sized

SIZES = {
    "small": {"dim": 2, "init_noise": 0.1},
    "default": {"dim": 10, "init_noise": 0.1},
}


def _loss(params: Params, batch: PyTree) -> jax.Array:
    x = params["x"]
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@sized
def make_rosenbrock(*, dim: int, init_noise: float) -> Task:
    """The Rosenbrock task in ``dim`` >= 2 dimensions (data-free)."""
    if dim < 2:
        raise ValueError(f"Rosenbrock needs dim >= 2, got {dim}")
    start = np.where(np.arange(dim) % 2 == 0, -1.2, 1.0).astype(np.float32)

    def init(key: jax.Array, _: PyTree) -> Params:
        return {"x": jnp.asarray(start) + init_noise * jax.random.normal(key, (dim,), jnp.float32)}

    return Task(
        name="rosenbrock",
        kind="nondeep",
        description=f"chained Rosenbrock function, dim {dim}",
        init=init,
        loss=_loss,
        train_data={},
        test_data={},
        sample_batch=lambda train_data, key: train_data,
        metrics=lambda params, test_data: {"test_loss": _loss(params, test_data)},
        f_star=0.0,
        batch_size=None,
    )
