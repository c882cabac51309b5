"""A block-heterogeneous quadratic (after Zhang et al. 2024, "Why Transformers Need Adam").

f(x) = 1/2 sum_b (x_b - x*_b)^T H_b (x_b - x*_b) over ``blocks`` blocks of
``block_size`` coordinates, H_b = s_b Q_b diag(lambda) Q_b^T with

* block scales s_b = logspace(-spread / 2, spread / 2, blocks): the blocks'
  curvatures differ by 10^spread (a transformer's embeddings, attention and MLP
  weights together), so one learning rate cannot suit every block;
* within a block lambda = logspace(0, -log10(condition), block_size) rotated by
  a seeded random Q_b: ill-conditioned and not axis-aligned, so a diagonal
  preconditioner can fix the scale between blocks but not the conditioning
  within one.

x* ~ N(0, I) (seeded by the task), f* = 0, start x0 ~ N(0, I) (seeded by the training
seed), full batch (no noise). The
within-block conditioning keeps every optimizer far above the float floor after
300 steps (Adam at about 1e-2 at the default size, from f(x0) near 80).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import Params, PyTree, Task, float32, sized

SIZES = {
    "small": {"blocks": 4, "block_size": 8, "spread": 3.0, "condition": 1e3, "seed": 0},
    "default": {"blocks": 8, "block_size": 16, "spread": 4.0, "condition": 1e4, "seed": 0},
}


def block_hessians(blocks: int, block_size: int, spread: float, condition: float, seed: int) -> np.ndarray:
    """[blocks, block_size, block_size]: H_b = s_b Q_b diag(lambda) Q_b^T in float64."""
    rng = np.random.default_rng(seed)
    eig = np.logspace(0.0, -np.log10(condition), block_size)
    out = []
    for scale in np.logspace(-spread / 2, spread / 2, blocks):
        q, r = np.linalg.qr(rng.standard_normal((block_size, block_size)))
        q = q * np.sign(np.diag(r))
        out.append(scale * (q * eig) @ q.T)
    return np.stack(out)


def _loss(params: Params, data: PyTree) -> jax.Array:
    r = params["x"] - data["xi"]
    return 0.5 * jnp.sum(jnp.einsum("bi,bij,bj->b", r, data["h"], r))


@sized
def make_block_quadratic(*, blocks: int, block_size: int, spread: float, condition: float,
                         seed: int) -> Task:
    """The block-heterogeneous quadratic (see the module docstring)."""
    if condition < 1.0 or spread < 0.0:
        raise ValueError(f"need condition >= 1 and spread >= 0, got {condition}, {spread}")
    h = block_hessians(blocks, block_size, spread, condition, seed)
    minimizer = np.random.default_rng([seed, 1]).standard_normal((blocks, block_size))
    data = {"h": float32((h + h.transpose(0, 2, 1)) / 2), "xi": float32(minimizer)}
    return Task(
        name="block_quadratic",
        kind="nondeep",
        description=f"block-heterogeneous quadratic: {blocks} blocks of {block_size}, block scales over "
                    f"{spread:g} decades, condition {condition:g} within each (rotated)",
        init=lambda key, _: {"x": jax.random.normal(key, (blocks, block_size), jnp.float32)},
        loss=_loss,
        train_data=data,
        test_data=data,
        sample_batch=lambda train_data, key: train_data,
        metrics=lambda params, test_data: {"test_loss": _loss(params, test_data)},
        f_star=0.0,
        batch_size=None,
    )
