"""Benchmark: co-evolution candidates before vs after architectures became data, in one process.

The candidates are those a quick-preset hypothesis run meets (``adam_hypothesis.EXPERIMENT_PRESETS["quick"]``:
small MNIST-1D, 100 steps, 6 learning rates, 1 seed, 20,000-parameter budget): 8 random starts,
then children of random parents (mutation or crossover, as the engine breeds), distinct ones only
(the engine trains each once). Each is scored by the run's evaluator (``evaluate_pair``: fair
tuning, held-out loss):

* architecture candidates: Adam fixed (native path), as in regime A;
* joint candidates: rules of the varied starts with the same architectures (interpreter), as in B.

Before: each architecture is its own task (``tests/per_architecture_build.py``), so every candidate
compiles; timed on the first ``--before`` candidates (each costs about the same). After:
``tasks.from_architecture(arch, budget=...)``, one network per width; timed on the whole run of
candidates, first compilations included, then again per candidate whose shape was seen.
Prints seconds per candidate, the ratio, XLA compilations per run (and those for candidates whose
shape was seen: 0) and the shapes met; then, for joint candidates, one generation trained pair by
pair vs in one vmapped call per shape (``[coevolution] batch_architectures``); and the peak number
of compiled trainers held and the process's peak RSS.
``--family token_model`` measures the token-model family the same way (its "before" is
``tests/per_token_build.py``); ``make bench-coevolution`` runs both families.
Run: ``make bench-coevolution`` or ``python -m tests.benchmarks.bench_coevolution [--family NAME]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import resource
import time

import dsl
from discovery import config as config_lib
from discovery import tasks
from discovery.evaluation.evaluator import Evaluator
from discovery.evolution import architectures
from discovery.experiments.adam_hypothesis import EXPERIMENT_PRESETS, NO_ADAM_STARTS
from discovery.records import encode_candidate
from discovery.training import trainer
from tests.per_architecture_build import reference_task
from tests.per_token_build import reference_token_task

# The quick preset's protocol as the MLP experiment ran it before pools: 20,000 parameters, training
# seeds 0 and 1, a population of 6 bred for 3 generations.
QUICK = dataclasses.replace(EXPERIMENT_PRESETS["quick"], population=6, train_seeds=(0, 1), measure_seeds=(2, 3),
                            param_budget=20000)
GENERATIONS = 3
REFERENCES = {"mlp": reference_task, "token_model": reference_token_task}
FAMILY = "mlp"  # set by --family


class PerArchitectureEvaluator(Evaluator):
    """The evaluator as it was: every architecture its own task, hence its own compilation."""

    def architecture_task(self, arch) -> tasks.Task:
        return REFERENCES[FAMILY](arch, self.config.tasks.size)


def run_candidates(n: int, seed: int) -> list:
    """``n`` distinct architectures in the order a run of population 8 breeds them."""
    rng, budget = random.Random(seed), QUICK.param_budget
    population = [architectures.random_architecture(rng, budget, FAMILY) for _ in range(QUICK.population)]
    out = list(dict.fromkeys(population))
    while len(out) < n:
        if rng.random() < 0.5:
            child, _ = architectures.crossover(rng.choice(population), rng.choice(population), rng, budget)
        else:
            child, _ = architectures.mutate(rng.choice(population), rng, budget)
        population = [*population[1:], child]
        if child not in out:
            out.append(child)
    return out[:n]


def make_config(mode: str, **extra) -> config_lib.Config:
    return config_lib.load(**extra, **{
        "coevolution.mode": mode, "coevolution.param_budget": QUICK.param_budget, "coevolution.family": FAMILY,
        "tasks.size": QUICK.size, "protocol.learning_rates": list(QUICK.learning_rates),
        "protocol.seeds": list(QUICK.train_seeds), "protocol.steps": QUICK.steps,
    })


def evaluate_all(evaluator: Evaluator, pairs: list[tuple[dsl.Rule, tasks.Genes]]) -> dict:
    """Seconds and compilations per candidate, and which candidates met a new shape."""
    budget, seen, rows = QUICK.param_budget, set(), []
    for rule, arch in pairs:
        with dsl.count_compilations() as compiles:
            start = time.perf_counter()
            evaluator.evaluate_pair(rule, arch)
            seconds = time.perf_counter() - start
        rows.append((seconds, compiles.count, arch.shape(budget) in seen))
        seen.add(arch.shape(budget))
    return {"seconds": sum(r[0] for r in rows) / len(rows), "compilations": sum(r[1] for r in rows),
            "seen_seconds": [r[0] for r in rows if r[2]], "seen_compilations": sum(r[1] for r in rows if r[2]),
            "shapes": len(seen), "n": len(rows)}


def report(label: str, before: dict, after: dict) -> None:
    seen = after["seen_seconds"]
    seen_mean = sum(seen) / max(len(seen), 1)
    print(f"{label}:")
    print(f"  before: {before['seconds']:.2f} s/candidate ({before['n']} candidates, "
          f"{before['compilations']} compilations: {before['compilations'] / before['n']:.1f} per candidate)")
    print(f"  after:  {after['seconds']:.2f} s/candidate over a run of {after['n']} "
          f"({after['compilations']} compilations, {after['shapes']} shapes)  ratio "
          f"{before['seconds'] / after['seconds']:.1f}x")
    print(f"          {seen_mean:.2f} s/candidate whose shape was seen ({len(seen)} candidates, "
          f"{after['seen_compilations']} compilations)  ratio {before['seconds'] / seen_mean:.1f}x", flush=True)


def batched(pairs: list[tuple[dsl.Rule, tasks.Genes]]) -> None:
    """A generation of joint candidates: one ``evaluate_pair`` each vs ``evaluate_many`` batched by shape
    (warm: both timed after a first pass has compiled what they need)."""
    raws = [encode_candidate(rule, arch) for rule, arch in pairs]
    timings = {}
    for batch in (False, True):
        evaluator = Evaluator(make_config("joint", **{"coevolution.batch_architectures": batch}))
        evaluator.evaluate_many(raws)  # compile
        start = time.perf_counter()
        evaluator.evaluate_many(raws)
        timings[batch] = (time.perf_counter() - start) / len(raws)
    shapes = len({arch.shape(QUICK.param_budget) for _, arch in pairs})
    print(f"one generation of {len(raws)} joint candidates ({shapes} shapes), warm: pair by pair "
          f"{timings[False]:.3f} s/candidate, batched by shape {timings[True]:.3f} s/candidate  ratio "
          f"{timings[False] / timings[True]:.2f}x", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=QUICK.population * GENERATIONS,
                        help="candidates of the run (default: a quick run's 40)")
    parser.add_argument("--before", type=int, default=6, help="candidates timed the old way")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--family", default="mlp", choices=list(REFERENCES))
    args = parser.parse_args()
    global FAMILY
    FAMILY = args.family
    shapes = architectures.shapes(QUICK.param_budget, FAMILY)
    print(f"family {FAMILY}: at most {len(shapes)} shapes within {QUICK.param_budget} parameters: {shapes}")
    archs = run_candidates(args.candidates, args.seed)
    adam = dsl.library.get("adam")
    rules = [dsl.library.get(NO_ADAM_STARTS[i % len(NO_ADAM_STARTS)]) for i in range(len(archs))]
    tasks.family(FAMILY).build(archs[0])  # generate the data outside the timings
    for mode, label, pairs in (("architectures", "architecture candidates (Adam fixed, native path)",
                                [(adam, a) for a in archs]),
                               ("joint", "joint (rule, architecture) candidates (interpreter path)",
                                list(zip(rules, archs)))):
        config = make_config(mode)
        before = evaluate_all(PerArchitectureEvaluator(config), pairs[: args.before])
        after = evaluate_all(Evaluator(config), pairs)
        report(label, before, after)
    batched(list(zip(rules, archs))[: QUICK.population])
    print(f"peak compiled functions held: {trainer.peak_compiled()} (LRU bound {trainer.MAX_COMPILED}); "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
