"""MNIST-1D generated locally with the ``mnist1d`` package (never downloaded).

Each example is a 40-sample 1-D signal: one of 10 digit templates, padded,
scaled, translated, sheared and noised (Greydanus 2020). The generator seeds
numpy's and Python's global RNGs; their states are saved and restored around
it, so building a task leaves the caller's global random state untouched.
``mnist1d_classifier`` builds a classification task on it from a model.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable

import jax
import numpy as np

from .base import Params, PyTree, Task, float32, int32
from .classification import classification_task

N_FEATURES = 40
N_CLASSES = 10


@functools.lru_cache(maxsize=8)
def mnist1d_arrays(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    """{"x", "y", "x_test", "y_test"}: float32 signals (n, 40), int32 labels.

    ``num_samples`` examples in all (80% train, 20% test), standardized to
    zero mean and unit variance over the whole set by the generator. Cached per
    (num_samples, seed); the arrays are read-only.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = int(num_samples)
    args.seed = int(seed)
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    out = {
        "x": raw["x"].astype(np.float32),
        "y": raw["y"].astype(np.int32),
        "x_test": raw["x_test"].astype(np.float32),
        "y_test": raw["y_test"].astype(np.int32),
    }
    for a in out.values():
        a.flags.writeable = False
    return out


def mnist1d_splits(num_samples: int, seed: int) -> tuple[dict, dict]:
    """(train, test) as JAX dicts ``{"x": (n, 40) float32, "y": (n,) int32}``."""
    a = mnist1d_arrays(num_samples, seed)
    return (
        {"x": float32(a["x"]), "y": int32(a["y"])},
        {"x": float32(a["x_test"]), "y": int32(a["y_test"])},
    )


def mnist1d_classifier(name: str, description: str, init: Callable[[jax.Array, PyTree], Params],
                       apply: Callable[[Params, jax.Array], jax.Array], num_samples: int, batch_size: int,
                       seed: int) -> Task:
    """The deep task classifying ``num_samples`` MNIST-1D examples (80% train) with the logits
    ``apply(params, x)``, in minibatches of ``batch_size``."""
    train, test = mnist1d_splits(num_samples, seed)
    return classification_task(name=name, kind="deep", description=description, init=init, apply=apply,
                               train_data=train, test_data=test, batch_size=batch_size)
