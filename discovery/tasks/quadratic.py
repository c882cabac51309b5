"""Ill-conditioned quadratics, deterministic or with gradient noise.

f(x) = 1/2 (x - xi)^T H (x - xi),  H = Q diag(lambda) Q^T,
lambda_i = logspace(0, -log10(condition), dim) (so lambda_max = 1 and
cond(H) = ``condition``), Q a seeded random rotation (or I when not
``rotated``; an axis-aligned H is solved exactly by diagonal preconditioners).

The minimizer xi = x* ~ N(0, I) is a seeded random point (never the origin,
so a rule that only decays the parameters, ``return p``, cannot solve it),
and f* = 0 at x = x*. With ``noise > 0`` each sampled batch carries
xi ~ N(x*, noise^2 I), so the stochastic gradient H (x - xi) is unbiased with
covariance noise^2 H^2; ``loss(params, train_data)`` and the metrics stay
noise-free. Start: x0 ~ N(0, I).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import Params, PyTree, Task, float32, sized

QUADRATIC_SIZES = {
    "small": {"dim": 20, "condition": 1e4, "rotated": True, "seed": 0},
    "default": {"dim": 100, "condition": 1e4, "rotated": True, "seed": 0},
}
NOISY_SIZES = {
    "small": {"dim": 20, "condition": 1e2, "noise": 1.0, "rotated": True, "seed": 0},
    "default": {"dim": 100, "condition": 1e2, "noise": 1.0, "rotated": True, "seed": 0},
}


def _loss(params: Params, batch: PyTree) -> jax.Array:
    r = params["x"] - batch["xi"]
    return 0.5 * r @ batch["h"] @ r


def hessian(dim: int, condition: float, rotated: bool, seed: int) -> np.ndarray:
    """H = Q diag(logspace(0, -log10(condition), dim)) Q^T in float64."""
    eig = np.logspace(0.0, -np.log10(condition), dim)
    if not rotated:
        return np.diag(eig)
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))
    return (q * eig) @ q.T


@sized
def make_quadratic(
    *, dim: int, condition: float, rotated: bool, seed: int, noise: float = 0.0
) -> Task:
    """``quadratic_ill`` (noise = 0) or ``noisy_quadratic`` (noise > 0)."""
    if condition < 1.0 or noise < 0.0:
        raise ValueError(f"need condition >= 1 and noise >= 0, got {condition}, {noise}")
    h = hessian(dim, condition, rotated, seed)
    minimizer = np.random.default_rng([seed, 1]).standard_normal(dim)
    data = {"h": float32((h + h.T) / 2), "xi": float32(minimizer)}
    if noise > 0.0:
        name, extra = "noisy_quadratic", f", gradient noise std {noise:g}"

        def sample_batch(train_data: PyTree, key: jax.Array) -> PyTree:
            xi = train_data["xi"] + noise * jax.random.normal(key, train_data["xi"].shape, jnp.float32)
            return {"h": train_data["h"], "xi": xi}
    else:
        name, extra = "quadratic_ill", ""

        def sample_batch(train_data: PyTree, key: jax.Array) -> PyTree:
            return train_data

    return Task(
        name=name,
        kind="nondeep",
        description=f"{'rotated' if rotated else 'diagonal'} quadratic, dim {dim}, "
        f"condition {condition:g}{extra}",
        init=lambda key, _: {"x": jax.random.normal(key, (dim,), jnp.float32)},
        loss=_loss,
        train_data=data,
        test_data=data,
        sample_batch=sample_batch,
        metrics=lambda params, test_data: {"test_loss": _loss(params, test_data)},
        f_star=0.0,
        batch_size=None,
    )
