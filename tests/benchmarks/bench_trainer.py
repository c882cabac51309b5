"""Benchmark: the lr x seed trainer on the MNIST-1D MLP task, interpreter vs optax.adam.

One rule (library Adam through the interpreter) vs ``optax.adam`` in the same
trainer, 8 learning rates x 2 seeds x 200 steps, after warm-up, median of
repeats; then how the time grows with the number of learning rates (1, 4, 16).
Run: ``make bench-trainer`` or ``python tests/benchmarks/bench_trainer.py``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import optax

import dsl
from discovery import tasks
from discovery.training import trainer

STEPS, SEEDS = 200, (0, 1)


def timed(optimizer, task, lrs, repeats=7) -> float:
    trainer.train(optimizer, task, lrs, SEEDS, STEPS)  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.train(optimizer, task, lrs, SEEDS, STEPS)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    task = tasks.get("mnist1d_mlp", "default")
    print(f"mnist1d_mlp (default size, {tasks.n_params(task)} parameters), {STEPS} steps, {len(SEEDS)} seeds")
    adam_rule = dsl.library.get("adam")
    for n_lr in (1, 4, 8, 16):
        lrs = tuple(np.logspace(-4, -1, n_lr)) if n_lr > 1 else (1e-3,)
        ref = timed(optax.adam, task, lrs)
        ours = timed(adam_rule, task, lrs)
        print(f"  {n_lr:2d} lrs: optax.adam {ref * 1e3:7.1f} ms | interpreter {ours * 1e3:7.1f} ms "
              f"| ratio {ours / ref:.2f} | {ours / n_lr * 1e3:6.1f} ms per lr")


if __name__ == "__main__":
    main()
