"""Niches: candidates that are one optimizer, whatever their constants.

Two rules are one optimizer when their update directions agree at every step of a stream
long enough for state to matter: mean per-step cosine ``>= SAME_OPTIMIZER`` over the
40 steps of varied gradient scales of ``dsl.probe.directions``, on parameters in two
tensors or in one (the larger of the two: a per-tensor scalar factor, ``m * rms(exp(mean(g)))``,
is invisible with one tensor, so a reader training one would see one optimizer; heavy-ball
momentum with
b1 = 0.861, 0.865 and 0.87 are one niche; momentum and Adam are two). A pair carries its
architecture too: pairs with different architectures are never one niche.

``niches(candidates)`` groups candidates greedily, best first (fitness, then complexity, then
id): each joins the niche of the first leader (a niche's best member) it agrees with, or
leads a new one. It is a pure function of the candidates, so a hall of fame built from it is
the same after a resume. A niche is reported by its ``representative``: the simplest member
whose fitness is within the noise (``Evaluation.noise``) of the best's.

Example::

    groups = niches(run.population)
    len(groups), [n.representative.text for n in groups]
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable

import numpy as np

import dsl
from discovery.records import Candidate
from dsl.probe import ANONYMOUS, niche_vectors
from dsl.rule import Rule

SAME_OPTIMIZER = 0.99
# Rules of one form whose update directions are further apart than this (mean cosine) may be two
# optimizers: signum and momentum are 0.82 apart, as are tanh(100 * m) and tanh(0.01 * m).
DISTINCT = 0.83


def _vectors(rule: Rule) -> tuple[np.ndarray, ...]:
    return _vectors_of(rule.renamed(ANONYMOUS))


@functools.lru_cache(maxsize=1 << 14)
def _vectors_of(rule: Rule) -> tuple[np.ndarray, ...]:
    return niche_vectors(rule)


def similarity(a: Rule, b: Rule) -> float:
    """Mean per-step cosine of the two rules' update directions (``dsl.probe.niche_vectors``),
    the larger over parameters in two tensors and in one."""
    return max(float(x @ y) for x, y in zip(_vectors(a), _vectors(b)))


def _architecture(c: Candidate):
    return None if c.architecture is None else c.architecture.key()


def same_optimizer(a: Candidate, b: Candidate) -> bool:
    """One optimizer (and, for pairs, one architecture)."""
    return _architecture(a) == _architecture(b) and similarity(a.rule, b.rule) >= SAME_OPTIMIZER


def _order(c: Candidate) -> tuple:
    return c.fitness, c.complexity, c.id


@dataclasses.dataclass(frozen=True)
class Niche:
    """Candidates that are one optimizer, best first."""

    members: tuple[Candidate, ...]

    @property
    def best(self) -> Candidate:
        return self.members[0]

    @property
    def representative(self) -> Candidate:
        """The simplest member within the noise of the best's fitness (the best on ties)."""
        bar = self.best.fitness + self.best.evaluation.noise
        return min((c for c in self.members if c.fitness <= bar), key=lambda c: (c.complexity, *_order(c)))


def niches(candidates: Iterable[Candidate]) -> list[Niche]:
    """The candidates grouped into niches, best niche first (see the module docstring);
    candidates with the same ``key`` are one behaviour and count once. Each candidate is
    compared with every leader of its architecture at once: one matrix product per shape set."""
    unique = {c.key: c for c in sorted(candidates, key=_order, reverse=True)}  # the best of a key wins
    groups: list[list[Candidate]] = []
    leaders: dict = {}  # architecture key -> (indices into groups, one leader matrix per shape set)
    for c in sorted(unique.values(), key=_order):
        vectors = _vectors(c.rule)
        indices, matrices = leaders.setdefault(
            _architecture(c), ([], [np.empty((len(unique), v.size)) for v in vectors]))
        k = len(indices)
        if k:
            agree = np.max([m[:k] @ v for m, v in zip(matrices, vectors)], axis=0) >= SAME_OPTIMIZER
            if agree.any():
                groups[indices[int(np.argmax(agree))]].append(c)
                continue
        groups.append([c])
        indices.append(len(groups) - 1)
        for m, v in zip(matrices, vectors):
            m[k] = v
    return [Niche(tuple(g)) for g in groups]


def form(rule: Rule) -> Rule:
    """The rule as reported (pruned, without the factor tuning absorbs: ``dsl.prune``,
    ``dsl.canonical``), its constants lifted out (``dsl.template``), without a name: rules that
    differ only in their constants have one form (``m = 0.9 * m + g`` and ``m = 0.8 * m + g``)."""
    return dsl.template(dsl.canonical(dsl.prune(rule)).rule)[0].renamed("form")


def clearly_distinct(a: Candidate, b: Candidate) -> bool:
    """Two optimizers both by what they do and by what they score: update directions below
    ``DISTINCT`` (mean per-step cosine) and search fitness apart by more than the noise of the
    better one (``Evaluation.noise``)."""
    better = min(a, b, key=_order)
    return (similarity(a.rule, b.rule) < DISTINCT
            and abs(a.fitness - b.fitness) > better.evaluation.noise)


def by_form(groups: list[Niche]) -> list[Niche]:
    """``groups`` (best first) with the niches of one form merged into the best of them (its
    members first), unless their representatives (the rules a report shows) are
    ``clearly_distinct``. Rules that differ only in their constants are then one entry of a
    report, the others listed as its members."""
    merged: list[list[Candidate]] = []
    shown: list[Candidate] = []  # each merged entry's first representative
    homes: dict = {}  # (form, architecture) -> indices into merged
    for niche in groups:
        rep = niche.representative
        key = (form(rep.rule), _architecture(rep))
        home = next((i for i in homes.get(key, ()) if not clearly_distinct(shown[i], rep)), None)
        if home is None:
            homes.setdefault(key, []).append(len(merged))
            merged.append(list(niche.members))
            shown.append(rep)
        else:
            merged[home].extend(niche.members)
    return [Niche(tuple(m)) for m in merged]


def one_per_niche(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The representative of each niche of ``candidates`` (niches of one form merged,
    ``by_form``), best first."""
    return [n.representative for n in by_form(niches(candidates))]
