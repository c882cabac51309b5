"""Cheap screening's throughput: candidates screened per CPU-second vs fully evaluated per CPU-second.

The same candidates (random rules of the blocks vocabulary and mutants of Adam, distinct
behaviours) go through ``Evaluator.screen`` and ``Evaluator.evaluate`` in one process, the
quick preset's tasks and protocol, after a warm-up that compiles both (a search compiles once
per task shape). Prints the CPU seconds per candidate of each and their ratio.

Run: ``python -m tests.benchmarks.bench_screening [--candidates 48]``.
"""

from __future__ import annotations

import argparse
import random
import time

import dsl
from discovery import config
from discovery.evaluation.evaluator import Evaluator
from discovery.evolution import validity


def candidates(n: int, seed: int = 0) -> list[dsl.Rule]:
    rng, blocks = random.Random(seed), config.VariationSettings(vocabulary="blocks")
    rules, keys = [], set()
    while len(rules) < n:
        rule = (validity.random_rule(rng, vocabulary="blocks") if len(rules) % 2 else
                validity.mutate_valid(dsl.library.get("adam"), rng, config=blocks)[0])
        if dsl.behaviour(rule).key not in keys:
            keys.add(dsl.behaviour(rule).key)
            rules.append(rule)
    return rules


def cpu_seconds(fn, rules) -> float:
    start = time.process_time()
    for rule in rules:
        fn(rule)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=48)
    args = parser.parse_args()
    evaluator = Evaluator(config.load(preset="quick", **{"screening.promote": 0.25}))
    rules = candidates(args.candidates)
    warm = dsl.library.get("sgd")
    evaluator.screen(warm), evaluator.evaluate(warm)  # compile both stages' trainers
    full = cpu_seconds(evaluator.evaluate, rules) / len(rules)
    screened = cpu_seconds(evaluator.screen, rules) / len(rules)
    print(f"{len(rules)} distinct candidates, quick preset ({', '.join(evaluator.config.tasks.search)}), "
          f"screening: {evaluator.protocols.screen.steps} steps, "
          f"{len(evaluator.protocols.screen.learning_rates)} lrs, 1 seed, the hurdle task")
    print(f"full evaluation: {full * 1e3:.1f} CPU ms per candidate ({1 / full:.1f} per CPU-second)")
    print(f"screening:       {screened * 1e3:.1f} CPU ms per candidate ({1 / screened:.1f} per CPU-second)")
    print(f"ratio: {full / screened:.1f}x more candidates screened than fully evaluated per CPU-second")


if __name__ == "__main__":
    main()
