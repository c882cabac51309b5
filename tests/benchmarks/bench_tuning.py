"""Benchmark: the cost of fair tuning (scale-free start + bracketing) against the fixed grid.

(a) the non-deep baselines table at size small (100 steps, 2 seeds, 9 Optax optimizers): per
    task and optimizer, the fixed grid (``bracket=False, scale_free=False``) and fair tuning
    timed back to back after an untimed compile, summed; ratio fair / fixed;
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
    """Per task and optimizer: compile (untimed), then the fixed grid, then fair tuning, back to
    back, so both see the same compiled trainer and the same machine load."""
    names = tasks.names("nondeep")
    fair, fixed = scoring.Protocol(steps=100), scoring.Protocol(steps=100, **FIXED)
    seconds = {"fixed": 0.0, "fair": 0.0, "compile": 0.0}
    compiles = {"fixed": 0, "fair": 0}
    bracketed, limited = 0, []
    for name in names:
        task = tasks.get(name, "small")
        adam_lr = None
        for opt in baselines.OPTIMIZERS:  # adam first: the others start around its optimum
            _, warm, _ = timed(baselines.score_baseline, opt, task, fixed)
            seconds["compile"] += warm
            _, took, n = timed(baselines.score_baseline, opt, task, fixed)
            seconds["fixed"] += took
            compiles["fixed"] += n
            score, took, n = timed(baselines.score_baseline, opt, task, fair, adam_lr)
            seconds["fair"] += took
            compiles["fair"] += n
            adam_lr = adam_lr or score.tuned_lr
            bracketed += len(score.learning_rates) > len(fair.learning_rates) + 1
            limited += [f"{name}/{opt}"] * score.at_limit
    total = len(names) * len(baselines.OPTIMIZERS)
    print(f"[baselines] {len(names)} non-deep tasks x {len(baselines.OPTIMIZERS)} optimizers, small, 100 steps")
    print(f"  fixed grid {seconds['fixed']:.1f}s ({compiles['fixed']} compilations), fair tuning "
          f"{seconds['fair']:.1f}s ({compiles['fair']} compilations): ratio {seconds['fair'] / seconds['fixed']:.2f}x; "
          f"with the shared compile time ({seconds['compile']:.1f}s) "
          f"{(seconds['fair'] + seconds['compile']) / (seconds['fixed'] + seconds['compile']):.2f}x")
    print(f"  {bracketed} of {total} scores needed bracketing; at a hard limit: {limited or 'none'}")


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
