"""Benchmark: the cost of fair tuning (scale-free start + bracketing) against the fixed grid.

(a) the non-deep baselines table at size small (100 steps, 2 seeds, 9 Optax optimizers):
    fixed grid (``bracket=False, scale_free=False``), then fair tuning, then the fixed grid
    again; the ratio is fair / second fixed run (both with every trainer already compiled);
(b) the search: seconds per candidate of the quick preset's evaluator (its tasks and grid) on
    32 distinct mutants of Adam, fixed grid vs fair tuning, each after its own warm-up.

Prints seconds, ratios, how many scores needed bracketing and compilations.
Run: ``make bench-tuning`` or ``python tests/benchmarks/bench_tuning.py [--part baselines|search]``.
"""

from __future__ import annotations

import argparse
import time

import dsl
from discovery import config as config_lib
from discovery import tasks
from discovery.analysis import baselines
from discovery.evaluation.evaluator import Evaluator
from discovery.training import scoring
from tests.benchmarks.bench_engine import children

FIXED = {"bracket": False, "scale_free": False}


def timed(fn, *args, **kwargs):
    with dsl.count_compilations() as compiles:
        start = time.perf_counter()
        out = fn(*args, **kwargs)
    return out, time.perf_counter() - start, compiles.count


def bench_baselines() -> None:
    names = tasks.names("nondeep")
    fair = scoring.Protocol(steps=100)
    fixed = scoring.Protocol(steps=100, **FIXED)
    run = lambda protocol: baselines.run_baselines(names, "small", protocol, progress=False)  # noqa: E731
    _, first, c0 = timed(run, fixed)
    table, fair_s, c1 = timed(run, fair)
    _, fixed_s, c2 = timed(run, fixed)
    print(f"[baselines] {len(names)} non-deep tasks x {len(baselines.OPTIMIZERS)} optimizers, small, 100 steps")
    print(f"  fixed grid: {first:.1f}s cold ({c0} compilations), {fixed_s:.1f}s warm ({c2} compilations)")
    print(f"  fair tuning: {fair_s:.1f}s ({c1} compilations); ratio fair / fixed {fair_s / fixed_s:.2f}x")
    print(f"  {len(table.bracketed())} of {len(names) * len(table.optimizers)} scores needed bracketing; "
          f"at a hard limit: {table.at_limit() or 'none'}")


def bench_search(n: int = 32) -> None:
    for label, extra in (("fixed grid", FIXED), ("fair tuning", {})):
        config = config_lib.load(preset="quick", **{"tasks.held_out": [], "evaluation.hurdle": 1e9,
                                                    **{f"protocol.{k}": v for k, v in extra.items()}})
        evaluator = Evaluator(config)
        evaluator.prepare()
        for rule in children(4, seed=99):  # warm-up: compiles every trainer the candidates use
            evaluator.evaluate(rule)
        rules = children(n, seed=7)
        results, seconds, compiles = timed(lambda ev=evaluator, rs=rules: [ev.evaluate(r) for r in rs])
        extended = sum(len(t.learning_rates) > len(config.protocol.learning_rates)
                       for e in results for t in e.tasks.values())
        print(f"[search] {label:11}: {seconds / n * 1e3:7.1f} ms per candidate on {list(config.tasks.search)}"
              f" ({compiles} compilations; {extended} of {n * len(config.tasks.search)} task scores "
              "bracketed beyond the starting grid)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=("baselines", "search"), help="run one part only")
    args = parser.parse_args()
    if args.part != "search":
        bench_baselines()
    if args.part != "baselines":
        bench_search()


if __name__ == "__main__":
    main()
