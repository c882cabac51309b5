"""The packed probes (every leaf, stream and learning rate of a probe in one NumPy evaluation)
give what the probes gave when the rule was walked leaf by leaf, stream by stream and lr by lr
(``tests/reference_probe.py``): the same validity verdicts, fingerprints and niches, on the
library rules and on thousands of random rules of both vocabularies and their mutants."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

import dsl
from discovery.config import VariationSettings
from discovery.evolution import blocks, niches, validity
from discovery.evolution.genome import genome_to_rule, random_genome
from discovery.evolution.variation import mutate
from dsl.errors import DSLError
from dsl.leaves import Leaves
from dsl.probe import FINGERPRINT_SEED, probe_streams, run_numpy
from tests import reference_probe as reference

LIBRARY = [dsl.library.get(name) for name in dsl.library.names()]


def random_rules(n: int, seed: int) -> list[dsl.Rule]:
    """The library, then random rules of the primitive and the blocks vocabularies, valid or not,
    and mutants of the library and of earlier draws (what the engine checks)."""
    rng, out = random.Random(seed), list(LIBRARY)
    while len(out) < n:
        kind = rng.random()
        try:
            if kind < 0.3:
                rule = genome_to_rule(random_genome(rng, rng.randint(1, 4), (), "r", 3))
            elif kind < 0.6:
                rule = blocks.random_block_rule(rng, "b")
            else:
                rule, _ = mutate(rng.choice(LIBRARY + out[-50:]), rng, VariationSettings())
        except DSLError:
            continue
        out.append(rule)
    return out


RULES = random_rules(2000, seed=0)


def test_validity_verdicts_are_those_of_the_leaf_by_leaf_probes():
    got = [None if (r := validity.rejection(rule)) is None else r.kind for rule in RULES]
    expected = [reference.rejection_kind(rule) for rule in RULES]
    assert got == expected
    kinds = set(expected)  # the sample exercises every verdict that matters
    assert {None, "not finite", "zero", "gradient share", "ascent"} <= kinds


def test_fingerprints_and_updates_are_bitwise_those_of_the_leaf_by_leaf_run():
    grads, params = probe_streams(seed=FINGERPRINT_SEED)
    for rule in RULES[:400]:
        assert dsl.fingerprint(rule) == reference.fingerprint(rule)
        for row_new, row_old in zip(run_numpy(rule, grads, params), reference.run_numpy(rule, grads, params)):
            for new, expected in zip(row_new, row_old):
                np.testing.assert_array_equal(new, expected)


def test_similarity_is_that_of_the_per_step_cosines():
    pairs = list(zip(RULES[:150], RULES[1:151])) + [(a, b) for a in LIBRARY for b in LIBRARY]
    for a, b in pairs:
        assert niches.similarity(a, b) == pytest.approx(reference.similarity(a, b), abs=1e-12)


def test_niches_are_those_of_pairwise_comparisons(stopped_run):
    """Candidates grouped by matrix products, as by comparing each with every leader in turn."""
    from discovery.runs import load_run

    template = load_run(stopped_run).population[0]
    rng = random.Random(3)
    momenta = [dsl.parse(f"def m(b=0.9):\n    m = b * m + g\n    return {c} * m") for c in (1, 2, 5)]
    rules = [r for r in RULES[:400] if validity.rejection(r) is None][:60] + momenta + LIBRARY
    candidates = [dataclasses.replace(template, id=i, rule=r, key=dsl.behaviour(r).key,
                                      complexity=r.size, evaluation=dataclasses.replace(
                                          template.evaluation, fitness=round(rng.uniform(-1, 1), 1)))
                  for i, r in enumerate(rules)]
    leaders: list[list] = []
    for c in sorted({c.key: c for c in sorted(candidates, key=niches._order, reverse=True)}.values(),
                    key=niches._order):
        home = next((g for g in leaders if reference.similarity(g[0].rule, c.rule) >= niches.SAME_OPTIMIZER), None)
        leaders.append([c]) if home is None else home.append(c)
    got = [[c.id for c in n.members] for n in niches.niches(candidates)]
    assert got == [[c.id for c in g] for g in leaders]
    assert any(len(g) >= 3 for g in got)  # the momenta are one optimizer


def test_leaves_reduce_each_leaf_over_its_own_elements():
    leaves = Leaves([(7,), (3, 4), ()])
    x = leaves.pack([np.arange(7.0), np.ones((3, 4)), np.array(5.0)])
    assert x.shape == (3, 12) and leaves.sum(x)[:, 0].tolist() == [21.0, 12.0, 5.0]
    assert leaves.size(x)[:, 0].tolist() == [7, 12, 1]
    per_leaf = leaves.sum(x)  # a per-leaf scalar sums to itself and has size 1, as a NumPy scalar
    assert np.array_equal(leaves.sum(per_leaf), per_leaf) and leaves.size(per_leaf) == 1
    lanes = leaves.pack([np.ones((2, 7)), np.ones((2, 3, 4)), np.ones(2)], lanes=(2,))
    assert leaves.total(lanes).tolist() == [20.0, 20.0]
    back = leaves.unpack(x)
    assert [b.shape for b in back] == [(7,), (3, 4), ()] and back[0].tolist() == list(range(7))


def test_reductions_of_reductions_match_the_leaf_by_leaf_run():
    grads, params = probe_streams(seed=5)
    for text in ("return g - mean(g) + rms(rms(g)) * sign(mean(norm(p) * g))",
                 "m = 0.9 * m + g\nreturn m / (norm(m) + mean(rms(m) - rms(m)) + 1e-8)"):
        rule = dsl.parse("def r():\n    " + text.replace("\n", "\n    "))
        for new_row, old_row in zip(run_numpy(rule, grads, params), reference.run_numpy(rule, grads, params)):
            for new, old in zip(new_row, old_row):
                np.testing.assert_array_equal(new, old)


def test_rules_of_one_form_are_one_entry_unless_clearly_distinct(stopped_run):
    """``m / (c - m ** t)`` for c from 0.618 to 0.717 (seven hall-of-fame entries of one quick run)
    is one entry; ``tanh(100 * m)`` (signum) and ``tanh(0.01 * m)`` (momentum), whose directions
    and scores differ, stay two (one entry if their scores tie); rules of
    different forms are never merged, however alike."""
    from discovery.runs import load_run

    template = load_run(stopped_run).population[0]

    def candidate(i: int, text: str, fitness: float):
        rule = dsl.parse("def r():\n    " + text.replace("; ", "\n    "))
        evaluation = dataclasses.replace(template.evaluation, fitness=fitness)
        return dataclasses.replace(template, id=i, rule=rule, key=dsl.behaviour(rule).key,
                                   complexity=rule.size, evaluation=evaluation)

    family = [candidate(i, f"m = 0.9 * m + g; return m / ({c} - m ** t)", -0.5 + 0.01 * i)
              for i, c in enumerate((0.618, 0.65, 0.691, 0.717))]
    apart = 2 * template.evaluation.noise + 0.1
    tanh = [candidate(10, "m = 0.9 * m + g; return tanh(100 * m)", 0.1),
            candidate(11, "m = 0.9 * m + g; return tanh(0.01 * m)", 0.1 + apart)]
    lion = candidate(20, "m = 0.99 * m + 0.01 * g; return sign(0.9 * m + 0.1 * g)", 0.3)
    groups = niches.niches(family + tanh + [lion])
    assert len(groups) == 7  # each its own optimizer at cosine 0.99
    entries = [sorted(c.id for c in e.members) for e in niches.by_form(groups)]
    assert entries == [[0, 1, 2, 3], [10], [11], [20]]
    assert niches.by_form(groups)[0].best.id == 0  # the best of the form represents it
    assert [c.id for c in niches.one_per_niche(family + tanh)] == [0, 10, 11]
    tied = [tanh[0], dataclasses.replace(tanh[1], evaluation=tanh[0].evaluation)]  # within noise
    assert [len(e.members) for e in niches.by_form(niches.niches(tied))] == [2]
