"""Optimization problems for rule discovery: deep and non-deep tasks as data + loss.

Example::

    from discovery import tasks
    task = tasks.get("mf_k4", "small")
    params = task.init(jax.random.key(0), task.train_data)
    loss = task.loss(params, task.sample_batch(task.train_data, jax.random.key(1)))
    fam = tasks.family("token_model")        # architecture families: genes, edits, build
    task = fam.build(fam.default(), "small", budget=20_000)
"""

from .architecture import Architecture, from_architecture
from .base import Kind, Size, Task, dataset_task, n_params
from .custom import TaskError, make_task
from .family import Family, Genes, GenesRecord
from .libsvm import load_libsvm
from .registry import (
    DEFAULT_FAMILY,
    KINDS,
    SIZES,
    architecture_from_record,
    architecture_record,
    control_family,
    describe,
    family,
    family_names,
    family_of,
    get,
    is_known,
    is_known_family,
    names,
    register,
    register_family,
    unregister,
)
from .token_family import TokenArchitecture

__all__ = [
    "DEFAULT_FAMILY",
    "KINDS",
    "SIZES",
    "Architecture",
    "Family",
    "Genes",
    "GenesRecord",
    "Kind",
    "Size",
    "Task",
    "TaskError",
    "TokenArchitecture",
    "architecture_from_record",
    "architecture_record",
    "dataset_task",
    "describe",
    "control_family",
    "family",
    "family_names",
    "family_of",
    "from_architecture",
    "get",
    "is_known",
    "is_known_family",
    "load_libsvm",
    "make_task",
    "n_params",
    "names",
    "register",
    "register_family",
    "unregister",
]
