"""Check: a run's rank-1 rule, its update rescaled by 1e3 and by 1e-3, keeps its fitness.

Fair tuning makes a constant factor free (the tuned lr absorbs it), so the three fitnesses agree
within noise and the tuned lrs differ by exactly the factor.
Run: ``python -m tests.benchmarks.check_rescaled RUN_DIR`` (e.g. after ``make run``).
"""

import dataclasses
import sys

import discovery
import dsl
from discovery.evaluation.evaluator import Evaluator


def main(path: str) -> None:
    run = discovery.load_run(path)
    rule = run.rule(1)
    ev = Evaluator(run.config)
    base = ev.evaluate(rule)
    print("rank 1:", run.candidate(1).text.replace("\n", " ; "))
    print(f"logged fitness {run.candidate(1).fitness:+.4f}; re-evaluated {base.fitness:+.4f} (noise 2 SE {base.noise:.4f})")
    for factor in (1e3, 1e-3):
        scaled = ev.evaluate(dataclasses.replace(rule, result=dsl.Op("mul", (dsl.Const(factor), rule.result))))
        lrs = {t: (r.tuned_lr, scaled.tasks[t].tuned_lr) for t, r in base.tasks.items()}
        print(f"x{factor:g}: fitness {scaled.fitness:+.4f} (diff {scaled.fitness - base.fitness:+.4f}); tuned lr ratios "
              + ", ".join(f"{t} {a / b:.3g}" for t, (a, b) in lrs.items()))


if __name__ == "__main__":
    main(sys.argv[1])
