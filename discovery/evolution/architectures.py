"""Variation of architecture records for co-evolution, within a parameter budget, for any family.

A family (``discovery.tasks.Family``: genes, random starts, edits, crossover,
shapes) says how its records vary; this module applies that within the run's
parameter budget, so "bigger is better" cannot win alone: a child over the
budget is re-drawn, and after ``max_tries`` the parent is returned unchanged.
A record's family is found from its type (``tasks.family_of``).

Every family keeps the shapes its records can take bounded (``shapes(budget)``:
for the MLP family one per width on its ladder), and only a shape compiles.
"""

from __future__ import annotations

import random

from discovery import tasks


def mutate(arch, rng: random.Random, budget: int, max_tries: int = 20) -> tuple[object, str]:
    """One gene changed (one of the family's ``edits``, drawn uniformly), within ``budget`` parameters."""
    family = tasks.family_of(arch)
    for _ in range(max_tries):
        what, child = rng.choice(family.edits(arch, rng))
        if child.n_params() <= budget:
            return child, f"arch {what}: {child.summary()}"
    return arch, "arch no-op"


def crossover(a, b, rng: random.Random, budget: int, max_tries: int = 20) -> tuple[object, str]:
    """The family's crossover of ``a`` and ``b`` (by default each gene from either parent), within
    ``budget`` parameters."""
    family = tasks.family_of(a)
    for _ in range(max_tries):
        child = family.crossover(a, b, rng)
        if child.n_params() <= budget:
            return child, f"arch crossover: {child.summary()}"
    return a, "arch no-op"


def random_architecture(rng: random.Random, budget: int, family: str = "mlp"):
    """A varied starting point of ``family`` within ``budget`` parameters."""
    fam = tasks.family(family)
    while True:
        arch = fam.random(rng)
        if arch.n_params() <= budget:
            return arch


def shapes(budget: int, family: str = "mlp") -> list[tuple]:
    """Every shape a run of ``family`` within ``budget`` parameters can meet: its compilations' bound."""
    return tasks.family(family).shapes(budget)
