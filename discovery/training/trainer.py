"""Training rules and Optax optimizers on tasks: one jitted call per (optimizer, task).

``train`` runs ``lax.scan`` over steps inside ``vmap`` over learning rates x
seeds. A ``dsl.Rule`` goes through the interpreter, so every rule shares one
compiled trainer per task shape: a new rule is new data, never a new XLA
compilation. An Optax factory (``optax.adam``) is compiled once per task shape.

With several local devices (GPUs, TPU cores, or CPU devices forced with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``) the learning-rate
axis is sharded across them: the grid is padded to a multiple of the device
count, placed with a ``NamedSharding`` over a 1-D mesh, and the padding is
dropped from the results. One device runs exactly the unsharded call.

Divergence (NaN/Inf anywhere in the curve, or a final loss above
``DIVERGENCE_FACTOR`` times the initial loss) is marked and scored as no
progress (the initial loss), never raised, like learned_optimization's
normalizer clips losses.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dsl
from discovery.tasks import Task
from discovery.training import compiler

DIVERGENCE_FACTOR = 3.0
OptimizerSpec = dsl.Rule | Callable[..., optax.GradientTransformation]


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """Curves and end-of-training numbers, indexed ``[learning_rate, seed, ...]``.

    ``final_loss`` is the full training loss ``loss(params, train_data)``
    after the last step; ``value`` is what scoring uses: ``final_loss`` with
    divergence mapped to ``initial_loss`` and clipped above at it (and minus
    ``f*`` when the task knows its optimum).
    """

    task: str
    learning_rates: np.ndarray  # [L]
    seeds: np.ndarray  # [S]
    steps: int
    curves: np.ndarray  # [L, S, steps] minibatch training loss
    initial_loss: np.ndarray  # [L, S] full training loss at initialization
    final_loss: np.ndarray  # [L, S]
    metrics: dict[str, np.ndarray]  # held-out: test_loss, accuracy: [L, S]
    diverged: np.ndarray  # [L, S] bool
    f_star: float | None

    def merge(self, other: TrainResult) -> TrainResult:
        """Both results' learning rates (same task, seeds and steps), sorted; ``self`` wins duplicates."""
        lrs = np.concatenate([self.learning_rates, other.learning_rates])
        _, first = np.unique(lrs, return_index=True)  # sorted by lr, first occurrence of each

        def take(a, b):
            return np.concatenate([a, b])[first]

        return dataclasses.replace(
            self, learning_rates=lrs[first], curves=take(self.curves, other.curves),
            initial_loss=take(self.initial_loss, other.initial_loss),
            final_loss=take(self.final_loss, other.final_loss),
            metrics={k: take(v, other.metrics[k]) for k, v in self.metrics.items()},
            diverged=take(self.diverged, other.diverged))

    @property
    def start(self) -> np.ndarray:
        """The initial loss, what no progress scores; +inf where it is not finite (the task's own
        loss at its initial parameters: a training must never score NaN, which would compare as
        nothing and rank anywhere; an executable that computes it wrongly raises
        ``ExecutableError`` instead)."""
        return np.where(np.isfinite(self.initial_loss), self.initial_loss, np.inf)

    @property
    def value(self) -> np.ndarray:
        start = self.start
        clipped = np.where(self.diverged, start, np.minimum(self.final_loss, start))
        return clipped - (self.f_star or 0.0)

    @property
    def test_value(self) -> np.ndarray:
        """Held-out loss, clipped like ``value`` (the initial training loss stands in for no progress)."""
        start, test = self.start, self.metrics["test_loss"]
        bad = self.diverged | ~np.isfinite(test)
        return np.where(bad, start, np.minimum(np.nan_to_num(test, nan=np.inf), start))


def _run_one(task: Task, make_optimizer: Callable, steps: int):
    """Train from ``seed`` with one learning rate: curve, initial/final loss, held-out metrics.

    ``make_optimizer(arg, lr)`` builds the optimizer; ``arg`` is data (an
    encoded program or lifted constants) so it never forces a recompilation.
    """

    def run(arg, lr, seed, train_data, test_data):
        init_key, data_key = jax.random.split(jax.random.key(seed))
        params = task.init(init_key, train_data)
        opt = make_optimizer(arg, lr)

        def step(carry, i):
            params, state = carry
            batch = task.sample_batch(train_data, jax.random.fold_in(data_key, i))
            loss, grads = jax.value_and_grad(task.loss)(params, batch)
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), loss

        initial = task.loss(params, train_data)
        (params, _), curve = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(steps))
        return curve, initial, task.loss(params, train_data), task.metrics(params, test_data)

    return run


# Compiled functions, least recently used first. Each holds its XLA executables
# (hundreds of memory mappings on CPU), so only the most recent are kept: a
# process that compiled one per task shape without limit would exhaust its
# mappings (vm.max_map_count) after about a hundred.
MAX_COMPILED = 32
_COMPILED: collections.OrderedDict[tuple, Callable] = collections.OrderedDict()
_PEAK = 0  # the most entries _COMPILED has held


def peak_compiled() -> int:
    """The most compiled functions this process has held at once (bounded by ``MAX_COMPILED``)."""
    return _PEAK


def traced() -> tuple[int, int]:
    """``(functions, traces)``: the compiled functions this process holds and how many input
    shapes they were traced for in all. A warm compilation cache saves compiling, not tracing:
    a function traced more than once pays again (tests keep ``traces == functions`` on runs)."""
    return len(_COMPILED), sum(fn._cache_size() for fn in _COMPILED.values())


def compiled(key: tuple, build: Callable[[], Callable]) -> Callable:
    """The jitted function cached under ``key``, built by ``build()`` on a miss (LRU of ``MAX_COMPILED``)."""
    if key in _COMPILED:
        _COMPILED.move_to_end(key)
        return _COMPILED[key]
    _COMPILED[key] = compiler.jit(build())
    global _PEAK
    _PEAK = max(_PEAK, len(_COMPILED))
    while len(_COMPILED) > MAX_COMPILED:
        _COMPILED.popitem(last=False)  # its executables are freed with it
    return _COMPILED[key]


def compiled_trainer(task: Task, kind, make_optimizer: Callable, steps: int) -> Callable:
    """The jitted (lr x seed)-vmapped trainer for ``kind``, built once per ``task.compile_key``.

    ``kind`` names what the compiled code depends on: ``"interpreter"`` (all
    rules), a rule template (native path, constants as data), or an Optax factory.
    """

    def build():
        one = _run_one(task, make_optimizer, steps)
        over_seeds = jax.vmap(one, in_axes=(None, None, 0, None, None))
        return jax.vmap(over_seeds, in_axes=(None, 0, None, None, None))

    return compiled(("train", task.compile_key, kind, steps), build)


def _interpreted(program, lr):
    return dsl.interpreter(program, lr)


def _native(structure: dsl.Rule):
    names = [n for n, _ in structure.params]
    return lambda values, lr: dsl.to_optax(structure, lr, **{n: values[i] for i, n in enumerate(names)})


TrainingPath = Literal["interpreter", "native"]  # how a rule trains: data for the interpreter, or its own code
PATHS: tuple[TrainingPath, ...] = get_args(TrainingPath)
INTERPRETER, NATIVE = PATHS


def trainer_for(optimizer: OptimizerSpec, path: TrainingPath = "interpreter", **hyperparams):
    """``(kind, make_optimizer, arg)`` for ``compiled_trainer``: what to compile and what to feed."""
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}; use one of {PATHS}")
    if isinstance(optimizer, dsl.Rule):
        if path == "interpreter":
            return "interpreter", _interpreted, _program(optimizer, tuple(sorted(hyperparams.items())))
        structure, values = dsl.template(optimizer, **hyperparams)
        return structure, _native(structure), jnp.asarray(values, jnp.float32)
    kind = (optimizer, tuple(sorted(hyperparams.items())))
    return kind, lambda _, lr: optimizer(lr, **hyperparams), None


@functools.lru_cache(maxsize=256)
def _program(rule: dsl.Rule, hyperparams: tuple) -> dsl.Program:
    """``rule`` encoded for the interpreter, once for the several calls tuning makes per task."""
    return dsl.encode(rule, **dict(hyperparams))


LANE_MULTIPLE = 2  # lr lanes are padded to a multiple of this: a grid and the grid plus a default share a trace


def _lanes(lrs: np.ndarray, at_least: int = 0) -> jax.Array:
    """``lrs`` padded to ``at_least`` lanes and then to a multiple of ``LANE_MULTIPLE`` and of the
    local device count (sharded over the devices when there are several), so that the blocks of
    lrs tuning asks for (``n`` and ``n + 1``) trace and compile one trainer. The padding repeats
    the last learning rate (a valid value, never NaN); callers keep only the first ``len(lrs)``
    results, which the padding leaves unchanged (every lane trains apart)."""
    devices = jax.local_devices()
    multiple = math.lcm(LANE_MULTIPLE, len(devices))
    count = max(len(lrs), at_least)
    count += -count % multiple  # up to a multiple
    padded = np.pad(lrs, (0, count - len(lrs)), mode="edge")
    if len(devices) == 1:
        return jnp.asarray(padded)
    mesh = jax.sharding.Mesh(np.asarray(devices), ("lr",))
    return jax.device_put(padded, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("lr")))


def train(
    optimizer: OptimizerSpec,
    task: Task,
    learning_rates: Sequence[float],
    seeds: Sequence[int],
    steps: int,
    path: TrainingPath = "interpreter",
    *,
    lanes: int = 0,
    **hyperparams,
) -> TrainResult:
    """Train ``optimizer`` on ``task`` for every learning rate x seed, in one jitted call.

    ``optimizer`` is a ``dsl.Rule`` or an Optax factory taking the learning
    rate (``optax.adam``); ``hyperparams`` override its defaults. A rule runs
    on ``path="interpreter"`` (no compilation per rule) or ``"native"`` (one
    compilation per rule *structure*: rules differing only in constants share it).
    The lr grid is spread over all local devices when there are several, and padded to at
    least ``lanes`` lanes: a short grid then reuses the trace of a longer one.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not learning_rates or not seeds:
        raise ValueError("need at least one learning rate and one seed")
    kind, make_optimizer, arg = trainer_for(optimizer, path, **hyperparams)
    lrs = np.asarray(learning_rates, np.float32)
    seed_arr = np.asarray(seeds, np.uint32)
    fn = compiled_trainer(task, kind, make_optimizer, steps)
    outputs = jax.device_get(fn(arg, _lanes(lrs, lanes), jnp.asarray(seed_arr), task.train_data, task.test_data))
    return _result(task, learning_rates, seed_arr, steps, jax.tree.map(lambda x: x[: len(lrs)], outputs))


class ExecutableError(RuntimeError):
    """A compiled training computed what its own inputs rule out: a non-finite loss at the
    initial parameters where the same loss computed apart is finite. A fault of the compiled
    executable (``compiler``), never a score."""


def initial_losses(task: Task, seeds: Sequence[int]) -> np.ndarray:
    """``loss(init(seed), train_data)`` per seed, compiled apart from any training."""
    def one(seed, train_data):
        init_key, _ = jax.random.split(jax.random.key(seed))
        return task.loss(task.init(init_key, train_data), train_data)

    fn = compiled(("initial loss", task.compile_key), lambda: jax.vmap(one, in_axes=(0, None)))
    return np.asarray(fn(jnp.asarray(np.asarray(seeds, np.uint32)), task.train_data), np.float64)


def _checked_initial(task: Task, seeds: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """``initial`` ``[lr, seed]``, after checking that a non-finite value is the task's own (its
    initial loss computed apart is not finite either); else ``ExecutableError``."""
    bad = ~np.isfinite(initial)
    if bad.any():
        apart = initial_losses(task, seeds)
        wrong = bad & np.isfinite(apart)[None, :]
        if wrong.any():
            lane = np.argwhere(wrong)[0]
            raise ExecutableError(
                f"task {task.name!r}: the compiled training returned an initial loss of "
                f"{initial[tuple(lane)]} in {int(wrong.sum())} of {wrong.size} lanes where the loss "
                f"at the initial parameters is {apart[lane[1]]:.6g}: a miscompiled executable "
                "(see discovery/training/compiler.py); nothing was scored")
    return initial


def _result(task: Task, learning_rates: Sequence[float], seeds: np.ndarray, steps: int, outputs) -> TrainResult:
    """The ``TrainResult`` of one task's (curve, initial, final, metrics) arrays ``[lr, seed, ...]``."""
    curve, initial, final, metrics = outputs
    curve, initial, final = (np.asarray(x, np.float64) for x in (curve, initial, final))
    initial = _checked_initial(task, seeds, initial)
    with np.errstate(invalid="ignore", over="ignore"):
        diverged = (
            ~np.all(np.isfinite(curve), axis=-1)
            | ~np.isfinite(final)
            | ~np.isfinite(initial)
            | (final > DIVERGENCE_FACTOR * initial)
        )
    return TrainResult(
        task=task.name,
        learning_rates=np.asarray(learning_rates, np.float64),  # as asked, not float32-rounded
        seeds=seeds.astype(np.int64),
        steps=steps,
        curves=curve,
        initial_loss=initial,
        final_loss=final,
        metrics={k: np.asarray(v, np.float64) for k, v in metrics.items()},
        diverged=diverged,
        f_star=task.f_star,
    )


def _stacked(trees: Sequence) -> tuple:
    """``(tree, axes)``: a leaf equal in every tree (the dataset, one rule's program) once, with
    axis None; any other leaf stacked over the trees, with axis 0 (what ``jax.vmap``'s in_axes reads)."""
    columns = zip(*(jax.tree.leaves(t) for t in trees))
    treedef = jax.tree.structure(trees[0])
    leaves, axes = [], []
    for column in columns:
        shared = all(leaf is column[0] or np.array_equal(leaf, column[0]) for leaf in column)
        leaves.append(column[0] if shared else jnp.stack(column))
        axes.append(None if shared else 0)
    return treedef.unflatten(leaves), treedef.unflatten(axes)


def train_many(
    optimizers: Sequence[OptimizerSpec],
    tasks: Sequence[Task],
    learning_rates: Sequence[Sequence[float]],
    seeds: Sequence[int],
    steps: int,
    path: TrainingPath = "interpreter",
) -> list[TrainResult]:
    """``[train(o, t, lrs, seeds, steps, path) for o, t, lrs in zip(...)]`` in one call, vmapped over
    the pairs: the tasks share a ``compile_key`` (e.g. architectures of one shape) and the
    optimizers what they compile to, and every pair has as many learning rates.

    What differs between pairs (an architecture's switches, different rules) is stacked; what
    they share (the dataset, one rule) is passed once. It pays where one call is cheaper
    than many (GPUs); on a CPU that each call already keeps busy it does not. One device.
    """
    if len({t.compile_key for t in tasks}) != 1:
        raise ValueError("train_many needs tasks of one compile_key")
    specs = [trainer_for(o, path) for o in optimizers]
    kind, make_optimizer = specs[0][:2]
    if any(s[0] != kind for s in specs):
        raise ValueError("train_many needs optimizers that compile alike (one path, one structure)")
    if len({len(lrs) for lrs in learning_rates}) != 1:
        raise ValueError("train_many needs as many learning rates for every pair")
    arg, arg_axes = _stacked([s[2] for s in specs])
    train_data, train_axes = _stacked([t.train_data for t in tasks])
    test_data, test_axes = _stacked([t.test_data for t in tasks])
    seed_arr = np.asarray(seeds, np.uint32)

    def build():
        one = _run_one(tasks[0], make_optimizer, steps)
        over_seeds = jax.vmap(one, in_axes=(None, None, 0, None, None))
        over_grid = jax.vmap(over_seeds, in_axes=(None, 0, None, None, None))
        return jax.vmap(over_grid, in_axes=(arg_axes, 0, None, train_axes, test_axes))

    axes = jax.tree.flatten((arg_axes, train_axes, test_axes), is_leaf=lambda x: x is None)
    fn = compiled(("train many", tasks[0].compile_key, kind, steps, repr(axes)), build)
    outputs = jax.device_get(fn(arg, jnp.asarray(np.asarray(learning_rates, np.float32)),
                                jnp.asarray(seed_arr), train_data, test_data))
    return [_result(task, lrs, seed_arr, steps, jax.tree.map(lambda x, i=i: x[i], outputs))
            for i, (task, lrs) in enumerate(zip(tasks, learning_rates))]
