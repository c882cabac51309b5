"""What a run reports of its candidates: each rule in its canonical form, one entry per niche.

The hall of fame and the Pareto front a run shows (``summary.json``, ``inspect``) are built
here from the candidates the search evaluated (``engine.Evolution`` keeps them)."""

from __future__ import annotations

import dataclasses

import dsl
from discovery.evolution import niches
from discovery.records import Candidate, pareto_front


def reported(candidate: Candidate) -> Candidate:
    """The candidate as a run reports it: its rule pruned (``dsl.prune``), without the constant
    factor fair tuning absorbs (``dsl.canonical``), its constants rounded (``dsl.rounded``),
    and its scores in that rule's units: ``u = c * u'`` is reported as ``u'`` with every
    learning rate (tuned, tried, recommended) times ``c``. Cached per rule."""
    canonical = dsl.canonical(dsl.prune(candidate.rule))
    rule, factor = dsl.rounded(canonical.rule), canonical.factor
    if rule == candidate.rule == candidate.simplified and factor == 1.0:
        return candidate

    def rescaled(e):
        return None if e is None else e.rescaled(1.0 / factor)

    return dataclasses.replace(candidate, rule=rule, simplified=rule, text=rule.to_text(),
                               complexity=rule.size, fingerprint=dsl.fingerprint(rule),
                               evaluation=rescaled(candidate.evaluation), held_out=rescaled(candidate.held_out),
                               recommendation=rescaled(candidate.recommendation))


def report_hall_of_fame(pool: list[Candidate], size: int) -> list[Candidate]:
    """The hall of fame a run shows: one entry per niche of ``pool`` (``niches``), niches of one
    form merged (``niches.by_form``), the best ``size`` entries, each by its representative as
    ``reported``, listing its other members (``Candidate.niche``); best search fitness first."""
    entries = []
    for niche in niches.by_form(niches.niches(pool))[:size]:
        rep = niche.representative
        others = tuple(c.id for c in niche.members if c.id != rep.id)
        entries.append(dataclasses.replace(reported(rep), niche=others))
    return sorted(entries, key=lambda c: (c.fitness, c.complexity, c.id))


def report_pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """The Pareto front of complexity vs fitness over ``candidates``, its rules ``reported``, one
    entry per niche (the simplest within noise of the niche's best), simplest first."""
    front = pareto_front([reported(c) for c in pareto_front(candidates)])
    return sorted(niches.one_per_niche(front), key=lambda c: (c.complexity, c.fitness, c.id))
