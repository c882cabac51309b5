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
pairs, each child varying one of the two. Each generation's record counts the
distinct architecture shapes seen so far (``compiled_shapes``): only a new
shape compiles, and ``architectures.shapes(param_budget, family)`` bounds them;
architectures come from the family ``[coevolution] family`` names.
All randomness comes from one ``random.Random`` whose state is checkpointed,
so a resumed run continues exactly where the interrupted one was.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import time

import numpy as np
from deap import base, tools

import dsl
from discovery import tasks
from discovery.config import Config
from discovery.evolution import architectures
from discovery.evolution.validity import crossover_valid, mutate_valid, random_rule
from discovery.records import (
    Candidate,
    Evaluation,
    encode_candidate,
    mapping,
    read_fields,
    sequence,
    stored,
    whole,
)


@dataclasses.dataclass(frozen=True)
class Child:
    """A bred candidate before evaluation: its rule, architecture, parents and how it was made."""

    rule: dsl.Rule
    architecture: tasks.Genes | None
    parents: tuple[int, ...]
    mutation: str

    @functools.cached_property
    def fingerprint(self) -> str:
        return dsl.fingerprint(self.rule)

    @functools.cached_property
    def behaviour(self) -> dsl.Behaviour:
        return dsl.behaviour(self.rule)

    @property
    def key(self) -> str:
        """Deduplication key: the rule's scale-free behaviour, plus the architecture's key if any."""
        return self.behaviour.key + ("" if self.architecture is None else self.architecture.key())


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """An evaluated behaviour: its evaluation, and the magnitude and fingerprint of the rule
    that was trained (``dsl.behaviour``)."""

    evaluation: Evaluation
    magnitude: float
    fingerprint: str

    def for_magnitude(self, magnitude: float) -> Evaluation:
        """The evaluation of an equivalent rule ``magnitude / self.magnitude`` times larger."""
        if magnitude == self.magnitude or not (magnitude > 0 and self.magnitude > 0):
            return self.evaluation
        return self.evaluation.rescaled(magnitude / self.magnitude)

    def to_dict(self) -> dict:
        return {"evaluation": self.evaluation.to_dict(), "magnitude": self.magnitude,
                "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, data: dict) -> CacheEntry:
        return cls(Evaluation.from_dict(data["evaluation"]), data["magnitude"], data["fingerprint"])


def _rng_state(value) -> tuple:
    """``random.Random.getstate()`` as stored: [version, [internal ints], gauss or None]."""
    version, internal, gauss = value
    if gauss is not None:
        gauss = float(gauss)
    return whole()(version), sequence(whole())(internal), gauss


def _generation_record(value) -> dict:
    return mapping(lambda x: x)(value)


@dataclasses.dataclass(frozen=True)
class SearchState:
    """Everything a search needs to continue exactly, as the checkpoint stores it (plain data
    through ``to_dict``; ``from_dict`` checks every field with its reader)."""

    rng: tuple = stored(_rng_state)
    generation: int = stored(whole())
    next_id: int = stored(whole())
    cache: dict[str, CacheEntry] = stored(mapping(CacheEntry.from_dict))
    population: tuple[Candidate, ...] = stored(sequence(Candidate.from_dict))
    hall_of_fame: tuple[Candidate, ...] = stored(sequence(Candidate.from_dict))
    logbook: tuple[dict, ...] = stored(sequence(_generation_record))
    totals: dict[str, int] = stored(mapping(whole()))
    shapes: tuple[tuple[int, ...], ...] = stored(sequence(sequence(whole())), default=())

    def to_dict(self) -> dict:
        version, internal, gauss = self.rng
        return {"rng": [version, list(internal), gauss], "generation": self.generation,
                "next_id": self.next_id, "cache": {k: v.to_dict() for k, v in self.cache.items()},
                "population": [c.to_dict() for c in self.population],
                "hall_of_fame": [c.to_dict() for c in self.hall_of_fame],
                "logbook": [dict(r) for r in self.logbook], "totals": dict(self.totals),
                "shapes": [list(s) for s in self.shapes]}

    @classmethod
    def from_dict(cls, data, where: str = "search state") -> SearchState:
        return cls(**read_fields(cls, data, where))


class FitnessMin(base.Fitness):
    weights = (-1.0,)


class Individual:
    """A candidate as DEAP's tools see it: the candidate plus a fitness."""

    def __init__(self, candidate: Candidate):
        self.candidate = candidate
        self.fitness = FitnessMin((candidate.fitness,))


def make_hall_of_fame(size: int, candidates: list[Candidate] = ()) -> tools.HallOfFame:
    """DEAP's hall of fame keyed by ``Candidate.key``; ``candidates`` (best first) restore a saved one.

    DEAP places a newcomer before older members of equal fitness, so saved
    members are re-inserted worst first to restore ties in the same order.
    """
    hof = tools.HallOfFame(size, similar=lambda a, b: a.candidate.key == b.candidate.key)
    hof.update([Individual(c) for c in reversed(candidates)])
    return hof


def update_hall_of_fame(hof: tools.HallOfFame, candidates: list[Candidate]) -> None:
    """Insert ``candidates``; an entry equivalent to a newcomer (same key, hence the same
    fitness) gives way to it if the newcomer is simpler, so the simplest of each behaviour
    stays. Entries are reported pruned (``dsl.prune``)."""
    for c in candidates:
        same = [i for i, ind in enumerate(hof) if ind.candidate.key == c.key]
        if same and pruned(c).complexity < hof[same[0]].candidate.complexity:
            hof.remove(same[0])
    hof.update([Individual(c) for c in candidates])
    for ind in hof:
        ind.candidate = pruned(ind.candidate)


def pruned(candidate: Candidate) -> Candidate:
    """The candidate reported by its behavioural simplification (``dsl.prune``, cached per rule)."""
    rule = dsl.prune(candidate.rule)
    return dataclasses.replace(candidate, simplified=rule, text=rule.to_text(), complexity=rule.size)


def make_statistics() -> tools.Statistics:
    stats = tools.Statistics(lambda ind: ind.fitness.values[0])
    stats.register("best", np.min)
    stats.register("median", np.median)
    return stats


class Evolution:
    """One run's search state and its generation step; persistence lives in ``discovery.runs``."""

    def __init__(self, config: Config, evaluate_batch, state: SearchState | None = None):
        self.config = config
        self.settings = config.run
        self.coevolution = config.coevolution
        self.evaluate_batch = evaluate_batch  # list[bytes] -> list[Evaluation]
        self.hof = make_hall_of_fame(config.evaluation.hall_of_fame,
                                     [] if state is None else list(state.hall_of_fame))
        self.stats = make_statistics()
        self.logbook = tools.Logbook()
        self.rng = random.Random(self.settings.seed)
        self.generation = 0
        self.next_id = 0
        self.cache: dict[str, CacheEntry] = {}
        self.population: list[Candidate] = []
        self.totals = {"evaluated": 0, "cache_hits": 0, "scale_equivalent": 0}
        self.shapes: set[tuple[int, ...]] = set()
        if state is not None:
            version, internal, gauss = state.rng
            self.rng.setstate((version, tuple(internal), gauss))
            self.generation = state.generation
            self.next_id = state.next_id
            self.cache = dict(state.cache)
            self.population = list(state.population)
            self.logbook.extend(state.logbook)
            self.totals = dict(state.totals)
            self.shapes = set(state.shapes)

    # -- state -------------------------------------------------------------------------------

    def state(self) -> SearchState:
        """Everything needed to continue exactly."""
        return SearchState(rng=self.rng.getstate(), generation=self.generation, next_id=self.next_id,
                           cache=dict(self.cache), population=tuple(self.population),
                           hall_of_fame=tuple(ind.candidate for ind in self.hof),
                           logbook=tuple(dict(r) for r in self.logbook), totals=dict(self.totals),
                           shapes=tuple(sorted(self.shapes)))

    @property
    def hall_of_fame(self) -> list[Candidate]:
        return [ind.candidate for ind in self.hof]

    # -- breeding ----------------------------------------------------------------------------

    def _tournament(self) -> Candidate:
        """Best of a random sample; among those within ``parsimony`` of the best, the simplest."""
        k = min(self.settings.tournament, len(self.population))
        sample = [self.population[i] for i in self.rng.sample(range(len(self.population)), k)]
        best = min(c.fitness for c in sample)
        close = [c for c in sample if c.fitness <= best + self.settings.parsimony]
        return min(close, key=lambda c: (c.complexity, c.fitness))

    def _breed(self) -> Child:
        co = self.coevolution
        vary_arch = co.evolves_architectures and (
            not co.evolves_rules or self.rng.random() < co.architecture_prob)
        if self.rng.random() < self.settings.crossover_prob and len(self.population) > 1:
            a, b = self._tournament(), self._tournament()
            if vary_arch:
                arch, what = architectures.crossover(a.architecture, b.architecture, self.rng,
                                                     co.param_budget)
                return Child(a.rule, arch, (a.id, b.id), what)
            rule, what = crossover_valid(a.rule, b.rule, self.rng)
            return Child(_named(rule, a.rule), a.architecture, (a.id, b.id), what)
        parent = self._tournament()
        if vary_arch:
            arch, what = architectures.mutate(parent.architecture, self.rng, co.param_budget)
            return Child(parent.rule, arch, (parent.id,), what)
        rule, what = mutate_valid(parent.rule, self.rng)
        return Child(_named(rule, parent.rule), parent.architecture, (parent.id,), what)

    def initial_children(self) -> list[Child]:
        n, co = self.settings.population, self.coevolution
        warm = [co.fixed_rule] if not co.evolves_rules else list(self.settings.warm_start)
        rules = ([(dsl.library.get(warm[i % len(warm)]), "warm start") for i in range(n)] if warm
                 else [(_named(random_rule(self.rng)), "random") for _ in range(n)])
        if not co.evolves_architectures:
            archs = [None] * n
        elif co.start_architectures == "varied":
            archs = [architectures.random_architecture(self.rng, co.param_budget, co.family) for _ in range(n)]
        else:
            archs = [co.architecture_family.default()] * n
        return [Child(rule, arch, (), what) for (rule, what), arch in zip(rules, archs)]

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self, children: list[Child]) -> tuple[list[Candidate], int, int]:
        """Candidates for the children; each new behaviour (scale-free key) is trained once.

        A child equivalent to an evaluated rule up to a positive factor reuses its
        evaluation, with the learning rates rescaled by the ratio of magnitudes.
        Returns the candidates, how many were trained and how many were skipped as
        scale-equivalent (a different exact fingerprint, the same key).
        """
        keys = [child.key for child in children]
        todo: dict[str, Child] = {}
        for k, child in zip(keys, children):
            if k not in self.cache and k not in todo:
                todo[k] = child
        results = self.evaluate_batch([encode_candidate(c.rule, c.architecture) for c in todo.values()])
        for (k, child), result in zip(todo.items(), results):
            self.cache[k] = CacheEntry(result, child.behaviour.magnitude, child.fingerprint)
        candidates: list[Candidate] = []
        equivalent = 0
        for k, child in zip(keys, children):
            entry = self.cache[k]
            equivalent += entry.fingerprint != child.fingerprint
            simple = dsl.simplify(child.rule)
            candidates.append(Candidate(
                id=self.next_id, generation=self.generation, rule=child.rule,
                architecture=child.architecture, simplified=simple, text=simple.to_text(),
                complexity=simple.size, fingerprint=child.fingerprint, key=k, parents=child.parents,
                mutation=child.mutation, cached=k not in todo or any(c.key == k for c in candidates),
                evaluation=entry.for_magnitude(child.behaviour.magnitude),
            ))
            self.next_id += 1
        self.totals["evaluated"] += len(todo)
        self.totals["cache_hits"] += len(children) - len(todo)
        self.totals["scale_equivalent"] += equivalent
        budget = self.coevolution.param_budget
        self.shapes.update(c.architecture.shape(budget) for c in children if c.architecture is not None)
        return candidates, len(todo), equivalent

    # -- one generation ----------------------------------------------------------------------

    def step(self) -> list[Candidate]:
        """Breed, evaluate and select one generation; return the new candidates."""
        start = time.perf_counter()
        if not self.population:
            children = self.initial_children()
        else:
            children = [self._breed() for _ in range(self.settings.population)]
        candidates, trained, equivalent = self.evaluate(children)
        n = self.settings.population
        if not self.population:
            self.population = candidates
        elif self.settings.mode == "regularized":
            self.population = (self.population + candidates)[-n:]
        else:
            pool = [Individual(c) for c in self.population + candidates]
            self.population = [ind.candidate for ind in tools.selBest(pool, n)]
        update_hall_of_fame(self.hof, candidates)
        self.generation += 1
        restart = self.settings.restart_every
        if restart and self.generation % restart == 0:
            self.population = [self.hof[0].candidate] * n
        seconds = time.perf_counter() - start
        shapes = {"compiled_shapes": len(self.shapes)} if self.coevolution.evolves_architectures else {}
        self.logbook.record(
            gen=self.generation,
            trained=trained,
            cache_hits=len(candidates) - trained,
            scale_equivalent=equivalent,
            seconds=round(seconds, 3),
            candidates_per_s=round(len(candidates) / max(seconds, 1e-9), 2),
            complexity=float(np.median([c.complexity for c in self.population])),
            hall_of_fame_best=min(ind.candidate.evaluation.fitness for ind in self.hof),
            **shapes,
            **self.stats.compile([Individual(c) for c in self.population]),
        )
        return candidates


def _named(rule: dsl.Rule, parent: dsl.Rule | None = None) -> dsl.Rule:
    """A varied rule named for itself, ``evolved_<8 hex of its behavioural key>``; an unchanged
    one keeps its name (the warm start and lineage stay in the candidate record)."""
    if rule == parent:
        return rule
    return dataclasses.replace(rule, name=f"evolved_{dsl.behaviour(rule).key[:8]}")

