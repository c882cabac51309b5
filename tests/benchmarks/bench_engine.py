"""Benchmark: one generation of candidates, the engine vs the naive DEAP-user loop.

(a) the engine: fingerprint dedup, cost model choosing interpreter or native
    per task, one compiled trainer per task shape (native: per rule structure);
(b) naive: for each candidate and task, ``dsl.to_optax`` + a fresh ``jax.jit``
    (vmapped over the same lr x seed grid, so only the compilation differs).

Prints candidates/s for both, the ratio, compilations per generation, at 200,
1,000 and 5,000 steps, and generation time for populations of 16, 32 and 64.
Run: ``make bench-engine`` or ``python tests/benchmarks/bench_engine.py [--quick]``.
"""

from __future__ import annotations

import argparse
import random
import time

import jax
import jax.numpy as jnp
import numpy as np

import dsl
from discovery import config as config_lib
from discovery.evaluation.evaluator import Evaluator
from discovery.evolution.validity import mutate_valid
from discovery.training import trainer

TASKS = ["quadratic_ill", "mf_k4", "mnist1d_mlp"]
LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
SEEDS = [0, 1]


def children(n: int, seed: int) -> list[dsl.Rule]:
    """``n`` distinct valid mutants of Adam (distinct fingerprints: no cache help)."""
    rng, out, seen = random.Random(seed), [], set()
    parent = dsl.library.get("adam")
    while len(out) < n:
        child, _ = mutate_valid(parent, rng)
        fp = dsl.fingerprint(child)
        if fp not in seen:
            seen.add(fp)
            out.append(child)
    return out


def make_config(steps: int) -> config_lib.Config:
    return config_lib.load(**{
        "tasks.search": TASKS, "tasks.held_out": [], "protocol.learning_rates": LRS,
        "protocol.seeds": SEEDS, "protocol.steps": steps, "evaluation.hurdle": 1e9,
    })


def engine_generation(evaluator: Evaluator, rules: list[dsl.Rule]) -> tuple[float, int]:
    with dsl.count_compilations() as compiles:
        start = time.perf_counter()
        for rule in rules:
            evaluator.evaluate(rule)
        return time.perf_counter() - start, compiles.count


def naive_generation(evaluator: Evaluator, rules: list[dsl.Rule], steps: int) -> tuple[float, int]:
    lrs, seeds = jnp.asarray(LRS, jnp.float32), jnp.asarray(SEEDS, jnp.uint32)
    with dsl.count_compilations() as compiles:
        start = time.perf_counter()
        for rule in rules:
            for task in evaluator.search_tasks:
                one = trainer._run_one(task, lambda _, lr, rule=rule: dsl.to_optax(rule, lr), steps)
                fn = jax.jit(jax.vmap(jax.vmap(one, (None, None, 0, None, None)), (None, 0, None, None, None)))
                jax.block_until_ready(fn(None, lrs, seeds, task.train_data, task.test_data))
        return time.perf_counter() - start, compiles.count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer candidates for the naive loop")
    parser.add_argument("--only", choices=("steps", "population"), help="run one part only")
    args = parser.parse_args()
    n = 32
    naive_n = 8 if args.quick else n
    print(f"tasks {TASKS} (small), {len(LRS)} lrs x {len(SEEDS)} seeds, {n} candidates per generation")
    for steps in (200, 1000, 5000) if args.only != "population" else ():
        evaluator = Evaluator(make_config(steps))
        start = time.perf_counter()
        reference = evaluator.prepare()
        setup = time.perf_counter() - start
        paths = {t: r.path for t, r in reference.items()}
        gen1, c1 = engine_generation(evaluator, children(n, seed=steps))
        gen2, c2 = engine_generation(evaluator, children(n, seed=steps + 1))
        naive_t, naive_c = naive_generation(evaluator, children(naive_n, seed=steps + 2), steps)
        engine_rate, naive_rate = n / gen2, naive_n / naive_t
        print(f"\n[{steps} steps] setup (Adam reference + calibration) {setup:.1f}s; paths {paths}")
        print(f"  engine: gen 1 {n / gen1:7.2f} cand/s ({c1} compilations), gen 2 {engine_rate:7.2f} cand/s "
              f"({c2} compilations)")
        print(f"  naive : {naive_rate:7.2f} cand/s ({naive_c / naive_n:.1f} compilations per candidate)")
        print(f"  ratio engine/naive (gen 2): {engine_rate / naive_rate:.1f}x")

    if args.only == "steps":
        return
    evaluator = Evaluator(make_config(200))
    reference = evaluator.prepare()
    print(f"\n[200 steps] time per generation vs population size; paths "
          f"{ {t: r.path for t, r in reference.items()} }")
    for pop in (16, 32, 64):
        seconds, _ = engine_generation(evaluator, children(pop, seed=1000 + pop))
        print(f"  population {pop:3d}: {seconds:6.2f}s  ({seconds / pop * 1e3:.1f} ms per candidate)")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
