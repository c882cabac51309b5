"""Optimization problems for rule discovery: deep and non-deep tasks as data + loss.

Example::

    from discovery import tasks
    task = tasks.get("mf_k4", "small")
    params = task.init(jax.random.key(0), task.train_data)
    loss = task.loss(params, task.sample_batch(task.train_data, jax.random.key(1)))
"""

from .architecture import Architecture, from_architecture
from .base import Task, dataset_task, n_params
from .custom import TaskError, make_task
from .libsvm import load_libsvm
from .registry import KINDS, SIZES, describe, get, is_known, names, register, unregister

__all__ = [
    "KINDS",
    "SIZES",
    "Architecture",
    "Task",
    "TaskError",
    "dataset_task",
    "describe",
    "from_architecture",
    "get",
    "is_known",
    "load_libsvm",
    "make_task",
    "n_params",
    "names",
    "register",
    "unregister",
]
