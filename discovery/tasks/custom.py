"""Your own problem as a task: a loss, an init and data, checked before any search uses them.

Example (logistic regression written with ``jax.numpy``)::

    def loss(params, batch):
        z = batch["x"] @ params["w"] + params["b"]
        return jnp.mean(jnp.logaddexp(0.0, -batch["y"] * z))

    task = tasks.make_task("my_logreg", loss, lambda key: {"w": jnp.zeros(8), "b": jnp.zeros(())},
                           {"x": x, "y": y}, batch_size=32)
    tasks.register(task)      # now "my_logreg" works wherever a task name does

A Flax model fits as it is (``loss = lambda p, b: xent(model.apply(p, b["x"]), b["y"])``,
``init = lambda key: model.init(key, x[:1])``); so does an Equinox one once its arrays are
split from the rest (``params, static = eqx.partition(model, eqx.is_inexact_array)``, the loss
recombining them). Params must be float32 arrays; the loss a finite float32 scalar at init.
"""

from __future__ import annotations

import itertools
import re
import weakref
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .base import Params, PyTree, Task, row_sampler

_SERIAL = itertools.count()
_CHECKED: weakref.WeakSet = weakref.WeakSet()


class TaskError(ValueError):
    """A user task that cannot be trained: what is wrong, where, and how to fix it."""


def make_task(
    name: str,
    loss: Callable[[Params, PyTree], jax.Array],
    init: Callable[[jax.Array], Params] | Params,
    train_data: PyTree,
    *,
    test_data: PyTree | None = None,
    batch_size: int | None = None,
    f_star: float | None = None,
    description: str = "",
) -> Task:
    """A checked ``Task`` (kind ``"custom"``) from a loss, an init and data.

    Args:
      name: what runs and tables call it (letters, digits, ``_``, ``-``, ``.``).
      loss: ``(params, batch) -> scalar``, the mean loss over the batch's examples; jittable.
      init: ``key -> params`` (a pytree of float32 arrays), or the initial params themselves.
      train_data: a pytree of arrays; with ``batch_size``, minibatches of that many rows
        (the arrays share their first, example axis) drawn with replacement; None: every
        step sees all of it (full batch).
      test_data: like ``train_data``, scored as ``test_loss`` after training (default: train_data).
      f_star: the loss's infimum where known (shown beside scores), else None.
    Raises ``TaskError`` naming the problem.
    """
    _check_name(name)
    if not callable(loss):
        raise TaskError(f"task {name!r}: loss must be a function (params, batch) -> scalar, "
                        f"got {type(loss).__name__}")
    params_init = init if callable(init) else _constant(init)
    train_data = _arrays(train_data, name, "train_data")
    test_data = train_data if test_data is None else _arrays(test_data, name, "test_data")
    n = _examples(train_data, name, "train_data") if batch_size is not None else None
    if batch_size is not None and (type(batch_size) is not int or not 1 <= batch_size <= n):
        raise TaskError(f"task {name!r}: batch_size must be an integer in [1, {n}] (the training "
                        f"examples), got {batch_size!r}; None trains on the whole data each step")
    if f_star is not None and not np.isfinite(f_star):
        raise TaskError(f"task {name!r}: f_star must be a finite number or None, got {f_star!r}")
    task = Task(
        name=name, kind="custom", description=description or f"user task {name}",
        sizes={"batch_size": batch_size or "full"},
        init=lambda key, _data: params_init(key),
        loss=loss, train_data=train_data, test_data=test_data,
        sample_batch=row_sampler(batch_size) if batch_size else (lambda data, _key: data),
        metrics=lambda params, data: {"test_loss": loss(params, data)},
        f_star=None if f_star is None else float(f_star), batch_size=batch_size,
        code=(loss, init if callable(init) else next(_SERIAL)),
    )
    check(task)
    return task


def check(task: Task) -> Task:
    """Raise ``TaskError`` unless ``task`` trains: float32 params, a finite float32 scalar loss
    and finite gradients at init, its functions jittable. Returns ``task``."""
    if task in _CHECKED:
        return task
    where = f"task {task.name!r}"
    key = jax.random.key(0)
    try:
        params = task.init(key, task.train_data)
    except Exception as e:  # noqa: BLE001 - the user's code; say where it failed
        raise TaskError(f"{where}: init failed: {type(e).__name__}: {_first_line(e)}") from e
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if not isinstance(leaf, (jax.Array, np.ndarray)) or leaf.dtype != jnp.float32:
            kind = getattr(leaf, "dtype", type(leaf).__name__)
            raise TaskError(f"{where}: parameter {jax.tree_util.keystr(path) or 'params'} is {kind}, "
                            "expected a float32 array: build it with jnp.asarray(x, jnp.float32) (an "
                            "Equinox module: pass eqx.partition(model, eqx.is_inexact_array)[0])")
    if not jax.tree.leaves(params):
        raise TaskError(f"{where}: init returned no parameters")
    try:
        batch = task.sample_batch(task.train_data, jax.random.key(1))
        shapes = {"loss": jax.eval_shape(task.loss, params, batch),
                  "test loss": jax.eval_shape(task.metrics, params, task.test_data)["test_loss"]}
    except Exception as e:  # noqa: BLE001
        raise TaskError(f"{where}: the loss cannot be traced by jax.jit: {type(e).__name__}: "
                        f"{_first_line(e)} (use jax.numpy, no Python branches on values)") from e
    for what, x in shapes.items():
        if x.shape != () or x.dtype != jnp.float32:
            raise TaskError(f"{where}: the {what} is {x.dtype}{list(x.shape)}, expected a float32 scalar: "
                            "return the mean over the batch (jnp.mean)")
    value, grads = jax.jit(jax.value_and_grad(task.loss))(params, batch)
    test = jax.jit(task.metrics)(params, task.test_data)["test_loss"]
    for what, x in (("loss", value), ("test loss", test)):
        if not np.isfinite(float(x)):
            raise TaskError(f"{where}: the {what} at init is {float(x)}, expected a finite number: "
                            "check the init and the data")
    if not all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads)):
        raise TaskError(f"{where}: the gradient at init is not finite: check the loss near the init")
    _CHECKED.add(task)
    return task


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", name):
        raise TaskError(f"task name {name!r} is invalid: 1 to 64 letters, digits, '_', '-' or '.', "
                        "starting with a letter")


def _constant(params: Params) -> Callable[[jax.Array], Params]:
    params = jax.tree.map(jnp.asarray, params)
    return lambda _key: params


def _arrays(data: PyTree, name: str, what: str) -> PyTree:
    """``data`` with every leaf a JAX array (NumPy arrays and lists converted, dtypes kept)."""
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise TaskError(f"task {name!r}: {what} holds no arrays")
    try:
        return jax.tree.map(jnp.asarray, data)
    except (TypeError, ValueError) as e:
        raise TaskError(f"task {name!r}: {what} must be a pytree of arrays: {_first_line(e)}") from e


def _examples(data: PyTree, name: str, what: str) -> int:
    """The shared leading (example) axis of ``data``'s leaves."""
    sizes = {leaf.shape[0] if leaf.ndim else None for leaf in jax.tree.leaves(data)}
    if None in sizes or len(sizes) != 1:
        raise TaskError(f"task {name!r}: every array of {what} must share its first (example) axis; "
                        f"found first axes {sorted(s for s in sizes if s is not None)}"
                        + (" and a scalar" if None in sizes else ""))
    return sizes.pop()


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0][:300]
