"""A user's own problem, as a module a config names by import path ``tests.custom_task:make_logreg``.

Logistic regression on a fixed synthetic set, written with plain ``jax.numpy``.
"""

import jax
import jax.numpy as jnp
import numpy as np

from discovery import tasks


def logreg_data(n: int = 128, dim: int = 8, seed: int = 0) -> dict:
    """Points labelled ±1 by a random linear score, with 10% of the labels flipped."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    y = np.sign(x @ rng.normal(size=dim) + 1e-3).astype(np.float32)
    y[rng.random(n) < 0.1] *= -1
    return {"x": x, "y": y}


def logreg_loss(params, batch):
    z = batch["x"] @ params["w"] + params["b"]
    return jnp.mean(jnp.logaddexp(0.0, -batch["y"] * z))


def logreg_init(key):
    return {"w": 0.1 * jax.random.normal(key, (8,)), "b": jnp.zeros(())}


def make_logreg(size: str = "small") -> tasks.Task:
    return tasks.make_task("logreg", logreg_loss, logreg_init, logreg_data(128 if size == "small" else 1024),
                           test_data=logreg_data(64, seed=1), batch_size=32)


def not_a_task():
    return 3
