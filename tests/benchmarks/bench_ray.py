"""Benchmark: one generation of 32 candidates on local Ray workers vs in-process.

The same 32 distinct mutants of Adam (``mutate_valid`` with a fixed
``random.Random``) are evaluated by ``InProcessBackend`` and by ``RayBackend``
on a local Ray (``ray.init(num_cpus=WORKERS)``, one actor per CPU). Prints:

* actor start-up (process, imports, trainer compilation: paid once per run);
* wall seconds per generation for both and the speed-up ratio;
* dispatch overhead per generation: Ray wall time minus the workers' own
  evaluation seconds divided by the worker count, and the round trip of the
  same number of empty chunks.

Run: ``python tests/benchmarks/bench_ray.py [--steps 100] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import random
import time

import ray

import dsl
from discovery import config as config_lib
from discovery.evaluation.backends import CHUNKS_PER_WORKER, InProcessBackend, RayBackend
from discovery.evaluation.evaluator import Evaluator
from discovery.evolution.validity import mutate_valid

TASKS = ["quadratic_ill", "mf_k4", "mnist1d_mlp"]
CANDIDATES = 32


def mutants(n: int, seed: int = 0) -> list[bytes]:
    """``n`` distinct valid mutants of Adam, encoded (distinct fingerprints)."""
    rng, out, seen = random.Random(seed), [], set()
    adam = dsl.library.get("adam")
    while len(out) < n:
        child, _ = mutate_valid(adam, rng)
        if dsl.fingerprint(child) not in seen:
            seen.add(dsl.fingerprint(child))
            out.append(dsl.dumps(child))
    return out


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="warning")  # before JAX starts
    config = config_lib.load(**{"tasks.search": TASKS, "tasks.held_out": [], "protocol.steps": args.steps,
                                "evaluation.path": "interpreter", "evaluation.hurdle": 1e9})
    p = config.protocol
    print(f"tasks {TASKS} (small), {len(p.learning_rates)} lrs x {len(p.seeds)} seeds, "
          f"{args.steps} steps, {CANDIDATES} candidates, {args.workers} Ray workers")
    evaluator = Evaluator(config)
    evaluator.prepare("search")  # compiles the driver's trainers
    rules = mutants(CANDIDATES)

    local, local_s = timed(InProcessBackend(evaluator).map, rules)
    backend = RayBackend(evaluator, workers=args.workers)
    _, startup_s = timed(backend.map, rules[:1])  # starts the actors; each compiles its trainers
    remote, remote_s = timed(backend.map, rules)
    assert [r["fitness"] for r in remote] == [r["fitness"] for r in local], "backends disagree"

    busy_s = sum(r["seconds"] for r in remote) / args.workers
    chunks = CHUNKS_PER_WORKER * args.workers
    _, round_trip_s = timed(lambda: ray.get([backend.actors[i % args.workers].map.remote([])
                                             for i in range(chunks)]))
    print(f"actor start-up (once per run): {startup_s:6.2f} s")
    print(f"in-process generation:         {local_s:6.2f} s  ({CANDIDATES / local_s:5.2f} cand/s)")
    print(f"ray generation:                {remote_s:6.2f} s  ({CANDIDATES / remote_s:5.2f} cand/s)")
    print(f"speed-up ray / in-process:     {local_s / remote_s:6.2f}x")
    print(f"dispatch overhead: {remote_s - busy_s:5.2f} s per generation (wall - worker seconds / workers); "
          f"{chunks} empty chunks round trip {round_trip_s * 1e3:.1f} ms")
    backend.close()
    ray.shutdown()


if __name__ == "__main__":
    main()
