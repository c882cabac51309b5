"""Benchmark: dsl.prune on evolved-looking rules, time per rule and complexity.

Rules: 40 chains of 1 to 6 valid mutations of Adam (``discovery.evolution.validity``,
seeded), the shape of a run's hall of fame, then the library. Prints the
complexity raw -> simplified -> pruned and the seconds per rule (mean, median,
max), each rule pruned once (the statements simplify caches are shared, as in a run).
Run: ``python tests/benchmarks/bench_prune.py [--verbose]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import dsl
from discovery.evolution.validity import mutate_valid


def evolved(n: int, seed: int) -> list[dsl.Rule]:
    rng, out = random.Random(seed), []
    for _ in range(n):
        rule = dsl.library.get("adam")
        for _ in range(rng.randint(1, 6)):
            rule, _ = mutate_valid(rule, rng)
        out.append(rule)
    return out


def report(label: str, rules: list[dsl.Rule], verbose: bool) -> None:
    seconds, sizes = [], []
    for rule in rules:
        start = time.perf_counter()
        pruned = dsl.prune(rule)
        seconds.append(time.perf_counter() - start)
        sizes.append((rule.size, dsl.simplify(rule).size, pruned.size))
        if verbose:
            print(f"  {rule.size:3} -> {sizes[-1][1]:3} -> {pruned.size:3}  {seconds[-1]:.2f} s")
    shrunk = statistics.median(p / r for r, _, p in sizes)
    print(f"{label}: {len(rules)} rules, seconds per rule: mean {statistics.mean(seconds):.3f}, "
          f"median {statistics.median(seconds):.3f}, max {max(seconds):.3f}; "
          f"median pruned/raw complexity {shrunk:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    report("evolved (Adam mutants)", evolved(40, seed=0), args.verbose)
    report("library", [dsl.library.get(n) for n in dsl.library.names()], args.verbose)


if __name__ == "__main__":
    main()
