"""Fair tuning: a tuned score that is a property of the optimizer, not of the lr grid.

``tune(optimizer, task, protocol)`` trains and scores in four steps:

1. **Scale-free start.** A rule's natural step size on the task is the RMS of
   its updates ``u`` over the second half of ``STEPS`` steps fed the task's own
   minibatch gradients at the initial parameters (NumPy on the host, no
   compilation). The protocol's grid, made for Adam, is multiplied by
   ``s = step(Adam) / step(rule)``, so ``c * u`` starts on the grid of ``u``
   divided by ``c``: the same trajectories, the same tuned score, a tuned lr
   ``c`` times smaller. Optax factories are not rules and start on the grid
   itself (``s = 1``), as Adam does.
2. **Bracketing.** The tuned lr (best seed-mean score) must lie at least one
   decade inside what was tried on both sides (below: unless the smallest lr
   already made no progress without diverging). Until it does, a further block
   of half-decade steps is trained beyond the edge in that direction (the same
   number of lrs as the first call, so nothing recompiles), stopping at the
   hard limits ``LIMITS``, which are in Adam-equivalent units (``lr / s``). A
   tuned lr at the edge of what was tried (after bracketing: at a limit) is
   flagged ``at_limit``, never silently reported as tuned.
3. **Refinement.** Where the score is sharp in the lr (a neighbour of the tuned lr on the
   half-decade lattice scores ``SHARP_DECADES`` worse or more: the loss of an
   ill-conditioned problem falls steeply up to the stability edge, so where the lattice
   happens to fall moves the tuned score), one more block of as many lrs spread within half
   a decade of the tuned lr on both sides (same call shape: nothing recompiles).
4. **Robust score.** The geometric mean of the scores at the lrs tried within
   one decade of the tuned lr (``ROBUST_DECADES``): how much is lost when the
   lr is off by up to 10x, measured around the optimizer's own optimum, so it
   does not depend on where the grid stops.

Every ``TaskScore`` carries its protocol: the lrs tried, the scale, whether
the optimum is at a limit.

Example::

    s = tune(dsl.library.get("lion"), tasks.get("mf_k4"), scoring.Protocol(steps=100)).score
    s.tuned, s.tuned_lr, s.learning_rates, s.at_limit
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

import dsl
from discovery.tasks import Task
from discovery.training import scoring, trainer

STEPS = 16  # gradient steps fed to a rule to measure its natural step size
HALF_DECADE = 10.0 ** 0.5
MARGIN_DECADES = 1.0  # the tuned lr must have lrs tried this far away on both sides
SHARP_DECADES = 0.2  # a neighbour this much worse (log10 of the score) makes the optimum sharp
LIMITS = (1e-8, 1e4)  # hard limits of bracketing, Adam-equivalent lr (lr / scale)
_LOG_TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class Tuned:
    """A bracketed training result (every lr tried, sorted) and its scores."""

    result: trainer.TrainResult
    score: scoring.TaskScore


def _gradient_stream(task: Task, steps: int):
    """``train_data -> (gradients [steps, ...], params)`` at the seed-0 init, as in the trainer."""

    def stream(train_data):
        init_key, data_key = jax.random.split(jax.random.key(0))
        params = task.init(init_key, train_data)

        def grad_at(i):
            batch = task.sample_batch(train_data, jax.random.fold_in(data_key, i))
            return jax.grad(task.loss)(params, batch)

        return jax.vmap(grad_at)(jnp.arange(steps)), params

    return stream


@functools.lru_cache(maxsize=64)
def initial_gradients(task: Task, steps: int = STEPS) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
    """``steps`` minibatch gradients at the seed-0 initial parameters, and those parameters.

    Leaves the loss reads (``Task.used_leaves``), in ``jax.tree.leaves`` order, as float64
    NumPy arrays (what ``dsl.probe.run_numpy`` reads). Compiled once per ``task.compile_key``.
    """
    fn = trainer.compiled(("gradients", task.compile_key, steps), lambda: _gradient_stream(task, steps))
    grads, params = fn(task.train_data)
    used = task.used_leaves(params)
    leaves = [np.asarray(x, np.float64) for x, u in zip(jax.tree.leaves(grads), used) if u]
    stream = [[leaf[i] for leaf in leaves] for i in range(steps)]
    return stream, [np.asarray(x, np.float64) for x, u in zip(jax.tree.leaves(params), used) if u]


def step_size(rule: dsl.Rule, task: Task) -> float:
    """RMS of ``rule``'s updates over the second half of the task's initial gradient stream
    (NaN if an update is not finite)."""
    grads, params = initial_gradients(task)
    updates = dsl.probe.run_numpy(rule, grads, [params] * len(grads))
    tail = np.concatenate([u.ravel() for row in updates[len(updates) // 2:] for u in row])
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt(np.mean(np.square(tail)))) if np.all(np.isfinite(tail)) else math.nan


_ADAM = dsl.library.get("adam")


@functools.lru_cache(maxsize=64)
def _adam_step(task: Task) -> float:
    return step_size(_ADAM, task)


def natural_scale(rule: dsl.Rule, task: Task) -> float:
    """``step(Adam) / step(rule)`` on ``task``: the factor that moves Adam's grid to the rule's.

    1.0 when either step is zero or not finite (such a rule diverges or stalls
    at every lr; bracketing and the scores say so), and for Adam itself without
    measuring (its step over itself), so tuning Adam compiles no gradient stream.
    """
    if rule == _ADAM:
        return 1.0
    ours, adam = step_size(rule, task), _adam_step(task)
    scale = adam / ours if ours > 0 and adam > 0 else math.nan
    return scale if math.isfinite(scale) and scale > 0 else 1.0


def _missing_side(result: trainer.TrainResult, score: scoring.TaskScore) -> int:
    """-1 if the tuned lr lacks a decade of tried lrs below it, +1 above, 0 if bracketed.

    Not below when the smallest lr already made no progress without diverging: smaller
    steps cannot do better (the score is the initial loss at every lr; flagged ``at_limit``).
    """
    logs = np.log10(result.learning_rates)
    best = math.log10(score.tuned_lr)
    lowest = int(np.argmin(logs))
    flat = not result.diverged[lowest].any() and np.all(
        result.final_loss[lowest] >= result.initial_loss[lowest])
    if logs.min() > best - MARGIN_DECADES + _LOG_TOLERANCE and not flat:
        return -1
    if logs.max() < best + MARGIN_DECADES - _LOG_TOLERANCE:
        return 1
    return 0


def _extension(edge: float, direction: int, size: int, limit: float) -> np.ndarray | None:
    """``size`` lrs beyond ``edge`` in half-decade steps, stopped at ``limit`` (padded with it);
    None if ``edge`` already is at the limit."""
    if (edge - limit) * direction >= -abs(limit) * _LOG_TOLERANCE:
        return None
    steps = edge * HALF_DECADE ** (direction * np.arange(1, size + 1))
    return np.minimum(steps, limit) if direction > 0 else np.maximum(steps, limit)


def _sharp(result: trainer.TrainResult, score: scoring.TaskScore, metric: scoring.Metric) -> bool:
    """Whether a neighbour of the tuned lr (the nearest lr tried on either side) scores at least
    ``SHARP_DECADES`` worse than it."""
    means = np.log10(np.maximum(scoring.losses(result, metric).mean(axis=1), scoring.FLOOR))
    best = int(np.flatnonzero(result.learning_rates == score.tuned_lr)[0])
    neighbours = [i for i in (best - 1, best + 1) if 0 <= i < len(means)]
    return any(means[i] - means[best] >= SHARP_DECADES for i in neighbours)


def _refinement(center: float, size: int, limits: tuple[float, float]) -> np.ndarray:
    """``size`` lrs spread within half a decade of ``center`` on both sides (not ``center``)."""
    offsets = np.linspace(-0.5, 0.5, size + 2 + size % 2)[1:-1][:size]
    return np.clip(center * 10.0 ** offsets, *limits)


def centered(grid: tuple[float, ...], center: float | None) -> np.ndarray:
    """``grid`` shifted by a whole number of half decades so that its geometric middle is
    nearest ``center`` (a half-decade grid keeps its points on the same lattice)."""
    grid = np.asarray(grid, np.float64)
    if center is None:
        return grid
    middle = np.mean(np.log10([grid.min(), grid.max()]))
    return grid * HALF_DECADE ** round((math.log10(center) - middle) * 2)


def _first_block(grid: np.ndarray, default_lr: float | None) -> np.ndarray:
    """The grid and the default lr, sorted; always ``len(grid) + 1`` lrs when there is a default
    (one more half decade above the grid if the default is on it), so that every call for one
    optimizer has the same number of lrs and compiles once."""
    if default_lr is None:
        return np.sort(grid)
    lrs = {*grid.tolist(), default_lr}
    if len(lrs) == len(grid):
        lrs.add(float(grid.max() * HALF_DECADE))
    return np.asarray(sorted(lrs))


def block_lanes(protocol: scoring.Protocol) -> int:
    """The most lrs tuning trains in one call (the grid and a default lr): another call padded to
    as many lanes (``trainer.train(lanes=...)``) reuses tuning's trainer instead of tracing one."""
    return len(protocol.learning_rates) + 1


class _Bracketing:
    """One optimizer's fair tuning on one task in progress: what to train next, the result so far."""

    def __init__(self, optimizer: trainer.OptimizerSpec, task: Task, protocol: scoring.Protocol,
                 default_lr: float | None, metric: scoring.Metric, scale: float | None, center: float | None):
        if scale is None:
            scale = natural_scale(optimizer, task) if protocol.scale_free and isinstance(
                optimizer, dsl.Rule) else 1.0
        self.scale, self.default_lr, self.metric, self.bracket = float(scale), default_lr, metric, protocol.bracket
        grid = centered(protocol.learning_rates, center) * scale
        self.first = _first_block(grid, default_lr)
        self.limits = (LIMITS[0] * scale, LIMITS[1] * scale)
        self.refine, self.refined = protocol.refine, False
        self.result: trainer.TrainResult | None = None
        self.score: scoring.TaskScore | None = None

    def add(self, result: trainer.TrainResult) -> np.ndarray | None:
        """Merge a trained block of lrs; return the next block to train, or None when bracketed
        (or at a limit, or bracketing is off) and refined where sharp."""
        self.result = result if self.result is None else self.result.merge(result)
        self.score = scoring.score(self.result, self.default_lr, self.metric)
        if self.refined:
            return None
        side = _missing_side(self.result, self.score) if self.bracket else 0
        if side == 0:
            if self.refine and _sharp(self.result, self.score, self.metric):
                self.refined = True
                return _refinement(self.score.tuned_lr, len(self.first), self.limits)
            return None
        edge = self.result.learning_rates.min() if side < 0 else self.result.learning_rates.max()
        return _extension(edge, side, len(self.first), self.limits[side > 0])

    def tuned(self) -> Tuned:
        return Tuned(self.result, dataclasses.replace(self.score, scale=self.scale))


def tune(optimizer: trainer.OptimizerSpec, task: Task, protocol: scoring.Protocol, *,
         default_lr: float | None = None, metric: scoring.Metric = "train", path: trainer.TrainingPath = "interpreter",
         scale: float | None = None, center: float | None = None) -> Tuned:
    """Train ``optimizer`` on ``task`` over the protocol's grid, scaled to its natural step size,
    plus ``default_lr``; bracket the optimum; score (``scoring.score``).

    ``center`` (an Adam-equivalent lr, e.g. Adam's tuned lr on the task) moves the
    starting grid there first, so that optimizers near Adam rarely need bracketing.
    ``scale`` overrides the measured natural scale (``natural_scale`` for a rule, 1 otherwise);
    ``protocol.scale_free`` and ``protocol.bracket`` switch steps 1 and 2 off.
    """
    tuning = _Bracketing(optimizer, task, protocol, default_lr, metric, scale, center)
    block = tuning.first
    while block is not None:
        block = tuning.add(trainer.train(optimizer, task, list(block), protocol.seeds, protocol.steps,
                                         path=path))
    return tuning.tuned()


def tune_many(optimizers: list[trainer.OptimizerSpec], tasks: list[Task], protocol: scoring.Protocol, *,
              metric: scoring.Metric = "train", path: trainer.TrainingPath = "interpreter") -> list[Tuned]:
    """``[tune(o, t, protocol, metric=metric, path=path) for o, t in zip(optimizers, tasks)]``, each
    round of bracketing one ``trainer.train_many`` call (tasks of one compile key, optimizers that
    compile alike). Every call trains all the pairs, those already bracketed on their last block
    again (results dropped), so that the call's shape never changes and it compiles once."""
    tunings = [_Bracketing(o, t, protocol, None, metric, None, None) for o, t in zip(optimizers, tasks)]
    blocks, last = [t.first for t in tunings], [t.first for t in tunings]
    while any(block is not None for block in blocks):
        last = [b if b is not None else previous for b, previous in zip(blocks, last)]
        results = trainer.train_many(optimizers, tasks, last, protocol.seeds, protocol.steps, path)
        blocks = [t.add(r) if b is not None else None for t, r, b in zip(tunings, results, blocks)]
    return [t.tuned() for t in tunings]
