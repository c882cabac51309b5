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
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dsl
from discovery.tasks import Task

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
    def value(self) -> np.ndarray:
        start = self.initial_loss
        clipped = np.where(self.diverged, start, np.minimum(self.final_loss, start))
        return clipped - (self.f_star or 0.0)

    @property
    def test_value(self) -> np.ndarray:
        """Held-out loss, clipped like ``value`` (the initial training loss stands in for no progress)."""
        start, test = self.initial_loss, self.metrics["test_loss"]
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


def compiled(key: tuple, build: Callable[[], Callable]) -> Callable:
    """The jitted function cached under ``key``, built by ``build()`` on a miss (LRU of ``MAX_COMPILED``)."""
    if key in _COMPILED:
        _COMPILED.move_to_end(key)
        return _COMPILED[key]
    _COMPILED[key] = jax.jit(build())
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


PATHS = ("interpreter", "native")


def trainer_for(optimizer: OptimizerSpec, path: str = "interpreter", **hyperparams):
    """``(kind, make_optimizer, arg)`` for ``compiled_trainer``: what to compile and what to feed."""
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}; use one of {PATHS}")
    if isinstance(optimizer, dsl.Rule):
        if path == "interpreter":
            return "interpreter", _interpreted, dsl.encode(optimizer, **hyperparams)
        structure, values = dsl.template(optimizer, **hyperparams)
        return structure, _native(structure), jnp.asarray(values, jnp.float32)
    kind = (optimizer, tuple(sorted(hyperparams.items())))
    return kind, lambda _, lr: optimizer(lr, **hyperparams), None


def _spread_over_devices(lrs: np.ndarray) -> jax.Array:
    """``lrs`` padded to a multiple of the local device count and sharded over the devices.

    The padding repeats the last learning rate (a valid value, never NaN);
    callers keep only the first ``len(lrs)`` results.
    """
    devices = jax.local_devices()
    padded = np.pad(lrs, (0, -len(lrs) % len(devices)), mode="edge")
    mesh = jax.sharding.Mesh(np.asarray(devices), ("lr",))
    return jax.device_put(padded, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("lr")))


def train(
    optimizer: OptimizerSpec,
    task: Task,
    learning_rates: Sequence[float],
    seeds: Sequence[int],
    steps: int,
    path: str = "interpreter",
    **hyperparams,
) -> TrainResult:
    """Train ``optimizer`` on ``task`` for every learning rate x seed, in one jitted call.

    ``optimizer`` is a ``dsl.Rule`` or an Optax factory taking the learning
    rate (``optax.adam``); ``hyperparams`` override its defaults. A rule runs
    on ``path="interpreter"`` (no compilation per rule) or ``"native"`` (one
    compilation per rule *structure*: rules differing only in constants share it).
    The lr grid is spread over all local devices when there are several.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not learning_rates or not seeds:
        raise ValueError("need at least one learning rate and one seed")
    kind, make_optimizer, arg = trainer_for(optimizer, path, **hyperparams)
    lrs = np.asarray(learning_rates, np.float32)
    seed_arr = np.asarray(seeds, np.uint32)
    fn = compiled_trainer(task, kind, make_optimizer, steps)
    lr_arg = jnp.asarray(lrs) if jax.local_device_count() == 1 else _spread_over_devices(lrs)
    curve, initial, final, metrics = jax.tree.map(
        lambda x: x[: len(lrs)],
        jax.device_get(fn(arg, lr_arg, jnp.asarray(seed_arr), task.train_data, task.test_data)),
    )
    curve, initial, final = (np.asarray(x, np.float64) for x in (curve, initial, final))
    with np.errstate(invalid="ignore", over="ignore"):
        diverged = (
            ~np.all(np.isfinite(curve), axis=-1)
            | ~np.isfinite(final)
            | (final > DIVERGENCE_FACTOR * initial)
        )
    return TrainResult(
        task=task.name,
        learning_rates=np.asarray(learning_rates, np.float64),  # as asked, not float32-rounded
        seeds=seed_arr.astype(np.int64),
        steps=steps,
        curves=curve,
        initial_loss=initial,
        final_loss=final,
        metrics={k: np.asarray(v, np.float64) for k, v in metrics.items()},
        diverged=diverged,
        f_star=task.f_star,
    )
