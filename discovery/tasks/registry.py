"""The task registry: names -> (builder, size tables).

Example::

    task = get("mf_k4")                       # small size
    task = get("klr_mushrooms", "default", data_file="mushrooms")
    [row["name"] for row in describe()]
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from . import (
    architecture,
    autoencoder,
    kernel_logreg,
    least_squares,
    matrix_factorization,
    mnist1d_cnn,
    mnist1d_mlp,
    quadratic,
    rosenbrock,
    softmax_regression,
    transformer,
)
from .base import Task, n_params

SIZES = ("small", "default")
KINDS = ("deep", "nondeep")

_MLP_FAMILY_SIZES = {
    size: {**data, **architecture.Architecture().to_dict()}
    for size, data in architecture.DATA_SIZES.items()
}

# name -> (kind, builder(**sizes) -> Task, {size: {parameter: value}})
_TASKS: dict[str, tuple[str, Callable[..., Task], dict[str, dict]]] = {
    **{
        f"klr_{d}": (
            "nondeep",
            functools.partial(kernel_logreg.make_kernel_logreg, dataset=d),
            kernel_logreg.size_table(d),
        )
        for d in kernel_logreg.PROFILES
    },
    **{
        f"mf_k{k}": (
            "nondeep",
            functools.partial(matrix_factorization.make_matrix_factorization, rank=k),
            matrix_factorization.SIZES,
        )
        for k in matrix_factorization.RANKS
    },
    "quadratic_ill": ("nondeep", quadratic.make_quadratic, quadratic.QUADRATIC_SIZES),
    "noisy_quadratic": ("nondeep", quadratic.make_quadratic, quadratic.NOISY_SIZES),
    "rosenbrock": ("nondeep", rosenbrock.make_rosenbrock, rosenbrock.SIZES),
    "linear_least_squares": ("nondeep", least_squares.make_least_squares, least_squares.SIZES),
    "softmax_regression": (
        "nondeep",
        softmax_regression.make_softmax_regression,
        softmax_regression.SIZES,
    ),
    "mnist1d_mlp": ("deep", mnist1d_mlp.make_mnist1d_mlp, mnist1d_mlp.SIZES),
    "mnist1d_cnn": ("deep", mnist1d_cnn.make_mnist1d_cnn, mnist1d_cnn.SIZES),
    "mnist1d_autoencoder": ("deep", autoencoder.make_autoencoder, autoencoder.SIZES),
    "transformer_modadd": ("deep", transformer.make_transformer, transformer.SIZES),
    "mlp_family": ("deep", architecture.make_mlp_family, _MLP_FAMILY_SIZES),
}


def names(kind: str | None = None) -> list[str]:
    """Registered task names, optionally only those of ``kind`` ("deep" | "nondeep")."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {list(KINDS)}")
    return [name for name, (k, _, _) in _TASKS.items() if kind is None or k == kind]


def get(name: str, size: str = "small", **overrides) -> Task:
    """Build task ``name`` at ``size`` ("small": tests; "default": real runs).

    ``overrides`` replace individual size parameters (see ``describe()``).
    Raises ValueError for an unknown name, size or override key.
    """
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {names()}")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; valid sizes: {list(SIZES)}")
    _, build, table = _TASKS[name]
    params = dict(table[size])
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for task {name!r}; valid parameters: {sorted(params)}"
        )
    params.update(overrides)
    return build(**params)


def describe(size: str = "small") -> list[dict]:
    """One row per task: name, kind, description, n_params, sizes, f_star.

    Builds every task (generating its data) at ``size``.
    """
    rows = []
    for name in names():
        task = get(name, size)
        rows.append(
            {
                "name": name,
                "kind": task.kind,
                "description": task.description,
                "n_params": n_params(task),
                "sizes": task.sizes,
                "f_star": task.f_star,
            }
        )
    return rows
