"""Discovery where Adam is strong: evolution against random search at equal evaluations.

Per vocabulary and seed, two seed-runs from random rules (``run.warm_start = []``: no library
rule in the initial population; immigrants are random rules of the vocabulary, and no block
inserts a library rule whole) on ``SEARCH``, tasks where tuned Adam beats tuned momentum
(each with its lr *and* its beta tuned) by about 0.4 decades or more:

* **evolution** (the default mode), extended ``BLOCK`` generations at a time until its
  process has spent ``--cpu-minutes`` of CPU;
* **random search** (``run.mode = "random"``) with ``run.max_evaluated`` set to the distinct
  behaviours evolution trained: it draws until it has trained as many, or until it has spent
  evolution's CPU time, whichever comes first (the table shows both counts).

Each run picks its rule as every run does (the held-out re-check on ``SELECT`` at the search's
size). The pick is then *measured* on ``MEASURE`` at default size and ``MEASURE_STEPS`` steps,
on training seeds disjoint from the search's (``MEASURE_SEEDS``), against baselines tuned
under the same protocol: Adam over its lr and ``b2`` in ``ADAM_B2``, momentum over its lr and
``beta`` in ``MOMENTUM_BETA``, AdaBelief and SGD over their lr. Per seed-run: the pick, its
complexity, its mean log10 ratio to each baseline with the seed noise (two standard errors),
its nearest library rule at fitted constants (``nearest``), the behaviours it trained, and the
generation at which the hall of fame's best first beat tuned momentum in the search.

Two workers, one per core (CPU affinity set before JAX starts), take the jobs in turn; each
finished job is one line appended to ``RESULTS`` (a rerun skips what it holds). Run
``make bench-versus-random`` or ``python -m tests.benchmarks.bench_versus_random --seeds 0 1 2 3 4
--vocabularies blocks primitive``; ``--table`` prints the table from the results file alone.
Develop on seeds 10-14, report on 0-4: a change to the search is tried with ``--set
SECTION.KEY=VALUE`` (applied to both modes) and ``--results`` elsewhere, e.g.
``--seeds 10 11 12 --vocabularies blocks --set protocol.steps=300 --results
tests/benchmarks/results/versus_random_dev.jsonl``; each record keeps its settings, and the
baselines come from ``RESULTS`` (they do not depend on the search).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[2]
RESULTS = ROOT / "tests/benchmarks/results/versus_random.jsonl"
SEARCH = ("zipf_softmax", "block_quadratic")
SELECT = ("zipf_mlp",)
MEASURE = ("zipf_softmax", "block_quadratic", "zipf_mlp")
MEASURE_STEPS = 300
MEASURE_SEEDS = (100, 101, 102)
ADAM_B2 = (0.9, 0.95, 0.99, 0.999)
MOMENTUM_BETA = (0.5, 0.8, 0.9, 0.95, 0.99)
BASELINES = ("adam", "momentum", "adabelief", "sgd")
MODES = ("evolution", "random")
BLOCK = 5  # generations per step of the CPU budget loop
DECAYS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)  # tried for a library rule's decay constants


def settings(vocabulary: str, seed: int, mode: str, max_evaluated: int = 0, changes: dict | None = None):
    """The seed-run's config; ``changes`` (``section.key`` -> value) is a change to the search
    under trial, applied to both modes."""
    from discovery import config
    from discovery.training import scoring

    return config.load(**{
        "run.name": f"{mode}-{vocabulary}", "run.seed": seed, "run.generations": 100_000,
        "run.population": 32, "run.warm_start": [], "run.max_evaluated": max_evaluated,
        "run.mode": "random" if mode == "random" else "regularized",
        "variation.vocabulary": vocabulary, "screening.promote": 0.25,
        "tasks.search": list(SEARCH), "tasks.held_out": list(SELECT), "tasks.size": "small",
        "protocol.learning_rates": list(scoring.DEFAULT_LEARNING_RATES[2:]), "protocol.steps": 100,
        "protocol.held_out_steps": 300, **(changes or {})})


def search(cfg, cpu_minutes: float, out: Path):
    """``bench_discovery.budgeted`` in a folder of its own, emptied first: a job cut short starts
    again (its CPU count is lost with it)."""
    from tests.benchmarks.bench_discovery import budgeted

    shutil.rmtree(out, ignore_errors=True)
    return budgeted(cfg, cpu_minutes, out, BLOCK)


def measure_protocol():
    from discovery.training import scoring

    return scoring.Protocol(steps=MEASURE_STEPS, seeds=MEASURE_SEEDS)


def score(optimizer, task_name: str) -> dict:
    """``optimizer`` tuned on ``task_name`` (default size) under the measuring protocol: log10 of
    its tuned score, the standard error of that over seeds, and the tuned lr."""
    from discovery import tasks
    from discovery.training import scoring, tuning

    s = tuning.tune(optimizer, tasks.get(task_name, "default"), measure_protocol()).score
    return {"log10": math.log10(max(s.tuned, scoring.FLOOR)) if math.isfinite(s.tuned) else math.inf,
            "se": s.spread(), "lr": s.tuned_lr}


def baseline_variants(name: str) -> dict[str, object]:
    """The Optax factories a baseline is tuned over, by label (its constants)."""
    import optax

    if name == "adam":
        return {f"b2={b2}": functools.partial(optax.adam, b2=b2) for b2 in ADAM_B2}
    if name == "momentum":
        return {f"beta={b}": functools.partial(optax.sgd, momentum=b) for b in MOMENTUM_BETA}
    return {"": {"adabelief": optax.adabelief, "sgd": optax.sgd}[name]}


def baseline(name: str, task_name: str) -> dict:
    """The best of ``name``'s variants on ``task_name``, each tuned in lr: what a pick must beat."""
    scored = {label: score(opt, task_name) for label, opt in baseline_variants(name).items()}
    best = min(scored, key=lambda label: scored[label]["log10"])
    return {**scored[best], "variant": best, "variants": {k: round(v["log10"], 4) for k, v in scored.items()}}


def nearest(rule) -> tuple[str, float]:
    """The library rule whose update directions agree best with ``rule``'s (``niches.similarity``),
    its decay constants fitted over ``DECAYS`` and its other constants at their defaults."""
    import dsl
    from discovery.evolution import niches

    best, best_cos = "", -2.0
    for name in dsl.library.names():
        lib = dsl.library.get(name)
        decays = [n for n, v in lib.params if 0.5 <= v < 1]
        for values in itertools.product(DECAYS, repeat=len(decays)):
            fitted = dict(zip(decays, values))
            variant = dataclasses.replace(lib, params=tuple((n, fitted.get(n, v)) for n, v in lib.params))
            cos = niches.similarity(rule, variant)
            if cos > best_cos:
                label = ", ".join(f"{n}={v}" for n, v in fitted.items())
                best, best_cos = f"{name}({label})" if label else name, cos
    return best, round(best_cos, 3)


def momentum_search_fitness(run) -> float:
    """Tuned momentum's fitness in the search (its best beta of ``MOMENTUM_BETA``), through the
    run's own evaluator: what the hall of fame's best is compared with, generation by generation."""
    import dsl
    from discovery.evaluation.evaluator import Evaluator

    evaluator = Evaluator(run.config, run.summary.reference)
    lib = dsl.library.get("momentum")
    return min(evaluator.evaluate(dataclasses.replace(lib, params=(("beta", b),)), "search").fitness
               for b in MOMENTUM_BETA)


def seed_run(vocabulary: str, seed: int, mode: str, run, cpu: float, momentum: float | None) -> dict:
    """What the table shows of one seed-run, the pick measured on ``MEASURE``."""
    from discovery.analysis import inspection

    rows = inspection.table(run)
    pick = next(r for r in rows if r.pick)
    rule = run.candidate(pick.rank).rule
    totals = run.summary.totals
    first = (None if momentum is None else
             next((g.gen for g in run.logbook if g.hall_of_fame_best is not None
                   and g.hall_of_fame_best < momentum), None))
    name, cos = nearest(rule)
    return {"kind": "seed_run", "vocabulary": vocabulary, "seed": seed, "mode": mode,
            "generations": run.generation, "cpu_minutes": round(cpu, 2), "children": totals.children,
            "evaluated": totals.evaluated, "fully_evaluated": totals.fully_evaluated,
            "best_fitness": round(min(c.fitness for c in run.hall_of_fame), 4),
            "momentum_fitness": None if momentum is None else round(momentum, 4),
            "first_beats_momentum": first, "pick": pick.text, "complexity": pick.complexity,
            "nearest": name, "nearest_cosine": cos,
            "scores": {t: score(rule, t) for t in MEASURE}, "folder": run.path.name}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open()] if path.exists() else []


def records(results: Path) -> list[dict]:
    """The seed-runs of ``results`` and the baselines, which ``RESULTS`` holds for every results file."""
    own = read(results)
    return own if results == RESULTS else own + [r for r in read(RESULTS) if r["kind"] == "baseline"]


def overrides(settings: list[str]) -> dict:
    """``--set SECTION.KEY=VALUE`` settings as config overrides (parsed as ``discovery run --set``)."""
    from discovery.cli.cmd_run import parse_setting

    return dict(parse_setting(text) for text in settings)


def append(path: Path, record: dict) -> None:
    """One line, one ``write`` on a file opened for appending: two workers never interleave."""
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


# -- jobs ---------------------------------------------------------------------------------------

def jobs(seeds, vocabularies) -> list[tuple]:
    return ([("baseline", b, t) for t in MEASURE for b in BASELINES]
            + [("pair", v, s) for v in vocabularies for s in seeds])


def done(records: list[dict], job: tuple) -> bool:
    if job[0] == "baseline":
        return any(r["kind"] == "baseline" and (r["baseline"], r["task"]) == job[1:] for r in records)
    modes = {r["mode"] for r in records if r["kind"] == "seed_run" and (r["vocabulary"], r["seed"]) == job[1:]}
    return set(MODES) <= modes


def run_job(job: tuple, results: Path, cpu_minutes: float, out: Path, changes: dict | None = None) -> None:
    if job[0] == "baseline":
        _, name, task = job
        append(RESULTS, {"kind": "baseline", "baseline": name, "task": task, **baseline(name, task)})
        return
    _, vocabulary, seed = job
    folder = out / f"{vocabulary}-s{seed}"
    evo = next((r for r in read(results) if r["kind"] == "seed_run" and r["mode"] == "evolution"
                and (r["vocabulary"], r["seed"]) == (vocabulary, seed)), None)  # a job cut short after it
    changed = {"changes": changes} if changes else {}
    if evo is None:
        run, cpu = search(settings(vocabulary, seed, "evolution", changes=changes), cpu_minutes, folder / "evolution")
        evo = {**seed_run(vocabulary, seed, "evolution", run, cpu, momentum_search_fitness(run)), **changed}
        append(results, evo)
    rnd, rcpu = search(settings(vocabulary, seed, "random", evo["evaluated"], changes), evo["cpu_minutes"],
                       folder / "random")
    append(results, {**seed_run(vocabulary, seed, "random", rnd, rcpu, evo["momentum_fitness"]), **changed})


def worker(index: int, count: int, args) -> None:
    """Take the pending jobs in turn (claims: a file per job, created exclusively)."""
    claims = args.out / "claims"
    for job in jobs(args.seeds, args.vocabularies):
        if done(records(args.results), job):
            continue
        try:
            (claims / "-".join(map(str, job))).open("x").close()
        except FileExistsError:
            continue
        start = time.time()
        run_job(job, args.results, args.cpu_minutes, args.out / "runs", overrides(args.set))
        print(f"worker {index}: {job} done in {time.time() - start:.0f} s", flush=True)


def launch(args) -> None:
    """Start ``--workers`` worker processes, each pinned to one core, and wait for them."""
    claims = args.out / "claims"
    shutil.rmtree(claims, ignore_errors=True)  # claims of jobs a killed launch left unfinished
    claims.mkdir(parents=True)
    cores = sorted(os.sched_getaffinity(0))
    procs = []
    for i in range(args.workers):
        cmd = [sys.executable, "-m", "tests.benchmarks.bench_versus_random", "--worker", str(i),
               "--core", str(cores[i % len(cores)]), *sys.argv[1:]]
        procs.append(subprocess.Popen(cmd, cwd=ROOT))
    codes = [p.wait() for p in procs]
    if any(codes):
        sys.exit(f"a worker failed: exit codes {codes}")


# -- the table ----------------------------------------------------------------------------------

def versus(pick: dict, reference: dict[str, dict]) -> tuple[float, float]:
    """Mean over ``MEASURE`` of log10(pick / reference) and its noise (two standard errors)."""
    from discovery.training import fitness

    diffs = [pick[t]["log10"] - reference[t]["log10"] for t in MEASURE]
    return sum(diffs) / len(diffs), fitness.noise([math.hypot(pick[t]["se"], reference[t]["se"])
                                                   for t in MEASURE])


def _nearest(record: dict) -> str:
    """The pick's nearest library rule: "= adam(b2=0.9)" where it is that optimizer (update
    directions as one as a niche's, ``niches.SAME_OPTIMIZER``), "~ ..." where it is only closest."""
    from discovery.evolution.niches import SAME_OPTIMIZER

    same = "=" if record["nearest_cosine"] >= SAME_OPTIMIZER else "~"
    return f"{same} {record['nearest']} ({record['nearest_cosine']:.3f})"


def aims(rows: list[dict], refs: dict, verdicts: list[str] | None) -> str:
    """The issue's aims counted over one vocabulary and mode's seed-runs."""
    adam = [versus(r["scores"], refs["adam"]) for r in rows]
    momentum = [versus(r["scores"], refs["momentum"]) for r in rows]
    close = sum(a <= 0.1 and m < -n for (a, _), (m, n) in zip(adam, momentum))
    n = len(rows)
    text = (f"{rows[0]['vocabulary']}, {rows[0]['mode']}: {close}/{n} picks within 0.1 decades of tuned Adam "
            f"or better and ahead of tuned momentum beyond noise; {sum(a < -e for a, e in adam)}/{n} beat tuned "
            f"Adam beyond noise; {sum(r['complexity'] <= 25 for r in rows)}/{n} have at most 25 nodes.")
    if verdicts is not None:
        text += (f" Evolution beat random search beyond noise in {verdicts.count('evolution')} of "
                 f"{len(verdicts)} seeds, random search beat it in {verdicts.count('random search')}, "
                 f"{verdicts.count('tie')} ties.")
    return text


def table(records: list[dict]) -> str:
    refs = {b: {r["task"]: r for r in records if r["kind"] == "baseline" and r["baseline"] == b}
            for b in BASELINES}
    if any(len(refs[b]) < len(MEASURE) for b in BASELINES):
        return "baselines not measured yet"
    lines = ["| vocabulary | seed | mode | evaluated (fully) / children | pick vs tuned Adam | vs momentum | "
             "vs AdaBelief | vs SGD | nodes | library rule (= same optimizer, ~ nearest; cosine) | gen. beating momentum | the pick |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    runs = {(r["vocabulary"], r["seed"], r["mode"]): r for r in records if r["kind"] == "seed_run"}
    for (vocabulary, seed, mode), r in sorted(runs.items()):
        cells = [versus(r["scores"], refs[b]) for b in BASELINES]
        lines.append(f"| {vocabulary} | {seed} | {mode} | {r['evaluated']} ({r['fully_evaluated']}) / "
                     f"{r['children']} | " + " | ".join(f"{m:+.3f} ± {n:.3f}" for m, n in cells)
                     + f" | {r['complexity']} | {_nearest(r)} | "
                     f"{r['first_beats_momentum'] if r['first_beats_momentum'] is not None else 'never'} | "
                     f"`{r['pick'].removeprefix('() ')}` |")
    lines += ["", "| vocabulary | seed | evolution minus random search (decades, held-out vs tuned Adam) | verdict |",
              "|---|---|---|---|"]
    verdicts: dict[str, list[str]] = {}
    for (vocabulary, seed, mode), r in sorted(runs.items()):
        other = runs.get((vocabulary, seed, "random"))
        if mode != "evolution" or other is None:
            continue
        evo, rnd = versus(r["scores"], refs["adam"]), versus(other["scores"], refs["adam"])
        diff, noise = evo[0] - rnd[0], math.hypot(evo[1], rnd[1])
        verdict = "evolution" if diff < -noise else "random search" if diff > noise else "tie"
        verdicts.setdefault(vocabulary, []).append(verdict)
        lines.append(f"| {vocabulary} | {seed} | {diff:+.3f} ± {noise:.3f} | {verdict} |")
    lines.append("")
    for vocabulary, mode in sorted({(v, m) for v, _, m in runs}):
        lines.append(aims([r for (v, _, m), r in sorted(runs.items()) if (v, m) == (vocabulary, mode)], refs,
                          verdicts.get(vocabulary, []) if mode == "evolution" else None))
    best = "; ".join(f"{t}: " + ", ".join(f"{b} {refs[b][t]['variant'] or 'lr only'} ({refs[b][t]['log10']:+.3f})"
                                          for b in BASELINES) for t in MEASURE)
    lines += ["", f"Baselines (default size, {MEASURE_STEPS} steps, seeds {list(MEASURE_SEEDS)}), "
              f"log10 of the tuned score and the constants chosen: {best}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--vocabularies", nargs="+", default=["blocks", "primitive"])
    parser.add_argument("--cpu-minutes", type=float, default=10.0, help="evolution's CPU budget per seed-run")
    parser.add_argument("--workers", type=int, default=2, help="processes, one per core")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=ROOT / "runs/bench-versus-random")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a change to the search under trial, for both modes (develop on seeds 10-14)")
    parser.add_argument("--table", action="store_true", help="print the table of the results file and stop")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--core", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.table:
        print(table(records(args.results)))
    elif args.worker is not None:
        os.sched_setaffinity(0, {args.core})  # before JAX starts its threads
        worker(args.worker, args.workers, args)
    else:
        launch(args)
        print(table(records(args.results)))


if __name__ == "__main__":
    main()
