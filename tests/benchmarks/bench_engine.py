"""Benchmark: where a search's time goes, and one generation, the engine vs the naive loop.

``--only run`` (first by default): ``discovery run --preset quick`` end to end in fresh
processes, with an empty persistent compilation cache (cold) and again with the one it
filled (warm); with ``--reference TREE`` (a checkout of an older commit, e.g. ``git worktree
add /tmp/base <commit>``) the same run of that tree, without a persistent cache, measured in
turn with ours (the machine's load hits both alike). Prints per run: wall seconds, seconds
to the first generation, compilations (new and loaded from the cache), the generations'
seconds and the share of them spent training candidates (candidates' own training seconds
over generation seconds, from ``log.jsonl``), and the split of ``metrics.csv``
(training, breeding with validity, niches, bookkeeping); ratios against the reference.
Writes ``tests/benchmarks/results/engine_run.json`` (appends one dated entry).

(a) the engine: fingerprint dedup, cost model choosing interpreter or native
    per task, one compiled trainer per task shape (native: per rule structure);
(b) naive: for each candidate and task, ``dsl.to_optax`` + a fresh ``jax.jit``
    (vmapped over the same lr x seed grid, so only the compilation differs).

Prints candidates/s for both, the ratio, compilations per generation, at 200,
1,000 and 5,000 steps, and generation time for populations of 16, 32 and 64.
Run: ``make bench-engine`` or ``python tests/benchmarks/bench_engine.py [--quick]
[--only run|steps|population] [--reference TREE] [--seed N]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dsl
from discovery import config as config_lib
from discovery.evaluation.evaluator import Evaluator
from discovery.evolution.validity import mutate_valid
from discovery.training import trainer

TASKS = ["quadratic_ill", "mf_k4", "mnist1d_mlp"]
LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
SEEDS = [0, 1]


def children(n: int, seed: int) -> list[dsl.Rule]:
    """``n`` distinct valid mutants of Adam (distinct fingerprints: no cache help)."""
    rng, out, seen = random.Random(seed), [], set()
    parent = dsl.library.get("adam")
    while len(out) < n:
        child, _ = mutate_valid(parent, rng)
        fp = dsl.fingerprint(child)
        if fp not in seen:
            seen.add(fp)
            out.append(child)
    return out


def make_config(steps: int) -> config_lib.Config:
    return config_lib.load(**{
        "tasks.search": TASKS, "tasks.held_out": [], "protocol.learning_rates": LRS,
        "protocol.seeds": SEEDS, "protocol.steps": steps, "evaluation.hurdle": 1e9,
    })


def engine_generation(evaluator: Evaluator, rules: list[dsl.Rule]) -> tuple[float, int]:
    with dsl.count_compilations() as compiles:
        start = time.perf_counter()
        for rule in rules:
            evaluator.evaluate(rule)
        return time.perf_counter() - start, compiles.count


def naive_generation(evaluator: Evaluator, rules: list[dsl.Rule], steps: int) -> tuple[float, int]:
    lrs, seeds = jnp.asarray(LRS, jnp.float32), jnp.asarray(SEEDS, jnp.uint32)
    with dsl.count_compilations() as compiles:
        start = time.perf_counter()
        for rule in rules:
            for task in evaluator.search_tasks:
                one = trainer._run_one(task, lambda _, lr, rule=rule: dsl.to_optax(rule, lr), steps)
                fn = jax.jit(jax.vmap(jax.vmap(one, (None, None, 0, None, None)), (None, 0, None, None, None)))
                jax.block_until_ready(fn(None, lrs, seeds, task.train_data, task.test_data))
        return time.perf_counter() - start, compiles.count


ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results" / "engine_run.json"
SPLIT = ("training_s", "breeding_s", "niches_s", "bookkeeping_s")
_ONE_RUN = """
import json, sys, time
start = time.perf_counter()
import dsl, discovery
from discovery import config as config_lib
with dsl.count_compilations() as compiles:
    run = discovery.run(config_lib.load(preset="quick", **{"run.seed": int(sys.argv[2])}), out=sys.argv[1],
                        progress=False)
from discovery.training import trainer  # the trainers it holds, and the shapes each was traced for
traces = sum(fn._cache_size() for fn in trainer._COMPILED.values())
print(json.dumps({"wall": time.perf_counter() - start, "compilations": compiles.count,
                  "loaded": compiles.loaded, "trainers": len(trainer._COMPILED), "traces": traces,
                  "path": str(run.path)}))
"""


def one_run(tree: Path, seed: int, cache: Path | None) -> dict:
    """``discovery run --preset quick`` in a fresh process on the code of ``tree``: what it measured
    of itself, and what its log says of its generations."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env.update(PYTHONPATH=str(tree), JAX_PLATFORMS=env.get("JAX_PLATFORMS", "cpu"),
               DISCOVERY_COMPILATION_CACHE=str(cache) if cache else "off")
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "-c", _ONE_RUN, out, str(seed)], env=env, cwd=tree,
                              capture_output=True, text=True, check=True)
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        records = [json.loads(line) for line in (Path(measured["path"]) / "log.jsonl").open()]
    generations = [r for r in records if r["kind"] == "generation"]
    start = next(r["time"] for r in records if r["kind"] == "start")
    calibrated = next((r["time"] for r in records if r["kind"] == "calibration" and "time" in r), None)
    seconds = sum(g["seconds"] for g in generations)
    training = sum(r["seconds"] for r in records if r["kind"] == "candidate" and not r["cached"])
    return {**{k: v for k, v in measured.items() if k != "path"},
            "to_first_generation": None if calibrated is None else calibrated - start,
            "generations": len(generations), "generation_seconds": seconds, "training_seconds": training,
            "training_share": training / seconds,
            "trained": sum(r["kind"] == "candidate" and not r["cached"] for r in records),
            "split": {k: sum(g[k] for g in generations) for k in SPLIT if k in generations[0]}}


def _line(label: str, r: dict) -> str:
    first = "" if r["to_first_generation"] is None else f", first generation after {r['to_first_generation']:.1f}s"
    split = " ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in r["split"].items())
    return (f"  {label:9} wall {r['wall']:6.1f}s{first}; {r['compilations']} compilations "
            f"({r['loaded']} from the cache), {r['traces']} traces of {r['trainers']} trainers; generations {r['generation_seconds']:.1f}s, training "
            f"{r['training_seconds']:.1f}s = {r['training_share']:.0%} ({r['trained']} trained)"
            + (f"\n  {'':9} split: {split}" if split else ""))


def run_part(seed: int, reference: Path | None) -> None:
    print(f"discovery run --preset quick --seed {seed}, fresh processes, one after another")
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        if reference:
            results["reference"] = one_run(reference, seed, None)
            print(_line("reference", results["reference"]) + f"  [{reference}, no persistent cache]")
        for label in ("cold", "warm"):
            results[label] = one_run(ROOT, seed, Path(cache))
            print(_line(label, results[label]))
    if reference:
        base = results["reference"]["wall"]
        print("  wall vs reference: " + ", ".join(f"{k} {results[k]['wall'] / base:.2f}x" for k in ("cold", "warm")))
        rate = {k: r["trained"] / r["wall"] for k, r in results.items()}  # behaviours trained per wall second
        print("  behaviours trained per wall second vs reference: "
              + ", ".join(f"{k} {rate[k] / rate['reference']:.2f}x" for k in ("cold", "warm")))
    entry = {"date": datetime.date.today().isoformat(), "seed": seed, "load": os.getloadavg()[0],
             "reference": str(reference) if reference else None, **results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps(history + [entry], indent=1) + "\n")
    print(f"  written to {RESULTS.relative_to(ROOT)}")


def probes_part(n: int = 1000) -> None:
    """Validity checks, fingerprints and niche vectors per second: the packed probes against the
    leaf-by-leaf ones they replaced (``tests/reference_probe.py``), on the same rules."""
    from discovery.evolution import niches, validity
    from tests import reference_probe as reference
    from tests.test_packed_probes import random_rules

    rules = random_rules(n, seed=7)
    timings = {}
    for label, check in (("leaf by leaf", reference.rejection_kind), ("packed", validity.rejection)):
        start = time.perf_counter()
        for rule in rules:
            check(rule)
        timings[label] = time.perf_counter() - start
    pairs = list(zip(rules[:200], rules[1:201]))
    for label, sim in (("similarity, leaf by leaf", reference.similarity), ("similarity, vectors", niches.similarity)):
        start = time.perf_counter()
        for a, b in pairs:
            sim(a, b)
        timings[label] = time.perf_counter() - start
    print(f"probes on {n} rules (library, random primitive and block rules, mutants):")
    print(f"  validity: {n / timings['leaf by leaf']:.0f} rules/s leaf by leaf, {n / timings['packed']:.0f} packed: "
          f"{timings['leaf by leaf'] / timings['packed']:.1f}x")
    print(f"  niche similarity of 200 pairs (first call computes vectors): "
          f"{timings['similarity, leaf by leaf'] / timings['similarity, vectors']:.1f}x")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer candidates for the naive loop")
    parser.add_argument("--only", choices=("run", "probes", "steps", "population"), help="run one part only")
    parser.add_argument("--reference", type=Path, help="a checkout of older code to time the run against")
    parser.add_argument("--seed", type=int, default=4, help="the quick run's seed")
    args = parser.parse_args()
    if args.only in (None, "run"):
        run_part(args.seed, args.reference)
    if args.only in (None, "probes"):
        probes_part()
    if args.only in ("run", "probes"):
        return
    n = 32
    naive_n = 8 if args.quick else n
    print(f"tasks {TASKS} (small), {len(LRS)} lrs x {len(SEEDS)} seeds, {n} candidates per generation")
    for steps in (200, 1000, 5000) if args.only != "population" else ():
        evaluator = Evaluator(make_config(steps))
        start = time.perf_counter()
        reference = evaluator.prepare()
        setup = time.perf_counter() - start
        paths = {t: r.path for t, r in reference.items()}
        gen1, c1 = engine_generation(evaluator, children(n, seed=steps))
        gen2, c2 = engine_generation(evaluator, children(n, seed=steps + 1))
        naive_t, naive_c = naive_generation(evaluator, children(naive_n, seed=steps + 2), steps)
        engine_rate, naive_rate = n / gen2, naive_n / naive_t
        print(f"\n[{steps} steps] setup (Adam reference + calibration) {setup:.1f}s; paths {paths}")
        print(f"  engine: gen 1 {n / gen1:7.2f} cand/s ({c1} compilations), gen 2 {engine_rate:7.2f} cand/s "
              f"({c2} compilations)")
        print(f"  naive : {naive_rate:7.2f} cand/s ({naive_c / naive_n:.1f} compilations per candidate)")
        print(f"  ratio engine/naive (gen 2): {engine_rate / naive_rate:.1f}x")

    if args.only == "steps":
        return
    evaluator = Evaluator(make_config(200))
    reference = evaluator.prepare()
    print(f"\n[200 steps] time per generation vs population size; paths "
          f"{ {t: r.path for t, r in reference.items()} }")
    for pop in (16, 32, 64):
        seconds, _ = engine_generation(evaluator, children(pop, seed=1000 + pop))
        print(f"  population {pop:3d}: {seconds:6.2f}s  ({seconds / pop * 1e3:.1f} ms per candidate)")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
