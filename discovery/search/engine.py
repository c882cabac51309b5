"""The evolution loop: regularized evolution (default) or DEAP-style mu + lambda.

Regularized evolution (Real et al. 2019; Lion; AutoML-Zero), batch-synchronous:
each generation breeds ``population`` children from tournaments over the
current population (crossover with ``crossover_prob``, else mutation; invalid
children are re-mutated before any training), evaluates them, appends them,
and removes as many of the oldest members. ``mu_plus_lambda`` keeps instead
the best ``population`` of parents and children (``deap.tools.selBest``).

Each child is fingerprinted (``dsl.fingerprint``, plus the architecture record
in co-evolution); a behaviour already evaluated is never trained again (cache
hits are counted per generation).

Co-evolution (``[coevolution] mode``): ``rules`` evolves rules on fixed tasks;
``architectures`` evolves architecture records with the rule held fixed (the
community's process, Adam by default); ``joint`` evolves (rule, architecture)
pairs, each child varying one of the two.
All randomness comes from one ``random.Random`` whose state is checkpointed,
so a resumed run continues exactly where the interrupted one was.
"""

from __future__ import annotations

import random
import time

import msgpack
import numpy as np
from deap import base, tools

import dsl
from discovery.search import architectures
from discovery.search.validity import crossover_valid, mutate_valid, random_rule
from discovery.tasks import Architecture

Child = tuple[dsl.Rule, Architecture | None, list[int], str]


class FitnessMin(base.Fitness):
    weights = (-1.0,)


class Individual:
    """A candidate as DEAP's tools see it: the candidate record plus a fitness."""

    def __init__(self, record: dict):
        self.record = record
        self.fitness = FitnessMin((record["fitness"],))

    @property
    def rule(self) -> dsl.Rule:
        return dsl.from_dict(self.record["rule"])


def make_hall_of_fame(size: int, records: list[dict] = ()) -> tools.HallOfFame:
    """DEAP's hall of fame keyed by fingerprint; ``records`` (best first) restore a saved one.

    DEAP places a newcomer before older members of equal fitness, so saved
    members are re-inserted worst first to restore ties in the same order.
    """
    hof = tools.HallOfFame(size, similar=lambda a, b: a.record["key"] == b.record["key"])
    hof.update([Individual(r) for r in reversed(records)])
    return hof


def make_statistics() -> tools.Statistics:
    stats = tools.Statistics(lambda ind: ind.fitness.values[0])
    stats.register("best", np.min)
    stats.register("median", np.median)
    return stats


def pareto_front(records: list[dict]) -> list[dict]:
    """Records not dominated in (complexity, fitness), simplest first (PySR's table)."""
    front: list[dict] = []
    for r in sorted(records, key=lambda r: (r["complexity"], r["fitness"], r["id"])):
        if not front or r["fitness"] < front[-1]["fitness"]:
            front.append(r)
    return front


class Evolution:
    """One run's search state and its generation step; persistence lives in ``discovery.runs``."""

    def __init__(self, config: dict, evaluate_batch, state: dict | None = None):
        self.config = config
        self.run_cfg = config["run"]
        self.coevo = config["coevolution"]
        self.evaluate_batch = evaluate_batch  # list[bytes] -> list[result dict]
        if state is None:
            self.rng = random.Random(self.run_cfg["seed"])
            self.generation = 0
            self.next_id = 0
            self.cache: dict[str, dict] = {}
            self.population: list[dict] = []
            self.hof = make_hall_of_fame(config["evaluation"]["hall_of_fame"])
            self.logbook = tools.Logbook()
            self.totals = {"evaluated": 0, "cache_hits": 0}
        else:
            self.rng = random.Random()
            self.rng.setstate(_rng_state(state["rng"]))
            self.generation = state["generation"]
            self.next_id = state["next_id"]
            self.cache = state["cache"]
            self.population = state["population"]
            self.hof = make_hall_of_fame(config["evaluation"]["hall_of_fame"], state["hall_of_fame"])
            self.logbook = tools.Logbook()
            self.logbook.extend(state["logbook"])
            self.totals = state["totals"]
        self.stats = make_statistics()

    # -- state -------------------------------------------------------------------------------

    def state(self) -> dict:
        """Everything needed to continue exactly (plain data, for msgpack)."""
        version, internal, gauss = self.rng.getstate()
        return {
            "rng": [version, list(internal), gauss],
            "generation": self.generation,
            "next_id": self.next_id,
            "cache": self.cache,
            "population": self.population,
            "hall_of_fame": [ind.record for ind in self.hof],
            "logbook": [dict(r) for r in self.logbook],
            "totals": self.totals,
        }

    # -- breeding ----------------------------------------------------------------------------

    def _tournament(self) -> dict:
        k = min(self.run_cfg["tournament"], len(self.population))
        sample = self.rng.sample(range(len(self.population)), k)
        return min((self.population[i] for i in sample), key=lambda r: r["fitness"])

    def _breed(self) -> Child:
        mode, budget = self.coevo["mode"], self.coevo["param_budget"]
        vary_arch = mode == "architectures" or (
            mode == "joint" and self.rng.random() < self.coevo["architecture_prob"])
        if self.rng.random() < self.run_cfg["crossover_prob"] and len(self.population) > 1:
            a, b = self._tournament(), self._tournament()
            if vary_arch:
                arch, what = architectures.crossover(_arch(a), _arch(b), self.rng, budget)
                return dsl.from_dict(a["rule"]), arch, [a["id"], b["id"]], what
            rule, what = crossover_valid(dsl.from_dict(a["rule"]), dsl.from_dict(b["rule"]), self.rng)
            return rule, _arch(a), [a["id"], b["id"]], what
        parent = self._tournament()
        if vary_arch:
            arch, what = architectures.mutate(_arch(parent), self.rng, budget)
            return dsl.from_dict(parent["rule"]), arch, [parent["id"]], what
        rule, what = mutate_valid(dsl.from_dict(parent["rule"]), self.rng)
        return rule, _arch(parent), [parent["id"]], what

    def initial_children(self) -> list[Child]:
        n = self.run_cfg["population"]
        mode = self.coevo["mode"]
        warm = [self.coevo["fixed_rule"]] if mode == "architectures" else self.run_cfg["warm_start"]
        rules = ([(dsl.library.get(warm[i % len(warm)]), "warm start") for i in range(n)] if warm
                 else [(random_rule(self.rng), "random") for _ in range(n)])
        if mode == "rules":
            archs = [None] * n
        elif self.coevo["start_architectures"] == "varied":
            archs = [architectures.random_architecture(self.rng, self.coevo["param_budget"]) for _ in range(n)]
        else:
            archs = [Architecture()] * n
        return [(rule, arch, [], what) for (rule, what), arch in zip(rules, archs)]

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self, children: list[Child]) -> tuple[list[dict], int]:
        """Records for the children; each new behaviour (fingerprint) is trained once."""
        prints = [dsl.fingerprint(rule) for rule, _, _, _ in children]
        keys = [fp + architectures.key(arch) for fp, (_, arch, _, _) in zip(prints, children)]
        todo: dict[str, bytes] = {}
        for k, (rule, arch, _, _) in zip(keys, children):
            if k not in self.cache and k not in todo:
                todo[k] = encode_candidate(rule, arch)
        results = self.evaluate_batch(list(todo.values()))
        for k, result in zip(todo, results):
            self.cache[k] = result
        records = []
        for fp, k, (rule, arch, parents, what) in zip(prints, keys, children):
            simple = dsl.simplify(rule)
            records.append({
                "id": self.next_id,
                "generation": self.generation,
                "rule": dsl.to_dict(rule),
                "architecture": None if arch is None else arch.to_dict(),
                "text": simple.to_text(),
                "complexity": simple.size,
                "fingerprint": fp,
                "key": k,  # what dedup uses: the fingerprint, plus the architecture if any
                "parents": parents,
                "mutation": what,
                "cached": k not in todo or any(r["key"] == k for r in records),
                **self.cache[k],
            })
            self.next_id += 1
        self.totals["evaluated"] += len(todo)
        self.totals["cache_hits"] += len(children) - len(todo)
        return records, len(todo)

    # -- one generation ----------------------------------------------------------------------

    def step(self) -> list[dict]:
        """Breed, evaluate and select one generation; return the new candidate records."""
        start = time.perf_counter()
        if not self.population:
            children = self.initial_children()
        else:
            children = [self._breed() for _ in range(self.run_cfg["population"])]
        records, trained = self.evaluate(children)
        n = self.run_cfg["population"]
        if not self.population:
            self.population = records
        elif self.run_cfg["mode"] == "regularized":
            self.population = (self.population + records)[-n:]
        else:
            pool = [Individual(r) for r in self.population + records]
            self.population = [ind.record for ind in tools.selBest(pool, n)]
        self.hof.update([Individual(r) for r in records])
        self.generation += 1
        restart = self.run_cfg["restart_every"]
        if restart and self.generation % restart == 0:
            self.population = [self.hof[0].record] * n
        seconds = time.perf_counter() - start
        self.logbook.record(
            gen=self.generation,
            trained=trained,
            cache_hits=len(records) - trained,
            seconds=round(seconds, 3),
            candidates_per_s=round(len(records) / max(seconds, 1e-9), 2),
            **self.stats.compile([Individual(r) for r in self.population]),
        )
        return records


def encode_candidate(rule: dsl.Rule, arch: Architecture | None) -> bytes:
    """What a backend receives: the rule's bytes, or a (rule, architecture) pair's."""
    if arch is None:
        return dsl.dumps(rule)
    return msgpack.packb({"format": "candidate-pair", "rule": dsl.to_dict(rule),
                          "architecture": arch.to_dict()}, use_bin_type=True)


def decode_candidate(raw: bytes) -> tuple[dsl.Rule, Architecture | None]:
    data = msgpack.unpackb(raw, raw=False)
    if isinstance(data, dict) and data.get("format") == "candidate-pair":
        return dsl.from_dict(data["rule"]), Architecture.from_dict(data["architecture"])
    return dsl.from_dict(data), None


def _arch(record: dict) -> Architecture | None:
    return None if record.get("architecture") is None else Architecture.from_dict(record["architecture"])


def _rng_state(saved) -> tuple:
    version, internal, gauss = saved
    return version, tuple(internal), gauss
