"""RBF-kernel logistic regression, the convex experiment of the sls paper
(Vaswani et al. 2019), on synthetic stand-ins for its LIBSVM sets.

Features: K(x, x') = exp(-||x - x'||^2 / (2 sigma^2)) against the training
points, so the model has one weight per training point (no bias):
z_i = K(x_i, X_train) . w.  Loss = mean_i log(1 + exp(-s_i z_i)), s_i = 2 y_i - 1,
no regularization; start w = 0. 20% of the examples are held out (their
features are also computed against the training points).

Synthetic data mimic each set's feature type and use its kernel width:

* mushrooms: 112 binary features, one-hot codes of 22 categorical attributes; sigma 0.5.
* ijcnn: 22 dense features in [-1, 1]; sigma 0.05 (K is nearly the identity,
  as on the real ijcnn).
* w8a: 300 sparse binary features (~4% ones); sigma 20 (K is nearly all ones).

Points are drawn around random prototypes (so near neighbours exist), made
distinct, and labelled by the sign of a random linear score at the set's
positive-class rate. Distinct points make the Gaussian kernel matrix positive
definite, so any labelling is fit with loss -> 0: f* = 0 (separable).
``label_noise`` p > 0 makes the data non-separable: max(1, round(p n_train)) training
points are overwritten by copies of other training points with the opposite
label; such a pair costs at least 2 log 2 whatever w is, so f* > 0 (its value
is not known: None).

``data_file`` replaces the synthetic data by a LIBSVM file (used as is, no
label noise; f* unknown), e.g. the real ``mushrooms`` for the paper's experiment.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .base import Params, PyTree, Task, dataset_task, float32, sized
from .libsvm import load_libsvm


@dataclasses.dataclass(frozen=True)
class _Profile:
    n_features: int
    features: str  # "onehot" | "dense" | "sparse"
    sigma: float
    positive_rate: float
    label_noise: float


PROFILES = {
    "mushrooms": _Profile(112, "onehot", 0.5, 0.48, 0.0),
    "ijcnn": _Profile(22, "dense", 0.05, 0.10, 0.0),
    "w8a": _Profile(300, "sparse", 20.0, 0.03, 0.02),
}
_ATTRIBUTES = 22  # mushrooms: 22 categorical attributes one-hot coded into 112 columns


def size_table(dataset: str) -> dict[str, dict]:
    """The small and default size parameters of ``klr_{dataset}``."""
    p = PROFILES[dataset]
    common = {"sigma": p.sigma, "label_noise": p.label_noise, "seed": 0, "data_file": None}
    return {
        "small": {"n_examples": 200, "batch_size": 32, **common},
        "default": {"n_examples": 2000, "batch_size": 100, **common},
    }


def _draw_features(p: _Profile, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points around n // 20 prototypes, with the feature type of profile ``p``."""
    prototypes = max(2, n // 20)
    cluster = rng.integers(0, prototypes, n)
    if p.features == "onehot":
        groups = np.array_split(np.arange(p.n_features), _ATTRIBUTES)
        counts = np.array([len(g) for g in groups])
        starts = np.array([g[0] for g in groups])
        cats = (rng.random((prototypes, _ATTRIBUTES)) * counts).astype(int)[cluster]
        redraw = rng.random((n, _ATTRIBUTES)) < 0.1
        cats = np.where(redraw, (rng.random((n, _ATTRIBUTES)) * counts).astype(int), cats)
        x = np.zeros((n, p.n_features))
        x[np.arange(n)[:, None], starts + cats] = 1.0
        return x
    if p.features == "sparse":
        proto = rng.random((prototypes, p.n_features)) < 0.04
        keep = rng.random((n, p.n_features)) < 0.8
        extra = rng.random((n, p.n_features)) < 0.003
        return ((proto[cluster] & keep) | extra).astype(np.float64)
    proto = rng.uniform(-1.0, 1.0, (prototypes, p.n_features))
    return np.clip(proto[cluster] + 0.2 * rng.standard_normal((n, p.n_features)), -1.0, 1.0)


def synthetic_dataset(dataset: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): ``n`` distinct points of the ``dataset`` profile, y in {0, 1} (no noise)."""
    p = PROFILES[dataset]
    rng = np.random.default_rng(seed)
    x = _draw_features(p, n + n // 2 + 10, rng)
    _, first = np.unique(x, axis=0, return_index=True)
    distinct = np.sort(first)
    if len(distinct) < n:
        raise RuntimeError(f"only {len(distinct)} distinct points drawn for {dataset}, need {n}")
    x = x[distinct[:n]]
    score = (x - x.mean(axis=0)) @ rng.standard_normal(p.n_features)
    y = (score > np.quantile(score, 1.0 - p.positive_rate)).astype(np.int32)
    return x, y


def rbf_kernel(a: np.ndarray, b: np.ndarray, sigma: float) -> np.ndarray:
    """K_ij = exp(-||a_i - b_j||^2 / (2 sigma^2)), computed in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.exp(-np.maximum(sq, 0.0) / (2.0 * sigma**2))


def _flip_duplicates(
    x: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Overwrite max(1, round(noise n)) points by copies of others with the opposite label."""
    m = max(1, round(noise * len(y)))
    picked = rng.choice(len(y), 2 * m, replace=False)
    src, dst = picked[:m], picked[m:]
    x, y = x.copy(), y.copy()
    x[dst], y[dst] = x[src], 1 - y[src]
    return x, y


def _loss(params: Params, batch: PyTree) -> jax.Array:
    margin = (2.0 * batch["y"] - 1.0) * (batch["k"] @ params["w"])
    return jnp.mean(jax.nn.softplus(-margin))


def _accuracy(params: Params, data: PyTree) -> dict:
    return {"accuracy": jnp.mean((data["k"] @ params["w"] > 0) == (data["y"] > 0.5))}


@sized
def make_kernel_logreg(
    dataset: str,
    /,
    *,
    n_examples: int,
    sigma: float,
    label_noise: float,
    batch_size: int,
    seed: int,
    data_file: str | None,
) -> Task:
    """The ``klr_{dataset}`` task (``dataset`` in PROFILES); a ``data_file``'s labels take no noise."""
    if not 0.0 <= label_noise < 0.5:
        raise ValueError(f"label_noise must be in [0, 0.5), got {label_noise}")
    rng = np.random.default_rng(seed)
    if data_file is None:
        x, y = synthetic_dataset(dataset, n_examples, seed)
        source = f"synthetic {dataset}-like data"
    else:
        data_file = str(data_file)
        x, y = load_libsvm(data_file)
        if n_examples < len(y):
            keep = np.sort(rng.choice(len(y), n_examples, replace=False))
            x, y = x[keep], y[keep]
        label_noise, source = 0.0, data_file
    perm = rng.permutation(len(y))
    n_test = round(0.2 * len(y))
    train, test = perm[n_test:], perm[:n_test]
    x_train, y_train = x[train], y[train]
    if label_noise > 0.0:
        x_train, y_train = _flip_duplicates(x_train, y_train, label_noise, rng)
        kind = f"non-separable, {label_noise:g} conflicting labels"
    else:
        kind = "separable" if data_file is None else "real data"
    return dataset_task(
        name=f"klr_{dataset}",
        kind="nondeep",
        description=f"RBF-kernel logistic regression on {source} ({kind}), sigma {sigma:g}",
        sizes={"label_noise": label_noise, "data_file": data_file},
        init=lambda key, _: {"w": jnp.zeros((len(y_train),), jnp.float32)},
        loss=_loss,
        train_data={"k": float32(rbf_kernel(x_train, x_train, sigma)), "y": float32(y_train)},
        test_data={"k": float32(rbf_kernel(x[test], x_train, sigma)), "y": float32(y[test])},
        batch_size=batch_size,
        f_star=0.0 if data_file is None and label_noise == 0.0 else None,
        extra_metrics=_accuracy,
    )
