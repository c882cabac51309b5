"""The task record and the helpers every dataset-backed task shares.

A task is data plus a loss. All of its functions are pure and jittable, and
take the data as an argument (never closed over), so a trainer can compile
once per task shape and vmap over learning rates and seeds. Tasks with the
same ``compile_key`` share compiled code: they differ only in their data.

A built-in task's factory declares its size parameters once, as its keyword-only
parameters (``sized``); the registry's tables give their values.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np

Params = Any
Batch = Any
PyTree = Any
Kind = Literal["deep", "nondeep", "custom"]  # a neural network's training, a classical problem, a user's task
KINDS: tuple[Kind, ...] = get_args(Kind)
Size = Literal["small", "default"]  # a built-in task's size: "small" for tests, "default" for real runs
SIZES: tuple[Size, ...] = get_args(Size)


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """One optimization problem.

    Attributes:
      name: registry name, e.g. ``"mf_k4"``.
      kind: ``"deep"``, ``"nondeep"`` or ``"custom"`` (``Kind``).
      description: one line.
      sizes: the resolved size parameters (plain values, shown by the CLI); ``sized`` fills them in.
      init: (PRNG key, train_data) -> float32 params pytree.
      loss: (params, batch) -> scalar mean loss over any number of examples;
        ``loss(params, train_data)`` is the full training loss.
      train_data: pytree of arrays (a small dict for data-free tasks).
      test_data: held-out pytree of arrays, or the noise-free problem data.
      sample_batch: (train_data, key) -> batch; deterministic per key.
      metrics: (params, test_data) -> {"test_loss", optionally "accuracy"}.
      f_star: the infimum of the full training loss where known, else None.
      batch_size: examples per minibatch, None for data-free tasks.
      data_sizes: the entries of ``sizes`` that the functions read from the data
        (an architecture's scales and switches), not from code: tasks differing
        only in them share a ``compile_key``.
      used: (params, train_data) -> a pytree like params of bools, whether the
        loss reads each leaf; None: every leaf. A leaf the loss ignores (a
        switched-off LayerNorm's gain) exists so that networks of one shape share
        compiled code; parameter counts and step sizes leave it out.
      code: what the functions' code depends on beyond name and sizes (a user
        task's own functions): tasks share compiled code only if these are the same objects.
    """

    name: str
    kind: Kind
    description: str
    sizes: dict = dataclasses.field(default_factory=dict, kw_only=True)
    init: Callable[[jax.Array, PyTree], Params]
    loss: Callable[[Params, Batch], jax.Array]
    train_data: PyTree
    test_data: PyTree
    sample_batch: Callable[[PyTree, jax.Array], Batch]
    metrics: Callable[[Params, PyTree], dict]
    f_star: float | None
    batch_size: int | None
    data_sizes: frozenset[str] = frozenset()
    used: Callable[[Params, PyTree], PyTree] | None = None
    code: tuple = ()

    @property
    def compile_key(self) -> tuple:
        """What compiled code for this task depends on: name, sizes except ``data_sizes``, ``code``."""
        return (repr((self.name, sorted((k, v) for k, v in self.sizes.items() if k not in self.data_sizes))),
                *self.code)

    def used_leaves(self, params: Params) -> list[bool]:
        """Whether the loss reads each leaf of ``params`` (``jax.tree.leaves`` order)."""
        return [True] * len(jax.tree.leaves(params)) if self.used is None else [
            bool(u) for u in jax.tree.leaves(self.used(params, self.train_data))]


def sized(make: Callable[..., Task]) -> Callable[..., Task]:
    """A task factory whose keyword-only parameters are its task's size parameters.

    The task ``make`` returns gets the keyword-only arguments of the call as ``sizes`` (in the
    signature's order), updated by the ``sizes`` ``make`` gave it: the values it resolved itself
    (a default filled in, an input normalised). Positional parameters choose a variant of the
    task (a rank, a data set): they are not sizes.
    """
    names = [p.name for p in inspect.signature(make).parameters.values() if p.kind is p.KEYWORD_ONLY]

    @functools.wraps(make)
    def factory(*variant: Any, **arguments: Any) -> Task:
        task = make(*variant, **arguments)
        given = {name: arguments[name] for name in names if name in arguments}
        return dataclasses.replace(task, sizes={**given, **task.sizes})

    return factory


def float32(x: Any) -> jax.Array:
    """``x`` as a float32 JAX array."""
    return jnp.asarray(np.asarray(x, dtype=np.float32))


def int32(x: Any) -> jax.Array:
    """``x`` as an int32 JAX array (labels, tokens)."""
    return jnp.asarray(np.asarray(x, dtype=np.int32))


def row_sampler(batch_size: int) -> Callable[[PyTree, jax.Array], PyTree]:
    """Minibatches of ``batch_size`` rows drawn uniformly with replacement.

    Every leaf of the data shares its leading (example) axis; the same row
    indices are taken from each leaf.
    """

    def sample_batch(data: PyTree, key: jax.Array) -> PyTree:
        n = jax.tree.leaves(data)[0].shape[0]
        idx = jax.random.randint(key, (batch_size,), 0, n)
        return jax.tree.map(lambda a: a[idx], data)

    return sample_batch


def dataset_task(
    *,
    name: str,
    kind: Kind,
    description: str,
    sizes: dict | None = None,
    init: Callable[[jax.Array, PyTree], Params],
    loss: Callable[[Params, Batch], jax.Array],
    train_data: PyTree,
    test_data: PyTree,
    batch_size: int,
    f_star: float | None = None,
    extra_metrics: Callable[[Params, PyTree], dict] | None = None,
) -> Task:
    """A task over a finite training set, minibatched by rows.

    ``metrics`` reports the loss on ``test_data`` as ``test_loss`` plus
    whatever ``extra_metrics`` adds (e.g. ``accuracy``).
    """

    def metrics(params: Params, data: PyTree) -> dict:
        out = {"test_loss": loss(params, data)}
        if extra_metrics is not None:
            out.update(extra_metrics(params, data))
        return out

    return Task(
        name=name,
        kind=kind,
        description=description,
        sizes=dict(sizes or {}),
        init=init,
        loss=loss,
        train_data=train_data,
        test_data=test_data,
        sample_batch=row_sampler(batch_size),
        metrics=metrics,
        f_star=f_star,
        batch_size=batch_size,
    )


def n_params(task: Task) -> int:
    """Number of scalar parameters the loss of ``task`` reads (computed without running init)."""
    shapes = jax.eval_shape(task.init, jax.random.key(0), task.train_data)
    return int(sum(np.prod(leaf.shape, dtype=np.int64)
                   for leaf, used in zip(jax.tree.leaves(shapes), task.used_leaves(shapes)) if used))
