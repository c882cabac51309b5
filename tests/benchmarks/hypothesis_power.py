"""Power per CPU-minute of the hypothesis experiment's designs, from a finished experiment folder.

The experiment's sizes (pool, top k, rounds, children, seeds) are chosen by what each costs in
trainings and what it buys in power (``findings.PoolResult.detectable``: the smallest home
advantage the positive control says the design would call supported). From the cells an
experiment folder already holds, nothing trained again, this prints:

* per round of the experiment as it ran: the power, the member tunings it added per seed (each
  member tuned with every panel optimizer, and its two planted copies with the control panel)
  and the cumulative CPU-minutes they cost (the folder's pool CPU time shared out by tunings);
* for round 0, the power of smaller random pools (the first n bases of each seed), of top k = 1,
  and of fewer seeds, each with its tunings: what a smaller design would have seen.

Run: ``python -m tests.benchmarks.hypothesis_power runs/hypothesis-medium --pool-cpu-minutes M``
(M: the CPU minutes the pool took, e.g. from ``/usr/bin/time``; without it, tunings only).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from discovery import tasks
from discovery.experiments import adam_hypothesis as hx
from discovery.experiments import findings
from discovery.experiments import pool as pool_lib
from discovery.experiments.pool import MAIN, PLANTED, POSITIVE
from discovery.runs.progress import Progress


def _round0(experiment: hx.Experiment, seeds: list[int], n: int, k: int) -> tuple[float, int]:
    """Round 0's power with the first ``n`` bases of each seed and top ``k``; its tunings per seed."""
    p = experiment.preset
    designs = [dataclasses.replace(d, k=k * (d.k // p.pool_top_k)) for d in experiment.designs()]
    per_seed = []
    for seed in seeds:
        store = experiment.pool_store(seed)
        bases = [pool_lib.Member(i, tasks.architecture_record(a))
                 for i, a in enumerate(pool_lib.draw_bases(seed, p.pool, p.param_budget, p.family)[:n])]
        lineages = [{f: [b.key for b in bases] for f in p.panel}]
        per_seed.append({d.group: findings.design_seed(d, seed, bases, lineages, store.get) for d in designs})
    main = findings.analyse_pool(designs[0], p.family, [s[MAIN] for s in per_seed], None, 0)
    positive = next(d for d in designs if d.group == POSITIVE)
    control = findings.analyse_pool(positive, p.family, [s[POSITIVE] for s in per_seed], PLANTED, 0, main)
    return control.detectable, len(experiment._work(bases))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="a finished experiment folder")
    parser.add_argument("--pool-cpu-minutes", type=float, default=None)
    args = parser.parse_args()
    found = hx.ExperimentFile.from_dict(json.loads((Path(args.out) / "experiment.json").read_text()))
    preset = found.preset if found.preset in hx.EXPERIMENT_PRESETS else found.config  # the folder's claim kept
    experiment = hx.Experiment(args.out, preset, seeds=found.config.seeds, progress=False)
    p = experiment.preset
    with Progress(p.seeds * (p.rounds + 1), "loading the pools") as bar:
        pools = {s: experiment.pool_seeds(s, bar) for s in range(p.seeds)}  # every cell is stored
    tunings = []
    for r in range(p.rounds + 1):
        counts = [len(experiment._work([m for m in pools[s][MAIN].members if m.born == r])) for s in pools]
        tunings.append(sum(counts) / len(counts))
    total = sum(tunings) * p.seeds
    print(f"{args.out}: preset {experiment.name}, {p.seeds} seeds, pool {p.pool}, top {p.pool_top_k}, "
          f"{p.rounds} rounds x {p.children} children")
    print("round | power (decades) | member tunings per seed | cumulative CPU-min")
    spent = 0.0
    designs = experiment.designs()
    for r in range(p.rounds + 1):
        main_r = findings.analyse_pool(designs[0], p.family, [pools[s][MAIN] for s in pools], None, r)
        positive = findings.analyse_pool(designs[1], p.family, [pools[s][POSITIVE] for s in pools], PLANTED, r, main_r)
        spent += tunings[r] * p.seeds
        minutes = f"{args.pool_cpu_minutes * spent / total:.1f}" if args.pool_cpu_minutes else "-"
        print(f"{r} | {positive.detectable:.3f} | {tunings[r]:.1f} | {minutes}")
    print("\nround 0 alternatives: pool n, top k, seeds | power | member tunings per seed")
    for n, k, seeds in ((p.pool, p.pool_top_k, p.seeds), (p.pool, 1, p.seeds), (6, p.pool_top_k, p.seeds),
                        (4, 1, p.seeds), (p.pool, p.pool_top_k, p.seeds - 1), (p.pool, p.pool_top_k, 2)):
        power, work = _round0(experiment, list(range(seeds)), n, k)
        print(f"{n}, {k}, {seeds} | {power:.3f} | {work}")


if __name__ == "__main__":
    main()
