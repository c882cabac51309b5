"""The task registry: names -> (builder, size tables).

Example::

    task = get("mf_k4")                       # small size
    task = get("klr_mushrooms", "default", data_file="mushrooms")
    [row.name for row in describe()]
    register(make_task("my_logreg", loss, init, data))   # then get("my_logreg")
    get("my_package.tasks:make_logreg")       # a factory by import path, any process
    family("token_model").build(family("token_model").default(), "small")   # architecture families

A registered task lives in this process only; a run that names it can be
inspected and exported anywhere, resumed only where it is registered again. A
task named by import path (``"package.module:factory"``, the factory called with
no argument or with ``size``) is found again by any process that can import it.

Architecture families (``family.Family``) have their own registry here: the
built-in "mlp" (``architecture.MLP_FAMILY``) and "token_model"
(``token_family.TOKEN_FAMILY``), families registered with ``register_family``,
and families named by import path ``"package.module:FAMILY"``. A stored
architecture record names its family (``architecture_record``); a record
without one is the MLP family's (runs written before families existed).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

from . import (
    architecture,
    autoencoder,
    block_quadratic,
    kernel_logreg,
    least_squares,
    matrix_factorization,
    mnist1d_cnn,
    mnist1d_mlp,
    quadratic,
    rosenbrock,
    softmax_regression,
    token_family,
    transformer,
    zipf_classification,
)
from .base import KINDS, SIZES, Kind, Size, Task, n_params
from .custom import TaskError, check
from .family import Family

_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")

_MLP_FAMILY_SIZES = {
    size: {**data, **architecture.Architecture().to_dict()}
    for size, data in architecture.DATA_SIZES.items()
}
_TOKEN_FAMILY_SIZES = {
    size: {**data, **token_family.TokenArchitecture().to_dict()}
    for size, data in token_family.DATA_SIZES.items()
}

# name -> (kind, builder(**sizes) -> Task, {size: {parameter: value}})
_TASKS: dict[str, tuple[str, Callable[..., Task], dict[str, dict]]] = {
    **{
        f"klr_{d}": (
            "nondeep",
            functools.partial(kernel_logreg.make_kernel_logreg, d),
            kernel_logreg.size_table(d),
        )
        for d in kernel_logreg.PROFILES
    },
    **{
        f"mf_k{k}": (
            "nondeep",
            functools.partial(matrix_factorization.make_matrix_factorization, k),
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
    "zipf_softmax": ("nondeep", zipf_classification.make_zipf_classification, zipf_classification.SIZES),
    "block_quadratic": ("nondeep", block_quadratic.make_block_quadratic, block_quadratic.SIZES),
    "mnist1d_mlp": ("deep", mnist1d_mlp.make_mnist1d_mlp, mnist1d_mlp.SIZES),
    "mnist1d_cnn": ("deep", mnist1d_cnn.make_mnist1d_cnn, mnist1d_cnn.SIZES),
    "mnist1d_autoencoder": ("deep", autoencoder.make_autoencoder, autoencoder.SIZES),
    "transformer_modadd": ("deep", transformer.make_transformer, transformer.SIZES),
    "mlp_family": ("deep", architecture.make_mlp_family, _MLP_FAMILY_SIZES),
    "zipf_mlp": ("deep", zipf_classification.make_zipf_classification, zipf_classification.MLP_SIZES),
    "zipf_tokens": ("deep", token_family.make_zipf_tokens, _TOKEN_FAMILY_SIZES),
}


# name -> a user's task (kind "custom" unless it says otherwise), registered in this process
_REGISTERED: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Make ``task`` available by its name (``get``, configs, ``discovery.search``) in this
    process, after checking that it trains (``custom.check``). Registering a name again
    replaces the task; a built-in name cannot be taken. Returns ``task``."""
    if not isinstance(task, Task):
        raise TaskError(f"register takes a Task (tasks.make_task builds one), got {type(task).__name__}")
    if task.name in _TASKS or is_import_path(task.name):
        raise TaskError(f"task name {task.name!r} is taken by a built-in task or reads as an import "
                        "path: choose another name")
    _REGISTERED[task.name] = check(task)
    return task


def unregister(name: str) -> None:
    """Forget a registered task (an unknown name is an error)."""
    if name not in _REGISTERED:
        raise ValueError(f"task {name!r} is not registered; registered: {sorted(_REGISTERED)}")
    del _REGISTERED[name]


def is_import_path(name: str) -> bool:
    """Whether ``name`` reads as ``"package.module:factory"``."""
    return bool(_IMPORT_PATH.fullmatch(name))


def is_known(name: str) -> bool:
    """A built-in or registered task, or an import path (imported only when the task is built)."""
    return name in _TASKS or name in _REGISTERED or is_import_path(name)


def names(kind: Kind | None = None) -> list[str]:
    """Built-in and registered task names, optionally only those of ``kind`` ("deep" | "nondeep" |
    "custom")."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {list(KINDS)}")
    return ([name for name, (k, _, _) in _TASKS.items() if kind is None or k == kind]
            + [name for name, t in _REGISTERED.items() if kind is None or t.kind == kind])


def get(name: str, size: Size = "small", **overrides) -> Task:
    """Build task ``name`` at ``size`` ("small": tests; "default": real runs).

    ``name`` is a built-in task, a registered one (``size`` and ``overrides`` do not
    apply), or ``"package.module:factory"``. ``overrides`` replace individual size
    parameters of a built-in task (see ``describe()``).
    Raises ValueError for an unknown name, size or override key.
    """
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; valid sizes: {list(SIZES)}")
    if name not in _TASKS:
        custom = name in _REGISTERED or is_import_path(name)
        if not custom or overrides:
            hint = (f"; {name!r} takes no size parameters" if custom else
                    "; a task of your own: register it (discovery.tasks.register) in this process, or "
                    "name it by import path 'package.module:factory'")
            raise ValueError(f"unknown task {name!r}{hint}; valid tasks: {names()}")
        return _REGISTERED[name] if name in _REGISTERED else _imported(name, size)
    _, build, table = _TASKS[name]
    params = dict(table[size])
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for task {name!r}; valid parameters: {sorted(params)}"
        )
    params.update(overrides)
    return build(**params)


@dataclasses.dataclass(frozen=True)
class TaskRow:
    """A registered task as ``discovery tasks`` lists it."""

    name: str
    kind: Kind
    description: str
    n_params: int
    sizes: dict
    f_star: float | None


def describe(size: Size = "small") -> list[TaskRow]:
    """One row per registered task; builds every task (generating its data) at ``size``."""
    return [TaskRow(name, task.kind, task.description, n_params(task), task.sizes, task.f_star)
            for name, task in ((name, get(name, size)) for name in names())]


def import_failure(module_name: str, e: ImportError) -> str:
    """Why ``module_name`` did not import, and what makes it importable for the installed
    ``discovery`` command, whose import path does not hold the working folder (by design: a
    module in a downloaded run folder must not shadow a real one)."""
    missing = getattr(e, "name", None)
    parts = module_name.split(".")
    if missing not in {".".join(parts[:n]) for n in range(1, len(parts) + 1)}:
        return (f"module {module_name!r} was found but its import failed: "
                f"{type(e).__name__}: {' '.join(str(e).split())}")
    file = "/".join(parts) + ".py"
    return (f"module {module_name!r} cannot be imported ({e}); the `discovery` command does not "
            f"look in the current folder: put the folder that holds {file} on the import path "
            f"(PYTHONPATH=/path/to/that/folder discovery ...), or run `python -m discovery.cli ...` "
            "from that folder, or pip install the package that holds the module")


@functools.lru_cache(maxsize=32)
def _imported(path: str, size: Size) -> Task:
    """The task that ``"package.module:factory"`` makes, named by that path, checked (once per size)."""
    module_name, attr = path.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"task {path!r}: {import_failure(module_name, e)}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"task {path!r}: module {module_name!r} has no function {attr!r}")
    takes_size = "size" in inspect.signature(factory).parameters
    task = factory(size=size) if takes_size else factory()
    if not isinstance(task, Task):
        raise TaskError(f"task {path!r}: {attr}() returned {type(task).__name__}, expected a Task "
                        "(discovery.tasks.make_task builds one)")
    return check(dataclasses.replace(task, name=path))


# --- architecture families ----------------------------------------------------------------------

_FAMILIES: dict[str, Family] = {f.name: f for f in (architecture.MLP_FAMILY, token_family.TOKEN_FAMILY,
                                                   *token_family.CONTROLS.values())}
_BUILT_IN_FAMILIES = frozenset(_FAMILIES)
DEFAULT_FAMILY = "mlp"
_BY_GENES: dict[type, Family] = {f.genes: f for f in _FAMILIES.values()}


# A family's controls for the hypothesis experiment: the same family with one planted gene free
# to evolve (``token_family.CONTROLS``), by kind ("positive" | "negative").
_CONTROLS: dict[str, dict[str, str]] = {"token_model": {k: f.name for k, f in token_family.CONTROLS.items()}}


def control_family(name: str, kind: str) -> str | None:
    """The name of family ``name``'s ``kind`` control, or None if it has none."""
    return _CONTROLS.get(name, {}).get(kind)


def register_family(fam: Family) -> Family:
    """Make ``fam`` available by its name (``family``, ``[coevolution] family``) in this process.
    Registering a name again replaces the family; a built-in name cannot be taken. Returns ``fam``."""
    if not isinstance(fam, Family):
        raise TypeError(f"register_family takes a tasks.Family, got {type(fam).__name__}")
    if fam.name in _BUILT_IN_FAMILIES or is_import_path(fam.name):
        raise ValueError(f"family name {fam.name!r} is taken by a built-in family or reads as an import "
                         "path: choose another name")
    _FAMILIES[fam.name] = fam
    _BY_GENES[fam.genes] = fam
    return fam


def family_names() -> list[str]:
    """Built-in and registered families."""
    return list(_FAMILIES)


def is_known_family(name: str) -> bool:
    """A built-in or registered family, or an import path (imported only when it is used)."""
    return name in _FAMILIES or is_import_path(name)


def family(name: str) -> Family:
    """The family called ``name``: built-in, registered, or ``"package.module:FAMILY"`` (imported
    and registered under that path, so records of it name the path). ValueError if unknown."""
    if name in _FAMILIES:
        return _FAMILIES[name]
    if not is_import_path(name):
        raise ValueError(f"unknown architecture family {name!r}; valid families: {family_names()}, "
                         "a family registered with discovery.tasks.register_family, or "
                         "'package.module:FAMILY'")
    module_name, attr = name.split(":")
    try:
        found = getattr(importlib.import_module(module_name), attr, None)
    except ImportError as e:
        raise ValueError(f"family {name!r}: {import_failure(module_name, e)}") from None
    if not isinstance(found, Family):
        raise ValueError(f"family {name!r}: {module_name}.{attr} is not a discovery.tasks.Family")
    fam = dataclasses.replace(found, name=name)
    _FAMILIES[name] = fam
    _BY_GENES[fam.genes] = fam
    return fam


def family_of(genes: Any) -> Family:
    """The family whose record ``genes`` is (by its type)."""
    try:
        return _BY_GENES[type(genes)]
    except KeyError:
        raise ValueError(f"{type(genes).__name__} is the record of no registered family; register its "
                         "family (discovery.tasks.register_family)") from None


def architecture_record(genes: Any) -> dict[str, Any]:
    """What is stored for an architecture: ``{"family": name, **genes.to_dict()}``."""
    return {"family": family_of(genes).name, **genes.to_dict()}


def architecture_from_record(data: Any) -> Any:
    """Inverse of ``architecture_record``; a record without ``family`` is the MLP family's.
    ValueError on a bad record or an unknown family."""
    if not isinstance(data, dict):  # stored data of the wrong shape is a bad value
        raise ValueError(f"an architecture record must be a dict, got {type(data).__name__}")  # noqa: TRY004
    fields = dict(data)
    name = fields.pop("family", DEFAULT_FAMILY)
    if not isinstance(name, str):
        raise ValueError(f"an architecture record's family must be a name, got {name!r}")
    return family(name).decode(fields)
