"""Rediscovery benchmark: does a search from random rules find a working optimizer?

Per seed and vocabulary, one run from random rules (``run.warm_start = []``: no library rule
in the initial population), on the quick preset's tasks (``quadratic_ill``, where tuned SGD
is more than a decade behind tuned Adam, ``mf_k4``, ``klr_mushrooms``; held out ``mf_k1``,
``rosenbrock``), with cheap screening, for a fixed CPU budget: generations run in blocks
until the process has used ``--cpu-minutes`` (about half as many minutes on 2 idle cores),
then the run finishes (held-out re-check, recommended lrs). Per seed: the best search
fitness, the pick's held-out score against tuned Adam and against tuned SGD (the library
rule through the same evaluator) with the seed noise, the pick's nearest library rule by
update direction (``evolution.niches.similarity``), and how many candidates were screened
and fully evaluated. The aims (issue 23, blocks vocabulary): at least 4 of 5 seeds beat
tuned SGD on the held-out tasks beyond noise, 3 of 5 reach search fitness <= 0 (Adam's
level), 2 of 5 match or beat tuned Adam on the held-out tasks within noise.

Run: ``make bench-discovery`` or
``python -m tests.benchmarks.bench_discovery --seeds 0 1 2 3 4 --vocabularies primitive blocks``.
Appends each finished seed to ``tests/benchmarks/results/rediscovery.json`` (a rerun skips the
seeds it holds; two processes on different seeds may share it) and keeps each run folder under
``runs/bench-discovery``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import dsl
from discovery import config, runs
from discovery.analysis import inspection
from discovery.evaluation.evaluator import Evaluator
from discovery.evolution import niches
from discovery.runs import launch

BLOCK = 10  # generations per step of the budget loop


@dataclasses.dataclass(frozen=True)
class SeedOutcome:
    vocabulary: str
    seed: int
    generations: int
    cpu_minutes: float
    best_fitness: float
    pick_rank: int
    pick_text: str
    held_out: float  # the pick's held-out score vs tuned Adam (decades; negative beats Adam)
    held_out_noise: float
    versus_sgd: float  # the pick's held-out score minus tuned SGD's
    versus_sgd_noise: float
    nearest: str
    nearest_cosine: float
    screened: int
    fully_evaluated: int
    trained: int
    children: int
    commit: str = ""  # the code measured (``launch.source_commit``)

    @property
    def beats_sgd(self) -> bool:
        return self.versus_sgd < -self.versus_sgd_noise

    @property
    def reaches_adam_in_search(self) -> bool:
        return self.best_fitness <= 0

    @property
    def matches_adam_held_out(self) -> bool:
        return self.held_out <= self.held_out_noise


def settings(vocabulary: str, seed: int, generations: int = 100_000) -> config.Config:
    return config.load(preset="quick", **{
        "run.name": f"scratch-{vocabulary}", "run.seed": seed, "run.generations": generations,
        "run.warm_start": [], "variation.vocabulary": vocabulary, "screening.promote": 0.25})


def budgeted(cfg: config.Config, cpu_minutes: float, out: Path, block: int = BLOCK) -> tuple[runs.Run, float]:
    """A run of ``cfg`` extended ``block`` generations at a time until it completes (e.g. its
    ``run.max_evaluated``) or this process has spent ``cpu_minutes`` of CPU on it, then finished;
    with the CPU minutes the search took (the finish's held-out re-check not counted)."""
    start = time.process_time()
    run = runs.run(cfg, out=out, progress=False, stop_after=block)
    while run.summary is None and time.process_time() - start < 60 * cpu_minutes:
        run = runs.run(resume=run.path, progress=False, stop_after=block)
    cpu = (time.process_time() - start) / 60
    if run.summary is None:
        run = runs.run(resume=run.path, progress=False, generations=run.generation)
    return run, cpu


def search(vocabulary: str, seed: int, cpu_minutes: float, out: Path) -> runs.Run:
    """A run from random rules for ``cpu_minutes`` of CPU (``budgeted``)."""
    return budgeted(settings(vocabulary, seed), cpu_minutes, out)[0]


def outcome(vocabulary: str, seed: int, run: runs.Run, cpu_minutes: float) -> SeedOutcome:
    rows = inspection.table(run)
    pick = next(r for r in rows if r.pick)
    evaluator = Evaluator(run.config, run.summary.reference)
    sgd = evaluator.evaluate(dsl.library.get("sgd"), "held_out")
    rule = run.candidate(pick.rank).rule
    nearest = max(dsl.library.names(), key=lambda n: niches.similarity(rule, dsl.library.get(n)))
    totals = run.summary.totals
    return SeedOutcome(
        vocabulary=vocabulary, seed=seed, generations=run.generation, cpu_minutes=round(cpu_minutes, 1),
        best_fitness=min(c.fitness for c in run.hall_of_fame), pick_rank=pick.rank, pick_text=pick.text,
        held_out=pick.held_out, held_out_noise=pick.held_out_noise,
        versus_sgd=round(pick.held_out - sgd.fitness, 4),
        versus_sgd_noise=round(math.hypot(pick.held_out_noise, sgd.noise), 4),
        nearest=nearest, nearest_cosine=round(niches.similarity(rule, dsl.library.get(nearest)), 3),
        screened=totals.screened, fully_evaluated=totals.fully_evaluated,
        trained=totals.evaluated, children=totals.children, commit=launch.source_commit() or "")


def table(outcomes: list[SeedOutcome]) -> str:
    lines = ["| vocabulary | seed | generations | best search fitness | pick held-out vs Adam | vs SGD | "
             "nearest library rule (cosine) | screened / fully evaluated | the pick |",
             "|---|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| {o.vocabulary} | {o.seed} | {o.generations} | {o.best_fitness:+.3f} | "
                     f"{o.held_out:+.3f} ± {o.held_out_noise:.3f} | {o.versus_sgd:+.3f} ± {o.versus_sgd_noise:.3f} | "
                     f"{o.nearest} ({o.nearest_cosine:.2f}) | {o.screened} / {o.fully_evaluated} | "
                     f"`{o.pick_text}` |")
    for vocabulary in dict.fromkeys(o.vocabulary for o in outcomes):
        mine = [o for o in outcomes if o.vocabulary == vocabulary]
        lines.append(f"\n{vocabulary}: {sum(o.beats_sgd for o in mine)}/{len(mine)} beat tuned SGD on the "
                     f"held-out tasks beyond noise; {sum(o.reaches_adam_in_search for o in mine)}/{len(mine)} "
                     f"reach search fitness <= 0; {sum(o.matches_adam_held_out for o in mine)}/{len(mine)} "
                     "match or beat tuned Adam on the held-out tasks within noise")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--vocabularies", nargs="+", default=["blocks", "primitive"])
    parser.add_argument("--cpu-minutes", type=float, default=30.0,
                        help="CPU budget per seed (process CPU time; ~15 wall minutes on 2 idle cores)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-discovery"))
    parser.add_argument("--results", type=Path, default=Path("tests/benchmarks/results/rediscovery.json"))
    args = parser.parse_args()
    results_file = args.results
    args.out.mkdir(parents=True, exist_ok=True)
    for vocabulary in args.vocabularies:
        for seed in args.seeds:
            if any(o.vocabulary == vocabulary and o.seed == seed for o in read(results_file)):
                continue  # measured before: results.json keeps every finished seed
            start = time.process_time()
            run = search(vocabulary, seed, args.cpu_minutes, args.out / "runs")
            finished = outcome(vocabulary, seed, run, (time.process_time() - start) / 60)
            record(results_file, finished)
            print(table([finished]).splitlines()[2], flush=True)
    print(table(read(results_file)))


def read(results_file: Path) -> list[SeedOutcome]:
    return [SeedOutcome(**d) for d in json.loads(results_file.read_text())] if results_file.exists() else []


def record(results_file: Path, finished: SeedOutcome) -> None:
    """Add ``finished`` to the results file, read afresh (a second process on other seeds may have
    written since), through a temporary file renamed over it, so a crash never leaves half a file."""
    outcomes = [*read(results_file), finished]
    temporary = results_file.with_suffix(".tmp")
    temporary.write_text(json.dumps([dataclasses.asdict(o) for o in outcomes], indent=1))
    temporary.replace(results_file)


if __name__ == "__main__":
    main()
