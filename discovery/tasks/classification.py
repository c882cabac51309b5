"""Multiclass classification: softmax cross-entropy, KL from a known truth, accuracy, and the task builder."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .base import Params, PyTree, Task, dataset_task


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy  mean_i [logsumexp(z_i) - z_i[y_i]]  (nats)."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=-1))


def kl_from_truth(log_q: jax.Array, log_p: jax.Array) -> jax.Array:
    """Mean over the leading axes of  sum_k p_k (log p_k - log q_k) = KL(p || q)  (nats): the expected
    cross-entropy of a label drawn from the true distribution p, minus p's entropy; >= 0, 0 iff q = p."""
    return jnp.mean(jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1))


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of rows whose arg-max logit is the label."""
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


def classification_task(
    *,
    name: str,
    kind: str,
    description: str,
    sizes: dict | None = None,
    init: Callable[[jax.Array], Params],
    apply: Callable[[Params, jax.Array], jax.Array],
    train_data: PyTree,
    test_data: PyTree,
    batch_size: int,
) -> Task:
    """A task on data ``{"x": inputs, "y": int labels}`` with logits ``apply(params, x)``.

    loss = cross_entropy(apply(params, x), y); metrics add ``accuracy``.
    """

    def loss(params: Params, batch: PyTree) -> jax.Array:
        return cross_entropy(apply(params, batch["x"]), batch["y"])

    def extra_metrics(params: Params, data: PyTree) -> dict:
        return {"accuracy": accuracy(apply(params, data["x"]), data["y"])}

    return dataset_task(
        name=name,
        kind=kind,
        description=description,
        sizes=sizes,
        init=init,
        loss=loss,
        train_data=train_data,
        test_data=test_data,
        batch_size=batch_size,
        extra_metrics=extra_metrics,
    )
