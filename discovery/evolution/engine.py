"""The evolution loop: regularized evolution (default), DEAP-style mu + lambda, or random search.

Regularized evolution (Real et al. 2019; Lion; AutoML-Zero), batch-synchronous:
each generation breeds ``population`` children from tournaments over the
current population (crossover with ``crossover_prob``, else mutation; invalid
children are re-mutated before any training), evaluates them, appends them,
and removes as many of the oldest members. ``mu_plus_lambda`` keeps instead
the best ``population`` of parents and children (``deap.tools.selBest``). ``random`` draws every
generation's children as random rules of the vocabulary (``validity.random_rule``), nothing
bred from the population: the baseline a search must beat at the same number of evaluations.

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

import collections
import dataclasses
import functools
import math
import random
import time

import numpy as np
from deap import base, tools

import dsl
from discovery import tasks
from discovery.codec import Stored, mapping, real, record, sequence, stored, text, whole
from discovery.config import Config
from discovery.evolution import architectures, niches
from discovery.evolution.generation import TIME_SPLIT, Generation, Totals
from discovery.evolution.reporting import report_hall_of_fame
from discovery.evolution.validity import crossover_valid, mutate_valid, random_rule
from discovery.evolution.variation import NO_OP
from discovery.records import Candidate, Evaluation, Origin, encode_candidate, encode_screening


@dataclasses.dataclass(frozen=True)
class Child:
    """A bred candidate before evaluation: its rule, architecture, parents, how it was made
    (``origin``) and what was done (``mutation``, for people)."""

    rule: dsl.Rule
    architecture: tasks.Genes | None
    parents: tuple[int, ...]
    origin: Origin
    mutation: str

    @functools.cached_property
    def fingerprint(self) -> str:
        return dsl.fingerprint(self.rule)

    @functools.cached_property
    def behaviour(self) -> dsl.Behaviour:
        return dsl.behaviour(self.rule)

    @property
    def key(self) -> str:
        return _behaviour_key(self.behaviour, self.architecture)


def _behaviour_key(behaviour: dsl.Behaviour, architecture: tasks.Genes | None) -> str:
    """Deduplication key: the rule's scale-free behaviour, plus the architecture's key if any."""
    return behaviour.key + ("" if architecture is None else architecture.key())


@dataclasses.dataclass(frozen=True)
class CacheEntry(Stored):
    """An evaluated behaviour: its evaluation, and the magnitude and fingerprint of the rule
    that was trained (``dsl.behaviour``)."""

    evaluation: Evaluation = stored(record(Evaluation))
    magnitude: float = stored(real)
    fingerprint: str = stored(text)

    def for_magnitude(self, magnitude: float) -> Evaluation:
        """The evaluation of an equivalent rule ``magnitude / self.magnitude`` times larger."""
        if magnitude == self.magnitude or not (magnitude > 0 and self.magnitude > 0):
            return self.evaluation
        return self.evaluation.rescaled(magnitude / self.magnitude)


def _rng_state(value) -> tuple:
    """``random.Random.getstate()`` as stored: [version, [internal ints], gauss or None]."""
    version, internal, gauss = value
    if gauss is not None:
        gauss = float(gauss)
    return whole()(version), sequence(whole())(internal), gauss


@dataclasses.dataclass(frozen=True)
class SearchState(Stored):
    """Everything a search needs to continue exactly, as the checkpoint stores it (plain data
    through ``to_dict``; ``from_dict`` checks every field with its reader)."""

    rng: tuple = stored(_rng_state)
    generation: int = stored(whole())
    next_id: int = stored(whole())
    cache: dict[str, CacheEntry] = stored(mapping(record(CacheEntry)))
    population: tuple[Candidate, ...] = stored(sequence(record(Candidate)))
    hall_of_fame: tuple[Candidate, ...] = stored(sequence(record(Candidate)))
    logbook: tuple[Generation, ...] = stored(sequence(record(Generation)))
    totals: Totals = stored(record(Totals))
    shapes: tuple[tuple[int, ...], ...] = stored(sequence(sequence(whole())))


@dataclasses.dataclass(frozen=True)
class Work:
    """What evaluating a generation's children took: new behaviours ``trained``, children
    ``scale_equivalent`` to an evaluated rule (a different fingerprint, the same key), how many
    behaviours were ``screened`` and ``fully_evaluated``, and the seconds of each stage."""

    trained: int
    scale_equivalent: int
    screened: int
    fully_evaluated: int
    screen_seconds: float
    full_seconds: float


class FitnessMin(base.Fitness):
    weights = (-1.0,)


class Individual:
    """A candidate as DEAP's tools see it: the candidate plus a fitness."""

    def __init__(self, candidate: Candidate):
        self.candidate = candidate
        self.fitness = FitnessMin((candidate.fitness,))


COLLAPSE_SHARE = 0.5  # a generation with more cache hits than this share of its children is collapsing
POOL_PER_ENTRY = 10  # the pool the hall of fame's niches are drawn from: this many behaviours per entry


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
    fitness) gives way to it if the newcomer is simpler, so the simplest of each behaviour stays."""
    for c in candidates:
        same = [i for i, ind in enumerate(hof) if ind.candidate.key == c.key]
        if same and c.complexity < hof[same[0]].candidate.complexity:
            hof.remove(same[0])
    hof.update([Individual(c) for c in candidates])


class Evolution:
    """One run's search state and its generation step; persistence lives in ``discovery.runs``."""

    def __init__(self, config: Config, evaluate_batch, state: SearchState | None = None):
        self.config = config
        self.settings = config.run
        self.coevolution = config.coevolution
        self.evaluate_batch = evaluate_batch  # list[bytes] -> list[Evaluation]
        self.variation = config.variation
        self.hof = make_hall_of_fame(POOL_PER_ENTRY * config.evaluation.hall_of_fame,
                                     [] if state is None else list(state.hall_of_fame))
        self.logbook: list[Generation] = []
        self.rng = random.Random(self.settings.seed)
        self.generation = 0
        self.next_id = 0
        self.cache: dict[str, CacheEntry] = {}
        self.population: list[Candidate] = []
        self.totals = Totals()
        self.shapes: set[tuple[int, ...]] = set()
        self.rejected: collections.Counter = collections.Counter()  # this generation's, by kind
        self.persist_seconds = 0.0  # the launcher's log and checkpoint since the last step
        if state is not None:
            version, internal, gauss = state.rng
            self.rng.setstate((version, tuple(internal), gauss))
            self.generation = state.generation
            self.next_id = state.next_id
            self.cache = dict(state.cache)
            self.population = list(state.population)
            self.logbook.extend(state.logbook)
            self.totals = state.totals
            self.shapes = set(state.shapes)

    # -- state -------------------------------------------------------------------------------

    def state(self) -> SearchState:
        """Everything needed to continue exactly."""
        return SearchState(rng=self.rng.getstate(), generation=self.generation, next_id=self.next_id,
                           cache=dict(self.cache), population=tuple(self.population),
                           hall_of_fame=tuple(ind.candidate for ind in self.hof),
                           logbook=tuple(self.logbook), totals=self.totals,
                           shapes=tuple(sorted(self.shapes)))

    @property
    def pool(self) -> list[Candidate]:
        """The best distinct behaviours evaluated so far, best first: what niches are drawn from."""
        return [ind.candidate for ind in self.hof]

    @property
    def hall_of_fame(self) -> list[Candidate]:
        """One entry per niche, as reported (``report_hall_of_fame``)."""
        return report_hall_of_fame(self.pool, self.config.evaluation.hall_of_fame)

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
                return Child(a.rule, arch, (a.id, b.id), "crossover", what)
            rule, what = crossover_valid(a.rule, b.rule, self.rng, config=self.variation, rejected=self.rejected)
            return Child(_named(rule, a.rule), a.architecture, (a.id, b.id), "crossover", what)
        parent = self._tournament()
        if vary_arch:
            arch, what = architectures.mutate(parent.architecture, self.rng, co.param_budget)
            return Child(parent.rule, arch, (parent.id,), "mutation", what)
        rule, what = mutate_valid(parent.rule, self.rng, config=self.variation, rejected=self.rejected)
        return Child(_named(rule, parent.rule), parent.architecture, (parent.id,), "mutation", what)

    def initial_children(self) -> list[Child]:
        n, co = self.settings.population, self.coevolution
        warm = [co.fixed_rule] if not co.evolves_rules else list(self.settings.warm_start)
        origin: Origin = "warm start" if warm else "random"  # its description too
        rules = ([dsl.library.get(warm[i % len(warm)]) for i in range(n)] if warm
                 else [_named(random_rule(self.rng, vocabulary=self.variation.vocabulary)) for _ in range(n)])
        if not co.evolves_architectures:
            archs = [None] * n
        elif co.starts_varied:
            archs = [architectures.random_architecture(self.rng, co.param_budget, co.family) for _ in range(n)]
        else:
            archs = [co.architecture_family.default()] * n
        return [Child(rule, arch, (), origin, origin) for rule, arch in zip(rules, archs)]

    # -- evaluation --------------------------------------------------------------------------

    def _train(self, raws: list[bytes]) -> tuple[list[Evaluation], Work]:
        """Evaluations of the new behaviours ``raws`` encode, and what it took (scale-equivalent
        children are the caller's to count). With screening on (``[screening] promote < 1``),
        every one is screened and only the best ``promote`` share (at least one) is evaluated in
        full: successive halving with two rungs."""
        screening = self.config.screening
        start = time.perf_counter()
        if not screening.on or len(raws) < 2:
            results = self.evaluate_batch(raws)
            return results, Work(trained=len(raws), scale_equivalent=0, screened=0, fully_evaluated=len(raws),
                                 screen_seconds=0.0, full_seconds=time.perf_counter() - start)
        results = list(self.evaluate_batch([encode_screening(r) for r in raws]))
        screened_at = time.perf_counter()
        order = sorted(range(len(raws)), key=lambda i: (results[i].fitness, i))
        promoted = sorted(order[:max(1, math.ceil(screening.promote * len(raws)))])
        for i, full in zip(promoted, self.evaluate_batch([raws[i] for i in promoted])):
            results[i] = full
        return results, Work(trained=len(raws), scale_equivalent=0, screened=len(raws),
                             fully_evaluated=len(promoted), screen_seconds=screened_at - start,
                             full_seconds=time.perf_counter() - screened_at)

    def evaluate(self, children: list[Child]) -> tuple[list[Candidate], Work]:
        """Candidates for the children, and what it took (``Work``); each new behaviour
        (scale-free key) is trained once.

        A child equivalent to an evaluated rule up to a positive factor reuses its
        evaluation, with the learning rates rescaled by the ratio of magnitudes.
        """
        keys = [child.key for child in children]
        todo: dict[str, Child] = {}
        for k, child in zip(keys, children):
            if k not in self.cache and k not in todo:
                todo[k] = child
        results, work = self._train([encode_candidate(c.rule, c.architecture) for c in todo.values()])
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
                origin=child.origin, mutation=child.mutation, cached=k not in todo or any(c.key == k for c in candidates),
                evaluation=entry.for_magnitude(child.behaviour.magnitude),
            ))
            self.next_id += 1
        self.totals += Totals(evaluated=len(todo), cache_hits=len(children) - len(todo),
                              scale_equivalent=equivalent, screened=work.screened,
                              fully_evaluated=work.fully_evaluated, children=len(children))
        budget = self.coevolution.param_budget
        self.shapes.update(c.architecture.shape(budget) for c in children if c.architecture is not None)
        return candidates, dataclasses.replace(work, scale_equivalent=equivalent)

    # -- one generation ----------------------------------------------------------------------

    def _collapsing(self) -> bool:
        """Whether most children of the last generation were cache hits (copies of behaviours
        already evaluated): the population is collapsing onto a few of them."""
        if not self.logbook:
            return False
        last = self.logbook[-1]
        return last.cache_hits > COLLAPSE_SHARE * (last.trained + last.cache_hits)

    def _fresh(self, child: Child, seen: set[str]) -> tuple[Child, bool]:
        """``child``, or, if its behaviour was evaluated before or already bred this generation,
        the first of up to ``[run] fresh_retries`` valid mutants of it whose behaviour is new
        (a known one is thrown away before the validity checks); whether it was replaced."""
        def new(key: str) -> bool:
            return key not in self.cache and key not in seen

        if new(child.key):
            return child, False
        rule, what = mutate_valid(child.rule, self.rng, self.settings.fresh_retries, self.variation, self.rejected,
                                  new=lambda r: new(_behaviour_key(dsl.behaviour(r), child.architecture)))
        if what == NO_OP:
            return child, False
        return Child(_named(rule, child.rule), child.architecture, child.parents, child.origin,
                     f"{child.mutation}; again: {what}"), True

    def _children(self) -> tuple[list[Child], int, int]:
        """This generation's children: bred by tournaments; when the population is collapsing
        (``_collapsing``), a child that repeats a known behaviour is mutated again, and the last
        ``[run] immigrants`` share are random rules of the vocabulary. Also how many children
        were mutated again, and how many are immigrants."""
        n = self.settings.population
        if not self.population:
            return self.initial_children(), 0, 0
        if self.settings.random_search:  # fresh rules of the vocabulary, no selection
            return [Child(_named(random_rule(self.rng, vocabulary=self.variation.vocabulary)),
                          self._tournament().architecture, (), "random", "random") for _ in range(n)], 0, 0
        collapsing = self.coevolution.evolves_rules and self._collapsing()
        immigrants = round(self.settings.immigrants * n) if collapsing else 0
        children, seen, retried = [], set(), 0
        for _ in range(n - immigrants):
            child = self._breed()
            if collapsing:
                child, again = self._fresh(child, seen)
                retried += again
            children.append(child)
            seen.add(child.key)
        for _ in range(immigrants):
            rule = _named(random_rule(self.rng, vocabulary=self.variation.vocabulary))
            parent = self._tournament()
            children.append(Child(rule, parent.architecture, (), "immigrant", "immigrant: a random rule"))
        return children, retried, immigrants

    def step(self) -> list[Candidate]:
        """Breed, evaluate and select one generation; return the new candidates. The generation's
        record counts its ``seconds`` (with the launcher's log and checkpoint of the generation
        before, ``persist_seconds``) and splits them (``TIME_SPLIT``): training the new behaviours,
        breeding (with the validity checks), niches, and bookkeeping (candidate records, hall of
        fame, statistics, that log and checkpoint)."""
        start = time.perf_counter()
        self.rejected.clear()
        children, retried, immigrants = self._children()
        bred = time.perf_counter()
        candidates, work = self.evaluate(children)
        evaluated = time.perf_counter()
        n, cap = self.settings.population, self.settings.niche_cap
        if not self.population:
            self.population = candidates
        elif self.settings.keeps_best:
            best = [ind.candidate for ind in tools.selBest(
                [Individual(c) for c in self.population + candidates], len(self.population) + len(candidates))]
            self.population = _survivors(best[::-1], n, cap)[::-1]
        else:
            self.population = _survivors(self.population + candidates, n, cap)
        selected = time.perf_counter()
        niche_counts = len(niches.niches(self.pool)), len(niches.niches(self.population))
        counted = time.perf_counter()
        update_hall_of_fame(self.hof, candidates)
        self.generation += 1
        restart = self.settings.restart_every
        if restart and self.generation % restart == 0:
            self.population = [self.hof[0].candidate] * n
        seconds = time.perf_counter() - start + self.persist_seconds
        training = work.screen_seconds + work.full_seconds
        split = {"training_s": training, "breeding_s": bred - start,
                 "niches_s": (selected - evaluated) + (counted - selected),
                 "bookkeeping_s": (evaluated - bred - training) + (time.perf_counter() - counted) + self.persist_seconds}
        self.persist_seconds = 0.0
        fitness = [c.fitness for c in self.population]
        self.logbook.append(Generation(
            gen=self.generation,
            trained=work.trained,
            cache_hits=len(candidates) - work.trained,
            scale_equivalent=work.scale_equivalent,
            screened=work.screened,
            fully_evaluated=work.fully_evaluated,
            screened_per_s=round(work.screened / max(work.screen_seconds, 1e-9), 2),
            evaluated_per_s=round(work.fully_evaluated / max(work.full_seconds, 1e-9), 2),
            retried=retried,
            immigrants=immigrants,
            distinct_per_1000=round(1000 * self.totals.evaluated / max(self.totals.children, 1), 1),
            rejected=dict(sorted(self.rejected.items())),
            seconds=round(seconds, 3),
            **{k: round(split[k], 3) for k in TIME_SPLIT},
            candidates_per_s=round(len(candidates) / max(seconds, 1e-9), 2),
            complexity=float(np.median([c.complexity for c in self.population])),
            hall_of_fame_best=min(ind.candidate.evaluation.fitness for ind in self.hof),
            niches=niche_counts[0],
            population_niches=niche_counts[1],
            compiled_shapes=len(self.shapes) if self.coevolution.evolves_architectures else None,
            best=float(np.min(fitness)),
            median=float(np.median(fitness)),
        ))
        return candidates


def _survivors(members: list[Candidate], n: int, cap: int) -> list[Candidate]:
    """The ``n`` members to keep of ``members`` (first to leave first: the oldest, or the worst):
    with ``cap`` > 0, members of niches holding more than ``cap`` of them leave before the
    others, first ones first (crowding: no behaviour may fill the population)."""
    excess = len(members) - n
    if excess <= 0:
        return list(members)
    leaving = set()
    if cap:
        niche_of = {c.id: i for i, niche in enumerate(niches.niches(members)) for c in niche.members}
        same_key = {c.key: niche_of[c.id] for c in members if c.id in niche_of}
        which = [same_key[c.key] for c in members]
        counts = collections.Counter(which)
        for i, niche in enumerate(which):
            if len(leaving) < excess and counts[niche] > cap:
                leaving.add(i)
                counts[niche] -= 1
    staying = [c for i, c in enumerate(members) if i not in leaving]
    return staying[len(staying) - n:]


def _named(rule: dsl.Rule, parent: dsl.Rule | None = None) -> dsl.Rule:
    """A varied rule named for itself, ``evolved_<8 hex of its behavioural key>``; an unchanged
    one keeps its name (the warm start and lineage stay in the candidate record)."""
    if rule == parent:
        return rule
    return rule.renamed(f"evolved_{dsl.behaviour(rule).key[:8]}")

