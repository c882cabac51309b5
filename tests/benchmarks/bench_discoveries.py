"""Measure what a run reports: readable, distinct, honest discoveries.

For each seed of the quick preset (and, with ``--random``, one run from random
rules instead of the Adam warm start), or each run folder given with ``--runs``, prints:
the hall of fame's median and max complexity, how many of its entries are behaviourally
distinct (pairwise cosine similarity of update directions below ``SAME``), the largest
mean per-step cosine of two entries over the 40-step niche stream, entries that are ascent
directions, the most significant digits of a shown constant, the distinct optimizers the
run found, the rank-1 rule's search and held-out fitness, and whether the learning rate
recommended for the reported rule trains every held-out task without divergence.

Run: ``python -m tests.benchmarks.bench_discoveries --seeds 0 1 2 [--random] [--generations N]``
or ``... --runs runs/quick-s0-... runs/quick-s1-...``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

import discovery
import dsl
from discovery import config as config_lib
from discovery import tasks
from discovery.analysis import inspection
from discovery.evolution import niches
from discovery.evolution.validity import probe_cosine
from discovery.training import trainer
from dsl.expr import walk
from dsl.probe import similarity

SAME = 0.9999  # cosine similarity at or above which two rules count as one behaviour


def distinct(rules) -> int:
    """Number of behaviour classes: greedy grouping by cosine similarity >= SAME."""
    classes: list = []
    for rule in rules:
        if not any(similarity(rule, other) >= SAME for other in classes):
            classes.append(rule)
    return len(classes)


def trains_everywhere(run, rank: int, lr: float) -> bool:
    """Whether the rule at ``rank`` trains every held-out task at ``lr`` without divergence."""
    cfg = run.config
    for name in cfg.tasks.held_out:
        result = trainer.train(run.rule(rank), tasks.get(name, cfg.tasks.size), [lr],
                               cfg.protocol.seeds, cfg.protocol.held_out_steps)
        if result.diverged.any():
            return False
    return True


def digits(c: float) -> int:
    """Significant digits of ``c`` as shown (of 1 - c for a decay in (0.5, 1))."""
    c = 1.0 - c if 0.5 < c < 1.0 else abs(c)
    return len(f"{c:.10g}".split("e")[0].replace(".", "").lstrip("0").rstrip("0"))


def constants(rule) -> list[float]:
    exprs = [a.value for a in rule.body] + [rule.result]
    return [n.value for e in exprs for n in walk(e) if isinstance(n, dsl.Const)] + [v for _, v in rule.params]


def report(run, label: str, seconds: float) -> None:
    hall = run.hall_of_fame
    rows = inspection.table(run)
    pick = next(r.rank for r in rows if r.pick)
    lr = run.candidate(pick).recommended_lr
    complexity = [c.complexity for c in hall]
    best = hall[0]
    closest = max((niches.similarity(a.rule, b.rule) for i, a in enumerate(hall) for b in hall[:i]), default=0.0)
    ascent = sum(probe_cosine(c.rule) <= 0 for c in hall)
    longest = max((digits(v) for c in hall for v in constants(c.rule)), default=0)
    print(f"{label}: {seconds:.0f}s; hall of fame {len(hall)} entries ({run.niches} distinct optimizers found), "
          f"complexity median {statistics.median(complexity):g} max {max(complexity)}, "
          f"{distinct([c.rule for c in hall])} behaviourally distinct, closest pair {closest:.3f}, "
          f"{ascent} ascent, longest constant {longest} digits; rank 1 fitness "
          f"{best.fitness:+.3f} held-out {best.held_out.fitness:+.3f} "
          f"({', '.join(f'{t} {v.ratio:+.2f}' for t, v in best.tasks.items())}); pick rank {pick} "
          f"held-out {run.candidate(pick).held_out.fitness:+.3f}, recommended lr {lr:.3g} trains "
          f"every held-out task: {trains_everywhere(run, pick, lr)}")
    print("    rank 1: " + " ; ".join(line.strip() for line in best.text.splitlines()[1:]))


def measure(overrides: dict, label: str) -> None:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        run = discovery.run(config_lib.load(preset="quick", **overrides), out=out, progress=False)
        report(run, label, time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--generations", type=int, help="override the preset's generations")
    parser.add_argument("--random", action="store_true", help="start from random rules (warm_start = [])")
    parser.add_argument("--runs", nargs="+", help="measure these finished run folders instead")
    args = parser.parse_args()
    for folder in args.runs or []:
        report(discovery.load_run(folder), folder, 0.0)
    for seed in [] if args.runs else args.seeds:
        overrides = {"run.seed": seed}
        if args.generations:
            overrides["run.generations"] = args.generations
        if args.random:
            overrides["run.warm_start"] = []
        measure(overrides, f"seed {seed}{' (random starts)' if args.random else ''}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
