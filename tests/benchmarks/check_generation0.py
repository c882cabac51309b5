"""Is there signal in generation 0 of a search from random rules?

One generation of the quick preset from random rules (``run.warm_start = []``) per seed and
vocabulary: how many of the 32 fitness values are distinct, how many candidates made no
progress on the hurdle task (scored ``ratio_clip + 1`` there), and where plain SGD
(``return g``, evaluated by the same evaluator) ranks among them: it must rank above every
rule that makes no progress.

Run: ``python -m tests.benchmarks.check_generation0 --seeds 1 7``.
"""

from __future__ import annotations

import argparse
import tempfile

import dsl
from discovery import config, runs
from discovery.evaluation.evaluator import Evaluator
from discovery.training import fitness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 7])
    parser.add_argument("--vocabularies", nargs="+", default=["primitive", "blocks"])
    args = parser.parse_args()
    for vocabulary in args.vocabularies:
        for seed in args.seeds:
            cfg = config.load(preset="quick", **{"run.seed": seed, "run.generations": 1, "run.warm_start": [],
                                                 "variation.vocabulary": vocabulary,
                                                 "evaluation.held_out_every": 0, "tasks.held_out": []})
            with tempfile.TemporaryDirectory() as out:
                run = runs.run(cfg, out=out, progress=False)
                population = run.population
                evaluator = Evaluator(cfg, run.summary.reference)
                sgd = evaluator.evaluate(dsl.library.get("sgd")).fitness
            hurdle = cfg.tasks.search[0]
            stalled = [c for c in population if c.tasks[hurdle].ratio >= fitness.no_progress(cfg.evaluation.ratio_clip)]
            above = sum(sgd < c.fitness for c in stalled)
            values = sorted(c.fitness for c in population)
            print(f"{vocabulary:9} seed {seed}: {len(set(values))} distinct fitness values of {len(values)} "
                  f"(from {values[0]:+.3f} to {values[-1]:+.3f}); {len(stalled)} made no progress on {hurdle}; "
                  f"return g scores {sgd:+.3f}, above {above} of those {len(stalled)} and above "
                  f"{sum(sgd < v for v in values)} of all {len(values)}", flush=True)


if __name__ == "__main__":
    main()
